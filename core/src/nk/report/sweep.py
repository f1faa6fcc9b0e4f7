"""The report of an ``nk run -m`` sweep: the runs ranked by the primary metric, with CIs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    import pandas as pd

PLOT_NAME = "sweep_ranking.png"
FACTORS_PLOT = "sweep_factors.png"
CHOOSING = {"dev": "dev", "inner_cv": "inner CV on train"}
"""The ``ranked_on`` values a setting may be chosen by, and how the console and report say them."""


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(overrides common to every run, each run's own overrides), from "a=1 b=2" strings."""
    tokens = [str(o).split() for o in overrides]
    common = [t for t in tokens[0] if all(t in other for other in tokens[1:])] if len(tokens) > 1 else []
    return common, [" ".join(t for t in run if t not in common) or "defaults" for run in tokens]


def rank_runs(results: list[dict[str, Any]], jobs: list[list[str]], sweep_dir: Path) -> pd.DataFrame:
    """The runs of a sweep ranked by their primary metric on **dev** when every run has a dev
    split, else by the inner cross-validation on train when every run has one
    (``search.inner_folds``), else on test (``ranked_on`` says which; a test ranking must not be
    used to choose).

    One row per run: ``rank, overrides, primary, ranked_on, value, ci_low, ci_high, ci_method,
    run_dir``, where ``value`` and the CI are on ``ranked_on``, then the paired tests of each run
    against rank 1 on the same rows of ``ranked_on`` (:data:`nk.significance.COLUMNS`: the
    difference best − run with its interval, one-sided bootstrap and McNemar p-values, raw and
    Holm-adjusted, ``not_worse`` and ``significance_note``; see :mod:`nk.significance`). Test scores are not columns of a dev
    ranking: the report quotes test once, for the chosen run (:func:`chosen_run`). Ties keep the
    order of the runs.
    """
    import pandas as pd

    on = "dev" if results and all(r.get("dev") for r in results) else \
        "inner_cv" if results and all(r.get("inner_cv") for r in results) else "test"
    rows = []
    for job, r in zip(jobs, results, strict=True):
        primary = r["primary"]
        entry = r[on][primary]
        rows.append({
            "overrides": " ".join(job),
            "primary": primary,
            "ranked_on": on,
            "value": entry["value"],
            "ci_low": entry["ci"][0],
            "ci_high": entry["ci"][1],
            "ci_method": entry.get("ci_method", entry.get("ci_unit")),
            "run_dir": str(Path(r["run_dir"]).relative_to(sweep_dir)),
        })
    ranking = pd.DataFrame(rows).sort_values("value", ascending=False, kind="stable")
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    from nk.significance import add_significance

    return add_significance(ranking.reset_index(drop=True), results, sweep_dir)


def significance_cells(ranking: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The significance columns of the printed ranking: headers and one row of cells per run."""
    import math

    from nk.significance import marks

    if "not_worse" not in ranking:
        return [], [[] for _ in range(len(ranking))]
    classification = ranking["p_mcnemar"].notna().any()
    headers = ["Δ vs best", "p (Holm)", *(["p McNemar (Holm)"] if classification else []), "vs best"]

    def num(value: Any, fmt: str) -> str:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)

    cells = []
    for (_, r), mark in zip(ranking.iterrows(), marks(ranking), strict=True):
        row = [num(-r["vs_best_difference"] if mark != "best" else None, "+.3f"), num(r["p_bootstrap_holm"], ".3f")]
        if classification:
            row.append(num(r["p_mcnemar_holm"], ".3f"))
        cells.append([*row, mark])
    return headers, cells


def chosen_run(ranking: pd.DataFrame, results: list[dict[str, Any]], sweep_dir: Path) -> dict[str, Any] | None:
    """The run a dev (or inner-CV) ranking chooses, with its test score: ``{"overrides", "run_dir",
    "dev", "test", "on"}`` (``dev``: the entry it was chosen by, ``on``: in words); None for a test
    ranking, which chooses nothing."""
    if ranking.empty or ranking["ranked_on"].iloc[0] not in CHOOSING:
        return None
    top = ranking.iloc[0]
    on = str(top["ranked_on"])
    by_dir = {str(Path(r["run_dir"]).relative_to(sweep_dir)): r for r in results}
    r = by_dir[str(top["run_dir"])]
    primary = r["primary"]
    return {"overrides": str(top["overrides"]), "run_dir": str(top["run_dir"]), "primary": primary,
            "dev": r[on][primary], "test": r["test"][primary], "on": CHOOSING[on]}


def ranking_caveat(ranking: pd.DataFrame, results: list[dict[str, Any]]) -> str | None:
    """Why a ranking must not be used to choose (it is on test), or None for a dev ranking."""
    if ranking.empty or ranking["ranked_on"].iloc[0] in CHOOSING:
        return None
    some = [r for r in results if r.get("dev")]
    why = ("not every run has a dev split" if some else "the runs have no dev split")
    return (f"This ranking is on the test data because {why}. Do not use it to choose a setting: a "
            "setting picked by its test score looks better than it is (the test data would then have "
            "been used for model selection). Add a dev split (e.g. split.dev_size=0.25) to rank and "
            "choose on dev.")


def plot_order(ranking: pd.DataFrame) -> pd.DataFrame:
    """The rows of the ranking plot from bottom to top: by rank, so that the plot reads like the
    table even when values tie (rank 1 at the top)."""
    return ranking.sort_values("rank", ascending=False, kind="stable")


def plot_ranking(ranking: pd.DataFrame, path: Path, *, metric: str, level: int,
                 chance: float | None = None) -> Path:
    """Horizontal error bars: each run's metric with its CI, rank 1 at the top (the table's order)."""
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    from nk.plots import save_figure

    on = str(ranking["ranked_on"].iloc[0]) if "ranked_on" in ranking else "test"
    order = plot_order(ranking)
    labels = [f"{int(r['rank'])}. {_short(str(r['overrides']) or 'defaults')}" for _, r in order.iterrows()]
    values = order["value"].to_numpy(dtype=float)
    err = np.vstack([values - order["ci_low"].to_numpy(dtype=float),
                     order["ci_high"].to_numpy(dtype=float) - values]).clip(min=0)
    y = np.arange(len(order))
    fig = MplFigure(figsize=(8.0, 1.2 + 0.42 * len(order)), layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(values, y, xerr=err, fmt="o", color="#1f5fa8", ecolor="#6b8fbf", elinewidth=2, capsize=4,
                markersize=6)
    if chance is not None:
        ax.axvline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance ({chance:.3f})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel(f"{metric.upper()} on {on}, with {level} % confidence interval")
    ax.grid(axis="x", alpha=0.3)
    title = f"{len(order)} runs ranked by {metric.upper()} on {on}"
    if on == "test":
        title += " (no dev split: not for choosing a setting)"
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)
    return path


def swept_factors(overrides: list[str]) -> dict[str, list[str]]:
    """The overrides that vary between runs, as ``{key: each run's value}`` ('' where a run does
    not set the key), e.g. ``{"model": ["svm", "knn"], "feats": ["os", "os"]}`` → only model."""
    parsed = []
    for text in overrides:
        items = {}
        for token in str(text).split():
            key, _, value = token.partition("=")
            items[key.lstrip("+~")] = value
        parsed.append(items)
    keys = list(dict.fromkeys(k for items in parsed for k in items))
    factors = {k: [items.get(k, "") for items in parsed] for k in keys}
    return {k: v for k, v in factors.items() if len(set(v)) > 1}


def _numeric(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def plot_factors(ranking: pd.DataFrame, path: Path, *, metric: str, level: int) -> Path | None:
    """The primary metric (with its CI) by each swept factor, one panel per factor; the runs of a
    panel are coloured by the other factors' values (e.g. UAR by model, one colour per feature
    set). Numeric factors (e.g. model.C of a search) get a numeric axis, logarithmic when their
    values span more than two decades. None when no factor varies."""
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    from nk.plots import save_figure

    factors = swept_factors(list(ranking["overrides"]))
    if not factors:
        return None
    on = str(ranking["ranked_on"].iloc[0])
    values = ranking["value"].to_numpy(dtype=float)
    err = np.vstack([values - ranking["ci_low"].to_numpy(dtype=float),
                     ranking["ci_high"].to_numpy(dtype=float) - values]).clip(min=0)
    fig = MplFigure(figsize=(min(4.2 * len(factors), 12.0), 3.6), layout="constrained")
    axes = fig.subplots(1, len(factors), squeeze=False)[0]
    colours = ["#1f5fa8", "#d9822b", "#2a9d5c", "#b23b3b", "#7b4fa0", "#6b6b6b", "#c9a227", "#3aa6b8"]
    for ax, (key, levels) in zip(axes, factors.items(), strict=True):
        others = [k for k in factors if k != key]
        groups = [" ".join(f"{k}={factors[k][i]}" for k in others) for i in range(len(levels))]
        group_names = list(dict.fromkeys(groups))
        numeric = _numeric(levels)
        if numeric is not None:
            x = np.asarray(numeric)
            positive = x[x > 0]
            if len(positive) == len(x) and x.max() / x.min() > 100:
                ax.set_xscale("log")
        else:
            names = list(dict.fromkeys(levels))
            width = 0.6 / max(len(group_names), 1)
            x = np.array([names.index(v) + (group_names.index(g) - (len(group_names) - 1) / 2) * width
                          for v, g in zip(levels, groups, strict=True)])
            ax.set_xticks(range(len(names)), [_short(n, 18) for n in names], rotation=20 if len(names) > 4 else 0,
                          fontsize=8)
        for j, name in enumerate(group_names):
            mask = np.array([g == name for g in groups])
            ax.errorbar(x[mask], values[mask], yerr=err[:, mask], fmt="o", color=colours[j % len(colours)],
                        ecolor=colours[j % len(colours)], elinewidth=1.5, capsize=3, markersize=5,
                        label=_short(name, 30) if name else None)
        ax.set_xlabel(key)
        ax.grid(axis="y", alpha=0.3)
        if others and len(group_names) <= 8:
            ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel(f"{metric.upper()} on {on} ({level} % CI)")
    fig.suptitle(f"{metric.upper()} on {on} by swept setting", fontsize=10)
    save_figure(fig, path)
    return path


HISTORY_PLOT = "search_history.png"


def plot_history(search: dict[str, Any], path: Path, *, metric: str) -> Path:
    """A search's objective per trial (points) and the best so far (a step line)."""
    import numpy as np
    from matplotlib.figure import Figure as MplFigure

    from nk.plots import save_figure

    trials = search["trials"]
    x = np.array([t["number"] + 1 for t in trials])
    y = np.array([t["value"] for t in trials], dtype=float)
    best = np.array([t["best_so_far"] for t in trials], dtype=float)
    fig = MplFigure(figsize=(7.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(x, y, "o", color="#1f5fa8", label="trial")
    ax.step(x, best, where="post", color="#d9822b", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric.upper()} ({search['objective']})")
    ax.set_xticks(x if len(x) <= 20 else np.linspace(1, len(x), 10).round())
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{search['sweeper']} search: {len(trials)} trials ({search['sampler']}, seed {search['seed']})",
                 fontsize=10)
    save_figure(fig, path)
    return path


def search_section(search: dict[str, Any], sweep_dir: Path, primary: str) -> Section:
    """The report section of a hyperparameter search: space, history plot and table, the choice."""
    import pandas as pd

    plot = plot_history(search, sweep_dir / HISTORY_PLOT, metric=primary)
    best = search["best"]
    space = "; ".join(f"{k} = {v}" for k, v in search["space"].items())
    text = (f"{len(search['trials'])} trials of the {search['sweeper']} sweeper ({search['sampler']}, seed "
            f"{search['seed']}) {search['direction']} {primary.upper()} on {search['objective']}; the test "
            f"split is never read to choose. Search space: {space}. Best trial: {best['number'] + 1} "
            f"({', '.join(f'{k}={v}' for k, v in best['params'].items())}) with {primary.upper()} "
            f"{best['value']:.3f}; its test score is quoted once, in the ranking above.")
    table = pd.DataFrame([{"trial": t["number"] + 1, **{k: v for k, v in t["params"].items()},
                           f"{primary.upper()} ({search['objective']})": t["value"],
                           "best so far": t["best_so_far"], "run folder": t["run_dir"]} for t in search["trials"]])
    return Section("Search", text, tables=[Table("The trials in order", table, note="Also in search.json.")],
                   figures=[Figure("The objective of each trial and the best so far.", plot)])


def sweep_record(results: list[dict[str, Any]], pm: Any, cfg: Any) -> dict[str, Any]:
    """One reproducibility record for the sweep: every run's components and libraries, and the
    seed (or the seeds, when the sweep varies it)."""
    record = reproducibility_record(pm, cfg)
    seeds = []
    for r in results:
        env = r.get("environment") or {}
        record["components"].update(env.get("components", {}))
        for dist, version in env.get("libraries", {}).items():
            record["libraries"].setdefault(dist, version)
        if env.get("seed") is not None and env["seed"] not in seeds:
            seeds.append(env["seed"])
    if len(seeds) > 1:
        record["seed"] = ", ".join(str(seed) for seed in seeds) + " (varies between runs)"
    return record


def build_sweep_doc(sweep_dir: Path, ranking: pd.DataFrame, results: list[dict[str, Any]], cfg: Any,
                    pm: Any, search: dict[str, Any] | None = None) -> ReportDoc:
    """The sweep report from the ranking (as in ranking.csv) and every run's results; ``search``
    (a hyperparameter search's record, :mod:`nk.search`) adds its history."""
    import pandas as pd

    primary = str(ranking["primary"].iloc[0])
    ranking = ranking.reset_index(drop=True)
    common, own = split_overrides(list(ranking["overrides"]))
    ranking = ranking.assign(overrides=own)
    level = round(results[0]["test"][primary]["ci_level"] * 100)
    by_dir = {str(Path(r["run_dir"]).relative_to(sweep_dir)): r for r in results}
    best = ranking.iloc[0]
    overlapping = ranking[(ranking["ci_high"] >= best["ci_low"]) & (ranking["rank"] != best["rank"])]
    labels = {len(r["test"].get("labels") or []) for r in results}
    chance = 1 / labels.pop() if len(labels) == 1 and results[0]["task"] == "classification" and \
        results[0]["test"].get("labels") else None
    on = str(ranking["ranked_on"].iloc[0]) if "ranked_on" in ranking else "test"
    metric = f"{primary.upper()} on {on}"
    text = [f"{len(ranking)} runs of the experiment {cfg.name!r}, ranked by {metric}"
            + (" (every run has a dev split; test is not used to rank or choose)." if on == "dev" else
               " (no dev split: a cross-validation inside each run's train rows; test is not used to rank or "
               "choose)." if on == "inner_cv" else ".")
            + " Each run has its own folder with a full report.",
            *(["", f"Common to all runs: {' '.join(common)}."] if common else []),
            ""]
    pick = chosen_run(ranking, results, sweep_dir)
    if pick is not None:
        dev, test = pick["dev"], pick["test"]
        text += [f"Chosen on {pick['on']}: {best['overrides']} with {primary.upper()} {dev['value']:.3f} "
                 f"[{dev['ci'][0]:.3f}, {dev['ci'][1]:.3f}] on {pick['on']}. Its test result — the one test number "
                 f"of this sweep to quote — is {primary.upper()} {test['value']:.3f} "
                 f"[{test['ci'][0]:.3f}, {test['ci'][1]:.3f}].", ""]
    else:
        text += [f"Highest on test: {best['overrides']} with {primary.upper()} {best['value']:.3f} "
                 f"[{best['ci_low']:.3f}, {best['ci_high']:.3f}].", "", str(ranking_caveat(ranking, results)), ""]
    if len(overlapping):
        text.append(f"The confidence intervals of {len(overlapping)} other run(s) reach the top run's interval: "
                    "their difference from it may be chance. Prefer the simpler setting among them, or "
                    "evaluate on more speakers.")
    elif len(ranking) > 1:
        text.append("No other run's confidence interval reaches the top run's interval.")
    methods = set(ranking["ci_method"]) if "ci_method" in ranking else set()
    if methods - {"speaker"}:
        words = {"rows_within_speakers": "rows resampled within speakers", "rows": "rows without speaker ids",
                 "inner_folds": "t intervals over the inner folds of train"}
        text += ["", f"Some intervals are not over speakers ({', '.join(sorted(words.get(str(m), str(m)) for m in methods - {'speaker'}))}; see "
                 "each run's report): with too few speakers they show only the variation over recordings "
                 "of the same speakers, so even intervals that do not overlap may not carry over to new "
                 "speakers."]
    if chance is not None:
        text += ["", f"Chance level of {primary.upper()}: {chance:.3f}."]
    from nk.significance import summary_text

    if summary_text(ranking):
        text += ["", summary_text(ranking)]
    if summary_text(ranking).startswith("Against"):
        text[-1] += (" The test of the metric draws the same resamples for both runs "
                 "(whole speakers when there are enough); McNemar's test compares accuracy row by row, treating rows as "
                 "independent. Not significantly worse is not the same as equally good: with few speakers "
                 "the tests detect only large differences.")
    table = pd.DataFrame({
        "rank": ranking["rank"].astype(int),
        "overrides": ranking["overrides"],
        metric: ranking["value"],
        f"{level}% CI ({on})": [f"[{lo:.3f}, {hi:.3f}]"
                                for lo, hi in zip(ranking["ci_low"], ranking["ci_high"], strict=True)],
    })
    headers, cells = significance_cells(ranking)
    for j, header in enumerate(headers):
        table[header] = [row[j] for row in cells]
    table["run folder"] = ranking["run_dir"]
    notes = [f"{int(r['rank'])}: {r['significance_note']}" for _, r in ranking.iterrows()
             if str(r.get("significance_note", "")).startswith("not tested")]
    runs = []
    for row in ranking.itertuples():
        r = by_dir.get(str(row.run_dir), {})
        comps = r.get("components", {})
        runs.append({
            "rank": int(row.rank),
            "features": " + ".join(comps.get("feats", [])),
            "model": " + ".join(comps.get("model", [])),
            "inputs": r.get("n_model_inputs"),
            "evaluated on": r.get("evaluated_on"),
            "seconds": r.get("wall_seconds"),
            "data sha256": str(r.get("data_sha256", ""))[:12],
        })
    plot = plot_ranking(ranking, sweep_dir / PLOT_NAME, metric=primary, level=level, chance=chance)
    factors = plot_factors(ranking, sweep_dir / FACTORS_PLOT, metric=primary, level=level)
    figures = [Figure(f"{metric} of each run with its {level} % confidence interval, in the "
                      "table's order (rank 1 at the top).", plot)]
    if factors is not None:
        figures.append(Figure(f"{metric} by each setting the sweep varies, with {level} % confidence intervals "
                              "(colours: the other settings).", factors))
    sig_note = (" Δ vs best: this run minus the best; p (Holm): one-sided paired speaker bootstrap that the "
                "best is better, Holm-adjusted; p McNemar: the same for accuracy (exact McNemar); vs best: "
                "whether the run is significantly worse." if headers else "")
    if notes:
        sig_note += " Not tested: " + "; ".join(notes) + "."
    job_lines = [f"all runs: {' '.join(common)}"] if common else []
    job_lines += [f"{r.run_dir}: {r.overrides}" for r in ranking.sort_values("run_dir").itertuples()]
    hashes = {run["data sha256"] for run in runs}
    data_note = ("All runs used the same data table." if len(hashes) == 1 else
                 "The runs used different data tables (see the data sha256 column).")
    return ReportDoc(
        title=(f"{document_option(cfg, 'title')} (sweep)" if document_option(cfg, "title")
               else f"nk sweep: {cfg.name}"),
        author=document_option(cfg, "author"),
        subtitle=f"{len(ranking)} runs ranked by {metric}",
        sections=[
            Section("Ranking", "\n".join(text),
                    tables=[Table(f"Runs ranked by {metric}", table,
                                  note=f"CI: {level} % bootstrap confidence interval on {on}. Also in "
                                       f"ranking.csv.{sig_note}")],
                    figures=figures),
            *([search_section(search, sweep_dir, primary)] if search else []),
            Section("Runs", data_note, tables=[Table("What each run used", pd.DataFrame(runs),
                                                     note="inputs: features the model saw; seconds: run time.")]),
            Section("Configurations", "The overrides of each run (its folder holds the complete config.yaml "
                    "and its own report).", code="\n".join(job_lines)),
        ],
        metadata={"created": datetime.now().astimezone().isoformat(timespec="seconds"),
                  "sweep folder": str(sweep_dir), **environment_table(sweep_record(results, pm, cfg))},
    )


def write_sweep_report(sweep_dir: Path, ranking: pd.DataFrame, results: list[dict[str, Any]], cfg: Any,
                       pm: Any, search: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write report.html/.tex (and .pdf) and sweep_ranking.png (sweep_factors.png, and
    search_history.png for a search) into the sweep folder.

    Returns their paths; empty when an unexpected error (logged) stopped the report.
    """
    import logging

    from nk.errors import UserError

    try:
        doc = build_sweep_doc(sweep_dir, ranking, results, cfg, pm, search)
        paths = write_reports(doc, sweep_dir, stem="report", pdf=document_option(cfg, "pdf", "auto"))
    except UserError:
        raise
    except Exception:  # the runs and ranking.csv are complete; a report bug must not hide them
        logging.getLogger("nk.report").exception("the sweep report could not be written")
        return {}
    return {**paths, "plot": sweep_dir / PLOT_NAME}
