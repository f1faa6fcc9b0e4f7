"""How many of nkululeko's own INI files nk translates with no unsupported key.

    python bench/ini_coverage.py                    # downloads nkululeko 1.14.1's sdist (pip)
    python bench/ini_coverage.py --sdist nkululeko-1.14.1.tar.gz

Translates every ``*.ini`` in the source distribution with the installed nk plugins and prints
the share with no unsupported key, the files that fail to parse, and for each unsupported key
(``DATA.<db>.key`` for per-database keys) the number of files using it. Nothing is kept.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path


def _sdist(version: str, dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    f"nkululeko=={version}", "-d", str(dest), "-q"], check=True)
    return next(dest.glob("nkululeko-*.tar.gz"))


def _generic(key: str, databases: set[str]) -> str:
    section, _, rest = key.partition(".")
    if section == "DATA":
        head, _, tail = rest.partition(".")
        if head in databases:
            return f"DATA.<db>.{tail}" if tail else "DATA.<db>"
    return key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help="nkululeko's .tar.gz (default: pip download)")
    parser.add_argument("--version", default="1.14.1")
    parser.add_argument("--top", type=int, default=40, help="unsupported keys to list")
    parser.add_argument("--show", action="store_true", help="print each unsupported key's reason once")
    parser.add_argument("--no-compose", action="store_true",
                        help="skip composing each clean translation into an nk config (the check that its "
                             "overrides are valid nk keys, types and bounds)")
    args = parser.parse_args()

    from nk.config import compose
    from nk.errors import UserError
    from nk.nkululeko import installed_components, read_ini, translate
    from nk.plugins import PluginManager

    pm = PluginManager()
    components = installed_components(pm)
    composed, compose_errors = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or _sdist(args.version, Path(tmp))
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        files = sorted(Path(tmp).rglob("*.ini"))
        ok, errors = 0, []
        per_key: collections.Counter[str] = collections.Counter()
        reasons: dict[str, str] = {}
        for path in files:
            rel = str(path.relative_to(tmp))
            try:
                ini = read_ini(path)
                tr = translate(path, components)
            except UserError as exc:
                errors.append(f"{rel}: {exc.message}")
                continue
            names = {str(n) for n in (ini.get("DATA", "databases") or [])} if isinstance(
                ini.get("DATA", "databases"), list) else set()
            keys = {_generic(u.key, names) for u in tr.unsupported}
            for u in tr.unsupported:
                reasons.setdefault(_generic(u.key, names), re.sub(r"\s+", " ", u.reason))
            per_key.update(keys)
            ok += not tr.unsupported
            if not tr.unsupported and not args.no_compose:
                from nk.runner import expand_sweep

                try:
                    for job in expand_sweep(tr.overrides)[:1] if tr.multirun else [tr.overrides]:
                        compose(job, pm)
                    composed += 1
                except UserError as exc:
                    compose_errors.append(f"{rel}: {exc.message}")
    n = len(files)
    print(f"nkululeko {args.version}: {n} INI files; {ok} ({ok / max(n, 1):.0%}) translate with no unsupported key;"
          f" {len(errors)} do not parse")
    for err in errors:
        print(f"  parse error: {err}")
    if not args.no_compose:
        print(f"{composed} of the {ok} clean translations compose into a valid nk config")
        for err in compose_errors:
            print(f"  compose error: {err}")
    print("unsupported keys (files using each):")
    for key, count in per_key.most_common(args.top):
        print(f"  {count:4d}  {key}" + (f"  — {reasons[key][:110]}" if args.show else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
