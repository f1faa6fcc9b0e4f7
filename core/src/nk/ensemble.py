"""``nk ensemble``: combine the test predictions of finished runs with an ensembler.

The runs are named by folder or by experiment name (its latest finished run; failed runs,
marked ``FAILED``, are skipped). They must predict the same target on the same test rows with
the same truth; a mismatch is a :class:`~nk.errors.UserError` naming rows. The chosen
ensembler (config group ``ensemble``, :mod:`nk.builtin.ensemblers` and plugins) combines the
prediction frames; the result folder holds, like a run's, ``results.json`` (metrics with
bootstrap CIs), ``predictions.csv``, the confusion matrix (or truth-vs-prediction plot), the
report, and ``comparison.csv``: every input run and the ensemble, with a paired bootstrap test
(:func:`nk.metrics.paired_bootstrap`) of the ensemble against the best single run (chosen on dev
when every run has one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nk.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

    from nk.cli import App
    from nk.context import RunContext

RESULTS_FILE = "results.json"


# --- finding and reading runs -------------------------------------------------------------------


def finished(folder: Path) -> bool:
    from nk.results import is_failed

    return (folder / RESULTS_FILE).is_file() and not is_failed(folder)


def resolve_run(name: str, results_root: Path) -> Path:
    """A run folder: ``name`` itself, or the latest finished run of experiment ``name`` below
    ``results_root`` (run folders are named by their start time, so the latest sorts last)."""
    path = Path(name)
    if path.is_dir() and finished(path):
        return path.resolve()
    from nk.results import FAILED_FILE, is_failed

    if path.is_dir() and is_failed(path):
        raise UserError(f"The run {path} failed and holds no results", where=str(path / FAILED_FILE),
                        todo="name a finished run, or the experiment (its latest finished run is used)")
    base = results_root / name
    if base.is_dir():
        runs = sorted((p for p in base.iterdir() if p.is_dir() and finished(p)), key=lambda p: p.name)
        if runs:
            return runs[-1].resolve()
        raise UserError(f"The experiment {name!r} has no finished run", where=str(base),
                        todo=f"run it first (nk run name={name} ...)")
    raise UserError(f"No run folder or experiment named {name!r}", where=f"{path.resolve()} / {base.resolve()}",
                    todo="pass a run folder (results/<name>/<time>) or an experiment name below results_root")


def read_predictions(path: Path) -> pd.DataFrame:
    """A run's predictions.csv (or dev_predictions.csv), indexed by ``file`` or (file, start, end)."""
    import pandas as pd

    frame = pd.read_csv(path)
    keys = ["file", "start", "end"] if {"start", "end"} <= set(frame.columns) else ["file"]
    if "file" not in frame.columns:
        keys = [str(frame.columns[0])]
    return frame.set_index(keys)


@dataclass
class RunInput:
    """One input run: its folder, results.json, test and (if any) dev predictions."""

    path: Path
    results: dict[str, Any]
    test: pd.DataFrame
    dev: pd.DataFrame | None

    @property
    def label(self) -> str:
        """Short name for tables: ``<experiment>/<run folder>``."""
        return f"{self.results.get('name', self.path.parent.name)}/{self.path.name}"

    @property
    def primary(self) -> str:
        return str(self.results["primary"])

    @property
    def dev_score(self) -> float | None:
        dev = self.results.get("dev")
        return None if not dev else float(dev[self.primary]["value"])

    @property
    def description(self) -> str:
        comps = self.results.get("components", {})
        feats = "+".join(comps.get("feats") or []) or "audio"
        model = (comps.get("model") or ["?"])[0]
        return f"{feats} + {model}"


def load_inputs(names: list[str], results_root: Path) -> list[RunInput]:
    paths = [resolve_run(n, results_root) for n in names]
    if len(set(paths)) < len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise UserError(f"The run {dup} is named twice", todo="combine different runs")
    out = []
    for path in paths:
        results = json.loads((path / RESULTS_FILE).read_text(encoding="utf-8"))
        if not (path / "predictions.csv").is_file():
            raise UserError(f"The run {path} has no predictions.csv", todo="name a finished run")
        dev_path = path / "dev_predictions.csv"
        out.append(RunInput(path, results, read_predictions(path / "predictions.csv"),
                            read_predictions(dev_path) if dev_path.is_file() else None))
    return out


def _rows(index: Any) -> list[str]:
    return [str(r) for r in index[:5]]


def check_same_rows(runs: list[RunInput]) -> None:
    """Same target, task and label set; the same test rows with the same truth (order may
    differ); dev rows too when every run has dev predictions (stacking fits on them)."""
    first = runs[0]
    for run in runs[1:]:
        for key in ("target", "task"):
            if run.results.get(key) != first.results.get(key):
                raise UserError(f"The runs predict different things: {first.label} has {key} "
                                f"{first.results.get(key)!r}, {run.label} {run.results.get(key)!r}",
                                todo="combine runs of the same target")
        _same_rows(first.test, run.test, first.label, run.label, "test")
        if first.dev is not None and run.dev is not None:
            _same_rows(first.dev, run.dev, first.label, run.label, "dev")


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str, part: str) -> None:
    if a.index.has_duplicates or b.index.has_duplicates:
        raise UserError(f"The {part} predictions of {name_a if a.index.has_duplicates else name_b} repeat rows",
                        todo="combine runs with a single test split (not a cross-validation with repeated rows)")
    only_a, only_b = a.index.difference(b.index), b.index.difference(a.index)
    if len(only_a) or len(only_b):
        raise UserError(
            f"The runs do not share the same {part} rows: {len(only_a)} rows only in {name_a} (e.g. "
            f"{', '.join(_rows(only_a)) or '-'}), {len(only_b)} only in {name_b} (e.g. {', '.join(_rows(only_b)) or '-'})",
            todo="combine runs on the same data with the same split (data, split.*, seed, filter.*)")
    truth_b = b.loc[a.index, "truth"].astype(str).to_numpy()
    differ = a.index[a["truth"].astype(str).to_numpy() != truth_b]
    if len(differ):
        raise UserError(f"The runs have different {part} labels on {len(differ)} rows, e.g. {', '.join(_rows(differ))}",
                        todo="combine runs with the same target and label_map")


def frames_for_ensembler(runs: list[RunInput]) -> list[pd.DataFrame]:
    """The prediction frames, in the first run's row order, with ``attrs`` set (see
    :data:`nk.builtin.ensemblers.ATTRS`)."""
    order = runs[0].test.index
    dev_order = runs[0].dev.index if all(r.dev is not None for r in runs) and runs[0].dev is not None else None
    frames = []
    for run in runs:
        frame = run.test.loc[order, [c for c in run.test.columns if c != "speaker"]].copy()
        dev = None
        if dev_order is not None and run.dev is not None:
            d = run.dev.loc[dev_order]
            dev = {"truth": d["truth"].tolist(), "pred": d["pred"].tolist(),
                   "proba": {c.removeprefix("proba."): d[c].tolist() for c in d.columns if c.startswith("proba.")}}
        frame.attrs.update(run=run.label, task=run.results["task"], primary=run.primary,
                           dev_score=run.dev_score, dev=dev)
        frames.append(frame)
    return frames


# --- paired bootstrap: nk.metrics.paired_bootstrap (shared with the sweep ranking) ---------------


# --- the command --------------------------------------------------------------------------------


def _split_args(items: list[str]) -> tuple[list[str], list[str]]:
    overrides = [i for i in items if "=" in i and not Path(i).exists()]
    runs = [i for i in items if i not in overrides]
    return runs, overrides


def _ini_run(path: str, app: App) -> str:
    """The latest finished run of the experiment an nkululeko INI file names (its EXP.root and
    EXP.name, translated as for ``nk run --config``); says which folder it took."""
    from nk.config import compose
    from nk.nkululeko import installed_components, translate

    tr = translate(path, installed_components(app.pm))
    # where `nk run --config` puts its runs: results_root, name (default: the databases' names)
    keep = [o for o in tr.overrides if re.split(r"[.=@]", o.lstrip("+"), maxsplit=1)[0] in
            ("results_root", "name", "data")]
    cfg = compose(keep, app.pm)
    name = str(cfg.name)
    folder = resolve_run(str(name), Path(cfg.results_root))
    app.console.print(f"{path}: the latest finished run of experiment {name!r} → {folder}", highlight=False,
                      markup=False, soft_wrap=True)
    return str(folder)


def ensemble_command(items: list[str], method: str | None, app: App) -> dict[str, Any]:
    """``nk ensemble RUN RUN … [--method M] [key=value …]``; returns the results dict."""
    from nk.config import compose

    names, overrides = _split_args(items)
    if len(names) < 2:
        raise UserError(f"nk ensemble combines two or more runs; got {len(names)}",
                        todo="name two or more run folders or experiment names")
    chosen = [o for o in overrides if o.split("=", 1)[0].lstrip("+") == "ensemble"]
    if method is not None and chosen:
        raise UserError("The method is given twice (--method and ensemble=)", todo="give it once")
    if method is None and not chosen:
        method = "mean"
    if method is not None:
        overrides = [f"ensemble={method}", *overrides]
    cfg = compose(overrides, app.pm)
    method = str(cfg.ensemble.name)
    names = [_ini_run(n, app) if n.lower().endswith(".ini") and Path(n).is_file() else n for n in names]
    runs = load_inputs(names, Path(cfg.results_root))
    check_same_rows(runs)
    from nk.results import new_run_dir

    name = next((o.split("=", 1)[1] for o in overrides if o.startswith("name=")), "ensemble")
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), name, label=method)
    app.console.print(f"[bold]nk ensemble[/] {method} of {len(runs)} runs → {run_dir}", highlight=False)
    from nk.pipeline import run_in_folder

    return run_in_folder(cfg, app.pm, run_dir, app.console, f"ensemble ({method})",
                         lambda ctx: _ensemble(ctx, runs, method))


def _ensemble(ctx: RunContext, runs: list[RunInput], method: str) -> dict[str, Any]:
    import pandas as pd

    from nk import __version__
    from nk.config import selected
    from nk.fit import evaluate
    from nk.results import write_json

    (name, params), = selected(ctx.cfg, "ensemble")
    component = ctx.pm.registry.get("ensemble", name)
    ensembler = component.build(params)
    frames = frames_for_ensembler(runs)
    ctx.log.info("ensemble %s of %s", method, ", ".join(str(r.path) for r in runs))
    combined = ensembler.combine(frames, ctx)
    if not combined.index.equals(frames[0].index) or not {"truth", "pred"} <= set(combined.columns):
        from nk.errors import ContractError

        raise ContractError(f"The ensembler {name!r} ({component.provider}) returned a frame without truth/pred "
                            "on the runs' rows")
    task, primary = runs[0].results["task"], runs[0].primary
    speakers = runs[0].test["speaker"] if "speaker" in runs[0].test.columns else None
    frame = pd.DataFrame(index=frames[0].index)
    if speakers is not None:
        frame["speaker"] = speakers.loc[frames[0].index].to_numpy()
    test = evaluate(ctx, combined, frame, task)
    out = combined.copy()
    if speakers is not None:
        out["speaker"] = frame["speaker"]
    out.to_csv(ctx.run_dir / "predictions.csv")

    best, chosen_on = _best_single(runs)
    boot = ctx.cfg.bootstrap
    groups = frame["speaker"].to_numpy() if speakers is not None else None
    best_pred = best.test.loc[frames[0].index, "pred"].to_numpy()
    from nk.metrics import paired_bootstrap

    same = (lambda v: np.asarray(v).astype(str)) if task == "classification" else (lambda v: np.asarray(v, float))
    test_vs_best = paired_bootstrap(same(combined["truth"]), same(combined["pred"]), same(best_pred),
                                    task=task, groups=groups, n_resamples=int(boot.n_resamples),
                                    level=float(boot.level), seed=ctx.seed, min_speakers=int(boot.min_speakers))
    comparison = _comparison(ctx, runs, frames, frame, combined, test, task, primary, best, test_vs_best, method)
    comparison.to_csv(ctx.run_dir / "comparison.csv", index=False)
    from nk.metrics import headline

    results: dict[str, Any] = {
        "nk_version": __version__,
        "kind": "ensemble",
        "name": str(ctx.cfg.name) if ctx.cfg.name else "ensemble",
        "run_dir": str(ctx.run_dir),
        "method": method,
        "method_params": dict(params),
        "definition": _definition(component),
        "target": runs[0].results["target"],
        "task": task,
        "primary": primary,
        "summary": headline(primary, test[primary]),
        "evaluated_on": "test (the input runs' shared test rows)",
        "inputs": [{"run_dir": str(r.path), "label": r.label, "components": r.results.get("components"),
                    "test": r.results["test"][primary], "dev": (r.results.get("dev") or {}).get(primary)}
                   for r in runs],
        "test": test,
        "best_single": {"run_dir": str(best.path), "label": best.label, "chosen_on": chosen_on},
        "versus_best_single": test_vs_best,
    }
    artefacts = ["config.yaml", "nk.log", "results.json", "predictions.csv", "comparison.csv"]
    artefacts += _plots(ctx, combined, test, task, results["summary"])
    artefacts += _report(ctx, results, comparison, runs)
    results["artefacts"] = sorted(artefacts)
    write_json(ctx.run_dir / RESULTS_FILE, results)
    return results


def _definition(component: Any) -> str:
    """The first paragraph of the ensembler's docstring (the method's definition)."""
    import inspect

    doc = inspect.getdoc(component.factory) or component.description
    return " ".join(doc.split("\n\n")[0].split())


def _best_single(runs: list[RunInput]) -> tuple[RunInput, str]:
    """The best input run: on dev when every run has a dev score, else on test (said so)."""
    if all(r.dev_score is not None for r in runs):
        return max(runs, key=lambda r: float(r.dev_score or 0.0)), "dev"
    return max(runs, key=lambda r: float(r.results["test"][r.primary]["value"])), \
        "test (not every run has a dev split; the choice then favours the best single run)"


def _comparison(ctx: RunContext, runs: list[RunInput], frames: list[pd.DataFrame], frame: pd.DataFrame,
                combined: pd.DataFrame, test: dict[str, Any], task: str, primary: str, best: RunInput,
                vs_best: dict[str, Any], method: str) -> pd.DataFrame:
    import pandas as pd

    from nk.fit import evaluate

    keys = ("accuracy", "macro_f1") if task == "classification" else ("pcc", "mae")
    rows = []
    for run, pred in zip(runs, frames, strict=True):
        m = evaluate(ctx, pred, frame, task)  # recomputed on the shared rows with this bootstrap
        rows.append({"system": run.label, "what": run.description,
                     f"{primary} (dev)": run.dev_score, primary: m[primary]["value"],
                     "ci_low": m[primary]["ci"][0], "ci_high": m[primary]["ci"][1],
                     **{k: m[k] for k in keys}, "best single": run is best,
                     "difference vs best": None, "difference ci": "", "p (paired bootstrap)": None})
    rows.append({"system": f"ensemble ({method})", "what": f"{method} of {len(runs)} runs", f"{primary} (dev)": None,
                 primary: test[primary]["value"], "ci_low": test[primary]["ci"][0], "ci_high": test[primary]["ci"][1],
                 **{k: test[k] for k in keys}, "best single": False,
                 "difference vs best": vs_best["difference"],
                 "difference ci": f"[{vs_best['ci'][0]:.3f}, {vs_best['ci'][1]:.3f}]",
                 "p (paired bootstrap)": vs_best["p_value"]})
    return pd.DataFrame(rows)


def _plots(ctx: RunContext, combined: pd.DataFrame, test: dict[str, Any], task: str, summary: str) -> list[str]:
    from nk import plots

    title = f"ensemble: {summary}"
    if task == "classification":
        plots.plot_confusion_matrix(combined["truth"], combined["pred"], test["labels"],
                                    ctx.run_dir / "confusion_matrix.png", title=title)
        return ["confusion_matrix.png"]
    plots.plot_truth_vs_prediction(combined["truth"].astype(float), combined["pred"].astype(float),
                                   ctx.run_dir / "truth_vs_prediction.png", title=title)
    return ["truth_vs_prediction.png"]


def _report(ctx: RunContext, results: dict[str, Any], comparison: pd.DataFrame, runs: list[RunInput]) -> list[str]:
    from nk.report import (
        Figure,
        ReportDoc,
        Section,
        Table,
        environment_table,
        reproducibility_record,
        write_reports,
    )
    from nk.report.run import document_option

    primary, vs = results["primary"], results["versus_best_single"]
    best = results["best_single"]
    verdict = ("the difference may be chance" if vs["p_value"] >= 0.05 else
               ("the ensemble is better" if vs["difference"] > 0 else "the ensemble is worse"))
    text = "\n".join([
        f"{results['target']} ({results['task']}): the {results['method']} ensemble of {len(runs)} runs.",
        "",
        f"Method: {results['definition']}",
        "",
        f"Result on the shared test rows: {results['summary']}.",
        "",
        f"Against the best single run ({best['label']}, chosen on {best['chosen_on']}): difference in "
        f"{primary.upper()} {vs['difference']:+.3f}, {round(vs['ci_level'] * 100)} % CI "
        f"[{vs['ci'][0]:.3f}, {vs['ci'][1]:.3f}], p = {vs['p_value']:.3f} (paired bootstrap, "
        f"{vs['n_resamples']} resamples, {vs['ci_method'].replace('_', ' ')}): {verdict}.",
    ])
    shown = comparison.copy()
    shown["ci"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(shown.pop("ci_low"), shown.pop("ci_high"), strict=True)]
    inputs = "\n".join(f"- {r.label}: {r.description}, {r.path}" for r in runs)
    figure = "confusion_matrix.png" if results["task"] == "classification" else "truth_vs_prediction.png"
    doc = ReportDoc(
        title=document_option(ctx.cfg, "title") or f"nk ensemble: {results['method']}",
        author=document_option(ctx.cfg, "author"),
        subtitle=f"{results['target']} ({results['task']}); {results['summary']} on test",
        sections=[
            Section("Summary", text, tables=[Table("Input runs and the ensemble on the same test rows", shown,
                                                   note="CI: bootstrap interval of the primary metric. The last "
                                                        "columns compare the ensemble with the best single run "
                                                        "(paired bootstrap).")]),
            Section("Input runs", inputs),
            Section("Plots", figures=[Figure("The ensemble on the test rows.", ctx.run_dir / figure)]),
        ],
        metadata={"run folder": str(ctx.run_dir), **environment_table(reproducibility_record(ctx.pm, ctx.cfg))},
    )
    written = write_reports(doc, ctx.run_dir, pdf=document_option(ctx.cfg, "pdf", "auto"))
    return [p.name for k, p in written.items() if k != "log"]


__all__ = ["check_same_rows", "ensemble_command", "load_inputs", "resolve_run"]
