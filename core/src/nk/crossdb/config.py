"""The ``crossdb`` config section (``nk crossdb --cfg`` shows it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from nk.registry import param


class CrossMode(str, enum.Enum):
    """What ``nk crossdb`` trains."""

    matrix = "matrix"  # train on each database, test on each (N×N; diagonal: its own test split)
    lodo = "lodo"  # leave one database out: train on all others, test on it
    both = "both"


@dataclass
class CrossdbConfig:
    mode: CrossMode = param(CrossMode.both, help="matrix: train on each database and test on each; lodo: "
                            "leave one database out; both")
