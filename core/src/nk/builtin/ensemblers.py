"""Built-in ensemblers (config group ``ensemble``, used by ``nk ensemble``).

The eight methods of the seed paper (nkululeko's ensemble module) keep its names and its
definitions, quoted in each class's docstring; ``median``, ``performance_weighted`` and
``stacking`` are nk's additions. Every ensembler gets the prediction frames of the runs
(``truth``, ``pred`` and, for classifiers with probabilities, ``proba.<class>``), aligned on the
same rows, and returns one frame of the same form on those rows. Each frame's ``attrs`` carries
what :mod:`nk.ensemble` knows about its run (see :data:`ATTRS`).

**Uncertainty** (``uncertainty_*``, ``confidence_weighted``) is the normalised entropy of a
run's class probabilities on a row, ``H(p) / log(K)`` for ``K`` classes: 0 when the run puts
all probability on one class, 1 when it spreads it evenly. Confidence is ``1 - uncertainty``.

The ``proba.<class>`` columns an ensembler returns are its combined class scores scaled to sum
to 1 per row (for ``max`` and ``max_class`` they are scores, not calibrated probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nk.errors import UserError
from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

ATTRS = {
    "run": "the run's name (for messages)",
    "task": "classification or regression",
    "primary": "the primary metric (uar, ccc)",
    "dev_score": "the run's primary metric on its dev split (None without a dev split)",
    "dev": "the run's dev predictions as {'truth': [...], 'pred': [...], 'proba': {class: [...]}} on rows "
           "aligned across runs (None without a dev split)",
}
"""Keys of ``frame.attrs`` that :mod:`nk.ensemble` sets on each run's prediction frame."""

REGRESSION_METHODS = ("mean", "median", "performance_weighted")
EPS = 1e-12


# --- helpers ------------------------------------------------------------------------------------


def task_of(predictions: Sequence[pd.DataFrame]) -> str:
    """``classification`` or ``regression``: from ``attrs['task']``, else from the columns."""
    task = predictions[0].attrs.get("task")
    if task:
        return str(task)
    frame = predictions[0]
    if any(c.startswith("proba.") for c in frame.columns):
        return "classification"
    from pandas.api.types import is_numeric_dtype

    return "regression" if is_numeric_dtype(frame["pred"]) and is_numeric_dtype(frame["truth"]) else "classification"


def _name(frame: pd.DataFrame, i: int) -> str:
    return str(frame.attrs.get("run") or f"run {i + 1}")


def labels_of(predictions: Sequence[pd.DataFrame], method: str) -> list[str]:
    """The classes of the ``proba.<class>`` columns, the same in every run; a run without
    probabilities is an error (it can only vote)."""
    labels: list[str] | None = None
    for i, frame in enumerate(predictions):
        own = [c.removeprefix("proba.") for c in frame.columns if c.startswith("proba.")]
        if not own:
            raise UserError(f"The ensemble method {method!r} needs class probabilities, but {_name(frame, i)} has "
                            "none (its model has no predict_proba)",
                            allowed="majority_voting (runs without probabilities can only vote)",
                            todo="use --method majority_voting, or re-run that experiment with a model that "
                                 "gives probabilities")
        if labels is None:
            labels = own
        elif set(own) != set(labels):
            raise UserError(f"The runs predict different classes: {_name(predictions[0], 0)} {sorted(labels)}, "
                            f"{_name(frame, i)} {sorted(own)}", todo="combine runs with the same label set")
    assert labels is not None
    return labels


def probas(predictions: Sequence[pd.DataFrame], labels: list[str]) -> np.ndarray:
    """Runs × rows × classes array of the probabilities, in ``labels`` order."""
    return np.stack([f[[f"proba.{c}" for c in labels]].to_numpy(dtype=float) for f in predictions])


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """Normalised entropy along the last axis: ``-Σ p log p / log K`` in [0, 1]."""
    k = proba.shape[-1]
    if k < 2:
        return np.zeros(proba.shape[:-1])
    p = np.clip(proba, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=-1)
    return np.clip(h / np.log(k), 0.0, 1.0)


def _out(predictions: Sequence[pd.DataFrame], labels: list[str], scores: np.ndarray,
         pred: np.ndarray | None = None) -> pd.DataFrame:
    """The combined frame: truth, pred (argmax of ``scores`` unless given), ``proba.*`` scaled to 1."""
    import pandas as pd

    total = scores.sum(axis=1, keepdims=True)
    scaled = np.divide(scores, total, out=np.full_like(scores, 1.0 / len(labels)), where=total > EPS)
    if pred is None:
        pred = np.asarray(labels, dtype=object)[np.argmax(scores, axis=1)]
    base = predictions[0]
    out = pd.DataFrame({"truth": base["truth"].to_numpy(), "pred": pred}, index=base.index)
    for j, label in enumerate(labels):
        out[f"proba.{label}"] = scaled[:, j]
    return out


def _regression_out(predictions: Sequence[pd.DataFrame], values: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    base = predictions[0]
    return pd.DataFrame({"truth": base["truth"].to_numpy(), "pred": values}, index=base.index)


def _classification_only(predictions: Sequence[pd.DataFrame], method: str) -> None:
    if task_of(predictions) == "regression":
        raise UserError(f"The ensemble method {method!r} is for classification; these runs are regression runs",
                        allowed=", ".join(REGRESSION_METHODS), todo="choose one of the regression methods")


def _regression_preds(predictions: Sequence[pd.DataFrame]) -> np.ndarray:
    return np.stack([f["pred"].to_numpy(dtype=float) for f in predictions])


# --- the seed paper's eight methods -------------------------------------------------------------


@dataclass
class NoParams:
    """This ensembler has no parameters."""


class MajorityVoting:
    """``majority_voting`` — seed paper: "The modality function for classification: predict the
    category that most classifiers agree on."

    Uses only each run's ``pred``, so it also combines runs without probabilities, and works for
    two runs. **Tie rule** (e.g. two runs that disagree): among the tied classes, the one with
    the highest mean probability over the runs when every run has probabilities; otherwise the
    tied class voted by the earliest run in the order given on the command line.
    """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        import pandas as pd

        _classification_only(predictions, "majority_voting")
        votes = np.stack([f["pred"].astype(str).to_numpy() for f in predictions])  # runs × rows
        has_proba = all(any(c.startswith("proba.") for c in f.columns) for f in predictions)
        labels = labels_of(predictions, "majority_voting") if has_proba else \
            sorted({str(v) for v in votes.ravel()})
        mean = probas(predictions, labels).mean(axis=0) if has_proba else None
        index = {label: j for j, label in enumerate(labels)}
        counts = np.zeros((votes.shape[1], len(labels)))
        for run_votes in votes:
            counts[np.arange(votes.shape[1]), [index[v] for v in run_votes]] += 1
        pred = []
        for i in range(votes.shape[1]):
            tied = np.flatnonzero(counts[i] == counts[i].max())
            if len(tied) == 1:
                pred.append(labels[tied[0]])
            elif mean is not None:
                pred.append(labels[tied[np.argmax(mean[i, tied])]])
            else:
                pred.append(next(v for v in votes[:, i] if index[v] in tied))
        out = pd.DataFrame({"truth": predictions[0]["truth"].to_numpy(), "pred": pred}, index=predictions[0].index)
        for j, label in enumerate(labels):  # the share of votes per class
            out[f"proba.{label}"] = counts[:, j] / len(predictions)
        return out


class Mean:
    """``mean`` — seed paper: "For classification: compute the arithmetic mean of probabilities
    from all predictors for each labels, use highest probability to infer the label."

    Regression (nk): the arithmetic mean of the runs' predictions.
    """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        if task_of(predictions) == "regression":
            return _regression_out(predictions, _regression_preds(predictions).mean(axis=0))
        labels = labels_of(predictions, "mean")
        return _out(predictions, labels, probas(predictions, labels).mean(axis=0))


class Median:
    """``median`` (nk, regression): the median of the runs' predictions on each row (robust to one
    run that is far off). For classification it is the per-class median of the probabilities,
    the class with the highest median wins."""

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        if task_of(predictions) == "regression":
            return _regression_out(predictions, np.median(_regression_preds(predictions), axis=0))
        labels = labels_of(predictions, "median")
        return _out(predictions, labels, np.median(probas(predictions, labels), axis=0))


class Max:
    """``max`` — seed paper: "For classification: use the maximum value of probabilities from all
    predictors for each labels, use highest probability to infer the label." """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "max")
        labels = labels_of(predictions, "max")
        return _out(predictions, labels, probas(predictions, labels).max(axis=0))


class Sum:
    """``sum`` — seed paper: "For classification: compute the sum of probabilities from all
    predictors for each labels, use highest probability to infer the label." (The same label as
    ``mean``; the returned scores are scaled to sum to 1.)"""

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "sum")
        labels = labels_of(predictions, "sum")
        return _out(predictions, labels, probas(predictions, labels).sum(axis=0))


class MaxClass:
    """``max_class`` — seed paper: "For classification: compare the highest probabilities of all
    models across classes (instead of same class as in max_ensemble) and return the highest
    probability and the class."

    On each row the run whose top probability is highest decides; its probabilities are returned
    (ties: the earliest run).
    """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "max_class")
        labels = labels_of(predictions, "max_class")
        p = probas(predictions, labels)  # runs × rows × classes
        best_run = np.argmax(p.max(axis=2), axis=0)
        rows = np.arange(p.shape[1])
        return _out(predictions, labels, p[best_run, rows])


@dataclass
class ThresholdConfig:
    threshold: float = param(1.0, ge=0, le=1, help="uncertainty (normalised entropy) below which the most "
                             "certain run decides alone; 1.0: no threshold (it always decides)")


class UncertaintyThreshold:
    """``uncertainty_threshold`` — seed paper: "For classification: predict the class with the
    lowest uncertainty if lower than a threshold (default to 1.0, meaning no threshold), else
    calculate the mean of uncertainties for all models per class and predict the lowest."

    On each row the run with the lowest uncertainty decides when its uncertainty is at most
    ``threshold`` (1.0: always, as uncertainty is at most 1). Otherwise the runs' class
    probabilities are averaged and the most probable class wins (the seed implementation's
    reading of "the mean … per class"; uncertainty is entropy, so the class with the highest
    mean probability is the one the runs are least uncertain about). Ties: the earliest run.
    """

    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = threshold

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "uncertainty_threshold")
        labels = labels_of(predictions, "uncertainty_threshold")
        p = probas(predictions, labels)
        u = uncertainty(p)  # runs × rows
        best = np.argmin(u, axis=0)
        rows = np.arange(p.shape[1])
        certain = u[best, rows] <= self.threshold
        scores = np.where(certain[:, None], p[best, rows], p.mean(axis=0))
        return _out(predictions, labels, scores)


class UncertaintyWeighted:
    """``uncertainty_weighted`` — seed paper: "For classification: weigh each class with the
    inverse of its uncertainty (1/uncertainty), normalize the weights per model, then multiply
    each class model probability with their normalized weights and use the maximum one to infer
    the label."

    On each row run ``r`` gets the weight ``1/u_r``, the weights are normalised to sum to 1 over
    the runs, and the class scores are ``Σ_r w_r p_r``. A run with uncertainty 0 (certain) gets
    all the weight (shared with other certain runs), the limit of ``1/u``.
    """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "uncertainty_weighted")
        labels = labels_of(predictions, "uncertainty_weighted")
        p = probas(predictions, labels)
        u = uncertainty(p)
        certain = u <= EPS
        w = np.where(certain.any(axis=0, keepdims=True), certain.astype(float), 1.0 / np.maximum(u, EPS))
        w = w / w.sum(axis=0, keepdims=True)
        return _out(predictions, labels, (w[:, :, None] * p).sum(axis=0))


class ConfidenceWeighted:
    """``confidence_weighted`` — seed paper: "Weighted ensemble based on confidence
    (1-uncertainty), normalized for all samples per model. Like before, but use confidence
    (instead of inverse of uncertainty) as weights."

    On each row run ``r`` gets the weight ``1 - u_r``; the class scores are
    ``Σ_r (1 - u_r) p_r / Σ_r (1 - u_r)``. When every run is fully uncertain (all weights 0)
    the runs count equally.
    """

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        _classification_only(predictions, "confidence_weighted")
        labels = labels_of(predictions, "confidence_weighted")
        p = probas(predictions, labels)
        c = 1.0 - uncertainty(p)
        total = c.sum(axis=0, keepdims=True)
        w = np.where(total > EPS, c / np.where(total > EPS, total, 1.0), 1.0 / len(predictions))
        return _out(predictions, labels, (w[:, :, None] * p).sum(axis=0))


# --- nk's additions -----------------------------------------------------------------------------


def dev_scores(predictions: Sequence[pd.DataFrame], method: str) -> np.ndarray:
    """Each run's primary metric on its **dev** split (never test); a run without one is an error."""
    scores = []
    for i, frame in enumerate(predictions):
        score = frame.attrs.get("dev_score")
        if score is None:
            raise UserError(f"The ensemble method {method!r} weighs runs by their dev score, but "
                            f"{_name(frame, i)} has no dev split", allowed="runs with a dev split",
                            todo="re-run the experiments with split.dev_size=0.2 (weights never come from test)")
        scores.append(float(score))
    return np.array(scores)


class PerformanceWeighted:
    """``performance_weighted`` (nk): each run weighs by its primary metric on the **dev** split
    (UAR, or CCC for regression; negative values count as 0), normalised to sum to 1.
    Classification: the class scores are ``Σ_r w_r p_r``; regression: ``Σ_r w_r ŷ_r``. Test data
    never set a weight."""

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        w = np.clip(dev_scores(predictions, "performance_weighted"), 0.0, None)
        if w.sum() <= EPS:
            raise UserError("Every run has a dev score of 0 or below: performance_weighted has no weights",
                            todo="use --method mean")
        w = w / w.sum()
        if task_of(predictions) == "regression":
            return _regression_out(predictions, (w[:, None] * _regression_preds(predictions)).sum(axis=0))
        labels = labels_of(predictions, "performance_weighted")
        return _out(predictions, labels, (w[:, None, None] * probas(predictions, labels)).sum(axis=0))


@dataclass
class StackingConfig:
    C: float = param(1.0, gt=0, help="inverse regularisation strength of the logistic regression")


class Stacking:
    """``stacking`` (nk): a logistic regression (scikit-learn, seeded) fitted on the runs'
    **dev**-split probabilities (all runs' ``proba.*`` side by side) against the dev labels, then
    applied to the runs' test probabilities. It learns which run to trust for which class; it
    needs a dev split in every run, on the same rows."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def combine(self, predictions: Sequence[pd.DataFrame], ctx: RunContext) -> pd.DataFrame:
        from sklearn.linear_model import LogisticRegression

        _classification_only(predictions, "stacking")
        labels = labels_of(predictions, "stacking")
        devs = []
        for i, frame in enumerate(predictions):
            dev = frame.attrs.get("dev")
            if not dev:
                raise UserError(f"The ensemble method 'stacking' is fitted on dev predictions, but {_name(frame, i)} "
                                "has no dev split (dev_predictions.csv)", allowed="runs with a dev split",
                                todo="re-run the experiments with split.dev_size=0.2")
            devs.append(np.column_stack([np.asarray(dev["proba"][c], dtype=float) for c in labels]))
        y_dev = np.asarray(predictions[0].attrs["dev"]["truth"]).astype(str)
        if len(set(y_dev)) < 2:
            raise UserError("The dev split has a single class: a stacking model cannot be fitted",
                            todo="use a larger dev split (split.dev_size)")
        model = LogisticRegression(C=self.C, max_iter=1000, random_state=ctx.seed)
        model.fit(np.hstack(devs), y_dev)
        test = np.hstack(list(probas(predictions, labels)))
        proba = model.predict_proba(test)
        scores = np.zeros((len(test), len(labels)))
        for j, cls in enumerate(model.classes_):
            scores[:, labels.index(str(cls))] = proba[:, j]
        return _out(predictions, labels, scores)


METHODS: tuple[tuple[str, Any, type, str], ...] = (
    ("majority_voting", MajorityVoting, NoParams, "the class most runs predict (works without probabilities)"),
    ("mean", Mean, NoParams, "mean class probability (regression: mean prediction)"),
    ("median", Median, NoParams, "median prediction (regression; classification: median probability)"),
    ("max", Max, NoParams, "highest probability per class over the runs"),
    ("sum", Sum, NoParams, "sum of class probabilities"),
    ("max_class", MaxClass, NoParams, "the run with the single highest class probability decides"),
    ("uncertainty_threshold", UncertaintyThreshold, ThresholdConfig,
     "the least uncertain run decides when below the threshold, else mean probability"),
    ("uncertainty_weighted", UncertaintyWeighted, NoParams, "probabilities weighted by 1/uncertainty per row"),
    ("confidence_weighted", ConfidenceWeighted, NoParams, "probabilities weighted by 1-uncertainty per row"),
    ("performance_weighted", PerformanceWeighted, NoParams, "runs weighted by their dev score (never test)"),
    ("stacking", Stacking, StackingConfig, "logistic regression on the runs' dev probabilities"),
)


@hookimpl
def nk_register_ensemblers(register: Register) -> None:
    for name, factory, config, description in METHODS:
        register(name, factory, config, description=description)
