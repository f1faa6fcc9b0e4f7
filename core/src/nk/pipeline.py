"""``nk run``'s pipeline: the stages (:mod:`nk.stages`: load → segment → split → augment →
featurize), fitting per fold (:mod:`nk.fit`: impute, select, scale, balance, fit, predict) →
evaluate → save the model → report. It knows components only through the registry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from nk import __version__
from nk.config import (
    Aggregate,
    Balancing,
    EvalLevel,
    MissingPolicy,
    Scaling,
    SplitMethod,
    as_enum,
    redacted,
    secret_values,
    selected,
)
from nk.context import RunContext
from nk.errors import UserError
from nk.plugins import PluginManager
from nk.results import save_model, write_json
from nk.splits import Fold


class _Redact(logging.Filter):
    """Replaces secret values in log records by ``***`` (whatever code logged them)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        from nk.errors import mask_secrets

        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_secrets(record.exc_text, self.secrets)
        record.msg, record.args = mask_secrets(record.getMessage(), self.secrets), None
        return True


@contextmanager
def run_logging(run_dir: Path, console: Any, secrets: Sequence[str] = ()) -> Iterator[logging.Logger]:
    """The ``nk`` logger writes to ``run_dir/nk.log`` (and warnings to the console) for one run;
    the values in ``secrets`` never reach either."""
    from rich.logging import RichHandler

    log = logging.getLogger("nk")
    log.setLevel(logging.INFO)
    log.propagate = False
    file_handler = logging.FileHandler(run_dir / "nk.log", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    console_handler = RichHandler(console=console, show_path=False, show_time=False)
    console_handler.setLevel(logging.WARNING)
    # user errors are printed once by the CLI; the log file keeps them too
    console_handler.addFilter(lambda record: not getattr(record, "file_only", False))
    for handler in (file_handler, console_handler):
        handler.addFilter(_Redact(secrets))
    log.addHandler(file_handler)
    log.addHandler(console_handler)
    try:
        yield log
    finally:
        log.removeHandler(file_handler)
        log.removeHandler(console_handler)
        file_handler.close()


def model_task(model: Any) -> str | None:
    """'classification' or 'regression' for a scikit-learn estimator (see :func:`nk.fit.model_task`)."""
    from nk.fit import model_task as task_of

    return task_of(model)


def run(ctx: RunContext) -> dict[str, Any]:
    """One ``nk run``: the stages, fitting per fold, evaluation, the saved model and the reports.
    Returns the content of ``results.json``."""
    from nk import fit, stages

    timing: dict[str, float] = {}
    learner: list[fit.Learner] = []

    def what_the_model_does() -> str | None:  # the model (and scikit-learn) is built only when asked
        learner.append(fit.Learner.from_config(ctx))
        return fit.model_task(learner[0].probe)

    loaded = stages.load(ctx, what_the_model_does, timing=timing)
    target, task = loaded.target, loaded.task
    # rows in one canonical order (by file, then segment): the same data give the same split and
    # model whatever the order of the table's rows (tree learners such as XGBoost depend on it)
    frame = loaded.frame.sort_index(kind="stable")
    frame = stages.segment(ctx, frame, timing=timing)
    splits = stages.split(ctx, frame, target, task, timing=timing)
    frame, folds = stages.augment(ctx, frame, splits.folds, timing=timing)
    model = learner[0] if learner else fit.Learner.from_config(ctx)
    fit.check_model_task(ctx, model, task)
    fit.check_options(ctx, model, task)
    inputs, missing_report, frame, folds = _inputs(ctx, model, frame, folds, timing)

    fit_timing = {"scale": 0.0, "fit": 0.0, "predict": 0.0}
    fits = fit.fit_folds(ctx, folds, frame, inputs, target, task, model, fit_timing)
    from nk.config import Balancing, Scaling, as_enum

    stages.stage_end(ctx, "scale", fit_timing["scale"], timing, scaling=as_enum(ctx.cfg.scale, Scaling).value,
                     balance=as_enum(ctx.cfg.balance, Balancing).value)
    stages.stage_end(ctx, "fit", fit_timing["fit"], timing, model=model.name, folds=len(folds))
    stages.stage_end(ctx, "predict", fit_timing["predict"], timing)

    t = time.perf_counter()
    eval_frame = frame
    per_file = _per_file_evaluation(ctx, frame)
    if per_file is not None:  # evaluate.level=file: one prediction per file
        pd.concat([r.predictions["test"] for r in fits]).to_csv(ctx.run_dir / "predictions_segments.csv")
        for r in fits:
            r.predictions = {part: per_file(pred, task) for part, pred in r.predictions.items()}
        eval_frame = frame.groupby(level="file", sort=False).first()
    test_pred = pd.concat([r.predictions["test"] for r in fits])
    metrics, cv_report = _metrics(ctx, folds, fits, eval_frame, task, test_pred)
    stages.stage_end(ctx, "evaluate", time.perf_counter() - t, timing)

    t = time.perf_counter()
    final = fit.refit_all(ctx, folds, fits, frame, inputs, target, task, model) if len(folds) > 1 else fits[0]
    results = _results(ctx, frame, folds, target, task, metrics, inputs, final, loaded.report, missing_report,
                       cv_report, model, splits.duplicate_audio)
    inner_pred = fits[0].predictions.get("inner_cv") if len(fits) == 1 and fits[0].inner_cv else None
    if inner_pred is not None:  # search.inner_folds without a dev split: sweeps rank and pair on it
        results["inner_cv"] = fits[0].inner_cv
        _with_speaker(inner_pred, eval_frame).to_csv(ctx.run_dir / "inner_cv_predictions.csv")
    _with_speaker(test_pred, eval_frame).to_csv(ctx.run_dir / "predictions.csv")
    dev_pred = [r.predictions["dev"] for r in fits if "dev" in r.predictions]
    if dev_pred:  # nk ensemble weighs (performance_weighted) and stacks on dev, never on test
        _with_speaker(pd.concat(dev_pred), eval_frame).to_csv(ctx.run_dir / "dev_predictions.csv")
    spec = _spec(ctx, final, model, inputs, target, task)
    report_input = {"predictions": test_pred, "metrics": metrics["test"], "summary": results["summary"],
                    "results": results, "model": final.model, "learner": model.name}
    model_files, artefacts = _finish(ctx, final.model, final.preprocessor, spec, report_input, frame)
    results["artefacts"] = sorted([*artefacts, "config.yaml", "results.json", "predictions.csv", "nk.log",
                                   *(["dev_predictions.csv"] if dev_pred else []),
                                   *(["inner_cv_predictions.csv"] if inner_pred is not None else []), *model_files])
    results["timing"] = dict(timing, report=round(time.perf_counter() - t, 3))
    write_json(ctx.run_dir / "results.json", results)
    stages.stage_end(ctx, "report", time.perf_counter() - t, timing, files=len(artefacts))
    return results


def _per_file_evaluation(ctx: RunContext, frame: pd.DataFrame) -> Callable[[pd.DataFrame, str], pd.DataFrame] | None:
    """With ``evaluate.level=file``, the function that aggregates a prediction frame to files."""
    if as_enum(ctx.cfg.evaluate.level, EvalLevel) is not EvalLevel.file:
        return None
    if not isinstance(frame.index, pd.MultiIndex):
        raise UserError("evaluate.level=file aggregates segments, but the rows are whole files",
                        where="config key evaluate.level",
                        todo="segment the data (e.g. segment=silero), or set evaluate.level=segment")
    how = as_enum(ctx.cfg.evaluate.aggregate, Aggregate)

    def aggregate(pred: pd.DataFrame, task: str) -> pd.DataFrame:
        files = pred.index.get_level_values("file")
        grouped = pred.groupby(files, sort=False)
        mixed = grouped["truth"].nunique()
        if (mixed > 1).any():
            raise UserError(f"evaluate.level=file needs one label per file, but {int((mixed > 1).sum())} files "
                            f"have segments with different labels (e.g. {mixed[mixed > 1].index[0]})",
                            where="config key evaluate.level", todo="set evaluate.level=segment")
        out = pd.DataFrame({"truth": grouped["truth"].first()})
        proba = [c for c in pred.columns if c.startswith("proba.")]
        if task == "regression":
            out["pred"] = grouped["pred"].mean() if how is Aggregate.mean else grouped["pred"].median()
        elif how is Aggregate.mean and proba:
            labels = {f"proba.{v}": v for v in pd.concat([pred["truth"], pred["pred"]]).unique()}
            mean = grouped[proba].mean()
            out["pred"] = [labels.get(c, c.removeprefix("proba.")) for c in mean.idxmax(axis=1)]
            out[proba] = mean
        else:  # majority; a tie goes to the first of the tied labels in sorted order
            out["pred"] = grouped["pred"].agg(lambda s: s.value_counts().sort_index(kind="stable").idxmax())
        out["segments"] = grouped.size()
        out.index.name = "file"
        return out

    ctx.log.info("evaluate.level=file: segment predictions aggregated per file (%s)", how.value)
    return aggregate


def _with_speaker(pred: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The prediction frame plus the rows' ``speaker`` (last column) for the CSV files, so that
    ``nk ensemble`` can bootstrap over speakers as the run did."""
    if "speaker" not in frame.columns or "speaker" in pred.columns:
        return pred
    return pred.assign(speaker=frame.loc[pred.index, "speaker"].to_numpy())


def _inputs(ctx: RunContext, learner: Any, frame: pd.DataFrame, folds: list[Fold], timing: dict[str, float],
            ) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame, list[Fold]]:
    """What the learner takes: the features (missing values handled; rows may be dropped), or
    for an audio learner the audio rows (no features are extracted)."""
    from nk import stages
    from nk.config import MissingPolicy, as_enum
    from nk.preprocess import handle_missing

    if learner.input == "audio":
        names = [n for n, _ in selected(ctx.cfg, "feats")]
        if names:
            ctx.log.info("model %s takes audio: the features %s are not extracted", learner.name, names)
        return (stages.audio_rows(frame, int(ctx.cfg.sampling_rate)),
                {"policy": "not used (the model takes audio)", "features_with_missing": {}, "rows_with_missing": 0},
                frame, folds)
    features = stages.featurize(ctx, frame, timing=timing)
    features, missing_report = handle_missing(features, as_enum(ctx.cfg.missing, MissingPolicy), ctx.log)
    if len(features) < len(frame):
        frame = frame.loc[features.index]
        folds = [Fold(f.name, f.split.loc[features.index]) for f in folds]
    return features, missing_report, frame, folds


def _metrics(ctx: RunContext, folds: list[Fold], fits: list[Any], frame: pd.DataFrame, task: str,
             test_pred: pd.DataFrame) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Test (pooled over folds) and dev metrics, and the per-fold scores of a cross-validation."""
    from nk.fit import evaluate

    metrics = {"test": evaluate(ctx, test_pred, frame, task)}
    dev_preds = [r.predictions["dev"] for r in fits if "dev" in r.predictions]
    if dev_preds:
        metrics["dev"] = evaluate(ctx, pd.concat(dev_preds), frame, task)
    if len(folds) == 1:
        return metrics, None
    per_fold = []
    for fold, r in zip(folds, fits, strict=False):
        pred = r.predictions["test"]
        m = evaluate(ctx, pred, frame, task, with_ci=False)
        per_fold.append({"fold": fold.name, "n_test": len(pred), m["primary"]: m[m["primary"]]["value"]})
    values = np.array([p[metrics["test"]["primary"]] for p in per_fold])
    return metrics, {"method": as_enum(ctx.cfg.split.method, SplitMethod).value, "n_folds": len(folds),
                     "folds": per_fold, "mean": float(values.mean()),
                     "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def _finish(ctx: RunContext, model: Any, preprocessor: Any, spec: dict[str, Any], report_input: dict[str, Any],
            frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Save the model, run the reporters and write the run report; returns the model files and
    the other artefacts, relative to the run folder."""
    from nk import stages
    from nk.report.run import write_run_report  # report.html/.tex/.pdf; needs the reporters' plots

    files = save_model(ctx.run_dir / "model", model=model, preprocessor=preprocessor, spec=spec)
    artefacts = []
    for built in stages.build(ctx, "report"):
        paths = built.instance.report(report_input, ctx)
        artefacts += [str(Path(p).relative_to(ctx.run_dir)) for p in paths]
    artefacts += [str(p.relative_to(ctx.run_dir)) for p in write_run_report(ctx, report_input["results"], frame)]
    return [str(p.relative_to(ctx.run_dir)) for p in files], artefacts


def _spec(ctx: RunContext, final: Any, learner: Any, inputs: pd.DataFrame, target: str, task: str) -> dict[str, Any]:
    """``model/spec.json`` (see :func:`nk.results.save_model`). It holds no secret parameter:
    :func:`nk.inference.load_run` asks for them."""

    def public(group: str) -> list[dict[str, Any]]:
        out = []
        for name, params in selected(ctx.cfg, group):
            comp = ctx.pm.registry.get(group, name)
            secret = comp.secret_params()
            out.append({"name": name, "provider": comp.provider, "version": comp.version,
                        "params": {k: v for k, v in params.items() if k not in secret},
                        # the secrets that were set (not their values): loading asks for these only
                        "secret_params": sorted(k for k in secret if params.get(k) not in (None, ""))})
        return out

    config = redacted(ctx.cfg, ctx.pm)
    for group in ("feats", "segment", "model"):  # secret parameters never reach a file
        for name, _ in selected(ctx.cfg, group):
            node = config.get(group) or {}
            node = node.get(name, {}) if group == "feats" else node
            for key in ctx.pm.registry.get(group, name).secret_params():
                node.pop(key, None)
    model_params = final.model.get_params() if hasattr(final.model, "get_params") else {}
    (learner_spec,) = public("model")
    spec = {
        "nk_version": __version__,
        "target": target,
        "task": task,
        "labels": [*final.model.classes_] if hasattr(final.model, "classes_") else None,
        "input": learner.input,
        "features": list(inputs.columns) if learner.input == "features" else [],
        "sampling_rate": int(ctx.cfg.sampling_rate),
        "featurizers": public("feats") if learner.input == "features" else [],
        "segmenter": next(iter(public("segment")), None),
        "learner": {**learner_spec, "random_state": model_params.get("random_state")},
        "missing": as_enum(ctx.cfg.missing, MissingPolicy).value,
        "scale": as_enum(ctx.cfg.scale, Scaling).value,
        "config": config,
    }
    return spec


def _results(ctx: RunContext, frame: pd.DataFrame, folds: list[Fold], target: str, task: str,
             metrics: dict[str, Any], inputs: pd.DataFrame, final: Any, load_report: dict[str, Any],
             missing_report: dict[str, Any], cv_report: dict[str, Any] | None, learner: Any,
             duplicate_audio: list[list[str]]) -> dict[str, Any]:
    from nk.fit import search_keys
    from nk.splits import summary
    from nk.stages import augment_report

    cfg = ctx.cfg
    test = metrics["test"]
    primary = test["primary"]
    value = test[primary]
    from nk.metrics import headline

    summary_text = headline(primary, value)  # marks an interval that is not over speakers
    cv = cv_report is not None
    has_dev = "dev" in metrics
    searched = bool(final.search)
    name, selects = learner.name, learner.selects
    if has_dev and searched:
        selection = (f"dev: grid search over {', '.join(search_keys(ctx))} chose on the dev split"
                     + (f"; {name} also stops early on dev" if selects else ""))
    elif has_dev and selects:
        selection = f"dev: {name} selects (early stopping / best epoch) on the dev split"
    elif has_dev:
        selection = f"none: a dev split exists but {name} makes no choice on held-out data"
    else:
        selection = "none (no dev split)"
    method = as_enum(cfg.split.method, SplitMethod)
    sources = {
        "test": ("pooled out-of-fold predictions of " + f"{len(folds)} folds ({method.value})"
                 if cv else f"the test split ({method.value}), evaluated once"),
        "dev": "the dev split (used for model selection)" if has_dev else None,
    }
    data = summary(frame, folds[0].split, target, task) if not cv else {
        "rows": {"all": len(frame)}, "folds": len(folds),
        **{k: v for k, v in summary(frame, pd.Series("all", index=frame.index), target, task).items()
           if k != "rows"}}
    audio = learner.input == "audio"
    return {
        "nk_version": __version__,
        "name": cfg.name,
        "run_dir": str(ctx.run_dir),
        "target": target,
        "task": task,
        "primary": primary,
        "summary": summary_text,
        "components": {g: [n for n, _ in selected(cfg, g)] for g in
                       ("data", "segment", "augment", "feats", "model", "report")},
        "model_input": learner.input,
        "n_features": 0 if audio else int(inputs.shape[1]),
        "n_model_inputs": final.n_features,
        "evaluated_on": "pooled cross-validation test folds" if cv else "test",
        "evaluation_level": as_enum(cfg.evaluate.level, EvalLevel).value
        + (f" ({as_enum(cfg.evaluate.aggregate, Aggregate).value} of each file's segments)"
           if as_enum(cfg.evaluate.level, EvalLevel) is EvalLevel.file else ""),
        "sources": sources,
        "model_selection": selection,
        "search": {"chosen": final.chosen, "trials": final.search} if searched else None,
        "preprocessing": {
            "scale": "none (the model takes audio)" if audio else as_enum(cfg.scale, Scaling).value,
            "balance": as_enum(cfg.balance, Balancing).value,
            "selected_features": 0 if final.preprocessor is None else len(final.preprocessor.feature_names()),
        },
        "test": test,
        "dev": metrics.get("dev"),
        "cv": cv_report,
        "data": data,
        "load": load_report,
        "missing": missing_report,
        "duplicate_audio": duplicate_audio,
        "augmentation": augment_report(frame, folds),
    }


def run_in_folder(cfg: DictConfig, pm: PluginManager, run_dir: Path, console: Any, what: str,
                  body: Callable[[RunContext], dict[str, Any]]) -> dict[str, Any]:
    """The frame every run shares (``nk run``, ``nk explore``): write the redacted config, log to
    ``run_dir/nk.log``, call the lifecycle hooks around ``body(ctx)``, and log a failure."""
    import yaml

    from nk.fsutil import atomic_write_text
    from nk.results import mark_failed

    safe = redacted(cfg, pm)
    secrets = secret_values(cfg, pm)
    try:  # atomic: a full disk leaves no 0-byte config.yaml
        atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(safe, sort_keys=False))
    except BaseException as exc:
        mark_failed(run_dir, exc, secrets)
        raise
    with run_logging(run_dir, console, secrets) as log:
        ctx = RunContext(cfg=cfg, run_dir=run_dir, pm=pm, log=log, console=console)
        log.info("nk %s: %s %s in %s", __version__, what, cfg.name, run_dir)
        log.info("config (secrets redacted):\n%s", yaml.safe_dump(safe, sort_keys=False))
        pm.hook.nk_run_start(ctx=ctx)
        try:
            results = body(ctx)
        except BaseException as exc:
            from nk.paths import os_error

            # a full disk or a protected folder is the user's to fix: no traceback on the console
            user_error = isinstance(exc, UserError) or (isinstance(exc, OSError) and os_error(exc) is not None)
            if isinstance(exc, KeyboardInterrupt):  # the CLI says "Interrupted."; no traceback
                log.error("%s interrupted (Ctrl-C)", what, extra={"file_only": True})
            else:
                log.error("%s failed: %s", what, exc, exc_info=not user_error, extra={"file_only": user_error})
            mark_failed(run_dir, exc, secrets)  # FAILED: the folder holds no results, and says why
            pm.hook.nk_run_error(ctx=ctx, error=exc)
            raise
        pm.hook.nk_run_end(ctx=ctx, results=results)
        return results


def run_experiment(cfg: DictConfig, pm: PluginManager, run_dir: Path, console: Any) -> dict[str, Any]:
    """Run one experiment into ``run_dir`` (which must exist and be empty)."""
    return run_in_folder(cfg, pm, run_dir, console, "run", run)


__all__ = ["model_task", "run", "run_experiment", "run_in_folder", "run_logging"]
