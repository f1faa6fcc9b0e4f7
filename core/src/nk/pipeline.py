"""The experiment pipeline: load → segment → split → augment → featurize → (per fold: impute,
select, scale, balance, fit, predict) → evaluate → report. It knows components only through
the registry.
"""

from __future__ import annotations

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
from nk.config import Balancing, MissingPolicy, Scaling, SelectScore, SplitMethod, as_enum, redacted, selected
from nk.context import RunContext
from nk.data import check_corpus, check_features, check_predictions
from nk.errors import ContractError, UserError
from nk.plugins import PluginManager
from nk.results import save_model, write_json
from nk.splits import Fold


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


def model_task(model: Any) -> str | None:
    """'classification' or 'regression' for a scikit-learn estimator, None when it is neither."""
    from sklearn.base import is_classifier, is_regressor

    return "classification" if is_classifier(model) else "regression" if is_regressor(model) else None


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

    def _stage_end(self, stage: str, seconds: float, **info: Any) -> None:
        self.timing[stage] = round(seconds, 3)
        self.ctx.log.info("stage %s done in %.2f s %s", stage, seconds, info or "")
        self.ctx.pm.hook.nk_stage_end(ctx=self.ctx, stage=stage, info={**info, "seconds": self.timing[stage]})

    # --- row stages --------------------------------------------------------------------------

    def load(self, model_task: Callable[[], str | None] | None = None,
             ) -> tuple[pd.DataFrame, str, str, dict[str, Any]]:
        """The corpus; ``model_task()`` (:meth:`_model_task`) decides ``task=auto`` for a numeric
        target (``nk explore`` has no model and passes none)."""
        from nk.corpus import load_corpus

        t = time.perf_counter()
        frame, target, task, report = load_corpus(self.ctx, model_task)
        self._stage_end("load", time.perf_counter() - t, rows=len(frame), target=target, task=task)
        return frame, target, task, report.as_dict()

    def segment(self, frame: pd.DataFrame) -> pd.DataFrame:
        for name, comp, segmenter, _ in self._build("segment"):
            t = time.perf_counter()
            where = f"segment {name!r} ({comp.provider})"
            frame = segmenter.segment(frame, self.ctx)
            check_corpus(frame, where)
            if isinstance(frame.index, pd.MultiIndex):
                start = frame.index.get_level_values("start")
                end = frame.index.get_level_values("end")
                seg = (end - start).total_seconds().to_numpy()
                if "duration" in frame.columns:
                    seg = np.where(np.isnan(seg), frame["duration"].to_numpy() - start.total_seconds().to_numpy(), seg)
                frame = frame.assign(duration=seg)
            self._stage_end("segment", time.perf_counter() - t, rows=len(frame))
        return frame

    def split(self, frame: pd.DataFrame, target: str, task: str) -> list[Fold]:
        from nk.splits import make_folds

        t = time.perf_counter()
        folds = make_folds(frame, target, task, self.ctx)
        self._print_data_summary(frame, folds, target, task)
        info = {"folds": len(folds), **{k: int(v) for k, v in folds[0].split.value_counts().items()}}
        self._stage_end("split", time.perf_counter() - t, **info)
        return folds

    def _print_data_summary(self, frame: pd.DataFrame, folds: list[Fold], target: str, task: str) -> None:
        """Rows (speakers) per split × label, durations and genders: on the console and in the log.

        Rendered from :func:`nk.splits.summary`, the same numbers results.json records.
        """
        import io

        from rich.console import Console
        from rich.table import Table

        from nk.splits import summary

        split = folds[0].split if len(folds) == 1 else pd.Series("all", index=frame.index)
        info = summary(frame, split, target, task)
        parts = [p for p in ("train", "dev", "test", "all") if p in info["rows"]]
        speakers = info.get("speakers")

        def cell(rows: int, n_speakers: int | None) -> str:
            return f"{rows} ({n_speakers})" if n_speakers is not None else str(rows)

        table = Table(title=f"Data: {len(frame)} rows" + (f", {len(folds)} folds" if len(folds) > 1 else ""),
                      title_justify="left")
        table.add_column(target)
        for p in parts:
            table.add_column(p, justify="right")
        if task == "classification":
            per_label = info.get("speakers_per_label", {})
            for label in sorted(frame[target].unique()):
                table.add_row(str(label), *[
                    cell(info["labels"].get(p, {}).get(label, 0),
                         per_label.get(p, {}).get(label, 0) if speakers is not None else None)
                    for p in parts])
        table.add_row("all" + (" (speakers)" if speakers is not None else ""),
                      *[cell(info["rows"][p], speakers.get(p) if speakers is not None else None) for p in parts],
                      style="bold")
        if "duration_s" in info:
            per_split = info["duration_s"]["per_split"]
            table.add_row("duration (min)", *[f"{per_split.get(p, 0.0) / 60:.1f}" for p in parts])
        for g in sorted({g for counts in info.get("gender", {}).values() for g in counts}):
            table.add_row(f"gender {g}", *[str(info["gender"].get(p, {}).get(g, 0)) for p in parts])
        self.ctx.console.print(table)
        text = io.StringIO()
        Console(file=text, width=100, no_color=True).print(table)
        self.ctx.log.info("data summary:\n%s", text.getvalue())

    def augment(self, frame: pd.DataFrame, folds: list[Fold]) -> tuple[pd.DataFrame, list[Fold]]:
        for name, comp, augmenter, _ in self._build("augment"):
            t = time.perf_counter()
            where = f"augment {name!r} ({comp.provider})"
            cv = len(folds) > 1
            source = frame if cv else frame[(folds[0].split == "train").to_numpy()]
            extra = augmenter.augment(source.drop(columns=["split"], errors="ignore"), self.ctx)
            check_corpus(extra, where)
            if extra.index.isin(frame.index).any():
                raise ContractError(f"{where}: augmented rows reuse existing index entries")
            if "augmented_from" not in extra.columns:
                raise ContractError(f"{where}: augmented rows need an 'augmented_from' column "
                                    "holding the source row's file")
            origin_split = [f.split.copy() for f in folds]
            new_folds = []
            for fold, split in zip(folds, origin_split, strict=False):
                files = (frame.index.get_level_values("file") if isinstance(frame.index, pd.MultiIndex)
                         else frame.index)
                train_files = set(files[(split == "train").to_numpy()])
                extra_split = pd.Series(np.where(extra["augmented_from"].isin(train_files), "train", ""),
                                        index=extra.index)
                new_folds.append(Fold(fold.name, pd.concat([split, extra_split])))
            frame = pd.concat([frame, extra])
            folds = new_folds
            self._stage_end("augment", time.perf_counter() - t, rows=len(extra))
        return frame, folds

    def featurize(self, frame: pd.DataFrame) -> pd.DataFrame:
        from nk.featurize import extract

        t = time.perf_counter()
        parts = []
        for name, comp, featurizer, params in self._build("feats"):
            feats = extract(comp, featurizer, params, frame.index, self.ctx,
                            durations=frame["duration"].to_numpy() if "duration" in frame.columns else None)
            check_features(feats, frame.index, f"{name}",
                           allow_nan=bool(getattr(featurizer, "may_return_nan", False)))
            parts.append(feats)
        features = pd.concat(parts, axis=1) if len(parts) > 1 else parts[0]
        self._stage_end("featurize", time.perf_counter() - t, rows=features.shape[0], features=features.shape[1])
        return features

    # --- the run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from nk.preprocess import handle_missing

        ctx = self.ctx
        # a callable: the model (and scikit-learn) is built here only for a numeric target
        frame, target, task, load_report = self.load(self._model_task)
        frame = self.segment(frame)
        folds = self.split(frame, target, task)
        frame, folds = self.augment(frame, folds)
        features = self.featurize(frame)
        features, missing_report = handle_missing(features, as_enum(self.cfg.missing, MissingPolicy), ctx.log)
        if len(features) < len(frame):
            frame = frame.loc[features.index]
            folds = [Fold(f.name, f.split.loc[features.index]) for f in folds]

        (model_name, model_comp, probe, model_params), = self._build("model")
        self._check_model_task(model_name, probe, task)
        selects = "X_dev" in inspect.signature(probe.fit).parameters
        if as_enum(self.cfg.balance, Balancing) is not Balancing.none and task != "classification":
            raise UserError("balance= re-samples classes and needs a classification target",
                            where="config key balance", allowed="none for regression",
                            todo="set balance=none")

        timing = {"scale": 0.0, "fit": 0.0, "predict": 0.0}
        fold_results = []
        candidates = self._search_grid(model_comp, model_params)  # the same in every fold
        from rich.progress import Progress

        with Progress(console=ctx.console, transient=True, disable=len(folds) < 2) as progress:
            task_id = progress.add_task("Cross-validation folds", total=len(folds))
            for fold in folds:
                fold_results.append(self._fit_fold(fold, frame, features, target, task, model_comp,
                                                   candidates, model_params, timing))
                progress.advance(task_id)
        self._stage_end("scale", timing["scale"], scaling=as_enum(self.cfg.scale, Scaling).value,
                        balance=as_enum(self.cfg.balance, Balancing).value)
        self._stage_end("fit", timing["fit"], model=model_name, folds=len(folds))
        self._stage_end("predict", timing["predict"])

        t = time.perf_counter()
        from nk import evaluate

        cv = len(folds) > 1
        test_pred = pd.concat([r["predictions"]["test"] for r in fold_results])
        metrics = {"test": self._evaluate(evaluate, test_pred, frame, task)}
        dev_preds = [r["predictions"]["dev"] for r in fold_results if "dev" in r["predictions"]]
        if dev_preds:
            metrics["dev"] = self._evaluate(evaluate, pd.concat(dev_preds), frame, task)
        cv_report = None
        if cv:
            per_fold = []
            for fold, r in zip(folds, fold_results, strict=False):
                pred = r["predictions"]["test"]
                m = self._evaluate(evaluate, pred, frame, task, with_ci=False)
                per_fold.append({"fold": fold.name, "n_test": len(pred), m["primary"]: m[m["primary"]]["value"]})
            values = np.array([p[metrics["test"]["primary"]] for p in per_fold])
            cv_report = {"method": as_enum(self.cfg.split.method, SplitMethod).value, "n_folds": len(folds),
                         "folds": per_fold, "mean": float(values.mean()),
                         "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
        self._stage_end("evaluate", time.perf_counter() - t)

        t = time.perf_counter()
        if cv:  # the saved model: refit on every row (the folds estimated its performance)
            everything = Fold("all", pd.Series("train", index=frame.index))
            chosen = [tuple(sorted(r["chosen"].items())) for r in fold_results if r["chosen"]]
            refit_params = dict(model_params)
            if chosen:  # the setting the folds' dev splits chose most often
                most: tuple[tuple[str, Any], ...] = max(set(chosen), key=lambda c: chosen.count(c))
                refit_params.update(dict(most))
            final = self._fit_fold(everything, frame, features, target, task, model_comp, [refit_params],
                                   refit_params, {"scale": 0.0, "fit": 0.0, "predict": 0.0}, predict=False)
            final["search"] = [{"fold": f.name, "chosen": r["chosen"], "trials": r["search"]}
                               for f, r in zip(folds, fold_results, strict=True) if r["search"]]
        else:
            final = fold_results[0]
        results = self._results(frame, folds, target, task, metrics, features, final, load_report,
                                missing_report, cv_report, model_name, selects)
        test_pred.to_csv(ctx.run_dir / "predictions.csv")
        save_model(ctx.run_dir / "model", {
            "preprocessor": final["preprocessor"], "model": final["model"],
            "features": list(features.columns), "target": target, "task": task,
            "nk_version": __version__, "config": redacted(self.cfg),
        })
        report_input = {"predictions": test_pred, "metrics": metrics["test"],
                        "summary": results["summary"], "results": results}
        artefacts = []
        for _name, _comp, reporter, _ in self._build("report"):
            paths = reporter.report(report_input, ctx)
            artefacts += [str(Path(p).relative_to(ctx.run_dir)) for p in paths]
        from nk.report.run import write_run_report  # report.html/.tex/.pdf; needs the reporters' plots

        artefacts += [str(p.relative_to(ctx.run_dir)) for p in write_run_report(ctx, results, frame)]
        results["artefacts"] = sorted([*artefacts, "config.yaml", "results.json", "predictions.csv",
                                       "nk.log", "model/model.joblib", "model/manifest.json"])
        results["timing"] = dict(self.timing, report=round(time.perf_counter() - t, 3))
        write_json(ctx.run_dir / "results.json", results)
        self._stage_end("report", time.perf_counter() - t, files=len(artefacts))
        return results

    def _fit_fold(self, fold: Fold, frame: pd.DataFrame, features: pd.DataFrame, target: str, task: str,
                  model_comp: Any, candidates: list[dict[str, Any]], model_params: dict[str, Any],
                  timing: dict[str, float], *, predict: bool = True) -> dict[str, Any]:
        """Preprocess, fit each candidate parameter set (choosing on dev when several), predict."""
        from nk.preprocess import Preprocessor, sampler

        cfg = self.cfg
        split = fold.split.to_numpy()
        train = split == "train"
        y = frame[target].to_numpy()
        speakers = frame["speaker"].to_numpy() if "speaker" in frame.columns else None

        t = time.perf_counter()
        prep = Preprocessor(
            scale=as_enum(cfg.scale, Scaling), columns=list(cfg.select.columns), exclude=list(cfg.select.exclude),
            k_best=cfg.select.k_best, score=as_enum(cfg.select.score, SelectScore), task=task, seed=self.ctx.seed,
        ).fit(features[train], y[train])
        X = prep.transform(features, speakers)
        X_train, y_train = X[train], y[train]
        balancer = sampler(as_enum(cfg.balance, Balancing), self.ctx.seed)
        if balancer is not None:
            try:
                X_train, y_train = balancer.fit_resample(X_train, y_train)
            except ValueError as exc:
                raise UserError(f"balance={as_enum(cfg.balance, Balancing).value} failed: {exc}",
                                where="config key balance",
                                todo="choose another method (e.g. ros), or use more data per class") from None
            self._check_balanced(y[train], y_train, fold.name)
        timing["scale"] += time.perf_counter() - t

        t = time.perf_counter()
        dev = split == "dev"
        search_keys = self._search_keys()
        search: list[dict[str, Any]] = []
        if len(candidates) > 1 and not dev.any():
            raise UserError(
                "search.params needs a dev split to choose on (never the test split)",
                where="config key search.params",
                todo="set split.dev_size (e.g. 0.25), or give a database role dev",
            )
        best: tuple[float, Any, dict[str, Any]] | None = None
        for candidate in candidates:
            model = self._fit_model(model_comp, candidate, X, X_train, y_train, y, dev)
            if len(candidates) == 1:
                best = (0.0, model, candidate)
                break
            score = self._dev_score(model, X[dev], y[dev], frame.index[dev], frame, task)
            changed = {k: v for k, v in candidate.items() if model_params.get(k) != v or k in search_keys}
            search.append({"params": changed, "dev_score": score})
            if best is None or score > best[0]:
                best = (score, model, candidate)
        assert best is not None
        model = best[1]
        timing["fit"] += time.perf_counter() - t

        t = time.perf_counter()
        predictions = {}
        if predict:
            for part in ("dev", "test"):
                mask = split == part
                if mask.any():
                    predictions[part] = self._predict(model, X, frame, target, mask, model_comp.name)
        timing["predict"] += time.perf_counter() - t
        return {"model": model, "preprocessor": prep, "predictions": predictions,
                "n_train": len(y_train), "n_features": int(X.shape[1]), "search": search,
                "chosen": {k: best[2][k] for k in search_keys if k in best[2]}}

    def _search_keys(self) -> list[str]:
        params = self.cfg.search.params
        return [str(k) for k in params] if params else []

    def _search_grid(self, model_comp: Any, model_params: dict[str, Any]) -> list[dict[str, Any]]:
        """The candidate parameter sets of ``search.params`` (each validated), or just the config's."""
        grid = self.cfg.search.params
        if not grid:
            return [model_params]
        if not hasattr(grid, "items"):
            raise UserError(f"search.params must be a mapping {{parameter: [values]}}; got {grid!r}",
                            where="config key search.params", todo="write e.g. search.params={C: [0.1, 1, 10]}")
        from itertools import product

        keys = [str(k) for k in grid]
        values = [list(v) if not isinstance(v, (str, int, float, bool)) else [v] for v in grid.values()]
        out = []
        for combo in product(*values):
            candidate = {**model_params, **dict(zip(keys, combo, strict=True))}
            model_comp.check_params(candidate)
            out.append(candidate)
        return out

    def _fit_model(self, model_comp: Any, params: dict[str, Any], X: np.ndarray, X_train: np.ndarray,
                   y_train: np.ndarray, y: np.ndarray, dev: np.ndarray) -> Any:
        model = model_comp.build(params)
        if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
            model.set_params(random_state=self.ctx.seed)  # seed every estimator that takes one
        fit_kwargs: dict[str, Any] = {}
        if dev.any() and "X_dev" in inspect.signature(model.fit).parameters:
            # learners that select (early stopping, best epoch) get dev data, never test
            fit_kwargs.update(X_dev=X[dev], y_dev=y[dev])
        model.fit(X_train, y_train, **fit_kwargs)
        return model

    def _dev_score(self, model: Any, X_dev: np.ndarray, y_dev: np.ndarray, index: pd.Index,
                   frame: pd.DataFrame, task: str) -> float:
        from nk import evaluate

        pred = pd.DataFrame({"truth": y_dev, "pred": model.predict(X_dev)}, index=index)
        metrics = self._evaluate(evaluate, pred, frame, task, with_ci=False)
        return float(metrics[metrics["primary"]]["value"])

    def _check_balanced(self, before: np.ndarray, after: np.ndarray, fold: str) -> None:
        """Log the class counts balancing left in train; a class it removed entirely is an error."""
        method = as_enum(self.cfg.balance, Balancing).value
        counts_before = pd.Series(before).value_counts().sort_index()
        counts_after = pd.Series(after).value_counts().reindex(counts_before.index, fill_value=0)
        listing = ", ".join(f"{label} {a}→{b}" for label, a, b in
                            zip(counts_before.index, counts_before, counts_after, strict=True))
        self.ctx.log.info("balance=%s (%s): train rows per class %s", method, fold, listing)
        gone = [str(label) for label, n in counts_after.items() if n == 0]
        if gone:
            raise UserError(f"balance={method} removed every training row of {gone} ({fold}): "
                            f"{listing}", where="config key balance",
                            todo="choose an over-sampling method (e.g. ros, smote), or use more data")

    def _model_task(self) -> str | None:
        """What the run's model does (see :func:`model_task`)."""
        (_, _, model, _), = self._build("model")
        return model_task(model)

    def _check_model_task(self, name: str, model: Any, task: str) -> None:
        kind = model_task(model)
        if kind is not None and kind != task:
            registry = self.ctx.pm.registry
            suitable = [n for n in registry.names("model")
                        if model_task(registry.get("model", n).build(registry.get("model", n).defaults())) == task]
            raise UserError(
                f"The model {name!r} does {kind}, but the target calls for {task}",
                where="config group model",
                allowed=", ".join(suitable),
                todo=f"choose a {task} model, or set task=",
            )

    def _predict(self, model: Any, X: np.ndarray, frame: pd.DataFrame, target: str, mask: np.ndarray,
                 name: str) -> pd.DataFrame:
        out = pd.DataFrame({"truth": frame.loc[mask, target].to_numpy()}, index=frame.index[mask])
        out["pred"] = model.predict(X[mask])
        if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            proba = model.predict_proba(X[mask])
            for i, label in enumerate(model.classes_):
                out[f"proba.{label}"] = proba[:, i]
        check_predictions(out, frame.index[mask], f"model {name!r}")
        return out

    def _evaluate(self, evaluate: Any, pred: pd.DataFrame, frame: pd.DataFrame, task: str,
                  *, with_ci: bool = True) -> dict[str, Any]:
        import warnings

        # with_ci=False: per-fold and model-selection scores use only the value, so no bootstrap
        # (and no speaker ids, which only the bootstrap resamples)
        with_groups = with_ci and "speaker" in frame.columns
        groups = frame.loc[pred.index, "speaker"].astype(str).to_numpy() if with_groups else None
        boot = {"n_resamples": int(self.cfg.bootstrap.n_resamples) if with_ci else 0,
                "level": float(self.cfg.bootstrap.level), "seed": self.ctx.seed}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # one-speaker folds: CI by samples
            if task == "classification":
                return evaluate.classification_metrics(pred["truth"], pred["pred"], groups=groups, **boot)
            return evaluate.regression_metrics(pred["truth"].astype(float), pred["pred"].astype(float),
                                               groups=groups, **boot)

    def _results(self, frame: pd.DataFrame, folds: list[Fold], target: str, task: str,
                 metrics: dict[str, Any], features: pd.DataFrame, final: dict[str, Any],
                 load_report: dict[str, Any], missing_report: dict[str, Any],
                 cv_report: dict[str, Any] | None, model_name: str, selects: bool) -> dict[str, Any]:
        from nk.splits import summary

        test = metrics["test"]
        primary = test["primary"]
        value = test[primary]
        summary_text = (f"{primary.upper()} {value['value']:.3f} "
                        f"[{value['ci'][0]:.3f}, {value['ci'][1]:.3f}]")
        cv = cv_report is not None
        has_dev = "dev" in metrics
        searched = bool(final.get("search"))
        if has_dev and searched:
            selection = (f"dev: grid search over {', '.join(self._search_keys())} chose on the dev split"
                         + (f"; {model_name} also stops early on dev" if selects else ""))
        elif has_dev and selects:
            selection = f"dev: {model_name} selects (early stopping / best epoch) on the dev split"
        elif has_dev:
            selection = f"none: a dev split exists but {model_name} makes no choice on held-out data"
        else:
            selection = "none (no dev split)"
        method = as_enum(self.cfg.split.method, SplitMethod)
        sources = {
            "test": ("pooled out-of-fold predictions of " + f"{len(folds)} folds ({method.value})"
                     if cv else f"the test split ({method.value}), evaluated once"),
            "dev": "the dev split (used for model selection)" if has_dev else None,
        }
        data = summary(frame, folds[0].split, target, task) if not cv else {
            "rows": {"all": len(frame)}, "folds": len(folds),
            **{k: v for k, v in summary(frame, pd.Series("all", index=frame.index), target, task).items()
               if k != "rows"}}
        return {
            "nk_version": __version__,
            "name": self.cfg.name,
            "run_dir": str(self.ctx.run_dir),
            "target": target,
            "task": task,
            "primary": primary,
            "summary": summary_text,
            "components": {g: [n for n, _ in selected(self.cfg, g)] for g in
                           ("data", "segment", "augment", "feats", "model", "report")},
            "n_features": int(features.shape[1]),
            "n_model_inputs": final["n_features"],
            "evaluated_on": "pooled cross-validation test folds" if cv else "test",
            "sources": sources,
            "model_selection": selection,
            "search": {"chosen": final.get("chosen"), "trials": final.get("search")} if searched else None,
            "preprocessing": {
                "scale": as_enum(self.cfg.scale, Scaling).value,
                "balance": as_enum(self.cfg.balance, Balancing).value,
                "selected_features": len(final["preprocessor"].feature_names()),
            },
            "test": test,
            "dev": metrics.get("dev"),
            "cv": cv_report,
            "data": data,
            "load": load_report,
            "missing": missing_report,
            "duplicate_audio": self.ctx.stash.get("nk", {}).get("duplicate_audio", []),
        }


def run_in_folder(cfg: DictConfig, pm: PluginManager, run_dir: Path, console: Any, what: str,
                  body: Callable[[RunContext], dict[str, Any]]) -> dict[str, Any]:
    """The frame every run shares (``nk run``, ``nk explore``): write the redacted config, log to
    ``run_dir/nk.log``, call the lifecycle hooks around ``body(ctx)``, and log a failure."""
    import yaml

    (run_dir / "config.yaml").write_text(yaml.safe_dump(redacted(cfg), sort_keys=False))
    with run_logging(run_dir, console) as log:
        ctx = RunContext(cfg=cfg, run_dir=run_dir, pm=pm, log=log, console=console)
        log.info("nk %s: %s %s in %s", __version__, what, cfg.name, run_dir)
        log.info("config:\n%s", OmegaConf.to_yaml(cfg))
        pm.hook.nk_run_start(ctx=ctx)
        try:
            results = body(ctx)
        except BaseException as exc:
            user_error = isinstance(exc, UserError)
            if isinstance(exc, KeyboardInterrupt):  # the CLI says "Interrupted."; no traceback
                log.error("%s interrupted (Ctrl-C)", what, extra={"file_only": True})
            else:
                log.error("%s failed: %s", what, exc, exc_info=not user_error, extra={"file_only": user_error})
            pm.hook.nk_run_error(ctx=ctx, error=exc)
            raise
        pm.hook.nk_run_end(ctx=ctx, results=results)
        return results


def run_experiment(cfg: DictConfig, pm: PluginManager, run_dir: Path, console: Any) -> dict[str, Any]:
    """Run one experiment into ``run_dir`` (which must exist and be empty)."""
    return run_in_folder(cfg, pm, run_dir, console, "run", lambda ctx: Experiment(ctx).run())


__all__ = ["Experiment", "run_experiment", "run_in_folder"]
