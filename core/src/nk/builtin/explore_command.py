"""Built-in subcommand ``nk explore``: counts, durations, bias/confounds, features, scatter plots."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App
    from nk.registry import AddSection

EXPLORE_EPILOG = """\
examples:
  nk explore                                         every analysis of the demo corpus
  nk explore data.demo.confound=0.8                  a corpus with a gender–emotion confound
  nk explore 'explore.columns=[gender,age]'          only these columns against the target
  nk explore 'explore.analyses=[counts,bias]'        no features, no scatter plots
  nk explore feats=mfcc 'explore.scatter=[pca,tsne]' explore.top_k=5
  nk explore --cfg                                   print the composed config and stop

Config groups and overrides are those of `nk run`; the `explore` section chooses the analyses
(`nk explore --cfg` shows it). Results go to <results_root>/<name>/<time>-explore/.
"""


@hookimpl
def nk_add_config_sections(add: AddSection) -> None:
    from nk.explore.config import ExploreConfig

    add("explore", ExploreConfig, help="what `nk explore` analyses and plots")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    explore = subparsers.add_parser(
        "explore", help="explore the data: counts, durations, confounds, features, scatter plots",
        epilog=EXPLORE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compose a config from overrides (Hydra syntax, as for `nk run`) and explore "
                    "the data: value counts, durations, associations of the target with every "
                    "column (bias/confounds), feature importance and 2-D projections.",
    )
    explore.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    explore.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    from nk.builtin.ini_command import add_config_option

    add_config_option(explore)
    explore.set_defaults(handler=_explore)


def _explore(args: argparse.Namespace, app: App) -> int:
    from nk.explore.run import explore_command

    if args.config:  # an nkululeko INI file (nk.nkululeko)
        from nk.builtin.ini_command import config_overrides

        overrides, _, provenance = config_overrides(args, app, "explore")
        return explore_command(overrides, app, show_cfg=args.cfg, provenance=provenance)
    return explore_command(list(args.overrides), app, show_cfg=args.cfg)
