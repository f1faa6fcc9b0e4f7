"""``nk ini exp.ini``: an nkululeko INI file as nk overrides; ``--config exp.ini`` of run/explore."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nk.cli import App
    from nk.nkululeko import Translation

INI_EPILOG = """\
examples:
  nk ini exp.ini                          the nk overrides, and where each INI key went
  nk ini --check exp.ini                  exit 2 when a key is not supported (listing each)
  nk ini exp.ini --ignore PLOT.format     leave a key out on purpose
  nk run --config exp.ini                 run it (nk explore --config exp.ini for [EXPL])
  nk predict --config exp.ini             [PREDICT] targets (nk segment/augment --config likewise)
  nk run --config exp.ini --aug-train     [AUGMENT] and train (nkululeko's aug_train)
  nk ensemble --method max_class a.ini b.ini   each INI's latest run
  nk run --config exp.ini model.C=10      overrides after the file win
"""


def add_ini_command(subparsers: argparse._SubParsersAction) -> None:
    ini = subparsers.add_parser(
        "ini", help="translate an nkululeko INI file into nk overrides", epilog=INI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the nk command an nkululeko experiment file amounts to, with, for each INI "
                    "key, where it went, and notes on where nk behaves differently on purpose.",
    )
    ini.add_argument("file", help="the nkululeko INI file (exp.ini)")
    ini.add_argument("--check", action="store_true", help="only check: exit 2 if a key is not supported")
    add_ignore_option(ini)
    ini.set_defaults(handler=_ini)


def add_config_option(parser: argparse.ArgumentParser, *, aug_train: bool = False) -> None:
    """``--config exp.ini`` and ``--ignore KEY`` for a command that takes overrides."""
    parser.add_argument("--config", metavar="EXP.INI",
                        help="an nkululeko INI file, translated into overrides (see `nk ini`)")
    add_ignore_option(parser)
    if aug_train:
        parser.add_argument("--aug-train", action="store_true",
                            help="with --config: also apply the file's [AUGMENT] section and train with the "
                                 "augmented rows (nkululeko's aug_train module)")


def add_ignore_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ignore", action="append", default=[], metavar="KEY",
                        help="an INI key (SECTION.key) or section to leave out on purpose (repeatable)")


def translate_file(path: str, ignore: list[str], app: App) -> Translation:
    from nk.nkululeko import installed_components, translate

    return translate(path, installed_components(app.pm), ignore=ignore)


def config_overrides(args: argparse.Namespace, app: App, command: str) -> tuple[list[str], bool, dict[str, Any]]:
    """For ``nk COMMAND --config exp.ini``: the overrides (the file's, then the command line's),
    whether it is a multirun, and the provenance for config.yaml. Unsupported keys of the
    sections COMMAND reads stop here; sections it does not read are named, never dropped silently."""
    if command == "run" and getattr(args, "aug_train", False):
        command = "aug_train"
    tr = translate_file(args.config, list(args.ignore), app)
    tr.check(command)
    shown = "run" if command == "aug_train" else command
    left = tr.left_out(command)
    if left:
        readers = {"EXPL": "nk explore --config", "PREDICT": "nk predict --config (or nk explore --config)",
                   "SEGMENT": "nk segment --config",
                   "AUGMENT": "nk augment --config (or nk run --config … --aug-train)"}
        where = "; ".join(f"[{s}] is for `{readers[s]}`" for s in left)
        app.console.print(f"Note: `nk {shown}` leaves out what it does not read: {where}.", style="yellow",
                          highlight=False, markup=False, soft_wrap=True)
    overrides = tr.for_command(command)
    multirun = tr.multirun and command in ("run", "aug_train")
    tr.overrides = [*overrides, *args.overrides]
    app.console.print(f"{args.config} → {tr.nk_command(command)}", highlight=False, markup=False, soft_wrap=True)
    for note in tr.notes_for(command):
        app.console.print(f"Note: {note}.", style="yellow", highlight=False, markup=False)
    return tr.overrides, multirun, tr.provenance(command)


def command_config(args: argparse.Namespace, app: App, command: str) -> Any:
    """The composed config of ``nk COMMAND [--config exp.ini] overrides…`` (predict, segment,
    augment), with the INI file's provenance recorded when there is one."""
    from nk.config import compose

    if not getattr(args, "config", None):
        return compose(list(args.overrides), app.pm)
    from nk.nkululeko import with_provenance

    overrides, _, provenance = config_overrides(args, app, command)
    return with_provenance(compose(overrides, app.pm), provenance)


def _ini(args: argparse.Namespace, app: App) -> int:
    import yaml

    tr = translate_file(args.file, list(args.ignore), app)
    if args.check:
        tr.check()
        app.console.print(f"{args.file}: every key is supported ({len(tr.where)} keys).", highlight=False,
                          markup=False)
        return 0
    others = {"explore": "explore", "predict": "predict", "segment": "segment", "augment": "augment",
              "aug_train": "aug_train (nk run --config … --aug-train)"}
    sections = {s for s in ("EXPL", "PREDICT", "SEGMENT", "AUGMENT") if s in tr.sections}
    readers = {"explore": {"EXPL", "PREDICT"}, "predict": {"PREDICT"}, "segment": {"SEGMENT"},
               "augment": {"AUGMENT"}, "aug_train": {"AUGMENT"}}
    also = {label: tr.nk_command(cmd) for cmd, label in others.items()
            if cmd != tr.command and readers[cmd] & sections}
    doc: dict[str, Any] = {
        "command": tr.nk_command(),
        **({"other commands": also} if also else {}),
        "overrides": tr.overrides,
        "keys": {f"{key} (line {line})": where for key, line, where in sorted(tr.where, key=lambda w: w[1])},
        "notes": tr.notes,
    }
    if tr.unsupported:
        doc["unsupported"] = {f"{u.key} (line {u.line})": u.reason for u in tr.unsupported}
    app.console.print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100), highlight=False,
                      markup=False, soft_wrap=True)
    if tr.unsupported:
        app.console.print(f"{len(tr.unsupported)} key(s) not supported: `nk run --config` stops on them "
                          "(fix them or pass --ignore KEY).", style="yellow", highlight=False, markup=False)
    return 0
