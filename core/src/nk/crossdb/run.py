"""``nk crossdb``: a cross-corpus experiment over the databases of ``data=[a,b,c]``.

- **matrix** (train on one, test on each): for each database A, the model is fitted on A's
  train split (A's dev split for any choice on dev) and tested on A's test split (the
  diagonal: within-database) and on *every* row of each other database B (off-diagonal).
  One model per row of the matrix.
- **lodo** (leave one database out): for each database B, the model is fitted on all the
  other databases — their train and test rows train it, their dev rows are the dev split, so
  dev comes from the training databases only — and tested on every row of B.

The splits inside each database are nk's (``split.method``, default: speaker-independent),
made database by database. Speaker ids are prefixed with the database's name
(``emodb:emodb_03``), so a speaker can never be on both sides of a cross-database cell: the
overlap is impossible by construction, and the report says so. Features are extracted once
for all rows through the feature cache (a database already extracted by ``nk run`` is read
from it). Each cell's primary metric (UAR or CCC) carries its bootstrap CI over the test
database's speakers (:func:`nk.fit.evaluate`).

Writes into the run folder: ``crossdb.csv`` (one row per cell), ``matrix.csv`` (the values),
``heatmap.png``, ``crossdb.json`` and ``report.html``/``.tex``/``.pdf``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nk.config import SplitMethod, as_enum
from nk.crossdb.config import CrossMode
from nk.errors import UserError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from nk.cli import App
    from nk.context import RunContext

LODO = "all but"
"""The train label of a leave-one-database-out cell: ``all but emodb``."""


def crossdb_command(overrides: list[str], app: App, *, show_cfg: bool) -> int:
    from omegaconf import OmegaConf

    from nk.config import compose
    from nk.report import check_pdf_possible
    from nk.report.run import document_option
    from nk.results import new_run_dir

    cfg = compose(overrides, app.pm)
    check_pdf_possible(document_option(cfg, "pdf", "auto"))
    if show_cfg:
        app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    if len(cfg.data) < 2:
        raise UserError(f"nk crossdb needs at least two databases; the config selects {list(cfg.data)}",
                        where="config group data", todo="select several, e.g. 'data=[emodb,ravdess,cremad]'")
    run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name), label="crossdb")
    app.console.print(f"[bold]nk crossdb[/] {cfg.name} → {run_dir}", highlight=False)
    result = run_crossdb(cfg, app.pm, run_dir, app.console)
    _print_summary(result, app.console)
    return 0


def run_crossdb(cfg: DictConfig, pm: Any, run_dir: Path, console: Any) -> dict[str, Any]:
    """Run the cross-database experiment into ``run_dir``; returns the content of crossdb.json."""
    from nk.pipeline import run_in_folder

    return run_in_folder(cfg, pm, run_dir, console, "crossdb", _body)


def prefix_speakers(frame: pd.DataFrame) -> pd.DataFrame:
    """``speaker`` becomes ``<db>:<speaker>``: two databases can never share a speaker id."""
    if "speaker" not in frame.columns:
        return frame
    speaker = frame["speaker"]
    prefixed = frame["db"].astype(str) + ":" + speaker.astype(str)
    return frame.assign(speaker=prefixed.where(speaker.notna(), None))


def _body(ctx: RunContext) -> dict[str, Any]:
    from nk import fit, stages
    from nk.results import write_json

    cfg = ctx.cfg
    mode = as_enum(cfg.crossdb.mode, CrossMode)
    timing: dict[str, float] = {}
    learner: list[fit.Learner] = []

    def what_the_model_does() -> str | None:
        learner.append(fit.Learner.from_config(ctx))
        return fit.model_task(learner[0].probe)

    loaded = stages.load(ctx, what_the_model_does, timing=timing)
    target, task = loaded.target, loaded.task
    frame = prefix_speakers(loaded.frame)
    frame = stages.segment(ctx, frame, timing=timing)
    names = [str(n) for n in cfg.data]
    present = set(frame["db"].unique())
    empty = [n for n in names if n not in present]
    if empty:
        raise UserError(f"After loading and filtering, the databases {empty} have no rows",
                        todo="check their filters and labels=")
    within = _within_splits(ctx, frame, target, task, names)
    model = learner[0] if learner else fit.Learner.from_config(ctx)
    fit.check_model_task(ctx, model, task)
    fit.check_options(ctx, model, task)
    inputs, frame, within = _inputs(ctx, model, frame, within, timing)

    cells: list[dict[str, Any]] = []
    fit_timing = {"scale": 0.0, "fit": 0.0, "predict": 0.0}
    candidates = fit.search_grid(ctx, model)
    db = frame["db"].astype(str).to_numpy()
    t = time.perf_counter()
    if mode in (CrossMode.matrix, CrossMode.both):
        for train in names:
            split = np.where(db == train, within.to_numpy(), "test")
            cells += _fit_and_score(ctx, frame, inputs, target, task, model, candidates, fit_timing, split,
                                    train_label=train, tests=names, own=train)
    if mode in (CrossMode.lodo, CrossMode.both):
        for held_out in names:
            inner = within.replace({"test": "train"}).to_numpy()
            split = np.where(db == held_out, "test", inner)
            cells += _fit_and_score(ctx, frame, inputs, target, task, model, candidates, fit_timing, split,
                                    train_label=f"{LODO} {held_out}", tests=[held_out], own=None)
    stages.stage_end(ctx, "fit", time.perf_counter() - t, timing, model=model.name, cells=len(cells))

    t = time.perf_counter()
    table = pd.DataFrame(cells)
    table.to_csv(ctx.run_dir / "crossdb.csv", index=False)
    matrix = table.pivot(index="train", columns="test", values="value")
    row_order = [n for n in names if n in matrix.index] + [f"{LODO} {n}" for n in names if f"{LODO} {n}" in matrix.index]
    matrix = matrix.reindex(index=row_order, columns=names)
    matrix.to_csv(ctx.run_dir / "matrix.csv")
    primary = str(table["metric"].iloc[0])
    level = float(cfg.bootstrap.level)
    heatmap = plot_heatmap(table, row_order, names, ctx.run_dir / "heatmap.png", metric=primary, level=level)
    summary = _database_summary(frame, target, task, within, names)
    result = {
        "name": cfg.name, "target": target, "task": task, "primary": primary, "mode": mode.value,
        "databases": names, "model": model.name, "features": [n for n, _ in _selected(cfg, "feats")],
        "speaker_overlap": "impossible by construction: speaker ids are prefixed with their database's name",
        "cells": cells, "summary": summary, "timing": timing,
    }
    from nk.report import reproducibility_record

    result["environment"] = reproducibility_record(ctx.pm, cfg)
    paths = _report(ctx, result, table, matrix, heatmap)
    result["artefacts"] = sorted(["crossdb.csv", "matrix.csv", "heatmap.png", "crossdb.json", "config.yaml",
                                  "nk.log", *[p.name for p in paths]])
    write_json(ctx.run_dir / "crossdb.json", result)
    stages.stage_end(ctx, "report", time.perf_counter() - t, timing)
    return result


def _selected(cfg: Any, group: str) -> list[tuple[str, dict[str, Any]]]:
    from nk.config import selected

    return selected(cfg, group)


def _within_splits(ctx: RunContext, frame: pd.DataFrame, target: str, task: str, names: list[str]) -> pd.Series:
    """Each database's own train/dev/test split (``split.method``), made database by database."""
    from nk import stages

    parts = []
    for name in names:
        sub = frame[frame["db"] == name]
        folds = stages.split(ctx, sub, target, task, show_summary=False).folds
        if len(folds) > 1:
            raise UserError(f"nk crossdb splits each database once; split.method={ctx.cfg.split.method} makes "
                            f"{len(folds)} folds", where="config key split.method",
                            allowed="speaker, balanced, random, given",
                            todo="choose a plain split (the default, speaker) for nk crossdb")
        parts.append(folds[0].split)
    return pd.concat(parts).reindex(frame.index)


def _inputs(ctx: RunContext, model: Any, frame: pd.DataFrame, within: pd.Series, timing: dict[str, float],
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    from nk import stages
    from nk.config import MissingPolicy
    from nk.preprocess import handle_missing

    if model.input == "audio":
        return stages.audio_rows(frame, int(ctx.cfg.sampling_rate)), frame, within
    features = stages.featurize(ctx, frame, timing=timing)  # every row once, through the cache
    features, _ = handle_missing(features, as_enum(ctx.cfg.missing, MissingPolicy), ctx.log)
    if len(features) < len(frame):
        frame = frame.loc[features.index]
        within = within.loc[features.index]
    return features, frame, within


def _fit_and_score(ctx: RunContext, frame: pd.DataFrame, inputs: pd.DataFrame, target: str, task: str,
                   model: Any, candidates: list[dict[str, Any]], timing: dict[str, float], split: np.ndarray,
                   *, train_label: str, tests: list[str], own: str | None) -> list[dict[str, Any]]:
    """Fit one model on the rows marked train (choosing on dev) and score each test database."""
    from nk import fit
    from nk.splits import Fold

    fold = Fold(train_label, pd.Series(split, index=frame.index))
    if not (split == "train").any():
        raise UserError(f"No training rows for {train_label!r}", todo="check the databases' splits and roles")
    result = fit.fit_fold(ctx, fold, frame, inputs, target, task, model, candidates, timing)
    pred = result.predictions.get("test")
    cells = []
    train_rows = frame[split == "train"]
    train_labels = set(train_rows[target].astype(str)) if task == "classification" else set()
    for test in tests:
        part = pred[frame.loc[pred.index, "db"] == test] if pred is not None else None
        if part is None or part.empty:
            ctx.log.info("crossdb: %s has no test rows for %s (no test split)", test, train_label)
            continue
        metrics = fit.evaluate(ctx, part, frame, task)
        primary = metrics["primary"]
        entry = metrics[primary]
        unseen = sorted(set(part["truth"].astype(str)) - train_labels) if task == "classification" else []
        cells.append({
            "train": train_label, "test": test,
            "kind": "within" if test == own else ("lodo" if own is None else "cross"),
            "metric": primary, "value": entry["value"],
            "ci_low": entry.get("ci", [np.nan, np.nan])[0], "ci_high": entry.get("ci", [np.nan, np.nan])[1],
            "ci_method": entry.get("ci_method"), "n_test": len(part),
            "n_test_speakers": entry.get("n_speakers"), "n_train": int(result.n_train),
            "unseen_labels": ";".join(unseen),
        })
    return cells


def _database_summary(frame: pd.DataFrame, target: str, task: str, within: pd.Series,
                      names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        rows = frame["db"] == name
        sub = frame[rows]
        entry: dict[str, Any] = {"database": name, "rows": int(rows.sum()),
                                 "speakers": int(sub["speaker"].nunique()) if "speaker" in sub.columns else None}
        for part in ("train", "dev", "test"):
            entry[part] = int((within[rows] == part).sum())
        if task == "classification":
            entry["labels"] = ", ".join(f"{k} {v}" for k, v in sub[target].astype(str).value_counts().sort_index().items())
        out.append(entry)
    return out


def plot_heatmap(table: pd.DataFrame, rows: list[str], columns: list[str], path: Path, *, metric: str,
                 level: float) -> Path:
    """The matrix as a heatmap: each cell's value and its CI; leave-one-out rows below a line."""
    from matplotlib.figure import Figure

    from nk.plots import save_figure

    values = np.full((len(rows), len(columns)), np.nan)
    labels = [["" for _ in columns] for _ in rows]
    for cell in table.itertuples():
        i, j = rows.index(str(cell.train)), columns.index(str(cell.test))
        values[i, j] = cell.value
        ci = "" if pd.isna(cell.ci_low) else f"\n[{cell.ci_low:.2f}, {cell.ci_high:.2f}]"
        labels[i][j] = f"{cell.value:.2f}{ci}"
    fig = Figure(figsize=(1.6 + 1.5 * len(columns), 1.2 + 0.8 * len(rows)))
    ax = fig.add_subplot()
    low, high = (0.0, 1.0) if metric in ("uar", "accuracy") else (-1.0, 1.0)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=low, vmax=high, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            if labels[i][j]:
                dark = values[i, j] < low + 0.6 * (high - low)
                ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [f"train: {r}" for r in rows])
    ax.set_xlabel("test database")
    lodo_rows = [i for i, r in enumerate(rows) if r.startswith(LODO)]
    if lodo_rows and lodo_rows[0] > 0:
        ax.axhline(lodo_rows[0] - 0.5, color="white", linewidth=3)
    fig.colorbar(image, ax=ax, label=metric.upper())
    ax.set_title(f"{metric.upper()} with {round(level * 100)} % CI", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    return path


def _report(ctx: RunContext, result: dict[str, Any], table: pd.DataFrame, matrix: pd.DataFrame,
            heatmap: Path) -> list[Path]:
    from datetime import datetime

    from nk.report import Figure, ReportDoc, Section, Table, environment_table, write_reports
    from nk.report.run import document_option

    cfg = ctx.cfg
    primary = result["primary"].upper()
    level = round(float(cfg.bootstrap.level) * 100)
    cells = table.assign(**{f"{level}% CI": [("" if pd.isna(lo) else f"[{lo:.3f}, {hi:.3f}]")
                                             for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)]})
    shown = cells[["train", "test", "kind", "value", f"{level}% CI", "ci_method", "n_test", "n_train",
                   "unseen_labels"]].rename(columns={"value": primary})
    unseen = table[table["unseen_labels"] != ""]
    text = [
        f"{len(result['databases'])} databases ({', '.join(result['databases'])}), target {result['target']} "
        f"({result['task']}), features {' + '.join(result['features']) or 'none (the model takes audio)'}, "
        f"model {result['model']}.",
        "",
        "- train on one, test on each: the model is fitted on the train split of the row's database; the "
        "diagonal is tested on that database's own test split, the other cells on every row of the column's "
        "database." if result["mode"] in ("matrix", "both") else "",
        "- leave one database out (rows 'all but X'): fitted on every other database (their dev splits are "
        "the dev data), tested on every row of X." if result["mode"] in ("lodo", "both") else "",
        "",
        "Speaker overlap between databases is impossible by construction: speaker ids are prefixed with "
        "their database's name, and each database's own split is speaker-independent "
        f"(split.method={as_enum(cfg.split.method, SplitMethod).value}).",
    ]
    if len(unseen):
        text += ["", f"{len(unseen)} cells test classes the model never saw in training (column unseen_labels): "
                 "their recall is 0 by definition; restrict the classes with labels=[...] to compare like "
                 "with like."]
    methods = set(table["ci_method"].dropna()) - {"speaker"}
    if methods:
        text += ["", "Some intervals are not over speakers (fewer than bootstrap.min_speakers speakers in the "
                 "test database, or no speaker ids): they cover only other recordings of the same speakers."]
    doc = ReportDoc(
        title=document_option(cfg, "title") or f"nk crossdb: {cfg.name}",
        author=document_option(cfg, "author"),
        subtitle=f"{primary} of every train/test pair of databases",
        sections=[
            Section("Cross-database matrix", "\n".join(text).replace("\n\n\n", "\n\n"),
                    tables=[Table(f"{primary} per train (rows) and test (columns) database", matrix.round(3),
                                  note="Also in matrix.csv; every cell with its CI in crossdb.csv.")],
                    figures=[Figure(f"{primary} with its {level} % bootstrap CI; rows below the white line "
                                    "leave one database out.", heatmap)]),
            Section("Cells", "One row per trained model and test database.",
                    tables=[Table("Every cell", shown, note=f"CI: {level} % bootstrap over the test database's "
                                  "speakers (ci_method).")]),
            Section("Databases", "Rows, speakers and the within-database split of each database.",
                    tables=[Table("Databases", pd.DataFrame(result["summary"]))]),
        ],
        metadata={"created": datetime.now().astimezone().isoformat(timespec="seconds"),
                  "run folder": str(ctx.run_dir), **environment_table(result["environment"])},
    )
    return list(write_reports(doc, ctx.run_dir, stem="report", pdf=document_option(cfg, "pdf", "auto")).values())


def _print_summary(result: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    cells = pd.DataFrame(result["cells"])
    table = Table(title=f"{result['name']}: {result['primary'].upper()} (rows: trained on; columns: tested on)",
                  title_justify="left")
    table.add_column("train")
    for name in result["databases"]:
        table.add_column(name, justify="right")
    for train in dict.fromkeys(cells["train"]):
        row = cells[cells["train"] == train].set_index("test")
        table.add_row(str(train), *[f"{row.loc[n, 'value']:.3f}" if n in row.index else "" for n in result["databases"]])
    console.print(table)
    console.print(f"Speaker overlap between the databases: {result['speaker_overlap']}.", highlight=False)


__all__ = ["LODO", "crossdb_command", "plot_heatmap", "prefix_speakers", "run_crossdb"]
