"""Dataset recipes (``nk data prepare NAME``), the ``prepared`` loader and the ``nk data`` command.

The recipes live in :mod:`nk.datasets` (one module per corpus); this entry module registers
them as components of the registry group ``dataset`` and imports only light modules (the
recipes use the standard library; pandas is imported by the loader when it loads).

``nk data list`` shows each recipe with its licence and whether nk downloads it;
``nk data prepare NAME [--source PATH] [--dest DIR]`` writes ``DIR/NAME.csv`` (default
``./data/NAME/``), which the preset ``data=NAME`` (``conf/data/NAME.yaml``, loader
``prepared``) reads, relative to the folder nk runs in.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nk.hookspecs import hookimpl
from nk.registry import Register, param

if TYPE_CHECKING:
    from nk.cli import App
    from nk.context import RunContext
    from nk.data import Corpus

DATA_EPILOG = """\
examples:
  nk data list                                   every recipe, its licence and source
  nk data prepare emodb                          download EmoDB into ./data/emodb/
  nk data prepare ravdess --source Audio_Speech_Actors_01-24.zip
  nk data prepare iemocap --source ~/corpora/IEMOCAP_full_release
  nk run data=emodb target=emotion               the prepared table, through its preset
  nk run 'data=[emodb,ravdess]' 'labels=[anger,happiness,neutral,sadness]'
"""


def recipes() -> list[Any]:
    """nk's recipe classes, in the order of :data:`nk.datasets.RECIPE_MODULES`."""
    from nk.datasets import RECIPE_MODULES

    return [importlib.import_module(f"nk.datasets.{m}").RECIPE for m in RECIPE_MODULES]


@hookimpl
def nk_register_datasets(register: Register) -> None:
    from nk.datasets import RecipeConfig

    for cls in recipes():
        register(cls.name, cls, RecipeConfig, description=f"{cls.title}; {cls.licence}")


@dataclass
class PreparedConfig:
    path: str = param("???", help="the table `nk data prepare` wrote (relative paths: from the folder "
                      "you run nk in)")


class PreparedLoader:
    """A table written by ``nk data prepare``: the CSV loader's reading and checks, with
    ``emotion`` (the common emotion names) as the default target."""

    def __init__(self, *, path: str) -> None:
        self.path = path

    def load(self, ctx: RunContext) -> Corpus:
        from nk.builtin.loaders import CsvLoader

        corpus = CsvLoader(path=self.path, root=None, file_column="file", start_column="start",
                           end_column="end", separator=",").load(ctx)
        corpus.default_target = "emotion" if "emotion" in corpus.frame.columns else None
        return corpus


@hookimpl
def nk_register_loaders(register: Register) -> None:
    register("prepared", PreparedLoader, PreparedConfig,
             description="a table `nk data prepare` wrote (default target: emotion)")


@hookimpl
def nk_add_commands(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="prepare public databases (see `nk data list`)",
                                 epilog=DATA_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = data.add_subparsers(title="data commands", metavar="ACTION")
    prepare = sub.add_parser("prepare", help="build a database's table from a recipe (see `nk data list`)")
    prepare.add_argument("recipe", help="recipe name, e.g. emodb")
    prepare.add_argument("--source", "--zip", dest="source", type=Path,
                         help="the downloaded archive or its extracted folder, instead of downloading")
    prepare.add_argument("--dest", type=Path, help="target folder (default: ./data/RECIPE)")
    prepare.set_defaults(handler=_prepare)
    listing = sub.add_parser("list", help="list the recipes with their licences")
    listing.set_defaults(handler=_list)
    data.set_defaults(handler=lambda args, app: (data.print_help(), 0)[1])


def _prepare(args: argparse.Namespace, app: App) -> int:
    comp = app.pm.registry.get("dataset", args.recipe)
    dest = args.dest or Path("data") / args.recipe
    table = comp.build(comp.defaults()).prepare(dest.resolve(), source=args.source, console=app.console)
    app.console.print(f"Table: {table}", highlight=False, markup=False)
    licence = getattr(comp.factory, "licence", None)
    if licence:
        app.console.print(f"Licence: {licence} (see {Path(table).with_suffix('.about.txt').name} beside the "
                          "table for the citation)", highlight=False, markup=False)
    if (Path("conf") / "data" / f"{args.recipe}.yaml").exists() or _preset_ships(args.recipe):
        app.console.print(f"Use it with: nk run data={args.recipe}", highlight=False, markup=False)
    return 0


def _preset_ships(name: str) -> bool:
    from nk.config import CONFIG_DIR

    return (Path(CONFIG_DIR) / "data" / f"{name}.yaml").is_file()


def recipe_rows(app_pm: Any) -> list[dict[str, str]]:
    """What ``nk data list`` shows: name, licence, source, title, provider, citation."""
    rows = []
    for comp in app_pm.registry:
        if comp.group != "dataset":
            continue
        factory = comp.factory
        source_text = getattr(factory, "source_text", None)
        rows.append({"name": comp.name, "licence": str(getattr(factory, "licence", "see the provider")),
                     "source": source_text() if callable(source_text) else "see the provider",
                     "title": str(getattr(factory, "title", comp.description)), "provider": comp.provider,
                     "citation": str(getattr(factory, "citation", ""))})
    return rows


def _list(args: argparse.Namespace, app: App) -> int:
    rows = recipe_rows(app.pm)
    app.console.print("Dataset recipes (nk data prepare NAME [--source PATH]): name, source, licence, corpus",
                      highlight=False)
    for row in rows:
        provider = "" if row["provider"] == "nk" else f" [{row['provider']}]"
        app.console.print(f"  {row['name']:11s} {row['source']:14s} {row['licence']} — {row['title']}{provider}",
                          highlight=False, markup=False, soft_wrap=True)
        if row["citation"]:
            app.console.print(f"  {'':11s} cite: {row['citation']}", highlight=False, markup=False, soft_wrap=True)
    return 0
