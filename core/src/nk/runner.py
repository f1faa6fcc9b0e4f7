"""``nk run``: compose configs (one, or a sweep's), give each run its folder, print summaries."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from nk.errors import UserError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from nk.cli import App


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """Hydra's sweep expansion: ``model=svm,knn feats=a,b`` → the 4 override lists."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from nk.config import quote_values

    try:
        parsed = OverridesParser.create().parse_overrides(quote_values(overrides))
        return BasicSweeper.split_arguments(parsed, None)[0]
    except HydraException as exc:
        raise UserError(f"Cannot expand the sweep: {str(exc).splitlines()[0]}",
                        allowed="comma-separated values (model=svm,knn), ranges, globs",
                        todo="check the command line") from None


def _label(overrides: list[str]) -> str:
    text = ",".join(overrides) or "defaults"
    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", text)[:120]


def run_command(overrides: list[str], app: App, *, multirun: bool, show_cfg: bool,
                provenance: dict[str, Any] | None = None) -> int:
    """``provenance`` (e.g. the nkululeko INI file the overrides came from) is recorded in each
    run's config.yaml."""
    from omegaconf import OmegaConf

    from nk.config import compose
    from nk.launch import launcher_name, plan, split_launcher_overrides
    from nk.nkululeko import with_provenance
    from nk.search import search_command, split_sweeper

    sweeper, settings, overrides = split_sweeper(overrides)  # hydra/sweeper=optuna: nk.search
    overrides, launcher_overrides = split_launcher_overrides(overrides)
    if sweeper == "optuna":
        if not multirun:
            raise UserError("hydra/sweeper=optuna runs a search of several trials, which needs -m",
                            where="the command line", todo="add -m (nk run -m hydra/sweeper=optuna model.C=interval(0.01,100))")
        if launcher_overrides:
            raise UserError(f"hydra/sweeper=optuna runs its trials one after another in this process; "
                            f"{' '.join(launcher_overrides)} cannot be combined with it",
                            where="the command line", allowed="hydra/sweeper=optuna, or a grid sweep with a launcher",
                            todo="drop the launcher overrides, or sweep a grid (model.C=0.1,1,10) with the launcher")
        return search_command(overrides, settings, app, show_cfg=show_cfg, provenance=provenance)
    if launcher_overrides and not multirun:
        raise UserError(f"{' '.join(launcher_overrides)} applies to sweeps only", where="the command line",
                        todo="add -m (nk run -m …) or drop the launcher overrides")
    jobs = expand_sweep(overrides) if multirun else [overrides]
    launch_plan = None
    run_jobs = jobs  # what each run is composed from: jobs, plus n_jobs when runs share the cores
    if launcher_overrides:
        launch_plan = plan(launcher_overrides, len(jobs),
                           user_set_n_jobs=any(o.lstrip("+~").split("=", 1)[0] == "n_jobs" for o in overrides))
        if launch_plan.run_n_jobs is not None:  # runs side by side share the cores
            run_jobs = [[*job, f"n_jobs={launch_plan.run_n_jobs}"] for job in jobs]
        launcher_overrides = [*launcher_overrides, *launch_plan.launcher_overrides]
    # compose every job before running any, so a typo fails in seconds, not after run 3
    configs = [with_provenance(compose(job, app.pm), provenance) for job in run_jobs]
    if launcher_overrides:  # a misspelled launcher or setting fails now, before any folder exists
        from nk.launch import check_launcher

        check_launcher(launcher_overrides)
    if show_cfg:
        for job, cfg in zip(jobs, configs, strict=False):
            app.console.rule(escape(" ".join(job) or "defaults"))
            app.console.print(OmegaConf.to_yaml(cfg), highlight=False, markup=False)
        return 0
    from nk.report import check_pdf_possible
    from nk.report.run import document_option

    for cfg in configs:  # document.pdf=always without LaTeX: fail now, not after the runs
        check_pdf_possible(document_option(cfg, "pdf", "auto"))
    if not multirun:
        results = _run_one(configs[0], app, None)
        _print_summary(results, app)
        _print_pdf_note(configs, app)
        return 0
    launcher = None
    if launch_plan is not None:
        from nk.launch import describe

        name = launcher_name(launcher_overrides) or "?"
        launcher = (run_jobs, launcher_overrides, describe(launch_plan, name, len(jobs)))
    code = _run_sweep(jobs, configs, app, launcher=launcher, provenance=provenance)
    _print_pdf_note(configs, app)
    return code


def _print_pdf_note(configs: list[DictConfig], app: App) -> None:
    """Once per command: why the reports have no PDF when ``document.pdf=auto`` found no LaTeX."""
    from nk.report import pdf_mode
    from nk.report.latex import find_engine
    from nk.report.run import document_option

    if any(pdf_mode(document_option(cfg, "pdf", "auto")) == "auto" for cfg in configs) and find_engine() is None:
        app.console.print("No PDF report: no LaTeX engine (pdflatex, lualatex or xelatex) is installed. Install "
                          "one (Debian/Ubuntu: apt-get install texlive-latex-base texlive-latex-recommended "
                          "texlive-latex-extra), or set document.pdf=never to skip the PDF without this note.",
                          highlight=False, markup=False)


def _run_one(cfg: DictConfig, app: App, run_dir: Path | None) -> dict[str, Any]:
    from nk.pipeline import run_experiment
    from nk.results import new_run_dir

    if run_dir is None:
        run_dir = new_run_dir(Path(cfg.results_root).resolve(), str(cfg.name))
    app.console.print(f"[bold]nk run[/] {cfg.name} → {run_dir}", highlight=False)
    started = time.perf_counter()
    results = run_experiment(cfg, app.pm, run_dir, app.console)
    results["wall_seconds"] = round(time.perf_counter() - started, 2)
    return results


def _print_summary(results: dict[str, Any], app: App) -> None:
    from rich.table import Table

    test = results["test"]
    primary = results["primary"]
    table = Table(title=escape(f"{results['name']}: {results['target']} ({results['task']}), "
                               f"{', '.join(results['components']['feats'])} + "
                               f"{results['components']['model'][0]} — {results['evaluated_on']}"),
                  title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    from nk.metrics import ci_method_text

    level = round(test[primary]["ci_level"] * 100)
    table.add_column(f"{level}% CI ({ci_method_text(test[primary])})", justify="right")
    table.add_row(primary.upper(), f"{test[primary]['value']:.3f}",
                  f"[{test[primary]['ci'][0]:.3f}, {test[primary]['ci'][1]:.3f}]", style="bold")
    if results.get("cv"):
        cv = results["cv"]
        table.add_row(f"{primary.upper()} per fold", f"{cv['mean']:.3f} ± {cv['sd']:.3f}",
                      f"{cv['n_folds']} folds ({cv['method']}), mean ± sd")
    keys = ("accuracy", "macro_f1") if results["task"] == "classification" else ("pcc", "mae", "mse", "r2")
    for key in keys:
        table.add_row(key, f"{test[key]:.3f}", "")
    app.console.print(table)
    search = results.get("search") or {}
    if search.get("chosen"):
        chosen = ", ".join(f"{k}={v}" for k, v in search["chosen"].items())
        trials = [t for t in search.get("trials") or [] if "dev_score" in t]
        score = (f" (dev {primary.upper()} {max(t['dev_score'] for t in trials):.3f}, best of {len(trials)} "
                 "settings)") if trials else ""
        app.console.print(f"Grid search (search.params) chose on dev: {chosen}{score}", highlight=False,
                          markup=False)
    from nk.report.run import interval_notes

    for note in interval_notes(results):  # e.g. too few test speakers for a speaker bootstrap
        app.console.print(f"Note: {note}.", style="yellow", highlight=False, markup=False)
    missing = results.get("missing") or {}
    if missing.get("rows_with_missing"):
        worst = sorted(missing["features_with_missing"].items(), key=lambda kv: -kv[1])
        listing = ", ".join(f"{name} {n}" for name, n in worst[:3]) + (", …" if len(worst) > 3 else "")
        done = {"impute": "filled with train means, plus indicator columns",
                "drop": "those rows dropped"}.get(missing["policy"], missing["policy"])
        n_rows = sum(results.get("data", {}).get("rows", {}).values())
        app.console.print(f"Undefined features in {missing['rows_with_missing']} of {n_rows} rows ({listing}): "
                          f"{done} (missing={missing['policy']})", highlight=False, markup=False)
    app.console.print(f"Results in [bold]{results['run_dir']}[/] ({results['wall_seconds']:.1f} s)",
                      highlight=False)
    reports = [a for a in results.get("artefacts", []) if a.startswith("report.")]
    if reports:
        app.console.print(f"Report: {', '.join(sorted(reports, key=lambda a: a != 'report.html'))}",
                          highlight=False)


def _print_ranking(all_results: list[dict[str, Any]], jobs: list[list[str]], sweep_dir: Path, app: App) -> Any:
    """Rank the sweep's runs on dev when every run has one (else on test, saying it must not be
    used to choose), write ranking.csv and print the table, the pick and its test score; returns
    the ranking (a DataFrame, as in ranking.csv)."""
    from rich.table import Table

    from nk.report.sweep import chosen_run, rank_runs, ranking_caveat, significance_cells, split_overrides
    from nk.significance import summary_text

    ranking = rank_runs(all_results, jobs, sweep_dir)
    ranking.to_csv(sweep_dir / "ranking.csv", index=False)
    primary, on = str(ranking["primary"].iloc[0]), str(ranking["ranked_on"].iloc[0])
    level = round(all_results[0][on][primary]["ci_level"] * 100)
    common, own = split_overrides(list(ranking["overrides"]))
    title = f"Sweep ranking ({primary.upper()} on {on}" + (", not for choosing)" if on == "test" else ")")
    table = Table(title=title, title_justify="left",
                  caption=escape(f"Common to all runs: {' '.join(common)}") if common else None,
                  caption_justify="left")
    extra, cells = significance_cells(ranking)
    for col in ("rank", "overrides", f"{primary.upper()} ({on})", f"{level}% CI ({on})", *extra, "run"):
        table.add_column(col, overflow="fold")
    for r, mine, more in zip(ranking.itertuples(), own, cells, strict=True):
        table.add_row(str(r.rank), escape(mine), f"{r.value:.3f}", f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
                      *more, escape(str(r.run_dir)))
    app.console.print(table)
    if summary_text(ranking):
        app.console.print(summary_text(ranking), highlight=False, markup=False)
    pick = chosen_run(ranking, all_results, sweep_dir)
    if pick is not None:
        dev, test = pick["dev"], pick["test"]
        app.console.print(f"Chosen on {pick['on']}: {own[0]} ({primary.upper()} {dev['value']:.3f} "
                          f"on {pick['on']}); its test {primary.upper()}: {test['value']:.3f} "
                          f"[{test['ci'][0]:.3f}, {test['ci'][1]:.3f}] ({pick['run_dir']})",
                          highlight=False, markup=False)
    else:
        app.console.print(f"Warning: {ranking_caveat(ranking, all_results)}", style="yellow", highlight=False,
                          markup=False)
    app.console.print(f"Ranking in [bold]{sweep_dir / 'ranking.csv'}[/]", highlight=False)
    return ranking


def _run_sweep(jobs: list[list[str]], configs: list[DictConfig], app: App, *,
               launcher: tuple[list[list[str]], list[str], str] | None = None, provenance: dict[str, Any] | None = None) -> int:
    """Run the sweep's jobs in this process, one after another, or through the Hydra launcher
    ``launcher`` (each run's overrides to compose, the launcher's overrides, a one-line
    description): see :mod:`nk.launch`."""
    from nk.results import new_run_dir

    first = configs[0]
    sweep_dir = new_run_dir(Path(first.results_root).resolve(), str(first.name), label="sweep")
    how = f", {launcher[2]}" if launcher else ""
    app.console.print(f"[bold]nk sweep[/] of {len(jobs)} runs{escape(how)} → {sweep_dir}", highlight=False)
    run_dirs = []
    for i, job in enumerate(jobs):
        run_dir = sweep_dir / f"{i:03d}_{_label(job)}"
        run_dir.mkdir()
        run_dirs.append(run_dir)
    all_results: list[dict[str, Any]] = []
    if launcher is None:
        for i, (job, cfg, run_dir) in enumerate(zip(jobs, configs, run_dirs, strict=True)):
            app.console.rule(escape(f"run {i + 1}/{len(jobs)}: {' '.join(job) or 'defaults'}"))
            results = _run_one(cfg, app, run_dir)
            _print_summary(results, app)
            all_results.append(results)
    else:
        from nk.launch import launch_runs

        launched = launch_runs(launcher[0], run_dirs, launcher[1], app, provenance=provenance)
        failed = [i for i, r in enumerate(launched) if r is None]
        if failed:
            raise UserError(f"{len(failed)} of {len(jobs)} runs failed (messages above): "
                            + ", ".join(run_dirs[i].name for i in failed),
                            where=f"the sweep {sweep_dir}",
                            todo="fix their cause and run the sweep again (features extracted so far are cached)")
        all_results = [r for r in launched if r is not None]
    ranking = _print_ranking(all_results, jobs, sweep_dir, app)
    from nk.report.sweep import write_sweep_report

    reports = write_sweep_report(sweep_dir, ranking, all_results, first, app.pm)
    if "html" in reports:
        app.console.print(f"Report: [bold]{reports['html']}[/]" + (" (and .pdf)" if "pdf" in reports else ""),
                          highlight=False)
    return 0
