"""Built-in subcommand ``nk predict`` (its options: the ``prediction`` section) and the built-in
predictor ``run``, which labels the data with a model trained by ``nk run``.

``nk predict`` composes the config like ``nk run``, loads (and segments) the data, keeps the
rows of ``prediction.split``, runs the predictors selected in ``predict=[…]`` (:mod:`nk.predict`)
and writes, into ``<results_root>/<name>/<time>-predict/``:

- ``table.csv``: the data with the new columns, loadable again with ``data=csv`` (absolute
  ``file`` paths; ``start``/``end`` in seconds for segments);
- ``plots/<column>.png``: each new column's distribution (per class of the target);
- ``predict.json`` and ``report.html``: what was predicted, by which predictor, summaries.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl
from nk.registry import param

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

    from nk.cli import App
    from nk.context import RunContext
    from nk.registry import AddSection, Register

PREDICT_EPILOG = """\
examples:
  nk predict 'predict=[snr,mos,speaker]'            label the demo corpus
  nk predict predict=speaker predict.speaker.n_speakers=5 data=csv data.csv.path=db.csv
  nk predict predict=snr prediction.split=test       only the test rows
  nk predict predict=run predict.run.path=results/demo/2026-…   a model you trained
  nk explore 'predict=[snr]'                          predict and analyse in one command

The table (table.csv) loads again with `data=csv data.csv.path=<run>/table.csv`; the
predictors' values are cached like features (`nk cache list`).
"""


class PredictSplit(enum.Enum):
    all = "all"  # every row
    train = "train"  # the rows the configured split puts in train (and dev)
    test = "test"  # the rows the configured split puts in test


@dataclass
class PredictionConfig:
    """What ``nk predict`` does besides predicting (the ``prediction`` section of the config)."""

    split: PredictSplit = param(PredictSplit.all, help="rows to predict: all, or train (with dev) "
                                                        "or test of the configured split")
    plots: bool = param(True, help="a distribution plot per predicted column")
    report: bool = param(True, help="write report.html (and report.tex/.pdf) with nk.report")


@dataclass
class RunPredictorConfig:
    path: str = param("???", help="a finished `nk run` folder (or its model/ folder)")
    column: str | None = param(None, help="name of the output column's stem; None: the run's target "
                                          "(→ <target>_pred and <target>_proba.<class>)")


class RunPredictor:
    """Predicts with a model trained by ``nk run`` (:func:`nk.inference.load_run`); its features
    go through the feature cache, so a rerun only applies the model."""

    def __init__(self, *, path: str, column: str | None) -> None:
        self.path = path
        self.column = column
        self._loaded: Any = None

    def _model(self, ctx: RunContext | None = None) -> Any:
        if self._loaded is None:
            from nk.inference import load_run

            self._loaded = load_run(Path(self.path).expanduser(), pm=ctx.pm if ctx is not None else None,
                                    cache_dir=ctx.cache_dir if ctx is not None else None,
                                    console=ctx.console if ctx is not None else None)
        return self._loaded

    def _stem(self) -> str:
        return self.column or self._model().target

    def output_columns(self) -> dict[str, str]:
        from nk.predict import CATEGORY, FLOAT, SUFFIX, proba_column

        model = self._model()
        stem = self._stem()
        if model.task != "classification":
            return {f"{stem}{SUFFIX}": FLOAT}
        out = {f"{stem}{SUFFIX}": CATEGORY}
        if hasattr(model.model, "predict_proba"):
            out.update({proba_column(stem, c): FLOAT for c in model.labels or []})
        return out

    def predict(self, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
        from nk.predict import SUFFIX, proba_column

        model = self._model(ctx)
        stem = self._stem()
        out = model.predict_files(frame)
        renamed = {"pred": f"{stem}{SUFFIX}",
                   **{c: proba_column(stem, c.removeprefix("proba.")) for c in out.columns if c.startswith("proba.")}}
        out = out.rename(columns=renamed)
        columns = list(self.output_columns())
        return out[[c for c in columns if c in out.columns]]


@hookimpl
def nk_register_predictors(register: Register) -> None:
    register("run", RunPredictor, RunPredictorConfig,
             description="a model you trained with `nk run` (predict.run.path=<run folder>)")


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    add("prediction", PredictionConfig, help="what `nk predict` writes besides the predictions")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    cmd = subparsers.add_parser(
        "predict", help="label the data with predicted speaker/signal characteristics (SNR, MOS, speaker …)",
        epilog=PREDICT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compose a config from overrides (Hydra syntax, as for `nk run`), run the "
                    "predictors chosen with predict=[…] over the data and write the table with the "
                    "new <target>_pred columns, a plot per column and a short report.",
    )
    cmd.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    cmd.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    from nk.builtin.ini_command import add_config_option

    add_config_option(cmd)
    cmd.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace, app: App) -> int:
    from omegaconf import OmegaConf

    from nk.builtin.ini_command import command_config
    from nk.config import selected
    from nk.errors import UserError
    from nk.results import new_run_dir

    cfg = command_config(args, app, "predict")
    if args.cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    if not selected(cfg, "predict"):
        raise UserError("nk predict needs at least one predictor", where="config group predict",
                        allowed=", ".join(app.pm.registry.names("predict")) or "none installed",
                        todo="choose some, e.g. nk predict 'predict=[snr,speaker]'")
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="predict")
    app.console.print(f"[bold]nk predict[/] {cfg.name} → {run_dir}", highlight=False)
    result = run_predict(cfg, app.pm, run_dir, app.console)
    for column, info in result["columns"].items():
        app.console.print(f"  {column}: {info['summary']}", highlight=False)
    app.console.print(f"Table: [bold]{result['table']}[/] ({result['rows']} rows)", highlight=False)
    return 0


def run_predict(cfg: DictConfig, pm: Any, run_dir: Path, console: Any) -> dict[str, Any]:
    """Predict into ``run_dir``; returns the content of ``predict.json``."""
    from nk.pipeline import run_in_folder

    return run_in_folder(cfg, pm, run_dir, console, "predict", _body)


def _body(ctx: RunContext) -> dict[str, Any]:
    from nk import __version__, stages
    from nk.config import as_enum
    from nk.predict import predict
    from nk.results import write_json

    pcfg = ctx.cfg.prediction
    timing: dict[str, float] = {}
    loaded = stages.load(ctx, timing=timing)
    frame = stages.segment(ctx, loaded.frame, timing=timing)
    which = as_enum(pcfg.split, PredictSplit)
    if which is not PredictSplit.all:
        folds = stages.split(ctx, frame, loaded.target, loaded.task, timing=timing).folds
        split = folds[0].split.reindex(frame.index)
        keep = split.isin(["train", "dev"]) if which is PredictSplit.train else split == "test"
        frame = frame[keep.to_numpy()].assign(split=split[keep].to_numpy())
    predicted = predict(ctx, frame, timing=timing)
    table = ctx.run_dir / "table.csv"
    write_table(predicted.frame, table)
    columns = {}
    for column, info in predicted.columns.items():
        columns[column] = {**info, "summary": summary(predicted.frame[column], info["kind"])}
    result: dict[str, Any] = {
        "nk_version": __version__, "name": str(ctx.cfg.name), "run_dir": str(ctx.run_dir),
        "target": loaded.target, "task": loaded.task, "rows": len(predicted.frame), "split": which.value,
        "table": str(table), "columns": columns, "seconds": predicted.seconds, "timing": timing,
    }
    plots = _plots(ctx, predicted.frame, predicted.columns, loaded.target, loaded.task) if pcfg.plots else []
    result["plots"] = [str(p.relative_to(ctx.run_dir)) for p in plots]
    if pcfg.report:
        result["report"] = _report(ctx, result, plots)
    write_json(ctx.run_dir / "predict.json", result)
    return result


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """The corpus as a CSV that ``data=csv`` loads: ``file`` (absolute), ``start``/``end``
    seconds for segments, then every column."""
    import pandas as pd

    from nk.fsutil import atomic_write_text

    out = frame.copy()
    if isinstance(out.index, pd.MultiIndex):
        files = out.index.get_level_values("file").astype(str)
        start = out.index.get_level_values("start").total_seconds()
        end = out.index.get_level_values("end").total_seconds()
        out = out.reset_index(drop=True)
        out.insert(0, "end", end)
        out.insert(0, "start", start)
        out.insert(0, "file", files)
    else:
        out = out.reset_index(drop=False).rename(columns={out.index.name or "index": "file"})
    out = out.drop(columns=[c for c in ("duration",) if c in out.columns])
    atomic_write_text(path, out.to_csv(index=False))


def summary(values: pd.Series, kind: str) -> str:
    """One line about a predicted column (the console and the report)."""
    if kind == "float":
        v = values.astype(float)
        return f"mean {v.mean():.3g}, sd {v.std(ddof=1):.3g}, range {v.min():.3g} … {v.max():.3g}"
    counts = values.astype(str).value_counts()
    shown = ", ".join(f"{k}: {n}" for k, n in counts.head(8).items())
    return f"{len(counts)} values ({shown}{' …' if len(counts) > 8 else ''})"


def _plots(ctx: RunContext, frame: pd.DataFrame, columns: dict[str, dict[str, Any]], target: str,
           task: str) -> list[Path]:
    import pandas as pd

    from nk.explore import safe_name
    from nk.explore.plots import PlotJob, render

    folder = ctx.run_dir / "plots"
    folder.mkdir(exist_ok=True)
    classes = target in frame.columns and task == "classification"
    labels = frame[target].astype(str) if classes else None
    files: list[Path] = []
    for column, info in columns.items():
        if ".proba" in column.replace("_proba.", ".proba"):  # probabilities: the label's plot suffices
            continue
        if info["kind"] == "float":
            values = frame[column].to_numpy(dtype=float)
            groups = ({c: values[(labels == c).to_numpy()] for c in sorted(labels.unique())}
                      if labels is not None else None)
            job = PlotJob("continuous", f"pred_{safe_name(column)}", dict(
                title=f"{column} (estimated by {info['predictor']})", column=column, values=values,
                groups=groups, target=target if groups is not None else None, per_speaker=None,
                kind="violin", target_values=None), column)
        else:
            values = frame[column].astype(str)
            counts = (pd.crosstab(values, labels) if labels is not None else values.value_counts().to_frame("rows"))
            order = values.value_counts().index[:40]
            job = PlotJob("stacked_counts", f"pred_{safe_name(column)}", dict(
                title=f"{column} (estimated by {info['predictor']})", samples=counts.loc[order], speakers=None,
                column=column, target=target if labels is not None else None), column)
        files += [p for p in render(job, folder, ["png"], 100) if p.suffix == ".png"]
    return files


def _report(ctx: RunContext, result: dict[str, Any], plots: list[Path]) -> dict[str, str]:
    import pandas as pd

    from nk.report import Figure, ReportDoc, Section, Table, write_reports
    from nk.report.run import document_option

    table = pd.DataFrame([{"column": c, "predictor": i["predictor"], "provider": f"{i['provider']} {i['version']}",
                           "kind": i["kind"], "summary": i["summary"]} for c, i in result["columns"].items()])
    text = (f"{result['rows']} rows of {result['name']} ({'every row' if result['split'] == 'all' else result['split'] + ' rows'}) "
            f"were labelled by {', '.join(sorted(result['seconds']))}. Every predicted column is an "
            f"estimate, not a label: treat it as such in analyses (nk explore marks it as estimated).\n\n"
            f"The table with the new columns is table.csv; load it again with "
            f"data=csv data.csv.path={result['table']}.")
    doc = ReportDoc(title=f"nk predict: {result['name']}", author=None, sections=[
        Section("Predicted columns", text, tables=[Table("Predicted columns", table)],
                figures=[Figure(f"Distribution of {p.stem.removeprefix('pred_')}", p) for p in plots]),
    ])
    written = write_reports(doc, ctx.run_dir, stem="report", pdf=document_option(ctx.cfg, "pdf", "auto"))
    return {k: str(Path(v).relative_to(ctx.run_dir)) for k, v in written.items()}
