"""Evaluation metrics with bootstrap confidence intervals (plots: :mod:`nk.plots`).

Two entry points return JSON-serialisable result dicts:

* :func:`classification_metrics`: primary metric is UAR (unweighted average
  recall, i.e. macro recall over the classes present in ``truth``).
* :func:`regression_metrics`: primary metric is CCC (Lin's concordance
  correlation coefficient).

The primary metric gets a seeded percentile-bootstrap confidence interval;
``n_resamples=0`` skips it (for scores that only select a model, where the
interval would be thrown away) and the primary entry is then just
``{"value": ...}``. The interval's method depends on the speakers (``groups``):

* ``ci_method="speaker"`` (``ci_unit="speaker"``): with at least ``min_speakers`` speakers
  (default :data:`MIN_SPEAKERS`), whole speakers are resampled with replacement (cluster
  bootstrap). The interval covers the variation over other speakers like these.
* ``ci_method="rows_within_speakers"`` (``ci_unit="sample"``): with fewer speakers a speaker
  bootstrap has only a handful of distinct resamples (2 speakers: 3) and gives intervals far
  narrower than the data allow. Rows are then resampled within each speaker (a stratified
  bootstrap, every speaker keeps its row count). This interval covers only the variation
  over other recordings of *these* speakers, not over other speakers, and ``ci_note`` says so.
* ``ci_method="rows"`` (``ci_unit="sample"``): no speaker ids; rows are resampled as if they
  were independent, and ``ci_note`` says the interval is too narrow when a speaker has
  several rows.

Every entry with an interval also carries ``n_speakers`` (None without speaker ids).

The bootstrap is vectorised: each resampling unit (speaker, or sample) is
reduced to a row of additive sufficient statistics (per-class correct/total
counts for UAR; ``n, Σx, Σy, Σx², Σy², Σxy`` for CCC). A resample is a vector
of unit counts ``w`` drawn from ``Multinomial(n_units, uniform)``, and its
statistics are ``w @ rows``. Units with identical rows (e.g. samples of the
same class that are all correct) are merged into types and counts over types
are drawn directly from the equivalent multinomial, which has exactly the same
distribution as resampling the units.

Degenerate-case conventions (documented choices, never NaN):

* CCC: if one of truth/prediction is constant its variance and the covariance
  are 0, so CCC is 0 whenever the denominator ``var_x + var_y + (mean_x -
  mean_y)^2`` is positive (a constant prediction carries no concordance). If
  both are constant and equal (denominator 0, perfect agreement) CCC is 1.
* PCC: 0 if either series is constant (no measurable linear association).
* R²: follows scikit-learn — with constant truth it is 1 for a perfect
  prediction, else 0.
* Precision/recall/F1 with a zero denominator are 0 (``zero_division=0``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

ArrayLike: TypeAlias = Sequence[Any] | np.ndarray | pd.Series

MIN_SPEAKERS = 10
"""Fewest speakers for a speaker-level (cluster) bootstrap interval.

With n speakers a speaker bootstrap can draw only C(2n-1, n) distinct resamples (2 speakers: 3,
5: 126, 10: 92,378), its variance shrinks by (n-1)/n, and cluster-resampling methods are known
to give intervals that are too narrow with fewer than about 10 clusters. Below this count the
interval is a row bootstrap within speakers, labelled as such (config ``bootstrap.min_speakers``).
"""

# Rough relative costs measured for numpy's Generator: one binomial draw inside
# ``multinomial`` costs about as much as this many integer draws + bincount.
_MULTINOMIAL_COST_RATIO = 8
# Target number of unit indices drawn per chunk in the integer/bincount path.
_CHUNK_ELEMENTS = 1 << 17


@dataclass(frozen=True)
class Interval:
    """A bootstrap confidence interval."""

    low: float
    high: float
    level: float
    n_resamples: int
    unit: str  # "speaker" or "sample"
    method: str = "rows"  # "speaker", "rows_within_speakers" or "rows" (see the module docstring)
    n_speakers: int | None = None
    note: str | None = None  # what the interval does not cover; None for a speaker bootstrap

    def as_metric(self, value: float) -> dict[str, Any]:
        """Return the JSON-ready metric entry ``{"value", "ci", ...}``."""
        return {
            "value": float(value),
            "ci": [float(self.low), float(self.high)],
            "ci_level": float(self.level),
            "ci_unit": self.unit,
            "ci_method": self.method,
            "n_speakers": self.n_speakers,
            "ci_note": self.note,
            "n_resamples": int(self.n_resamples),
        }


@dataclass(frozen=True)
class Resampling:
    """How the bootstrap resamples: whole speakers, rows within each speaker, or rows."""

    method: str  # "speaker", "rows_within_speakers", "rows"
    codes: np.ndarray | None  # speaker codes 0..n_speakers-1 (None: no speaker ids)
    n_speakers: int | None
    note: str | None

    @property
    def unit(self) -> str:
        return "speaker" if self.method == "speaker" else "sample"


def ci_method_text(entry: dict[str, Any]) -> str:
    """A short label of a metric entry's interval method, e.g. ``"speaker bootstrap"``."""
    method = entry.get("ci_method") or ("speaker" if entry.get("ci_unit") == "speaker" else "rows")
    n = entry.get("n_speakers")
    if method == "speaker":
        return f"speaker bootstrap, {n} speakers" if n else "speaker bootstrap"
    if method == "rows_within_speakers":
        return f"rows within {n} speaker{'s' if n != 1 else ''}"
    return "rows, no speaker ids"


def headline(primary: str, entry: dict[str, Any]) -> str:
    """``"UAR 0.850 [0.790, 0.900]"``, marked when the interval is not a speaker bootstrap."""
    text = f"{primary.upper()} {entry['value']:.3f}"
    if "ci" not in entry:
        return text
    text += f" [{entry['ci'][0]:.3f}, {entry['ci'][1]:.3f}]"
    if entry.get("ci_method") == "rows_within_speakers":
        n = entry.get("n_speakers")
        text += f" (CI within {n} speaker{'s' if n != 1 else ''} only)"
    return text


# --------------------------------------------------------------------------
# input validation / encoding
# --------------------------------------------------------------------------


def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    """Convert to a 1-D numpy array, raising ValueError otherwise."""
    if values is None:
        raise ValueError(f"{name} must not be None")
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a sequence of values, not a string")
    if isinstance(values, (pd.Series, np.ndarray)):
        arr = np.asarray(values)
    else:
        arr = np.asarray(values)
        if arr.dtype.kind in "US":
            # Keep the original element types: numpy would turn ["a", 1] into
            # two strings and silently merge label 1 with label "1".
            arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _check_pair(truth: np.ndarray, pred: np.ndarray) -> int:
    """Check that truth and pred are non-empty and of equal length."""
    if len(truth) != len(pred):
        raise ValueError(
            f"truth and pred must have the same length, got {len(truth)} and {len(pred)}"
        )
    if len(truth) == 0:
        raise ValueError("truth and pred must not be empty")
    return len(truth)


def _check_bootstrap_args(n_resamples: int, level: float) -> None:
    """Validate bootstrap parameters."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise ValueError(f"n_resamples must be an integer, got {n_resamples!r}")
    if n_resamples < 0:
        raise ValueError(f"n_resamples must be >= 0 (0: no confidence interval), got {n_resamples}")
    if not (isinstance(level, (int, float, np.floating)) and 0.0 < float(level) < 1.0):
        raise ValueError(
            f"level must be a number strictly between 0 and 1, got {level!r}"
        )


def _native(value: Any) -> Any:
    """Turn numpy scalars into plain Python scalars (JSON-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def _sorted_labels(values: set[Any]) -> list[Any]:
    """Sort labels naturally; fall back to (type name, str) for mixed types."""
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def _factorize(values: np.ndarray, name: str) -> tuple[np.ndarray, list[Any]]:
    """Integer-code values, rejecting missing entries (None/NaN)."""
    codes, uniques = pd.factorize(values)
    if (codes < 0).any():
        raise ValueError(f"{name} contains missing values (None/NaN)")
    return codes.astype(np.intp, copy=False), [_native(v) for v in uniques]


def _encode_labels(
    truth: np.ndarray, pred: np.ndarray, labels: ArrayLike | None
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Map truth/pred onto indices into the label list."""
    t_codes, t_uniques = _factorize(truth, "truth")
    p_codes, p_uniques = _factorize(pred, "pred")
    if labels is None:
        label_list = _sorted_labels(set(t_uniques) | set(p_uniques))
    else:
        if isinstance(labels, (str, bytes)):
            raise ValueError("labels must be a sequence of labels, not a string")
        label_list = [_native(v) for v in labels]
        if not label_list:
            raise ValueError("labels must not be empty")
    index = {label: i for i, label in enumerate(label_list)}
    if len(index) != len(label_list):
        raise ValueError(f"labels contains duplicates: {label_list!r}")
    encoded = []
    for name, codes, uniques in (
        ("truth", t_codes, t_uniques),
        ("pred", p_codes, p_uniques),
    ):
        unknown = [v for v in uniques if v not in index]
        if unknown:
            raise ValueError(f"{name} contains values not in labels: {unknown!r}")
        lut = np.array([index[v] for v in uniques], dtype=np.intp)
        encoded.append(lut[codes])
    return label_list, encoded[0], encoded[1]


def _encode_groups(
    groups: ArrayLike | None, n: int
) -> tuple[np.ndarray | None, int | None]:
    """Integer-code group ids; returns (codes, n_groups) or (None, None)."""
    if groups is None:
        return None, None
    arr = _as_1d(groups, "groups")
    if len(arr) != n:
        raise ValueError(
            f"groups must have the same length as truth ({n}), got {len(arr)}"
        )
    codes, uniques = _factorize(arr, "groups")
    return codes, len(uniques)


def _check_min_speakers(min_speakers: int) -> None:
    if isinstance(min_speakers, bool) or not isinstance(min_speakers, (int, np.integer)) or min_speakers < 2:
        raise ValueError(f"min_speakers must be an integer >= 2, got {min_speakers!r}")


def _resampling(codes: np.ndarray | None, n_groups: int | None, min_speakers: int) -> Resampling:
    """Speaker bootstrap with enough speakers, else rows within speakers; rows without ids."""
    if codes is None or n_groups is None:
        return Resampling("rows", None, None,
                          "no speaker ids: rows are resampled as if independent; when speakers have "
                          "several rows the interval is too narrow")
    if n_groups >= min_speakers:
        return Resampling("speaker", codes, n_groups, None)
    who = "a single speaker" if n_groups == 1 else f"only {n_groups} speakers"
    these = "this speaker" if n_groups == 1 else f"these {n_groups} speakers"
    return Resampling(
        "rows_within_speakers", codes, n_groups,
        f"{who} (fewer than {min_speakers}, the minimum for a speaker bootstrap): the interval "
        f"resamples rows within each speaker, so it shows the variation over other recordings of "
        f"{these} only, not over other speakers; how the result carries over to new speakers is "
        "not measured and can differ much more",
    )


def _as_float(values: ArrayLike, name: str) -> np.ndarray:
    """Convert to a finite 1-D float array."""
    arr = _as_1d(values, name)
    try:
        out = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if not np.isfinite(out).all():
        raise ValueError(f"{name} contains non-finite values (NaN/inf)")
    return out


# --------------------------------------------------------------------------
# bootstrap machinery
# --------------------------------------------------------------------------


def _resampled_sums(
    rng: np.random.Generator,
    rows: np.ndarray,
    multiplicity: np.ndarray | None,
    n_resamples: int,
) -> np.ndarray:
    """Sum unit statistics over bootstrap resamples of the units.

    ``rows`` (T × m) holds the additive statistics of each unit type and
    ``multiplicity`` (T,) how many units share that row (None: all 1). Each
    resample draws ``n_units`` units uniformly with replacement; the result
    is ``(n_resamples × m)``.
    """
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if multiplicity is None:
        multiplicity = np.ones(len(rows), dtype=np.int64)
    n_units = int(multiplicity.sum())
    n_types = len(rows)
    if n_types * _MULTINOMIAL_COST_RATIO < n_units:
        # Few distinct types: draw type counts directly.
        probs = multiplicity / n_units
        counts = rng.multinomial(n_units, probs, size=n_resamples)
        return counts.astype(np.float64) @ rows
    units = rows if (multiplicity == 1).all() else np.repeat(rows, multiplicity, axis=0)
    out = np.empty((n_resamples, rows.shape[1]), dtype=np.float64)
    chunk = max(1, min(n_resamples, _CHUNK_ELEMENTS // n_units))
    offsets = (np.arange(chunk, dtype=np.int64) * n_units)[:, None]
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        idx = rng.integers(0, n_units, size=(b, n_units), dtype=np.int64)
        idx += offsets[:b]
        weights = np.bincount(idx.ravel(), minlength=b * n_units).reshape(b, n_units)
        out[start : start + b] = weights.astype(np.float64) @ units
    return out


def _percentile_interval(
    samples: np.ndarray, level: float, n_resamples: int, how: Resampling
) -> Interval:
    """Percentile bootstrap interval from resampled statistic values."""
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(samples, [alpha, 1.0 - alpha])
    note = how.note
    if high - low <= 1e-12 * max(1.0, abs(float(high))):
        flat = ("every resample gives the same value (e.g. all predictions right), so the interval has "
                "no width: that describes these data, it is not certainty")
        note = flat if note is None else f"{note}; {flat}"
    return Interval(float(low), float(high), float(level), int(n_resamples), how.unit,
                    how.method, how.n_speakers, note)


def _stratified_sums(
    rng: np.random.Generator,
    rows: np.ndarray,
    codes: np.ndarray,
    n_resamples: int,
    merge: bool,
) -> np.ndarray:
    """Resampled sums when rows are drawn with replacement within each speaker (``codes``):
    every speaker keeps its row count, and the speakers' sums add up. ``merge`` collapses
    identical rows of a speaker into types first (exact; see the module docstring)."""
    out = np.zeros((n_resamples, rows.shape[1]), dtype=np.float64)
    for code in range(int(codes.max()) + 1):
        own = rows[codes == code]
        if merge:
            types, counts = np.unique(own, axis=0, return_counts=True)
            out += _resampled_sums(rng, types, counts, n_resamples)
        else:
            out += _resampled_sums(rng, own, None, n_resamples)
    return out


def _primary_entry(value: float, interval: Interval | None) -> dict[str, Any]:
    """The primary metric's JSON entry: with its interval, or only the value (no CI)."""
    return {"value": float(value)} if interval is None else interval.as_metric(value)


def uar_from_counts(correct: np.ndarray, total: np.ndarray) -> np.ndarray:
    """UAR along the last axis: mean recall over classes with nonzero support."""
    present = total > 0
    recall = np.divide(
        correct, total, out=np.zeros_like(correct, dtype=np.float64), where=present
    )
    return recall.sum(axis=-1) / present.sum(axis=-1)


def _ccc_from_sums(sums: np.ndarray) -> np.ndarray:
    """CCC from rows of sufficient statistics (n, Σx, Σy, Σx², Σy², Σxy)."""
    n, sx, sy, sxx, syy, sxy = sums.T
    mx, my = sx / n, sy / n
    mxx, myy = sxx / n, syy / n
    var_x = np.maximum(mxx - mx * mx, 0.0)
    var_y = np.maximum(myy - my * my, 0.0)
    # Variances that are pure rounding noise (constant series) count as zero.
    const_x = var_x <= 1e-12 * mxx
    const_y = var_y <= 1e-12 * myy
    var_x = np.where(const_x, 0.0, var_x)
    var_y = np.where(const_y, 0.0, var_y)
    cov = np.where(const_x | const_y, 0.0, sxy / n - mx * my)
    denom = var_x + var_y + (mx - my) ** 2
    agree = denom <= 1e-12 * (mxx + myy)  # both constant and equal
    ccc = np.divide(2.0 * cov, denom, out=np.ones_like(denom), where=~agree)
    return np.clip(ccc, -1.0, 1.0)


# --------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------


def _confusion(truth_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrix (rows truth, cols pred) from label indices."""
    return np.bincount(truth_idx * k + pred_idx, minlength=k * k).reshape(k, k)


def _uar_interval(
    t: np.ndarray,
    p: np.ndarray,
    k: int,
    how: Resampling,
    n_resamples: int,
    level: float,
    seed: int,
) -> Interval:
    """Bootstrap interval of UAR over speakers, rows within speakers, or rows."""
    rng = np.random.default_rng(seed)
    correct = (t == p).astype(np.int64)
    codes = how.codes
    if how.method == "rows_within_speakers":
        assert codes is not None
        rows = np.zeros((len(t), 2 * k))
        rows[np.arange(len(t)), t] = correct
        rows[np.arange(len(t)), k + t] = 1.0
        sums = _stratified_sums(rng, rows, codes, n_resamples, merge=True)
    elif how.method == "rows":
        # Sample unit types: (true class, correct?) -> at most 2k distinct rows.
        type_counts = np.bincount(t * 2 + correct, minlength=2 * k)
        present = np.flatnonzero(type_counts)
        cls, ok = present // 2, present % 2
        rows = np.zeros((len(present), 2 * k))
        rows[np.arange(len(present)), cls] = ok
        rows[np.arange(len(present)), k + cls] = 1.0
        sums = _resampled_sums(rng, rows, type_counts[present], n_resamples)
    else:
        assert codes is not None
        flat = codes * k + t
        size = (int(codes.max()) + 1) * k  # codes are dense 0..n_groups-1
        corr = np.bincount(flat, weights=correct, minlength=size).reshape(-1, k)
        tot = np.bincount(flat, minlength=size).reshape(-1, k)
        sums = _resampled_sums(rng, np.hstack([corr, tot]), None, n_resamples)
    return _percentile_interval(uar_from_counts(sums[:, :k], sums[:, k:]), level, n_resamples, how)


def classification_metrics(
    truth: ArrayLike,
    pred: ArrayLike,
    *,
    labels: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_speakers: int = MIN_SPEAKERS,
) -> dict[str, Any]:
    """Classification metrics with a bootstrap CI on UAR (the primary metric).

    ``n_resamples=0`` computes no CI: ``result["uar"]`` is then ``{"value": ...}``. With
    ``groups`` of fewer than ``min_speakers`` speakers the CI resamples rows within speakers
    (``ci_method``, ``ci_note``; see the module docstring).

    ``labels`` fixes the label order (default: sorted union of truth and pred);
    ``per_class`` is keyed by ``str(label)`` so the dict survives a JSON round
    trip. ``macro_f1`` averages F1 over all labels (as scikit-learn's
    ``f1_score(average="macro", labels=labels, zero_division=0)``).
    """
    t_raw, p_raw = _as_1d(truth, "truth"), _as_1d(pred, "pred")
    n = _check_pair(t_raw, p_raw)
    _check_bootstrap_args(n_resamples, level)
    _check_min_speakers(min_speakers)
    label_list, t, p = _encode_labels(t_raw, p_raw, labels)
    k = len(label_list)
    group_codes, n_groups = _encode_groups(groups, n)

    cm = _confusion(t, p, k)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1_denom = support + predicted  # 2tp + fp + fn
    f1 = np.divide(2.0 * tp, f1_denom, out=np.zeros(k), where=f1_denom > 0)
    uar = float(uar_from_counts(tp, support.astype(np.float64)))
    interval = None
    if n_resamples > 0:
        how = _resampling(group_codes, n_groups, min_speakers)
        interval = _uar_interval(t, p, k, how, n_resamples, level, seed)

    return {
        "task": "classification",
        "primary": "uar",
        "uar": _primary_entry(uar, interval),
        "accuracy": float(tp.sum() / n),
        "macro_f1": float(f1.mean()),
        "per_class": {
            str(label): {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(label_list)
        },
        "labels": list(label_list),
        "confusion_matrix": cm.tolist(),
        "n": int(n),
        "n_groups": n_groups,
    }


def ccc_pcc(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Point CCC and PCC with the module's degenerate-case conventions."""
    mx, my = x.mean(), y.mean()
    const_x, const_y = np.ptp(x) == 0, np.ptp(y) == 0
    var_x = 0.0 if const_x else float(np.mean((x - mx) ** 2))
    var_y = 0.0 if const_y else float(np.mean((y - my) ** 2))
    cov = 0.0 if (const_x or const_y) else float(np.mean((x - mx) * (y - my)))
    denom = var_x + var_y + float(mx - my) ** 2
    ccc = 1.0 if denom == 0 else 2.0 * cov / denom
    pcc = 0.0 if (const_x or const_y) else cov / math.sqrt(var_x * var_y)
    return float(np.clip(ccc, -1.0, 1.0)), float(np.clip(pcc, -1.0, 1.0))


def _ccc_interval(
    x: np.ndarray,
    y: np.ndarray,
    how: Resampling,
    n_resamples: int,
    level: float,
    seed: int,
) -> Interval:
    """Bootstrap interval of CCC over speakers, rows within speakers, or rows."""
    # Centre both series by the same constant (CCC is invariant to a common
    # shift) so the raw-moment sums below do not lose precision.
    centre = 0.5 * (x.mean() + y.mean())
    xc, yc = x - centre, y - centre
    stats = np.column_stack([np.ones(len(x)), xc, yc, xc * xc, yc * yc, xc * yc])
    rng = np.random.default_rng(seed)
    codes = how.codes
    if how.method == "rows_within_speakers":
        assert codes is not None
        sums = _stratified_sums(rng, stats, codes, n_resamples, merge=False)
    else:
        if how.method == "speaker":
            assert codes is not None
            stats = np.column_stack([np.bincount(codes, weights=col) for col in stats.T])
        sums = _resampled_sums(rng, stats, None, n_resamples)
    return _percentile_interval(_ccc_from_sums(sums), level, n_resamples, how)


def regression_metrics(
    truth: ArrayLike,
    pred: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_speakers: int = MIN_SPEAKERS,
) -> dict[str, Any]:
    """Regression metrics with a bootstrap CI on CCC (the primary metric).

    ``n_resamples=0`` computes no CI: ``result["ccc"]`` is then ``{"value": ...}``. With
    ``groups`` of fewer than ``min_speakers`` speakers the CI resamples rows within speakers.

    CCC and PCC use population (1/n) moments; see the module docstring for
    the conventions on constant inputs.
    """
    x, y = _as_float(truth, "truth"), _as_float(pred, "pred")
    n = _check_pair(x, y)
    _check_bootstrap_args(n_resamples, level)
    _check_min_speakers(min_speakers)
    group_codes, n_groups = _encode_groups(groups, n)

    ccc, pcc = ccc_pcc(x, y)
    err = y - x
    mse = float(np.mean(err**2))
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((x - x.mean()) ** 2))
    r2 = (1.0 if ss_res == 0 else 0.0) if ss_tot == 0 else 1.0 - ss_res / ss_tot
    interval = None
    if n_resamples > 0:
        how = _resampling(group_codes, n_groups, min_speakers)
        interval = _ccc_interval(x, y, how, n_resamples, level, seed)

    return {
        "task": "regression",
        "primary": "ccc",
        "ccc": _primary_entry(ccc, interval),
        "pcc": pcc,
        "mae": float(np.mean(np.abs(err))),
        "mse": mse,
        "r2": float(r2),
        "n": int(n),
        "n_groups": n_groups,
    }


# --------------------------------------------------------------------------
# paired comparisons of two systems on the same rows
# --------------------------------------------------------------------------


def _paired_sums(rng: np.random.Generator, rows: np.ndarray, how: Resampling, n_resamples: int,
                 *, merge: bool) -> np.ndarray:
    """Resampled sums of per-row statistics that hold *both* systems' columns, so that every
    resample draws the same speakers (rows) for both: the same machinery as the intervals."""
    codes = how.codes
    if how.method == "rows_within_speakers":
        assert codes is not None
        return _stratified_sums(rng, rows, codes, n_resamples, merge=merge)
    if how.method == "speaker":
        assert codes is not None
        per_speaker = np.column_stack([np.bincount(codes, weights=col, minlength=int(codes.max()) + 1)
                                       for col in rows.T])
        return _resampled_sums(rng, per_speaker, None, n_resamples)
    if merge:
        types, counts = np.unique(rows, axis=0, return_counts=True)
        return _resampled_sums(rng, types, counts, n_resamples)
    return _resampled_sums(rng, rows, None, n_resamples)


def paired_bootstrap(
    truth: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    task: str,
    groups: ArrayLike | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    min_speakers: int = MIN_SPEAKERS,
) -> dict[str, Any]:
    """Paired bootstrap of the primary metric's difference ``a - b`` (UAR for classification,
    CCC for regression) of two systems on the same rows.

    Both systems are scored on the same resamples — whole speakers with ``min_speakers`` or more,
    rows within speakers with fewer, rows without speaker ids (as the intervals of this module) —
    so what the rows share cancels. Returns the observed ``difference``, its percentile interval
    (``ci``), ``p_value`` (two-sided: twice the share of resampled differences on the other side
    of 0 than the observed one, at most 1) and ``p_greater`` (one-sided, for "a is better than
    b": ``(1 + #{resampled difference <= 0}) / (1 + n_resamples)``, so two identical systems get
    1 and it is never 0), with ``ci_method`` and ``n_speakers``.
    """
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    _check_bootstrap_args(n_resamples, level)
    if n_resamples < 1:
        raise ValueError("a paired bootstrap needs n_resamples >= 1")
    _check_min_speakers(min_speakers)
    t_raw, a_raw, b_raw = _as_1d(truth, "truth"), _as_1d(pred_a, "pred_a"), _as_1d(pred_b, "pred_b")
    n = _check_pair(t_raw, a_raw)
    _check_pair(t_raw, b_raw)
    codes, n_groups = _encode_groups(groups, n)
    how = _resampling(codes, n_groups, min_speakers)
    rng = np.random.default_rng(seed)
    if task == "classification":
        labels = _sorted_labels({_native(v) for v in (*t_raw, *a_raw, *b_raw)})
        _, t, pa = _encode_labels(t_raw, a_raw, labels)
        _, _, pb = _encode_labels(t_raw, b_raw, labels)
        k = len(labels)
        rows = np.zeros((n, 3 * k))
        at = np.arange(n)
        rows[at, t] = 1.0
        rows[at, k + t] = (pa == t).astype(float)
        rows[at, 2 * k + t] = (pb == t).astype(float)
        total = rows.sum(axis=0)
        observed = float(uar_from_counts(total[k:2 * k], total[:k]) - uar_from_counts(total[2 * k:], total[:k]))
        sums = _paired_sums(rng, rows, how, n_resamples, merge=True)
        diffs = uar_from_counts(sums[:, k:2 * k], sums[:, :k]) - uar_from_counts(sums[:, 2 * k:], sums[:, :k])
    else:
        x, ya, yb = _as_float(t_raw, "truth"), _as_float(a_raw, "pred_a"), _as_float(b_raw, "pred_b")
        observed = ccc_pcc(x, ya)[0] - ccc_pcc(x, yb)[0]
        centre = (x.mean() + ya.mean() + yb.mean()) / 3  # CCC is invariant to a common shift
        xc, ac, bc = x - centre, ya - centre, yb - centre
        one = np.ones(n)
        rows = np.column_stack([one, xc, ac, xc * xc, ac * ac, xc * ac, one, xc, bc, xc * xc, bc * bc, xc * bc])
        sums = _paired_sums(rng, rows, how, n_resamples, merge=False)
        diffs = _ccc_from_sums(sums[:, :6]) - _ccc_from_sums(sums[:, 6:])
    # the exact difference of two identical systems is 0 in every resample; rounding must not flip it
    diffs = np.where(np.abs(diffs) <= 1e-12, 0.0, diffs)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    two_sided = 2 * float(np.mean(diffs <= 0) if observed >= 0 else np.mean(diffs >= 0))
    return {"difference": float(observed), "ci": [float(low), float(high)], "ci_level": float(level),
            "p_value": min(1.0, two_sided),
            "p_greater": float((1 + np.count_nonzero(diffs <= 0)) / (1 + n_resamples)),
            "n_resamples": int(n_resamples), "ci_method": how.method, "n_speakers": how.n_speakers}


def mcnemar(truth: ArrayLike, pred_a: ArrayLike, pred_b: ArrayLike) -> dict[str, Any]:
    """McNemar's test of accuracy for two classifiers on the same rows, exact: under the null the
    discordant rows (one system right, the other wrong) split 50:50, so the count of rows only
    ``a`` gets right is Binomial(discordant, 1/2) (:func:`scipy.stats.binomtest`; exact for any
    count, so no chi-square approximation is needed). Returns ``a_only``, ``b_only``,
    ``p_greater`` (one-sided, for "a is more often right than b") and ``p_value`` (two-sided);
    both are 1 without discordant rows. Rows are treated as independent (speakers are not)."""
    from scipy.stats import binomtest

    t, a, b = _as_1d(truth, "truth"), _as_1d(pred_a, "pred_a"), _as_1d(pred_b, "pred_b")
    _check_pair(t, a)
    _check_pair(t, b)
    right_a = np.asarray(a == t, dtype=bool)
    right_b = np.asarray(b == t, dtype=bool)
    a_only, b_only = int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b))
    n = a_only + b_only
    if n == 0:
        return {"a_only": 0, "b_only": 0, "p_greater": 1.0, "p_value": 1.0}
    return {"a_only": a_only, "b_only": b_only,
            "p_greater": float(binomtest(a_only, n, 0.5, alternative="greater").pvalue),
            "p_value": float(binomtest(a_only, n, 0.5).pvalue)}


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error rate), in the input order: the
    i-th smallest p is multiplied by (m - i + 1), then made monotone and capped at 1. Written
    here because statsmodels (``multipletests(method="holm")``) is not a dependency of nk and
    scipy ships only the Benjamini–Hochberg / Benjamini–Yekutieli FDR adjustments."""
    p = _as_float(p_values, "p_values")
    if ((p < 0) | (p > 1)).any():
        raise ValueError("p_values must lie in [0, 1]")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out
