"""The ``nk`` command line: one entry point whose subcommands come from plugins.

Built-in subcommands (``run``, ``plugins``) are added through the ``nk_add_commands`` hook,
exactly like a plugin's; modules such as explore or serve slot in the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nk import __version__
from nk.errors import UserError


@dataclass
class App:
    """What a subcommand handler gets besides its arguments."""

    pm: Any  # nk.plugins.PluginManager
    console: Any  # rich.console.Console
    err_console: Any


def docs_location() -> str:
    """Where the user's guide is: the README.md of the source tree nk runs from (an editable or
    repository install), else a pointer that needs no network."""
    from pathlib import Path

    here = Path(__file__).resolve()
    for folder in here.parents[1:5]:
        readme = folder / "README.md"
        try:
            if readme.is_file() and "nk run" in readme.read_text(encoding="utf-8", errors="replace"):
                return str(readme)
        except OSError:
            continue
    return "README.md at the top of nk's source tree (`nk plugins NAME` lists a component's options)"


def build_parser(pm: Any) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nk",
        description="Machine-learning experiments on speaker characteristics from audio.",
        epilog=f"Run `nk COMMAND --help` for a command's options. Docs: {docs_location()}",
    )
    parser.add_argument("--version", action="version", version=f"nk {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    pm.hook.nk_add_commands(subparsers=subparsers)
    return parser


def report_user_error(err_console: Any, exc: UserError) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]Error:[/] {escape(exc.message)}", highlight=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None, *, pm: Any = None) -> int:
    """Entry point of the ``nk`` command; returns the exit code.

    :param pm: a plugin manager to use instead of a new one (tests register plugins into it).
    """
    from rich.console import Console

    console = Console()
    err_console = Console(stderr=True)
    try:
        if pm is None:
            from nk.plugins import PluginManager

            pm = PluginManager()
        parser = build_parser(pm)
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return 0
        return int(handler(args, App(pm=pm, console=console, err_console=err_console)) or 0)
    except UserError as exc:
        report_user_error(err_console, exc)
        return exc.exit_code
    except OSError as exc:  # a full disk, a read-only or protected folder: the user's to fix
        from nk.paths import os_error

        user_error = os_error(exc)
        if user_error is None:
            raise
        report_user_error(err_console, user_error)
        return user_error.exit_code
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
