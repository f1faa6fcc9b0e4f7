"""``nk explore``: compose the config like ``nk run``, load the data, run the chosen analyses,
render the plots, write the tables, ``explore.json`` and the report.

Order: load (and segment) → features (when an analysis needs them; their own progress bar) →
setup (imports, matplotlib's fonts) → counts → durations → bias → feature analysis → scatter →
the plots not rendered yet → report. Each step is timed; the times go to ``explore.json``.

Plots are queued as the analyses make them. With ``explore.plot_jobs`` > 1 (default: one
process per core), worker processes forked after the setup render them — and run t-SNE/UMAP —
while the main process computes on; whatever is still queued when the analyses end, the main
process renders alongside the workers. On the 2-core development machine this made the
analyses with their plots about 1.7× faster (``bench/bench_explore.py``), though not when other
programs kept the cores busy: then ``explore.plot_jobs=1`` is as fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nk.config import as_enum
from nk.errors import UserError
from nk.explore import safe_name, stats
from nk.explore.config import Analysis, DistributionPlot, PlotFormat, ScatterMethod
from nk.explore.plots import PlotJob

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from nk.cli import App
    from nk.context import RunContext

# Plot worker processes only (set by _init_worker); the main process never writes it.
_WORKER: dict[str, Any] = {}

MAX_BAR_LEVELS = 40
"""Categorical columns with more values are plotted with their most frequent ones."""



def explore_command(overrides: list[str], app: App, *, show_cfg: bool) -> int:
    """The ``nk explore`` handler: returns the exit code."""
    from omegaconf import OmegaConf

    from nk.config import compose
    from nk.report import check_pdf_possible
    from nk.report.run import document_option
    from nk.results import new_run_dir

    cfg = compose(overrides, app.pm)  # also checks the bounds of the explore section
    if cfg.explore.report:
        check_pdf_possible(document_option(cfg, "pdf", "auto"))  # document.pdf=always without LaTeX: fail now
    if show_cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="explore")
    app.console.print(f"[bold]nk explore[/] {cfg.name} → {run_dir}", highlight=False)
    result = run_explore(cfg, app.pm, run_dir, app.console)
    print_summary(result, app.console)
    return 0


def run_explore(cfg: DictConfig, pm: Any, run_dir: Path, console: Any) -> dict[str, Any]:
    """Explore the configured data into ``run_dir``; returns the content of ``explore.json``."""
    from nk.pipeline import run_in_folder

    return run_in_folder(cfg, pm, run_dir, console, "explore", lambda ctx: Explorer(ctx).run())


class Explorer:
    """One ``nk explore`` run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.ecfg = ctx.cfg.explore
        self.analyses = [as_enum(a, Analysis) for a in self.ecfg.analyses]
        self.timing: dict[str, float] = {}
        self.notes: list[str] = []
        self.jobs: list[PlotJob] = []
        self.tables: dict[str, Path] = {}
        self.result: dict[str, Any] = {}
        self.plot_dir = ctx.run_dir / "plots"
        self.table_dir = ctx.run_dir / "tables"
        self.kind = as_enum(self.ecfg.distribution, DistributionPlot).value
        self.formats = [as_enum(f, PlotFormat).value for f in self.ecfg.formats]
        self.dpi = int(self.ecfg.dpi)
        self.pool: Any = None
        self.workers = 0
        self.futures: list[Any] = []  # plots rendering in workers
        self.waiting: list[PlotJob] = []  # plots not handed out yet
        self.files: list[Path] = []  # plots rendered here
        self.rendered: list[Path] = []  # every plot file
        self.projections: dict[str, Any] = {}

    # --- helpers ---------------------------------------------------------------------------

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.ctx.log.info("note: %s", text)

    def table(self, frame: pd.DataFrame, stem: str, *, index: bool = True, text: bool = True) -> None:
        """Write ``tables/<stem>.csv`` and (statistics, not data) an aligned ``tables/<stem>.txt``."""
        self.table_dir.mkdir(exist_ok=True)
        csv = self.table_dir / f"{stem}.csv"
        frame.to_csv(csv, index=index)
        if text:
            aligned = frame.to_string(index=index, float_format=lambda v: f"{v:.4g}", max_colwidth=120)
            (self.table_dir / f"{stem}.txt").write_text(aligned + "\n", encoding="utf-8")
        self.tables[stem] = csv

    def plot(self, function: str, stem: str, caption: str, section: str, **kwargs: Any) -> None:
        """Queue a plot. With workers, it is rendered there while this process computes on."""
        job = PlotJob(function, stem, kwargs, caption, section)
        self.jobs.append(job)
        self.waiting.append(job)
        self._hand_out()

    def _hand_out(self) -> None:
        """Keep each worker busy with at most two plots; the rest wait, so that this process can
        render them itself once its computing is done (no core is oversubscribed)."""
        if self.pool is None:
            return
        from nk.explore.plots import render

        busy = sum(not f.done() for f in self.futures)
        while self.waiting and busy < 2 * self.workers:
            job = self.waiting.pop(0)
            self.futures.append(self.pool.submit(render, job, self.plot_dir, self.formats, self.dpi))
            busy += 1

    def _timed(self, name: str, started: float) -> None:
        self.timing[name] = round(time.perf_counter() - started, 3)

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        from nk import __version__, stages

        started = time.perf_counter()
        ctx = self.ctx
        t = time.perf_counter()
        loaded = stages.load(ctx)
        frame, target, task, load_report = loaded.frame, loaded.target, loaded.task, loaded.report
        frame = stages.segment(ctx, frame)
        self._timed("load", t)
        self.frame, self.target, self.task = frame, target, task
        self.columns = self._columns(frame, target)
        self.kinds = {c: stats.column_kind(frame[c]) for c in self.columns}
        self.target_kind = stats.CATEGORICAL if task == "classification" else stats.CONTINUOUS
        self.has_speaker = "speaker" in frame.columns and frame["speaker"].notna().any()

        features = None
        if Analysis.features in self.analyses or Analysis.scatter in self.analyses:
            t = time.perf_counter()
            features = stages.featurize(ctx, frame)
            self._timed("featurize", t)

        self.result = {
            "nk_version": __version__, "name": str(self.cfg.name), "run_dir": str(ctx.run_dir),
            "target": target, "task": task, "rows": len(frame),
            "speakers": int(frame["speaker"].nunique()) if self.has_speaker else None,
            "columns": {c: self.kinds[c] for c in self.columns},
            "analyses": [a.value for a in self.analyses], "load": load_report,
        }
        steps = [(a, getattr(self, f"_{a.value}")) for a in Analysis if a in self.analyses]
        self.plot_dir.mkdir(exist_ok=True)
        t = time.perf_counter()
        self._preload()
        self._timed("setup", t)
        with _thread_limit(len(frame) * (features.shape[1] if features is not None else 1)):
            self._analyse(steps, features)
        # the analyses and their plots (without loading, features, imports and the report)
        self.timing["analyses"] = round(sum(self.timing.get(a.value, 0.0) for a in self.analyses)
                                        + self.timing["plots"], 3)
        self.result["plots"] = [str(p.relative_to(ctx.run_dir)) for p in self.rendered]
        self.result["tables"] = sorted(str(p.relative_to(ctx.run_dir)) for p in self.tables.values())
        self.result["notes"] = self.notes
        t = time.perf_counter()
        if self.ecfg.report:
            self.result["report"] = self._report()
        self._timed("report", t)
        self.timing["total"] = round(time.perf_counter() - started, 3)
        self.result["timing"] = self.timing
        from nk.results import write_json

        write_json(ctx.run_dir / "explore.json", _plain(self.result))
        return self.result

    def _analyse(self, steps: list[tuple[Analysis, Any]], features: pd.DataFrame | None) -> None:
        """Run the analyses; their plots render in workers meanwhile (or here at the end)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        ctx = self.ctx
        self.pool = self._plot_pool()  # forked after the imports, before any progress-bar thread
        try:
            if features is not None and Analysis.scatter in self.analyses:
                self._start_projections(features)  # t-SNE/UMAP run in a worker meanwhile
            progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=ctx.console, transient=True)
            with progress:
                overall = progress.add_task("Exploring", total=len(steps))
                for analysis, step in steps:
                    note = (" (the first UMAP call in a process compiles code with numba: 10–60 s)"
                            if analysis is Analysis.scatter and ScatterMethod.umap in self._scatter_methods()
                            else "")
                    progress.update(overall, description=f"Exploring: {analysis.value}{note}")
                    t = time.perf_counter()
                    if analysis in (Analysis.features, Analysis.scatter):
                        step(features)
                    else:
                        step()
                    self._timed(analysis.value, t)
                    progress.advance(overall)
                t = time.perf_counter()
                self.rendered = self._render(progress)
                self._timed("plots", t)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.pool = None

    def _columns(self, frame: pd.DataFrame, target: str) -> list[str]:
        chosen = self.ecfg.columns
        if chosen is None:
            columns = [c for c in frame.columns if c != target and not str(c).startswith("_")]
        else:
            columns = [str(c) for c in chosen]
            unknown = [c for c in columns if c not in frame.columns]
            if unknown:
                usable = [str(c) for c in frame.columns if c != target and not str(c).startswith("_")]
                raise UserError(
                    f"explore.columns names {unknown}, which {'is' if len(unknown) == 1 else 'are'} "
                    "not in the data",
                    where="config key explore.columns",
                    allowed=", ".join(usable) or "no other columns",
                    todo="use the columns' exact names (case matters), or leave explore.columns "
                    "unset to analyse every column",
                )
            if target in columns:
                raise UserError(f"explore.columns lists the target {target!r}",
                                where="config key explore.columns",
                                todo="leave the target out: every column is analysed against it")
        kept = []
        for c in columns:
            values = frame[c]
            distinct = values.nunique(dropna=True)
            if values.notna().sum() == 0:
                self.note(f"column {c!r} is empty: not analysed")
            elif distinct < 2:
                self.note(f"column {c!r} has a single value ({str(values.dropna().iloc[0])!r}): not analysed")
            elif (chosen is None and c != "speaker" and stats.column_kind(values) == stats.CATEGORICAL
                  and distinct > max(20, 0.5 * values.notna().sum())):
                self.note(f"column {c!r} has {distinct} different values in {len(values)} rows (an identifier "
                          "or free text?): not analysed unless named in explore.columns")
            else:
                kept.append(str(c))
        return kept

    # --- counts ----------------------------------------------------------------------------

    def _counts(self) -> None:
        frame, target = self.frame, self.target
        out: dict[str, Any] = {}
        columns = [target, *self.columns]
        if Analysis.durations in self.analyses and "duration" in columns:
            columns.remove("duration")  # the durations analysis covers it
        for column in columns:
            kind = self.target_kind if column == target else self.kinds[column]
            if kind == stats.CATEGORICAL:
                out[column] = self._count_categorical(column, frame[column].astype(str))
            else:
                out[column] = self._count_continuous(column)
                if self.ecfg.bins is not None:
                    binned = pd.qcut(frame[column], int(self.ecfg.bins), duplicates="drop")
                    labels = binned.astype(str).where(binned.notna())
                    out[f"{column} (binned)"] = self._count_categorical(column, labels, suffix="_binned")
        self.result["counts"] = out

    def _count_categorical(self, column: str, values: pd.Series, suffix: str = "") -> list[dict[str, Any]]:
        frame, target = self.frame, self.target
        is_target = column == target
        rows = values.value_counts(dropna=True)
        order = rows.index.tolist() if column == "speaker" or len(rows) > MAX_BAR_LEVELS else sorted(rows.index)
        table = pd.DataFrame({"rows": rows.reindex(order), "share": (rows / rows.sum()).reindex(order).round(4)})
        speakers = None
        if self.has_speaker and column != "speaker":
            speakers = frame.groupby(values, observed=True)["speaker"].nunique().reindex(order)
            table["speakers"] = speakers
        if not is_target and self.target_kind == stats.CATEGORICAL:
            cross = pd.crosstab(values, frame[target].astype(str)).reindex(order)
            table = table.join(cross.add_prefix(f"{target}="))
            stacked = cross
        else:
            stacked = table[["rows"]]
        table.index.name = column
        self.table(table, f"counts_{safe_name(column)}{suffix}")
        shown = stacked
        if len(order) > MAX_BAR_LEVELS:
            shown = stacked.loc[rows.index[:MAX_BAR_LEVELS]]
            self.note(f"counts plot of {column!r} shows its {MAX_BAR_LEVELS} most frequent of {len(order)} values")
        what = "class" if is_target else "value"
        self.plot("stacked_counts", f"counts_{safe_name(column)}{suffix}",
                  f"Rows per {what} of {column}" + ("" if is_target or self.target_kind != stats.CATEGORICAL
                                                    else f", stacked by {target}")
                  + (", and distinct speakers per value" if speakers is not None else ""), "counts",
                  title=f"{column}{' (binned)' if suffix else ''}: value counts",
                  samples=shown, speakers=speakers if speakers is None else speakers.loc[shown.index],
                  column=column, target=None if is_target else target)
        return table.reset_index().to_dict(orient="records")

    def _describe(self, values: pd.Series) -> dict[str, Any]:
        v = values.dropna().astype(float)
        return {"n": len(v), "missing": int(values.isna().sum()), "mean": v.mean(), "sd": v.std(ddof=1),
                "min": v.min(), "q25": v.quantile(0.25), "median": v.median(), "q75": v.quantile(0.75),
                "max": v.max()}

    def _count_continuous(self, column: str) -> dict[str, Any]:
        frame, target = self.frame, self.target
        values = pd.to_numeric(frame[column], errors="coerce")
        rows = {"all": self._describe(values)}
        groups = None
        target_values = None
        if column != target and self.target_kind == stats.CATEGORICAL:
            labels = frame[target].astype(str)
            groups = {c: values[labels == c].to_numpy(dtype=float) for c in sorted(labels.unique())}
            for c in groups:
                rows[f"{target}={c}"] = self._describe(values[labels == c])
        elif column != target:
            target_values = frame[target].to_numpy(dtype=float)
        per_speaker = None
        if self.has_speaker and column != "speaker":
            per_speaker = values.groupby(frame["speaker"], observed=True).mean()
            rows["per speaker (means)"] = self._describe(per_speaker)
        table = pd.DataFrame(rows).T
        table.index.name = "rows"
        self.table(table, f"counts_{safe_name(column)}")
        self.plot("continuous", f"counts_{safe_name(column)}",
                  f"Distribution of {column}: histogram with KDE"
                  + (f", per {target} class" if groups is not None else "")
                  + (", and per-speaker means" if per_speaker is not None else ""), "counts",
                  title=f"{column}", column=column, values=values.to_numpy(dtype=float), groups=groups,
                  target=None if column == target else target,
                  per_speaker=None if per_speaker is None else per_speaker.to_numpy(dtype=float),
                  kind=self.kind, target_values=target_values)
        return table.reset_index().to_dict(orient="records")

    # --- durations -------------------------------------------------------------------------

    def _durations(self) -> None:
        frame, target = self.frame, self.target
        if "duration" not in frame.columns:
            self.note("durations skipped: the data has no duration column")
            return
        values = frame["duration"].astype(float)

        def describe(v: pd.Series) -> dict[str, Any]:
            d = self._describe(v)
            return {"rows": d["n"], "total_min": v.sum() / 60, "mean": d["mean"], "sd": d["sd"], "min": d["min"],
                    "median": d["median"], "max": d["max"]}

        rows = {"all": describe(values)}
        groups = None
        speakers_per_class = None
        if self.target_kind == stats.CATEGORICAL:
            labels = frame[target].astype(str)
            classes = sorted(labels.unique())
            groups = {c: values[labels == c].to_numpy() for c in classes}
            for c in classes:
                rows[c] = describe(values[labels == c])
            if self.has_speaker:
                speakers_per_class = frame.groupby(labels, observed=True)["speaker"].nunique().reindex(classes)
        table = pd.DataFrame(rows).T
        if speakers_per_class is not None:
            table["speakers"] = [int(frame["speaker"].nunique()), *speakers_per_class.tolist()]
        table.index.name = target if groups is not None else "subset"
        self.table(table, "durations")
        self.plot("durations", "durations",
                  "Durations: histogram with KDE" + (f", per {target} class, and speakers per class"
                                                     if groups is not None else ""), "durations",
                  title="durations", values=values.to_numpy(), groups=groups, target=target, kind=self.kind,
                  speakers_per_class=speakers_per_class)
        self.result["durations"] = table.reset_index().to_dict(orient="records")

    # --- bias ------------------------------------------------------------------------------

    def _bias(self) -> None:
        frame, target = self.frame, self.target
        alpha = float(self.ecfg.alpha)
        ranked, pair_table, notes = stats.association_table(frame, target, self.target_kind, self.columns,
                                                            self.kinds, alpha)
        for note in notes:
            self.note(note)
        if ranked.empty:
            self.note("bias analysis: no column could be tested against the target")
            self.result["bias"] = {"associations": [], "pairwise": []}
            return
        self.table(ranked, "bias", index=False)
        if not pair_table.empty:
            self.table(pair_table, "bias_pairwise", index=False)
        speaker_info = None
        if self.has_speaker and self.target_kind == stats.CATEGORICAL:
            per = frame.groupby("speaker", observed=True)[target].nunique()
            speaker_info = {"speakers": len(per), "single_label_speakers": int((per == 1).sum()),
                            "mean_classes_per_speaker": float(per.mean()),
                            "classes": int(frame[target].nunique())}
        self.result["bias"] = {
            "alpha": alpha, "correction": "holm", "effect_size_for_categorical": "bias-corrected Cramér's V "
            "(Bergsma 2013)", "associations": ranked.to_dict(orient="records"),
            "pairwise": pair_table.to_dict(orient="records"), "speaker_labels": speaker_info,
        }
        labels = [str(c) for c in ranked["column"]]
        self.plot("association_strengths", "bias", f"Strength of the association of {target} with each "
                  "column (bars: strength score; text: effect size and Holm-corrected p)", "bias",
                  title=f"{target}: associations with the other columns", labels=labels,
                  scores=ranked["strength_score"].astype(float).tolist(),
                  significant=ranked["significant"].astype(bool).tolist(),
                  effects=[f"{stats.format_effect(m, e)}, {stats.format_p(p)}" for m, e, p in
                           zip(ranked["measure"], ranked["effect"], ranked["p_holm"], strict=True)])

    # --- features --------------------------------------------------------------------------

    def _features(self, features: pd.DataFrame) -> None:
        from nk.config import selected
        from nk.explore.config import Importance, RankBy
        from nk.explore.features import effects, importance, tree_model

        frame, target, task, ecfg = self.frame, self.target, self.task, self.ecfg
        y = frame[target].to_numpy()
        effect_table = effects(features, frame[target], task)
        out: dict[str, Any] = {"n_features": int(features.shape[1])}
        methods = [as_enum(m, Importance) for m in ecfg.importance]
        imp = None
        split = self._split() if methods else None
        if split is not None:
            (model_name, model_values), = selected(self.cfg, "model")
            model_comp = self.ctx.pm.registry.get("model", model_name)
            if Importance.permutation in methods and not self._model_fits(model_comp, model_values, task):
                self.note(f"permutation importance skipped: model {model_name!r} does not do {task} "
                          "(choose a matching model, e.g. model=svr for regression)")
                methods = [m for m in methods if m is not Importance.permutation]
            speakers = frame["speaker"].to_numpy() if self.has_speaker else None
            tree = None
            if Importance.tree in methods or Importance.shap in methods:
                tree = tree_model(list(ecfg.tree_model), task, self.ctx.pm.registry, self.ctx.seed)
            imp = importance(features=features, y=y, split=split, speakers=speakers, task=task, methods=methods,
                             model_comp=model_comp, model_params=model_values, cfg=self.cfg,
                             seed=self.ctx.seed, n_repeats=int(ecfg.n_repeats), tree=tree,
                             rank_by=as_enum(ecfg.rank_by, RankBy),
                             log=self.ctx.log)
            for note in imp.notes:
                self.note(note)
            joined = imp.table.join(effect_table[["p_holm", "strength"]].rename(
                columns={"p_holm": "target_p_holm", "strength": "target_effect"}))
            self.table(joined, "feature_importance")
            out["importance"] = joined.reset_index().head(50).to_dict(orient="records")
            out["model"] = imp.baseline
            order = list(imp.table.index)
            shown = [m for m in ("permutation", "tree", "linear", "shap") if m in imp.table.columns]
            if shown:
                self.plot("importances", "feature_importance",
                          f"Feature importance of the {min(15, len(order))} top features (ranked by "
                          f"{imp.baseline['ranked_by'].replace('_', ' ')}); permutation: drop of "
                          f"{imp.baseline.get('metric', 'the metric')} on held-out speakers", "features",
                          title=f"feature importance for {target}", table=imp.table[shown].head(15))
        else:
            measure = "epsilon2" if task == "classification" else "rho"
            order = list(effect_table[measure].abs().sort_values(ascending=False).index)
        self.table(effect_table, "feature_effects")
        top = order[: int(ecfg.top_k)]
        out["top"] = top
        out["effects_top"] = effect_table.loc[top].reset_index().to_dict(orient="records")
        labels = frame[target].astype(str)
        for i, name in enumerate(top, 1):
            eff = effect_table.loc[name]
            values = features[name].to_numpy(dtype=float)
            if task == "classification":
                measure = str(eff["effect_measure"])
                symbol = "d" if measure == "cohens_d" else "epsilon2"
                text = f"{stats.format_effect(symbol, float(eff[measure]))} ({eff['strength']}), " \
                       f"{stats.format_p(float(eff['p_holm']))}"
                groups = {c: values[(labels == c).to_numpy()] for c in sorted(labels.unique())}
                kwargs: dict[str, Any] = {"groups": groups}
            else:
                text = f"{stats.format_effect('rho', float(eff['rho']))} ({eff['strength']}), " \
                       f"{stats.format_p(float(eff['p_holm']))}"
                kwargs = {"groups": None, "values": values, "target_values": frame[target].to_numpy(dtype=float)}
            self.plot("feature_distribution", f"feature_{i:02d}_{safe_name(name)}",
                      f"{name} (importance rank {i}) by {target}: {text}", "features",
                      title=f"{i}. {name}\n{text}", feature=name, target=target, kind=self.kind, **kwargs)
        self.result["features"] = out

    def _split(self) -> np.ndarray | None:
        """train/test per row for the importances: the configured split (speaker-disjoint by
        default; dev joins train; the first fold of a cross-validation), or, without speakers,
        a seeded random third as test. None (with a note) when no usable split exists."""
        from nk import stages
        from nk.config import SplitMethod

        method = as_enum(self.cfg.split.method, SplitMethod)
        if not self.has_speaker and method not in (SplitMethod.random, SplitMethod.given):
            self.note(f"no speaker column: feature importance uses a random split instead of "
                      f"split.method={method.value} (held-out rows share speakers with training rows)")
            return stages.random_split(self.ctx, self.frame, max(0.2, float(self.cfg.split.test_size))).to_numpy()
        try:
            folds = stages.split(self.ctx, self.frame, self.target, self.task, show_summary=False).folds
        except UserError as exc:
            self.note(f"feature importance skipped: no usable split ({exc.what}); the top features are "
                      "those with the largest effect sizes")
            return None
        if len(folds) > 1:
            self.note(f"feature importance uses the first of {len(folds)} cross-validation folds ({folds[0].name})")
        return folds[0].split.replace("dev", "train").to_numpy()

    @staticmethod
    def _model_fits(comp: Any, values: dict[str, Any], task: str) -> bool:
        from nk.fit import model_task

        kind = model_task(comp.build(values))
        return kind is None or kind == task

    # --- scatter ---------------------------------------------------------------------------

    def _scatter_methods(self) -> list[ScatterMethod]:
        return [as_enum(m, ScatterMethod) for m in self.ecfg.scatter]

    def _start_projections(self, features: pd.DataFrame) -> None:
        """Standardise the features, sample rows for t-SNE/UMAP, and start those projections in a
        worker (or here, without workers); PCA is quick and runs in :meth:`_scatter`."""
        from nk.explore.project import project, standardise

        X = standardise(features.to_numpy(dtype=np.float64))
        rng = np.random.default_rng(self.ctx.seed)
        sample = np.arange(len(X))
        if len(X) > int(self.ecfg.max_points):
            sample = np.sort(rng.choice(len(X), int(self.ecfg.max_points), replace=False))
        self.scatter_input = (X, sample)
        for method in self._scatter_methods():
            if method is ScatterMethod.pca:
                continue
            kwargs = {"seed": self.ctx.seed, "perplexity": float(self.ecfg.perplexity),
                      "iterations": int(self.ecfg.tsne_iterations)}
            if self.pool is not None:
                self.projections[method.value] = self.pool.submit(project, method.value, X[sample], **kwargs)
            else:
                self.projections[method.value] = (method.value, X[sample], kwargs)

    def _scatter(self, features: pd.DataFrame) -> None:
        from nk.explore.project import NotInstalled, project

        frame, target, ecfg = self.frame, self.target, self.ecfg
        X, sample = self.scatter_input  # set by _start_projections, before the analyses
        colourings: dict[str, Any] = {}
        for name in ecfg.colour_by:
            column = target if name == "target" else str(name)
            if column in frame.columns and column not in colourings:
                colourings[column] = frame[column].to_numpy()
            elif column not in frame.columns:
                self.note(f"scatter: no column {column!r} to colour by")
        out: dict[str, Any] = {}
        for method in self._scatter_methods():
            rows = np.arange(len(X)) if method is ScatterMethod.pca else sample
            try:
                if method is ScatterMethod.pca:
                    xy, info = project("pca", X, seed=self.ctx.seed, perplexity=0.0, iterations=0, threads=None)
                else:
                    pending = self.projections[method.value]
                    xy, info = (pending.result() if not isinstance(pending, tuple)
                                else project(pending[0], pending[1], **pending[2]))
            except NotInstalled:
                self.note(f"{method.value.upper()} skipped: the umap-learn package is not installed "
                          "(pip install umap-learn)")
                continue
            labels = info.pop("axes")
            out[method.value] = {**info, "rows": len(rows)}
            coords = pd.DataFrame(xy, index=frame.index[rows], columns=["x", "y"])
            for column, values in colourings.items():
                coords[column] = np.asarray(values)[rows]
            self.table(coords, f"scatter_{method.value}", text=False)  # coordinates: data, CSV only
            name = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[method.value]
            self.plot("scatter", f"scatter_{method.value}",
                      f"{name} projection of the standardised features ({len(rows)} rows), coloured by "
                      + ", ".join(colourings), "scatter",
                      title=f"{name} of {', '.join(self._feature_names())} ({features.shape[1]} features)",
                      xy=xy, colourings={c: np.asarray(v)[rows] for c, v in colourings.items()},
                      axis_labels=labels)
        self.result["scatter"] = out

    def _feature_names(self) -> list[str]:
        from nk.config import selected

        return [n for n, _ in selected(self.cfg, "feats")]

    # --- plots and report ------------------------------------------------------------------

    def _preload(self) -> None:
        """Import the libraries the analyses use, once and up front: timed apart from the
        analyses, and inherited by the forked plot workers instead of imported by each."""
        import matplotlib.backends.backend_agg
        import matplotlib.figure  # noqa: F401
        import scipy.stats  # noqa: F401

        if Analysis.scatter in self.analyses:
            import sklearn.decomposition
            import sklearn.manifold
        if Analysis.features in self.analyses:
            from nk.config import selected
            from nk.explore.config import Importance
            from nk.explore.features import tree_model

            methods = [as_enum(m, Importance) for m in self.ecfg.importance]
            if Importance.permutation in methods:
                (name, values), = selected(self.cfg, "model")
                self.ctx.pm.registry.get("model", name).build(values)  # imports the model's modules
            if Importance.tree in methods or Importance.shap in methods:
                tree_model(list(self.ecfg.tree_model), self.task, self.ctx.pm.registry, 0)
            if Importance.linear in methods:
                import sklearn.linear_model  # noqa: F401

    def _plot_pool(self) -> Any:
        """Worker processes for plots and projections (None: everything in this process).

        ``plot_jobs`` counts the processes that render, this one included: 0 means one per core
        (at most 4), so on two cores one worker renders while this process computes.
        """
        import os

        n = int(self.ecfg.plot_jobs)
        if n == 0:
            n = min(4, os.cpu_count() or 1)
        if n <= 1:
            return None
        from concurrent.futures import ProcessPoolExecutor

        from nk.workers import mp_context as _mp_context

        self.workers = n - 1
        pool = ProcessPoolExecutor(self.workers, mp_context=_mp_context(), initializer=_init_worker)
        pool.submit(_init_worker).result()  # starts the workers now, before progress threads exist
        return pool

    def _render(self, progress: Any) -> list[Path]:
        """Render the waiting plots here while the workers finish theirs; return every file."""
        from nk.explore.plots import render

        task = progress.add_task("Rendering plots", total=len(self.jobs))
        progress.update(task, completed=sum(f.done() for f in self.futures))
        while self.waiting:
            self._hand_out()
            if self.waiting:
                self.files += render(self.waiting.pop(0), self.plot_dir, self.formats, self.dpi)
            progress.update(task, completed=len(self.jobs) - len(self.waiting)
                            - sum(not f.done() for f in self.futures))
        files = list(self.files)
        for future in self.futures:
            files += future.result()
            progress.update(task, completed=len(self.jobs) - sum(not f.done() for f in self.futures))
        order = {job.stem: i for i, job in enumerate(self.jobs)}
        return sorted(files, key=lambda p: (order.get(p.stem, len(order)), p.suffix))

    def _report(self) -> dict[str, Any]:
        from nk.explore.report import ExploreOutput, build_document
        from nk.report import write_reports
        from nk.report.run import document_option

        doc = build_document(ExploreOutput(self.ctx, self.result, self.frame, self.jobs, self.plot_dir, self.tables))
        written = write_reports(doc, self.ctx.run_dir, stem="report", pdf=document_option(self.cfg, "pdf", "auto"))
        return {k: str(Path(v).relative_to(self.ctx.run_dir)) for k, v in written.items()}


def _thread_limit(size: int) -> Any:
    """One BLAS/OpenMP thread for the analyses of data up to a few million values.

    Their matrices are small, so threads gain little; and while other processes (the plot
    workers, or anything else) use the cores, spinning BLAS/OpenMP threads make small
    operations ten times slower or worse (a logistic regression on 160 × 88 values: 0.01 s
    with one thread, 0.17 s with two on a busy 2-core machine).
    """
    from contextlib import nullcontext

    if size > 5_000_000:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # comes with scikit-learn; limiting only helps speed
        return nullcontext()
    return threadpool_limits(1)


def _init_worker() -> None:
    """Plot workers use one BLAS/OpenMP thread each: the main process needs the other cores."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops the pool
    try:
        from threadpoolctl import threadpool_limits

        _WORKER["limits"] = threadpool_limits(1)
    except ImportError:  # threadpoolctl comes with scikit-learn; limiting only helps speed
        pass


def _plain(value: Any) -> Any:
    """JSON-ready: NaN → None, numpy scalars → Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    return value


def print_summary(result: dict[str, Any], console: Any) -> None:
    """The top associations as a rich table, the notes, and where the results are."""
    from rich.table import Table

    bias = result.get("bias") or {}
    rows = bias.get("associations") or []
    if rows:
        table = Table(title=f"{result['name']}: strongest associations with {result['target']} "
                            f"(Holm-corrected, alpha {bias['alpha']})", title_justify="left")
        for col, justify in (("#", "right"), ("column", "left"), ("test", "left"), ("effect", "right"),
                             ("strength", "left"), ("p (Holm)", "right"), ("", "left")):
            table.add_column(col, justify=justify)  # type: ignore[arg-type]
        for row in rows[:10]:
            style = "bold" if row["significant"] and row["strength"] in ("moderate", "strong") else None
            table.add_row(str(row["rank"]), str(row["column"]), str(row["test"]),
                          stats.format_effect(row["measure"], row["effect"]), row["strength"],
                          stats.format_p(row["p_holm"]).removeprefix("p = ").removeprefix("p "), "*" if row["significant"] else "",
                          style=style)
        console.print(table)
        console.print(rows[0]["sentence"][0].upper() + rows[0]["sentence"][1:] + ".", highlight=False)
    features = result.get("features") or {}
    if features.get("top"):
        console.print("Top features: " + ", ".join(features["top"][:5])
                      + (" …" if len(features["top"]) > 5 else ""), highlight=False)
    for note in result.get("notes", []):
        console.print(f"[dim]note: {note}[/]", highlight=False)
    timing = result.get("timing", {})
    console.print(f"Results in [bold]{result['run_dir']}[/] ({timing.get('total', 0):.1f} s)", highlight=False)
