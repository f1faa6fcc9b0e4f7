"""The experiment pipeline: load → split → segment → augment → featurize → scale → fit →
predict → evaluate → report. It knows components only through the registry.
"""

from __future__ import annotations

import enum
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from nk import __version__
from nk.config import Scaling, SplitMethod, Task, redacted, selected
from nk.context import RunContext
from nk.data import check_corpus, check_features, check_predictions, detect_task, speaker_split
from nk.errors import ContractError, UserError
from nk.plugins import PluginManager
from nk.results import save_model, write_json


def _scaler(kind: Scaling) -> Any:
    from sklearn import preprocessing

    factories: dict[Scaling, Callable[[], Any]] = {
        Scaling.standard: preprocessing.StandardScaler,
        Scaling.robust: preprocessing.RobustScaler,
        Scaling.minmax: preprocessing.MinMaxScaler,
    }
    return factories[kind]() if kind in factories else None


def _enum(value: Any, cls: type[enum.Enum]) -> Any:
    return value if isinstance(value, cls) else cls[str(value)]


@contextmanager
def run_logging(run_dir: Path, console: Any) -> Iterator[logging.Logger]:
    """The ``nk`` logger writes to ``run_dir/nk.log`` (and warnings to the console) for one run."""
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
    log.addHandler(file_handler)
    log.addHandler(console_handler)
    try:
        yield log
    finally:
        log.removeHandler(file_handler)
        log.removeHandler(console_handler)
        file_handler.close()


class Experiment:
    """One run of the pipeline. ``run()`` returns the content of ``results.json``."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.cfg: DictConfig = ctx.cfg
        self.timing: dict[str, float] = {}

    # --- helpers -----------------------------------------------------------------------------

    def _build(self, group: str) -> list[tuple[str, Any, Any, dict[str, Any]]]:
        """(name, component, instance, params) for every component selected in ``group``."""
        out = []
        for name, values in selected(self.cfg, group):
            comp = self.ctx.pm.registry.get(group, name)
            out.append((name, comp, comp.build(values), values))
        return out

    def _stage_end(self, stage: str, started: float, **info: Any) -> None:
        self.timing[stage] = round(time.perf_counter() - started, 3)
        self.ctx.log.info("stage %s done in %.2f s %s", stage, self.timing[stage], info or "")
        self.ctx.pm.hook.nk_stage_end(ctx=self.ctx, stage=stage, info={**info, "seconds": self.timing[stage]})

    # --- stages ------------------------------------------------------------------------------

    def load(self) -> tuple[pd.DataFrame, str, str]:
        t = time.perf_counter()
        (name, comp, loader, _), = self._build("data")
        corpus = loader.load(self.ctx)
        where = f"data loader {name!r} ({comp.provider})"
        check_corpus(corpus.frame, where)
        target = self.cfg.target or corpus.default_target
        if target is None:
            raise UserError(
                "No target column given",
                where="config key target",
                allowed=", ".join(map(str, corpus.frame.columns)),
                todo="set `target=COLUMN`",
            )
        check_corpus(corpus.frame, where, target=target)
        frame = corpus.frame
        missing = frame[target].isna()
        if missing.any():
            examples = ", ".join(map(str, frame.index[missing][:5]))
            raise UserError(
                f"{int(missing.sum())} rows have no value in the target column {target!r} "
                f"(e.g. {examples})",
                where=where,
                todo="label or remove these rows (nk never fills missing labels)",
            )
        task = _enum(self.cfg.task, Task)
        task_name = detect_task(frame[target]) if task is Task.auto else task.value
        if task_name == "classification":
            frame = frame.assign(**{target: frame[target].astype(str)})
            if frame[target].nunique() < 2:
                raise UserError(
                    f"The target {target!r} has only one class ({frame[target].iloc[0]!r})",
                    where=where,
                    todo="choose a target with at least two classes",
                )
        self._stage_end("load", t, rows=len(frame), target=target, task=task_name)
        return frame, target, task_name

    def split(self, frame: pd.DataFrame, target: str, task: str) -> pd.DataFrame:
        t = time.perf_counter()
        cfg = self.cfg.split
        method = _enum(cfg.method, SplitMethod)
        if method is SplitMethod.given:
            if "split" not in frame.columns or frame["split"].isna().any():
                raise UserError(
                    "split.method=given needs a 'split' column with a value in every row",
                    where="config key split.method",
                    allowed="speaker, given",
                    todo="use split.method=speaker, or provide the split in the data",
                )
        else:
            frame = frame.assign(split=speaker_split(
                frame, test_size=float(cfg.test_size), dev_size=float(cfg.dev_size),
                seed=self.ctx.seed, stratify=list(cfg.stratify)))
        for part in ("train", "test"):
            if not (frame["split"] == part).any():
                raise UserError(f"The {part} split is empty", where="split",
                                todo="check split.test_size and the data's split column")
        if "speaker" in frame.columns and method is SplitMethod.speaker:
            train_spk = set(frame.loc[frame.split == "train", "speaker"])
            overlap = train_spk & set(frame.loc[frame.split != "train", "speaker"])
            if overlap:  # cannot happen with speaker_split; guards against a loader's split column
                raise UserError(f"Speakers {sorted(overlap)[:5]} are in train and in dev/test",
                                where="split", todo="fix the split column")
        if task == "classification":
            train_classes = set(frame.loc[frame.split == "train", target])
            absent = sorted(set(frame.loc[frame.split != "train", target]) - train_classes)
            if absent:
                raise UserError(f"Classes {absent} occur in dev/test but not in train",
                                where="split", todo="use more speakers or another split seed")
        counts = frame["split"].value_counts().to_dict()
        self._stage_end("split", t, **{k: int(v) for k, v in counts.items()})
        return frame

    def transform_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        for group, stage in (("segment", "segment"), ("augment", "augment")):
            for name, comp, obj, _ in self._build(group):
                t = time.perf_counter()
                where = f"{group} {name!r} ({comp.provider})"
                if group == "segment":
                    frame = obj.segment(frame, self.ctx)
                    check_corpus(frame, where)
                else:
                    extra = obj.augment(frame[frame.split == "train"], self.ctx)
                    check_corpus(extra, where)
                    if extra.index.isin(frame.index).any():
                        raise ContractError(f"{where}: augmented rows reuse existing index entries")
                    frame = pd.concat([frame, extra.assign(split="train")])
                self._stage_end(stage, t, rows=len(frame))
        return frame

    def featurize(self, frame: pd.DataFrame) -> pd.DataFrame:
        from nk.featurize import extract

        t = time.perf_counter()
        parts = []
        for name, comp, featurizer, params in self._build("feats"):
            feats = extract(comp, featurizer, params, frame.index, self.ctx)
            check_features(feats, frame.index, f"{name}")
            parts.append(feats)
        features = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        self._stage_end("featurize", t, rows=features.shape[0], features=features.shape[1])
        return features

    def run(self) -> dict[str, Any]:
        ctx = self.ctx
        frame, target, task = self.load()
        frame = self.split(frame, target, task)
        frame = self.transform_rows(frame)
        features = self.featurize(frame)
        train = (frame.split == "train").to_numpy()

        t = time.perf_counter()
        scaler = _scaler(_enum(self.cfg.scale, Scaling))
        X = features.to_numpy(dtype=np.float32)
        if scaler is not None:
            scaler.fit(X[train])
            X = scaler.transform(X).astype(np.float32)
        self._stage_end("scale", t, scaler=type(scaler).__name__ if scaler else "none")

        t = time.perf_counter()
        (model_name, comp, model, _), = self._build("model")
        self._check_model_task(model_name, comp, model, task)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=ctx.seed)  # seed every estimator that takes one
        y = frame[target].to_numpy()
        fit_kwargs: dict[str, Any] = {}
        dev = (frame.split == "dev").to_numpy()
        if dev.any() and "X_dev" in inspect.signature(model.fit).parameters:
            # learners that select (early stopping, best epoch) get dev data, never test
            fit_kwargs.update(X_dev=X[dev], y_dev=y[dev])
        model.fit(X[train], y[train], **fit_kwargs)
        self._stage_end("fit", t, model=model_name, rows=int(train.sum()))

        t = time.perf_counter()
        predictions = {part: self._predict(model, X, frame, target, part, model_name)
                       for part in ("dev", "test") if (frame.split == part).any()}
        self._stage_end("predict", t)

        t = time.perf_counter()
        from nk import evaluate

        metrics = {part: self._evaluate(evaluate, pred, frame, task) for part, pred in predictions.items()}
        self._stage_end("evaluate", t)

        t = time.perf_counter()
        results = self._results(frame, target, task, metrics, features)
        test_pred = predictions["test"]
        test_pred.to_csv(ctx.run_dir / "predictions.csv")
        save_model(ctx.run_dir / "model", {
            "model": model, "scaler": scaler, "features": list(features.columns),
            "target": target, "task": task, "nk_version": __version__,
        })
        report_input = {"predictions": test_pred, "metrics": metrics["test"],
                        "summary": results["summary"], "results": results}
        artefacts = []
        for _name, _comp, reporter, _ in self._build("report"):
            paths = reporter.report(report_input, ctx)
            artefacts += [str(Path(p).relative_to(ctx.run_dir)) for p in paths]
        results["artefacts"] = sorted([*artefacts, "config.yaml", "results.json", "predictions.csv",
                                       "nk.log", "model/model.joblib", "model/manifest.json"])
        results["timing"] = dict(self.timing, report=round(time.perf_counter() - t, 3))
        write_json(ctx.run_dir / "results.json", results)
        self._stage_end("report", t, files=len(artefacts))
        return results

    def _check_model_task(self, name: str, comp: Any, model: Any, task: str) -> None:
        from sklearn.base import is_classifier, is_regressor

        kind = "classification" if is_classifier(model) else "regression" if is_regressor(model) else None
        if kind is not None and kind != task:
            registry = self.ctx.pm.registry
            check = is_classifier if task == "classification" else is_regressor
            suitable = [n for n in registry.names("model")
                        if check(registry.get("model", n).build(registry.get("model", n).defaults()))]
            raise UserError(
                f"The model {name!r} does {kind}, but the target {self.cfg.target or ''!s} "
                f"calls for {task}".replace("target  ", "target "),
                where="config group model",
                allowed=", ".join(suitable),
                todo=f"choose a {task} model, or set task=",
            )

    def _predict(self, model: Any, X: np.ndarray, frame: pd.DataFrame, target: str, part: str,
                 name: str) -> pd.DataFrame:
        mask = (frame.split == part).to_numpy()
        out = pd.DataFrame({"truth": frame.loc[mask, target].to_numpy()}, index=frame.index[mask])
        out["pred"] = model.predict(X[mask])
        if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            proba = model.predict_proba(X[mask])
            for i, label in enumerate(model.classes_):
                out[f"proba.{label}"] = proba[:, i]
        check_predictions(out, frame.index[mask], f"model {name!r}")
        return out

    def _evaluate(self, evaluate: Any, pred: pd.DataFrame, frame: pd.DataFrame, task: str) -> dict[str, Any]:
        groups = frame.loc[pred.index, "speaker"].to_numpy() if "speaker" in frame.columns else None
        boot = {"n_resamples": int(self.cfg.bootstrap.n_resamples),
                "level": float(self.cfg.bootstrap.level), "seed": self.ctx.seed}
        if task == "classification":
            return evaluate.classification_metrics(pred["truth"], pred["pred"], groups=groups, **boot)
        return evaluate.regression_metrics(pred["truth"].astype(float), pred["pred"].astype(float),
                                           groups=groups, **boot)

    def _results(self, frame: pd.DataFrame, target: str, task: str, metrics: dict[str, Any],
                 features: pd.DataFrame) -> dict[str, Any]:
        test = metrics["test"]
        primary = test["primary"]
        value = test[primary]
        summary = (f"{primary.upper()} {value['value']:.3f} "
                   f"[{value['ci'][0]:.3f}, {value['ci'][1]:.3f}]")
        data: dict[str, Any] = {"rows": frame["split"].value_counts().to_dict()}
        if "speaker" in frame.columns:
            data["speakers"] = frame.groupby("split", observed=True)["speaker"].nunique().to_dict()
        if task == "classification":
            data["labels"] = pd.crosstab(frame["split"], frame[target]).to_dict(orient="index")
        return {
            "nk_version": __version__,
            "name": self.cfg.name,
            "run_dir": str(self.ctx.run_dir),
            "target": target,
            "task": task,
            "primary": primary,
            "summary": summary,
            "components": {g: [n for n, _ in selected(self.cfg, g)] for g in
                           ("data", "segment", "augment", "feats", "model", "report")},
            "n_features": int(features.shape[1]),
            "evaluated_on": "test",
            "model_selection": "dev" if "dev" in metrics else "none (no dev split)",
            "test": test,
            "dev": metrics.get("dev"),
            "data": data,
        }


def run_experiment(cfg: DictConfig, pm: PluginManager, run_dir: Path, console: Any) -> dict[str, Any]:
    """Run one experiment into ``run_dir`` (which must exist and be empty)."""
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump(redacted(cfg), sort_keys=False))
    with run_logging(run_dir, console) as log:
        ctx = RunContext(cfg=cfg, run_dir=run_dir, pm=pm, log=log, console=console)
        log.info("nk %s: run %s in %s", __version__, cfg.name, run_dir)
        log.info("config:\n%s", OmegaConf.to_yaml(cfg))
        pm.hook.nk_run_start(ctx=ctx)
        try:
            results = Experiment(ctx).run()
        except BaseException as exc:
            user_error = isinstance(exc, UserError)
            log.error("run failed: %s", exc, exc_info=not user_error, extra={"file_only": user_error})
            pm.hook.nk_run_error(ctx=ctx, error=exc)
            raise
        pm.hook.nk_run_end(ctx=ctx, results=results)
        return results
