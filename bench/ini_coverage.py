"""How many of nkululeko's own INI files nk translates with no unsupported key.

    python bench/ini_coverage.py                    # downloads nkululeko 1.14.1's sdist (pip)
    python bench/ini_coverage.py --sdist nkululeko-1.14.1.tar.gz

Translates every ``*.ini`` in the source distribution with the installed nk plugins and prints
the share with no unsupported key, the files that fail to parse, and for each unsupported key
(``DATA.<db>.key`` for per-database keys) the number of files using it; each clean translation
is composed into an nk config (valid keys, types, bounds). ``--run N`` runs the first N clean
single-run classification files (openSMILE/Praat/MFCC features) end to end, their [DATA]
rewritten to a synthetic Polish-like corpus. Nothing is kept.
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


def _cheap_features(overrides: list[str]) -> bool:
    """Only openSMILE, Praat and MFCC features (no model downloads)."""
    feats = [o.split("=", 1)[1].strip("[]") for o in overrides if o.startswith("feats=")]
    return bool(feats) and all(f in {"egemaps", "opensmile", "praat", "mfcc"} for f in feats[0].split(","))


POLISH_DATA = """[DATA]
databases = ['train', 'dev', 'test']
train = {d}/polish_train.csv
train.type = csv
train.absolute_path = False
train.split_strategy = train
dev = {d}/polish_dev.csv
dev.type = csv
dev.absolute_path = False
dev.split_strategy = train
test = {d}/polish_test.csv
test.type = csv
test.absolute_path = False
test.split_strategy = test
target = emotion
"""


def _run_on_polish(path: Path, tmp: Path, pm: object) -> str:
    """Run one INI file with its [DATA] replaced by a synthetic Polish-like corpus; the UAR."""
    import configparser
    import contextlib
    import io
    import json
    import os

    import pandas as pd

    from nk.cli import main as nk_main
    from nk.testing import write_tone

    data = tmp / "polish"
    if not (data / "polish_test.csv").exists():
        rows = []
        for spk in range(1, 6):
            for emo, f0 in (("anger", 200), ("fear", 240), ("neutral", 120)):
                for rep in range(3):
                    wav = write_tone(data / "POLISH" / f"m{spk}.{emo}_{rep}.wav", f0=f0 + 7 * spk + 5 * rep,
                                     seconds=0.5)
                    rows.append({"file": f"POLISH/{wav.name}", "speaker": f"m{spk}", "gender": "male",
                                 "emotion": emo, "split": {1: "test", 4: "dev"}.get(spk, "train")})
        table = pd.DataFrame(rows)
        for split in ("train", "dev", "test"):
            table[table.split == split].drop(columns="split").to_csv(data / f"polish_{split}.csv", index=False)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    parser.remove_section("DATA")
    parser.read_string(POLISH_DATA.format(d=data))
    if parser.has_section("EXP"):
        parser.set("EXP", "root", str(tmp / "runs"))
    rewritten = tmp / f"run_{path.name}"
    with rewritten.open("w") as fh:
        parser.write(fh)
    os.environ.setdefault("NK_CACHE_DIR", str(tmp / "cache"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = nk_main(["run", "--config", str(rewritten), "n_jobs=1", "bootstrap.n_resamples=100"], pm=pm)
    if code != 0:
        return f"{path.relative_to(tmp)}: exit {code}: {' '.join(out.getvalue().split())[-300:]}"
    results = sorted((tmp / "runs").rglob("results.json"), key=lambda p: p.stat().st_mtime)[-1]
    res = json.loads(results.read_text())
    return f"{path.relative_to(tmp)}: {', '.join(res['components']['feats'])} + {res['components']['model'][0]}: UAR " \
           f"{res['test']['uar']['value']:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sdist", type=Path, help="nkululeko's .tar.gz (default: pip download)")
    parser.add_argument("--version", default="1.14.1")
    parser.add_argument("--top", type=int, default=40, help="unsupported keys to list")
    parser.add_argument("--show", action="store_true", help="print each unsupported key's reason once")
    parser.add_argument("--run", type=int, default=0, metavar="N",
                        help="run the first N clean single-run classification files end to end with their [DATA] "
                             "rewritten to a synthetic Polish-like corpus (nkululeko's train/dev/test CSVs)")
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
    runnable: list[Path] = []
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
            if (not tr.unsupported and len(runnable) < args.run and not tr.multirun and tr.command == "run"
                    and str(ini.get("EXP", "type", "classification")).lower() != "regression"
                    and _cheap_features(tr.overrides)):
                runnable.append(path)
            if not tr.unsupported and not args.no_compose:
                from nk.runner import expand_sweep

                try:
                    for job in expand_sweep(tr.overrides)[:1] if tr.multirun else [tr.overrides]:
                        compose(job, pm)
                    composed += 1
                except UserError as exc:
                    compose_errors.append(f"{rel}: {exc.message}")
        ran = [_run_on_polish(path, Path(tmp), pm) for path in runnable]
    n = len(files)
    print(f"nkululeko {args.version}: {n} INI files; {ok} ({ok / max(n, 1):.0%}) translate with no unsupported key;"
          f" {len(errors)} do not parse")
    for err in errors:
        print(f"  parse error: {err}")
    if not args.no_compose:
        print(f"{composed} of the {ok} clean translations compose into a valid nk config")
        for err in compose_errors:
            print(f"  compose error: {err}")
    for line in ran:
        print(f"  end to end: {line}")
    print("unsupported keys (files using each):")
    for key, count in per_key.most_common(args.top):
        print(f"  {count:4d}  {key}" + (f"  — {reasons[key][:110]}" if args.show else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
