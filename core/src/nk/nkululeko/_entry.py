"""``python -m nk.nkululeko.MODULE --config exp.ini``: nkululeko's module calls, run by nk."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(command: str, module: str, argv: Sequence[str] | None = None, extra: Sequence[str] = ()) -> int:
    """Run ``nk COMMAND --config FILE`` for ``python -m nk.nkululeko.MODULE --config FILE``,
    saying which nk command it ran."""
    parser = argparse.ArgumentParser(
        prog=f"python -m nk.nkululeko.{module}" if module else "python -m nk.nkululeko",
        description=f"nkululeko's `python -m nkululeko.{module or 'nkululeko'} --config exp.ini`, run as "
                    f"`nk {command} --config exp.ini`.")
    parser.add_argument("--config", required=True, metavar="EXP.INI", help="the nkululeko INI file")
    parser.add_argument("--ignore", action="append", default=[], metavar="KEY",
                        help="an INI key to leave out on purpose (repeatable)")
    args, rest = parser.parse_known_args(argv)
    nk_argv = [command, "--config", args.config, *extra, *(f"--ignore={k}" for k in args.ignore), *rest]
    print(f"nk.nkululeko: running `nk {' '.join(nk_argv)}` (use the nk command directly next time)",
          file=sys.stderr)
    from nk.cli import main as nk_main

    return nk_main(nk_argv)


def main_ensemble(argv: Sequence[str] | None = None) -> int:
    """``python -m nk.nkululeko.ensemble [--method M] a.ini b.ini …`` as ``nk ensemble``."""
    nk_argv = ["ensemble", *(sys.argv[1:] if argv is None else argv)]
    print(f"nk.nkululeko: running `nk {' '.join(nk_argv)}` (use the nk command directly next time)",
          file=sys.stderr)
    from nk.cli import main as nk_main

    return nk_main(nk_argv)
