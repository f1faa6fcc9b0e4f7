"""Fitting per fold: preprocessing fitted on train, the learner (grid search choosing on dev),
predictions, and the evaluation of prediction frames.

Every fitted step (imputation means, scaler, selector, sampler, learner) sees only the fold's
train rows; dev is the only data a choice looks at; test is never passed to ``fit``.

A learner's input is a feature matrix (the default), or, for a learner whose class says
``input = "audio"``, a DataFrame of audio rows (``file``, ``start``, ``end`` in seconds, NaN =
the whole file, ``sampling_rate``; see :func:`nk.stages.audio_rows`): then nk extracts no
features and applies no feature preprocessing.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nk.context import RunContext
    from nk.preprocess import Preprocessor
    from nk.registry import Component
    from nk.splits import Fold

INPUTS = ("features", "audio")


def model_task(model: Any) -> str | None:
    """'classification' or 'regression' for a scikit-learn estimator, None when it is neither."""
    from sklearn.base import is_classifier, is_regressor

    return "classification" if is_classifier(model) else "regression" if is_regressor(model) else None


def learner_input(model: Any, where: str = "the model") -> str:
    """What a learner's ``fit``/``predict`` take: ``"features"`` (default) or ``"audio"``."""
    kind = getattr(model, "input", "features")
    if kind not in INPUTS:
        from nk.errors import ContractError

        raise ContractError(f"{where}: input = {kind!r}; a learner's input is one of {', '.join(INPUTS)}")
    return str(kind)


@dataclass
class Learner:
    """The run's model component, its parameters and what it takes."""

    name: str
    component: Component
    params: dict[str, Any]
    input: str  # "features" or "audio"
    selects: bool  # its fit accepts X_dev, y_dev (early stopping, best epoch)
    probe: Any  # an unfitted instance (task checks)

    @classmethod
    def from_config(cls, ctx: RunContext) -> Learner:
        from nk.stages import build

        (built,) = build(ctx, "model")
        where = f"model {built.name!r} ({built.component.provider})"
        return cls(built.name, built.component, built.params, learner_input(built.instance, where),
                   "X_dev" in inspect.signature(built.instance.fit).parameters, built.instance)


@dataclass
class FoldFit:
    """What fitting one fold gave."""

    model: Any
    preprocessor: Preprocessor | None  # None for audio learners
    predictions: dict[str, pd.DataFrame]  # "dev", "test" → truth, pred, proba.<class>
    n_train: int
    n_features: int  # columns the learner saw (0 for audio learners)
    search: list[dict[str, Any]] = field(default_factory=list)  # grid-search trials on dev
    chosen: dict[str, Any] = field(default_factory=dict)  # the searched parameters' chosen values
    inner_cv: dict[str, Any] | None = None  # search.inner_folds without dev: CV inside train


def check_model_task(ctx: RunContext, learner: Learner, task: str) -> None:
    """A classifier for a regression target (or vice versa) is a user error listing suitable models."""
    kind = model_task(learner.probe)
    if kind is not None and kind != task:
        registry = ctx.pm.registry
        suitable = [n for n in registry.names("model")
                    if model_task(registry.get("model", n).build(registry.get("model", n).defaults())) == task]
        raise UserError(
            f"The model {learner.name!r} does {kind}, but the target calls for {task}",
            where="config group model",
            allowed=", ".join(suitable),
            todo=f"choose a {task} model, or set task=",
        )


def check_options(ctx: RunContext, learner: Learner, task: str) -> None:
    """Options that make no sense for this learner or task are errors, not silently ignored."""
    from nk.config import Balancing, Scaling, as_enum

    cfg = ctx.cfg
    balance = as_enum(cfg.balance, Balancing)
    if balance is not Balancing.none and task != "classification":
        raise UserError("balance= re-samples classes and needs a classification target",
                        where="config key balance", allowed="none for regression",
                        todo="set balance=none")
    if learner.input != "audio":
        return
    wrong = []
    if balance is not Balancing.none:
        wrong.append(f"balance={balance.value}")
    scale = as_enum(cfg.scale, Scaling)
    if scale not in (Scaling.standard, Scaling.none):  # standard: the default, not applied
        wrong.append(f"scale={scale.value}")
    for key in ("columns", "exclude"):
        if cfg.select[key]:
            wrong.append(f"select.{key}={list(cfg.select[key])}")
    if cfg.select.k_best is not None:
        wrong.append(f"select.k_best={cfg.select.k_best}")
    if wrong:
        raise UserError(
            f"The model {learner.name!r} takes audio, not features, so {', '.join(wrong)} "
            f"{'has' if len(wrong) == 1 else 'have'} nothing to act on",
            where="config keys " + ", ".join(w.split("=")[0] for w in wrong),
            todo="leave these options at their defaults (scale, select.*, balance=none) with an audio "
            "model, or choose a model that takes features",
        )


def search_keys(ctx: RunContext) -> list[str]:
    params = ctx.cfg.search.params
    return [str(k) for k in params] if params else []


def search_grid(ctx: RunContext, learner: Learner) -> list[dict[str, Any]]:
    """The candidate parameter sets of ``search.params`` (each validated), or just the config's."""
    from nk.config import search_candidates

    return search_candidates(ctx.cfg, learner.component, learner.params)


def _rows(X: Any, mask: np.ndarray) -> Any:
    """Rows of a matrix or of an audio-rows DataFrame."""
    return X[mask] if not hasattr(X, "iloc") else X.iloc[mask.nonzero()[0]]


def fit_fold(ctx: RunContext, fold: Fold, frame: pd.DataFrame, inputs: pd.DataFrame, target: str, task: str,
             learner: Learner, candidates: list[dict[str, Any]], timing: dict[str, float], *,
             predict: bool = True) -> FoldFit:
    """Preprocess (features only), fit each candidate parameter set (choosing on dev when
    several), predict dev and test. ``inputs``: the features, or the audio rows."""

    from nk.config import Balancing, Scaling, SelectScore, as_enum
    from nk.preprocess import Preprocessor, sampler

    cfg = ctx.cfg
    split = fold.split.to_numpy()
    train = split == "train"
    y = frame[target].to_numpy()

    t = time.perf_counter()
    prep: Preprocessor | None = None
    speakers_all = frame["speaker"].astype(str).to_numpy() if "speaker" in frame.columns else None
    groups = None if speakers_all is None else speakers_all[train]  # the train rows' speakers
    if learner.input == "audio":
        X: Any = inputs
        X_train, y_train = _rows(X, train), y[train]
        n_features = 0
    else:
        speakers = frame["speaker"].to_numpy() if "speaker" in frame.columns else None
        prep = Preprocessor(
            scale=as_enum(cfg.scale, Scaling), columns=list(cfg.select.columns), exclude=list(cfg.select.exclude),
            k_best=cfg.select.k_best, score=as_enum(cfg.select.score, SelectScore), task=task, seed=ctx.seed,
        ).fit(inputs[train], y[train])
        X = prep.transform(inputs, speakers)
        X_train, y_train = X[train], y[train]
        n_features = int(X.shape[1])
        balancer = sampler(as_enum(cfg.balance, Balancing), ctx.seed)
        if balancer is not None:
            try:
                X_train, y_train = balancer.fit_resample(X_train, y_train)
                kept = getattr(balancer, "sample_indices_", None)  # SMOTE's new rows have no speaker
                groups = None if groups is None or kept is None else groups[kept]
            except ValueError as exc:
                raise UserError(f"balance={as_enum(cfg.balance, Balancing).value} failed: {exc}",
                                where="config key balance",
                                todo="choose another method (e.g. ros), or use more data per class") from None
            check_balanced(ctx, y[train], y_train, fold.name)
    timing["scale"] += time.perf_counter() - t

    t = time.perf_counter()
    dev = split == "dev"
    keys = search_keys(ctx)
    search: list[dict[str, Any]] = []
    if len(candidates) > 1 and not dev.any():
        raise UserError(
            "search.params needs a dev split to choose on (never the test split)",
            where="config key search.params",
            todo="set split.dev_size (e.g. 0.25), or give a database role dev",
        )
    X_dev, y_dev = (_rows(X, dev), y[dev]) if dev.any() else (None, None)
    best: tuple[float, Any, dict[str, Any]] | None = None
    for candidate in candidates:
        model = fit_model(ctx, learner.component, candidate, X_train, y_train, X_dev, y_dev, groups=groups)
        if len(candidates) == 1:
            best = (0.0, model, candidate)
            break
        score = dev_score(ctx, model, X_dev, y[dev], frame.index[dev], frame, task)
        changed = {k: v for k, v in candidate.items() if learner.params.get(k) != v or k in keys}
        search.append({"params": changed, "dev_score": score})
        if best is None or score > best[0]:
            best = (score, model, candidate)
    assert best is not None
    model = best[1]

    inner, inner_pred = None, None
    if predict and not dev.any() and int(cfg.search.inner_folds) > 0:
        train_rows = train.nonzero()[0]
        inner, inner_pred = inner_cv(ctx, learner, best[2], _rows(X, train), y[train], frame.index[train_rows],
                                     None if speakers_all is None else speakers_all[train], task)
    timing["fit"] += time.perf_counter() - t

    t = time.perf_counter()
    predictions = {}
    if predict:
        for part in ("dev", "test"):
            mask = split == part
            if mask.any():
                predictions[part] = predict_rows(model, _rows(X, mask), frame, target, mask, learner.name)
        if inner_pred is not None:  # out-of-fold predictions of the train rows (inner_cv_predictions.csv)
            predictions["inner_cv"] = inner_pred
    timing["predict"] += time.perf_counter() - t
    return FoldFit(model, prep, predictions, len(y_train), n_features, search,
                   {k: best[2][k] for k in keys if k in best[2]}, inner)


def inner_cv(ctx: RunContext, learner: Learner, params: dict[str, Any], X: Any, y: np.ndarray, index: pd.Index,
             speakers: np.ndarray | None, task: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """``search.inner_folds``-fold cross-validation inside the train rows (grouped by speaker
    when known, stratified for classification, seeded): the primary metric per fold, its mean,
    and a t interval over the folds; and the out-of-fold predictions of every train row (in
    ``index`` order), on which sweeps pair runs. The preprocessing was fitted on all train rows (scaling,
    k-best selection) and balancing is not repeated per fold, so the score can be a little
    optimistic; it only compares settings, it is not a result to report."""
    import warnings

    import numpy as np
    import pandas as pd
    from scipy import stats
    from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

    k = int(ctx.cfg.search.inner_folds)
    where, todo = "config key search.inner_folds", "lower search.inner_folds, or add a dev split (split.dev_size=0.25)"
    if k < 2:
        raise UserError(f"search.inner_folds={k} cannot split train", where=where, allowed="0 (off) or 2 and more",
                        todo="set search.inner_folds=3")
    classification = task == "classification"
    if speakers is not None:
        n_speakers = len(set(speakers))
        if n_speakers < k:
            raise UserError(f"search.inner_folds={k} needs at least {k} train speakers; train has {n_speakers}",
                            where=where, todo=todo)
        splitter: Any = (StratifiedGroupKFold(k, shuffle=True, random_state=ctx.seed) if classification
                         else GroupKFold(k))
    else:
        splitter = (StratifiedKFold(k, shuffle=True, random_state=ctx.seed) if classification
                    else KFold(k, shuffle=True, random_state=ctx.seed))
    scores, parts = [], []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a class with fewer rows than folds
            splits = list(splitter.split(np.zeros(len(y)), y, speakers))
    except ValueError as exc:
        raise UserError(f"search.inner_folds={k} cannot split the train rows: {exc}", where=where, todo=todo) from None
    for fit_rows, _ in splits:  # k-fold: the scored rows are the rest
        fit_mask = np.zeros(len(y), dtype=bool)
        fit_mask[fit_rows] = True
        model = fit_model(ctx, learner.component, params, _rows(X, fit_mask), y[fit_mask],
                          groups=None if speakers is None else speakers[fit_mask])
        pred = pd.DataFrame({"truth": y[~fit_mask], "pred": model.predict(_rows(X, ~fit_mask))},
                            index=index[~fit_mask])
        metrics = evaluate(ctx, pred, pd.DataFrame(index=index), task, with_ci=False)
        scores.append(float(metrics[metrics["primary"]]["value"]))
        parts.append(pred)
    primary = "uar" if classification else "ccc"
    mean, sd = float(np.mean(scores)), float(np.std(scores, ddof=1))
    level = float(ctx.cfg.bootstrap.level)
    half = float(stats.t.ppf(0.5 + level / 2, k - 1)) * sd / np.sqrt(k)
    ctx.log.info("search.inner_folds=%d: inner cross-validation on train %s %.3f ± %.3f", k, primary.upper(), mean, sd)
    summary = {"n_folds": k, "grouped_by": "speaker" if speakers is not None else "rows", "scores": scores,
            "mean": mean, "sd": sd,
            primary: {"value": mean, "ci": [mean - half, mean + half], "ci_level": level, "ci_method": "inner_folds",
                      "ci_unit": "fold", "n_speakers": None if speakers is None else len(set(speakers)),
                      "ci_note": f"t interval over {k} inner folds of train (folds share the preprocessing)"}}
    return summary, pd.concat(parts).loc[index]


def fit_model(ctx: RunContext, component: Component, params: dict[str, Any], X_train: Any, y_train: np.ndarray,
              X_dev: Any = None, y_dev: np.ndarray | None = None, *, groups: np.ndarray | None = None) -> Any:
    """Build the learner, seed it, fit it on train (and dev, when its ``fit`` takes it). Optional
    keywords a learner's ``fit`` may take: ``groups`` (the train rows' speaker ids, when known)
    and ``run_dir`` (the run folder, for checkpoints and training logs)."""
    model = component.build(params)
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model.set_params(random_state=ctx.seed)  # seed every estimator that takes one
    fit_kwargs: dict[str, Any] = {}
    if X_dev is not None and "X_dev" in inspect.signature(model.fit).parameters:
        # learners that select (early stopping, best epoch) get dev data, never test
        fit_kwargs.update(X_dev=X_dev, y_dev=y_dev)
    if groups is not None and "groups" in inspect.signature(model.fit).parameters:
        # e.g. a speaker-disjoint hold-out of train for choosing the epoch when there is no dev
        fit_kwargs["groups"] = groups
    if "run_dir" in inspect.signature(model.fit).parameters:
        fit_kwargs["run_dir"] = ctx.run_dir  # checkpoints, training logs (e.g. tensorboard events)
    model.fit(X_train, y_train, **fit_kwargs)
    return model


def dev_score(ctx: RunContext, model: Any, X_dev: Any, y_dev: np.ndarray, index: pd.Index, frame: pd.DataFrame,
              task: str) -> float:
    """The primary metric of ``model`` on dev (no interval)."""
    import pandas as pd

    pred = pd.DataFrame({"truth": y_dev, "pred": model.predict(X_dev)}, index=index)
    metrics = evaluate(ctx, pred, frame, task, with_ci=False)
    return float(metrics[metrics["primary"]]["value"])


def predict_rows(model: Any, X: Any, frame: pd.DataFrame, target: str, mask: np.ndarray, name: str) -> pd.DataFrame:
    """``truth``, ``pred`` and (classifiers with probabilities) ``proba.<class>`` of the masked rows."""
    import pandas as pd

    from nk.data import check_predictions

    out = pd.DataFrame({"truth": frame.loc[mask, target].to_numpy()}, index=frame.index[mask])
    out["pred"] = model.predict(X)
    for column, values in probabilities(model, X).items():
        out[column] = values
    check_predictions(out, frame.index[mask], f"model {name!r}")
    return out


def probabilities(model: Any, X: Any) -> dict[str, Any]:
    """``proba.<class>`` columns of a classifier that has ``predict_proba`` and ``classes_``."""
    if not (hasattr(model, "predict_proba") and hasattr(model, "classes_")):
        return {}
    proba = model.predict_proba(X)
    return {f"proba.{label}": proba[:, i] for i, label in enumerate(model.classes_)}


def check_balanced(ctx: RunContext, before: np.ndarray, after: np.ndarray, fold: str) -> None:
    """Log the class counts balancing left in train; a class it removed entirely is an error."""
    import pandas as pd

    from nk.config import Balancing, as_enum

    method = as_enum(ctx.cfg.balance, Balancing).value
    counts_before = pd.Series(before).value_counts().sort_index()
    counts_after = pd.Series(after).value_counts().reindex(counts_before.index, fill_value=0)
    listing = ", ".join(f"{label} {a}→{b}" for label, a, b in
                        zip(counts_before.index, counts_before, counts_after, strict=True))
    ctx.log.info("balance=%s (%s): train rows per class %s", method, fold, listing)
    gone = [str(label) for label, n in counts_after.items() if n == 0]
    if gone:
        raise UserError(f"balance={method} removed every training row of {gone} ({fold}): "
                        f"{listing}", where="config key balance",
                        todo="choose an over-sampling method (e.g. ros, smote), or use more data")


def evaluate(ctx: RunContext, pred: pd.DataFrame, frame: pd.DataFrame, task: str, *,
             with_ci: bool = True) -> dict[str, Any]:
    """Metrics of a prediction frame; ``with_ci`` adds the (speaker) bootstrap interval."""
    import warnings

    from nk import metrics

    # with_ci=False: per-fold and model-selection scores use only the value, so no bootstrap
    # (and no speaker ids, which only the bootstrap resamples)
    with_groups = with_ci and "speaker" in frame.columns
    groups = frame.loc[pred.index, "speaker"].astype(str).to_numpy() if with_groups else None
    boot: dict[str, Any] = {"n_resamples": int(ctx.cfg.bootstrap.n_resamples) if with_ci else 0,
                            "level": float(ctx.cfg.bootstrap.level), "seed": ctx.seed,
                            "min_speakers": int(ctx.cfg.bootstrap.min_speakers)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one-speaker folds: CI by samples
        if task == "classification":
            return metrics.classification_metrics(pred["truth"], pred["pred"], groups=groups, **boot)
        return metrics.regression_metrics(pred["truth"].astype(float), pred["pred"].astype(float),
                                          groups=groups, **boot)


def fit_folds(ctx: RunContext, folds: list[Fold], frame: pd.DataFrame, inputs: pd.DataFrame, target: str,
              task: str, learner: Learner, timing: dict[str, float]) -> list[FoldFit]:
    """:func:`fit_fold` for every fold (a progress bar for cross-validation)."""
    from rich.progress import Progress

    candidates = search_grid(ctx, learner)  # the same in every fold
    out = []
    with Progress(console=ctx.console, transient=True, disable=len(folds) < 2) as progress:
        task_id = progress.add_task("Cross-validation folds", total=len(folds))
        for fold in folds:
            out.append(fit_fold(ctx, fold, frame, inputs, target, task, learner, candidates, timing))
            progress.advance(task_id)
    return out


def refit_all(ctx: RunContext, folds: list[Fold], fits: list[FoldFit], frame: pd.DataFrame, inputs: pd.DataFrame,
              target: str, task: str, learner: Learner) -> FoldFit:
    """After cross-validation, the saved model: fitted on every row with the setting the folds'
    dev splits chose most often (the folds estimated its performance)."""
    import pandas as pd

    from nk.splits import Fold

    everything = Fold("all", pd.Series("train", index=frame.index))
    chosen = [tuple(sorted(r.chosen.items())) for r in fits if r.chosen]
    params = dict(learner.params)
    if chosen:
        most: tuple[tuple[str, Any], ...] = max(set(chosen), key=lambda c: chosen.count(c))
        params.update(dict(most))
    final = fit_fold(ctx, everything, frame, inputs, target, task, learner, [params],
                     {"scale": 0.0, "fit": 0.0, "predict": 0.0}, predict=False)
    final.search = [{"fold": f.name, "chosen": r.chosen, "trials": r.search}
                    for f, r in zip(folds, fits, strict=True) if r.search]
    return final


__all__ = ["FoldFit", "Learner", "check_balanced", "check_model_task", "check_options", "dev_score", "evaluate",
           "fit_fold", "fit_folds", "fit_model", "inner_cv", "learner_input", "model_task", "predict_rows", "probabilities",
           "refit_all", "search_grid", "search_keys"]
