"""Pooling low-level descriptor frames into one row of statistics per segment.

Imported lazily by :meth:`nk_opensmile.OpenSmile.extract` (it needs NumPy at module level).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# quantile probabilities each quantile-based statistic needs
_QUANTILES: dict[str, tuple[float, ...]] = {
    "median": (0.5,),
    "q05": (0.05,),
    "q95": (0.95,),
    "iqr": (0.25, 0.75),
}
# central moments each moment-based statistic needs
_MOMENTS: dict[str, tuple[int, ...]] = {
    "std": (2,),
    "skew": (2, 3),
    "kurtosis": (2, 4),
}


def pool(frames: np.ndarray, stats: Sequence[str]) -> np.ndarray:
    """Statistics of every column of ``frames`` (frames × descriptors), descriptor-major.

    The result holds ``len(stats)`` values per descriptor, in the order of ``stats``, so that
    it matches the names ``<descriptor>_<stat>``. Moments are population moments; ``skew`` and
    ``kurtosis`` (excess, 0 for a normal distribution) are 0 for a constant series, where they
    are undefined, rather than NaN.
    """
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected a non-empty (frames, descriptors) array, got shape {x.shape}")
    probs = sorted({p for s in stats for p in _QUANTILES.get(s, ())})
    quant = dict(zip(probs, np.quantile(x, probs, axis=0), strict=True)) if probs else {}
    mean = x.mean(axis=0)
    orders = sorted({k for s in stats for k in _MOMENTS.get(s, ())})
    moments: dict[int, np.ndarray] = {}
    if orders:
        dev = x - mean
        moments = {k: (dev**k).mean(axis=0) for k in orders}
    out = []
    for stat in stats:
        if stat == "mean":
            out.append(mean)
        elif stat == "std":
            out.append(np.sqrt(moments[2]))
        elif stat == "min":
            out.append(x.min(axis=0))
        elif stat == "max":
            out.append(x.max(axis=0))
        elif stat == "median":
            out.append(quant[0.5])
        elif stat == "q05":
            out.append(quant[0.05])
        elif stat == "q95":
            out.append(quant[0.95])
        elif stat == "iqr":
            out.append(quant[0.75] - quant[0.25])
        elif stat in ("skew", "kurtosis"):
            # LLDs arrive as float32: a variance below float32 resolution is rounding noise of a
            # constant series, whose higher moments would be noise divided by noise
            m2 = moments[2]
            noise = (np.finfo(np.float32).eps * np.maximum(np.abs(mean), 1e-30)) ** 2
            flat = m2 <= noise
            safe = np.where(flat, 1.0, m2)
            value = moments[3] / safe**1.5 if stat == "skew" else moments[4] / safe**2 - 3.0
            out.append(np.where(flat, 0.0, value))
        else:
            raise ValueError(f"unknown statistic {stat!r}")
    return np.stack(out, axis=1).reshape(-1).astype(np.float32)
