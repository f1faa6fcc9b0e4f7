"""Built-in subcommand ``nk ensemble``: combine finished runs (see :mod:`nk.ensemble`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App

ENSEMBLE_EPILOG = """\
examples:
  nk ensemble results/demo/2026-01-01_12-00-00 results/demo/2026-01-01_12-05-00
  nk ensemble egemaps_svm praat_xgb --method majority_voting    latest run of each experiment
  nk ensemble A B C --method uncertainty_threshold ensemble.threshold=0.5
  nk ensemble A B --method performance_weighted                 weights from each run's dev score
  nk ensemble A B --method stacking                             logistic regression on dev probabilities
  nk ensemble --method max_class a.ini b.ini                     nkululeko INI files: each one's latest run

methods (config group `ensemble`, `nk plugins` lists them with plugins' own): majority_voting,
mean (default), median, max, sum, max_class, uncertainty_threshold, uncertainty_weighted,
confidence_weighted, performance_weighted, stacking. Regression runs: mean, median,
performance_weighted. Other key=value overrides (bootstrap.*, results_root, name, document.*)
work as for `nk run`. Results go to <results_root>/<name, default ensemble>/<time>-<method>/.
"""


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    ens = subparsers.add_parser(
        "ensemble", help="combine the test predictions of two or more runs", epilog=ENSEMBLE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Combine finished runs (run folders, or experiment names: their latest finished run) "
                    "that share the same test rows, and compare the ensemble with every run.",
    )
    # nargs="*": `nk ensemble --method M a b` (the seed paper's order) gives every item to --method
    ens.add_argument("items", nargs="*", metavar="RUN|key=value",
                     help="run folders or experiment names, and config overrides")
    # nargs="+": argparse gives the positionals after --method to it; they are split off again
    ens.add_argument("--method", nargs="+", metavar="NAME", help="the ensembler (same as ensemble=NAME); default mean")
    ens.set_defaults(handler=_ensemble)


def _ensemble(args: argparse.Namespace, app: App) -> int:
    from rich.markup import escape
    from rich.table import Table

    from nk.ensemble import ensemble_command

    method, items = (args.method[0], [*args.items, *args.method[1:]]) if args.method else (None, list(args.items))
    results = ensemble_command(items, method, app)
    import pandas as pd

    comparison = pd.read_csv(f"{results['run_dir']}/comparison.csv")
    primary = results["primary"]
    table = Table(title=escape(f"ensemble {results['method']}: {results['target']} ({results['task']})"),
                  title_justify="left")
    for col in ("system", "what", f"{primary.upper()} (test)", "CI", "vs best", "p"):
        table.add_column(col, overflow="fold")
    for _, r in comparison.iterrows():
        diff, p = r["difference vs best"], r["p (paired bootstrap)"]
        table.add_row(escape(str(r["system"])), escape(str(r["what"])), f"{r[primary]:.3f}",
                      f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]", "" if pd.isna(diff) else f"{diff:+.3f}",
                      "" if pd.isna(p) else f"{p:.3f}")
    app.console.print(table)
    vs, best = results["versus_best_single"], results["best_single"]
    app.console.print(f"Ensemble vs best single run ({best['label']}, chosen on {best['chosen_on'].split(' ')[0]}): "
                      f"{vs['difference']:+.3f} {primary.upper()}, {round(vs['ci_level'] * 100)}% CI "
                      f"[{vs['ci'][0]:.3f}, {vs['ci'][1]:.3f}], p = {vs['p_value']:.3f} (paired bootstrap)",
                      highlight=False, markup=False)
    app.console.print(f"Results in [bold]{escape(results['run_dir'])}[/]", highlight=False)
    return 0
