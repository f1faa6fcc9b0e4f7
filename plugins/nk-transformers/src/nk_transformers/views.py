"""Selecting layers and statistics from the stored vector (NumPy only: cheap, no model needed).

The stored vector of an embedding featurizer holds, for every hidden layer ``l`` (0: the input
of the first transformer layer, 1…N: the transformer layers' outputs) and every statistic
(``mean``, ``std``, ``max`` over the frames that carry audio), one value per hidden unit,
named ``l03.mean.17``. :func:`apply_view` turns the (rows × stored features) matrix into
the configured view: one layer or several (averaged or concatenated), one pooling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from nk.errors import UserError

STATS = ("mean", "std", "max")
"""The statistics stored per layer, in their stored order."""
POOLING_STATS = {"mean": ("mean",), "mean_std": ("mean", "std"), "max": ("max",)}
"""What each ``pooling`` option selects from the stored statistics."""

_NAME = re.compile(r"^l(\d+)\.(mean|std|max)\.(\d+)$")


def stored_names(n_layers: int, hidden_size: int) -> list[str]:
    """Names of the stored vector: layer-major, then statistic, then hidden unit."""
    width = max(2, len(str(n_layers - 1)))
    return [f"l{layer:0{width}d}.{stat}.{unit}" for layer in range(n_layers) for stat in STATS
            for unit in range(hidden_size)]


def layer_label(layer: int, n_layers: int) -> str:
    return f"l{layer:0{max(2, len(str(n_layers - 1)))}d}"


def shape_of(names: Sequence[str]) -> tuple[int, int]:
    """(layers, hidden units) of a stored vector, from its names (checked)."""
    if not names:
        raise ValueError("no stored feature names")
    last = _NAME.match(names[-1])
    if last is None:
        raise ValueError(f"not a stored embedding vector: feature name {names[-1]!r}")
    n_layers, hidden = int(last.group(1)) + 1, int(last.group(3)) + 1
    if len(names) != n_layers * len(STATS) * hidden:
        raise ValueError(f"{len(names)} stored features are not {n_layers} layers × {len(STATS)} "
                         f"statistics × {hidden} units")
    return n_layers, hidden


def resolve_layers(layer: int | None, layers: Sequence[int] | None, n_layers: int,
                   config_key: str, model: str) -> list[int]:
    """The absolute layer indices a view selects (negative indices count from the top)."""
    top = n_layers - 1
    allowed = (f"0 (the transformer's input) to {top} (its last layer), or -1 (the last) to "
               f"-{n_layers} (counting from the top)")
    if layers:
        if layer is not None:
            raise UserError(f"Both layer={layer} and layers={list(layers)} are set",
                            where=f"config keys {config_key}.layer and {config_key}.layers",
                            allowed="one of them: `layer` for one layer, `layers` for several",
                            todo=f"drop one, e.g. {config_key}.layer=null")
        chosen, key = list(layers), f"{config_key}.layers"
    else:
        chosen, key = [-1 if layer is None else layer], f"{config_key}.layer"
    out = []
    for index in chosen:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise UserError(f"Layer {index!r} is not a whole number", where=f"config key {key}",
                            allowed=allowed)
        if not -n_layers <= index <= top:
            raise UserError(f"Layer {index} is out of range: {model} has {top} transformer "
                            f"layers (hidden states 0–{top})", where=f"config key {key}",
                            allowed=allowed, todo=f"set {key} within that range")
        out.append(int(index) % n_layers)
    if len(set(out)) != len(out):
        raise UserError(f"The layers {list(chosen)} name a layer more than once",
                        where=f"config key {key}", allowed=allowed, todo="list each layer once")
    return out


def apply_view(stored: np.ndarray, names: Sequence[str], layers: Sequence[int], pooling: str,
               combine: str) -> tuple[np.ndarray, list[str]]:
    """Columns of ``stored`` for ``layers`` (absolute) and ``pooling``; combined when several.

    ``combine="mean"`` averages the selected layers' statistics unit by unit (names
    ``l01+02+03.mean.17``); ``"concat"`` keeps each layer's columns side by side.
    """
    n_layers, hidden = shape_of(names)
    matrix = np.asarray(stored)
    stats = POOLING_STATS[pooling]
    per_layer = len(STATS) * hidden

    def columns(layer: int) -> np.ndarray:
        return np.concatenate([np.arange(hidden) + layer * per_layer + STATS.index(s) * hidden
                               for s in stats])

    suffixes = [f"{s}.{u}" for s in stats for u in range(hidden)]
    if len(layers) == 1 or combine == "concat":
        cols = np.concatenate([columns(layer) for layer in layers])
        out_names = [f"{layer_label(layer, n_layers)}.{s}" for layer in layers for s in suffixes]
        return np.ascontiguousarray(matrix[:, cols]), out_names
    acc = np.zeros((matrix.shape[0], len(suffixes)), dtype=np.float64)
    for layer in layers:
        acc += matrix[:, columns(layer)]
    label = layer_label(layers[0], n_layers) + "".join(
        "+" + layer_label(layer, n_layers)[1:] for layer in layers[1:])
    return (acc / len(layers)).astype(np.float32), [f"{label}.{s}" for s in suffixes]
