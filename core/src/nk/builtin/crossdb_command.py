"""Built-in subcommand ``nk crossdb``: cross-corpus experiments (train on one database and test
on each, leave one database out), with its ``crossdb`` config section."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App
    from nk.registry import AddSection

CROSSDB_EPILOG = """\
examples:
  nk crossdb 'data=[emodb,ravdess,cremad]' 'labels=[anger,happiness,neutral,sadness]'
  nk crossdb 'data=[emodb,polish]' 'labels=[anger,fear,neutral]' crossdb.mode=lodo
  nk crossdb 'data=[a,b,c]' feats=egemaps model=svm --cfg

Overrides are those of `nk run` (Hydra syntax). Each database is split on its own
(split.method, speaker-independent by default); the matrix's rows are the training databases
(their train split; the diagonal tests their own test split), its columns the test databases
(every row off the diagonal). Results go to <results_root>/<name>/<time>-crossdb/: matrix.csv,
crossdb.csv, heatmap.png, crossdb.json, report.html/.tex/.pdf.
"""


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    from nk.crossdb.config import CrossdbConfig

    add("crossdb", CrossdbConfig, help="what `nk crossdb` trains (matrix, leave-one-database-out, both)")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    crossdb = subparsers.add_parser(
        "crossdb", help="cross-corpus experiments: train on one database, test on the others",
        epilog=CROSSDB_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="For the databases of data=[...], train on each and test on each (an N×N matrix of the "
                    "primary metric with confidence intervals), and leave each database out once.",
    )
    crossdb.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    crossdb.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    crossdb.set_defaults(handler=_crossdb)


def _crossdb(args: argparse.Namespace, app: App) -> int:
    from nk.crossdb.run import crossdb_command

    return crossdb_command(list(args.overrides), app, show_cfg=args.cfg)
