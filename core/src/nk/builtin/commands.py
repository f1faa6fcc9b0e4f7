"""Built-in subcommands: ``nk run`` and ``nk plugins``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nk.hookspecs import hookimpl

if TYPE_CHECKING:
    from nk.cli import App

RUN_EPILOG = """\
examples:
  nk run                                   demo corpus, eGeMAPS + SVM
  nk run model=knn                         another model
  nk run 'feats=[egemaps,mfcc]'            concatenated feature sets
  nk run model.C=10 split.dev_size=0.2     parameters
  nk run -m model=svm,knn,tree             a sweep, ranked by the primary metric
  nk run --cfg model=knn                   print the composed config and stop

your own data (a CSV with a file column, paths relative to the CSV, and label columns):
  nk run data=csv data.csv.path=my_corpus.csv target=emotion
  nk run data=csv data.csv.path=my_corpus.csv target=age model=svr      regression
  nk run data=csv data.csv.path=my_corpus.csv "data.csv.separator=';'"  another separator

A run writes results/<name>/<date>_<time>/; a failed run's folder holds a FAILED file.
"""


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    from nk.cli import docs_location

    run = subparsers.add_parser(
        "run", help="run an experiment (or a sweep with -m)",
        epilog=RUN_EPILOG + f"Docs: {docs_location()} (sections 'Your own data', 'Errors').\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compose a config from overrides (Hydra syntax) and run the experiment.",
    )
    run.add_argument("overrides", nargs="*", help="group=option or key=value (Hydra syntax)")
    run.add_argument("-m", "--multirun", action="store_true",
                     help="sweep over comma-separated values; ranks the runs")
    run.add_argument("--cfg", action="store_true", help="print the composed config and exit")
    from nk.builtin.ini_command import add_config_option, add_ini_command

    add_config_option(run, aug_train=True)
    run.set_defaults(handler=_run)
    add_ini_command(subparsers)

    plugins = subparsers.add_parser("plugins", help="list plugins and their components")
    plugins.add_argument("component", nargs="?", help="show one component's parameters")
    plugins.set_defaults(handler=_plugins)


def _run(args: argparse.Namespace, app: App) -> int:
    from nk.runner import run_command

    if args.config:  # an nkululeko INI file (nk.nkululeko)
        from nk.builtin.ini_command import config_overrides

        overrides, multirun, provenance = config_overrides(args, app, "run")
        return run_command(overrides, app, multirun=multirun or args.multirun, show_cfg=args.cfg,
                           provenance=provenance)
    return run_command(list(args.overrides), app, multirun=args.multirun, show_cfg=args.cfg)


def _plugins(args: argparse.Namespace, app: App) -> int:
    from rich.table import Table

    from nk.errors import UserError

    registry = app.pm.registry
    if args.component:
        matches = [c for c in registry if c.name == args.component]
        if not matches:
            from nk.config import _blocked_note

            blocked = _blocked_note(app.pm, args.component)
            raise UserError(f"No component named {args.component!r}{blocked}",
                            allowed=", ".join(sorted({c.name for c in registry})),
                            todo="unblock the plugin (remove it from NK_BLOCK_PLUGINS)" if blocked else
                            "check the spelling, or install the plugin that provides it")
        for comp in matches:
            table = Table(title=f"{comp.group} {comp.name!r} — {comp.description} "
                                f"({comp.provider} {comp.version})", title_justify="left")
            names = [f"{comp.path}.{p.name}" for p in comp.params()]
            # the names users type are never cut or folded; the other columns wrap around them
            table.add_column("parameter", no_wrap=True, overflow="fold",
                             min_width=max([len("parameter"), *map(len, names)]))
            for col in ("type", "default", "allowed", "help"):
                table.add_column(col, overflow="fold")
            for p in comp.params():
                table.add_row(f"{comp.path}.{p.name}", p.type, repr(p.default), p.allowed(), p.help)
            app.console.print(table)
        return 0
    table = Table(title="nk plugins", title_justify="left")
    infos = list(app.pm.plugin_infos())
    # plugin and distribution names are typed (NK_BLOCK_PLUGINS, pip): never cut; the rest wraps
    for col, values in (("plugin", [i.name for i in infos]), ("distribution", [i.distribution for i in infos])):
        table.add_column(col, no_wrap=True, overflow="fold", min_width=max([len(col), *map(len, values)]))
    table.add_column("version", overflow="fold")
    table.add_column("hooks", overflow="fold")
    table.add_column("components", overflow="fold")
    for info in infos:
        comps = "\n".join(f"{g}: {', '.join(sorted(n))}" for g, n in sorted(info.components.items()))
        table.add_row(info.name, info.distribution, info.version,
                      "\n".join(h.removeprefix("nk_") for h in info.hooks), comps)
    app.console.print(table)
    return 0


