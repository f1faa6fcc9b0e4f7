"""``slow``: a deliberately slow featurizer that records every row it extracts — a plugin module
for tests that run nk in other processes (the feature cache under kill -9 and concurrent runs,
Ctrl-C during extraction, sweeps through parallel launchers).

Register it where nk runs: ``pm.register(nk.testing.slow, name="nk-slow-test")`` (a launcher's
workers re-import it by name). It reads the environment at every row:

- ``NK_TEST_COUNTER`` (required): a file to which every extracted row appends a line with the
  process id, so a test counts extractions across processes;
- ``NK_TEST_HOLD="N:GATE"``: after N rows, wait until the file GATE exists (a test kills or
  interrupts a run at a known point);
- ``NK_TEST_FAIL``: set, every row fails (a run that errors inside a sweep).

Features: the signal's mean, standard deviation, peak and length in samples.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nk import hookimpl
from nk.registry import param


@dataclass
class SlowConfig:
    delay: float = param(0.002, ge=0, help="seconds to sleep per row")


def _rows(counter: str) -> int:
    with open(counter) as fh:
        return sum(1 for _ in fh)


class Slow:
    process_safe = True
    sampling_rate = None

    def __init__(self, *, delay: float) -> None:
        self.delay = delay

    def feature_names(self) -> list[str]:
        return ["mean", "std", "peak", "samples"]

    def extract(self, signal: np.ndarray, sampling_rate: int) -> np.ndarray:
        if os.environ.get("NK_TEST_FAIL"):
            raise ValueError("this featurizer was told to fail")
        counter = os.environ["NK_TEST_COUNTER"]
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        hold = os.environ.get("NK_TEST_HOLD")
        if hold:
            n, gate = hold.split(":", 1)
            while _rows(counter) > int(n) and not os.path.exists(gate):
                time.sleep(0.01)
        time.sleep(self.delay)
        return np.array([signal.mean(), signal.std(), np.abs(signal).max(), len(signal)], dtype=np.float32)


@hookimpl
def nk_register_featurizers(register: Any) -> None:
    register("slow", Slow, SlowConfig, description="slow featurizer that counts its rows (nk's tests)")
