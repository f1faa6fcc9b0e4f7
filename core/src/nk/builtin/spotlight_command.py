"""Built-in subcommand ``nk spotlight``: the data in Renumics Spotlight (an optional extra)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App
    from nk.registry import AddSection

SPOTLIGHT_EPILOG = """\
examples:
  nk spotlight data=emodb                            audio, labels and mfcc features of EmoDB
  nk spotlight data=emodb spotlight.run=results/emodb/2026-01-01_10-00-00
  nk spotlight 'data=[emodb,ravdess]' spotlight.features=false

Needs `pip install 'nk[spotlight]'` (renumics-spotlight). The viewer listens on 127.0.0.1 only.
"""


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    from nk.spotlight import SpotlightConfig

    add("spotlight", SpotlightConfig, help="what `nk spotlight` shows (a run's predictions, the features)")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    spotlight = subparsers.add_parser(
        "spotlight", help="look at the data in Renumics Spotlight (audio, labels, predictions, features)",
        epilog=SPOTLIGHT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    spotlight.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    spotlight.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    spotlight.set_defaults(handler=_spotlight)


def _spotlight(args: argparse.Namespace, app: App) -> int:
    from nk.spotlight import spotlight_command

    return spotlight_command(list(args.overrides), app, show_cfg=args.cfg)
