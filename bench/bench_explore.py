"""Benchmark (not a test): `nk explore` on the 240-file demo corpus, against nkululeko's explore.

    .venv/bin/python bench/bench_explore.py [--corpus demo|polish] [--repeat 3]
        [--nkululeko /tmp/nkulu-venv] [--keep DIR] [--polish /work/shared/data/polish]

The corpus is the demo with ``data.demo.n_utterances=5`` (12 speakers × 4 emotions × 5 = 240
files) and a gender–emotion confound (``data.demo.confound=0.8``). Both tools make the same kind
of output: value counts (target, gender, age, duration), durations, a bias table (nkululeko:
its Kruskal–Wallis tests of the value-count columns), eGeMAPS features (nk: ``feats=egemaps``
from nk-opensmile; nkululeko: ``type=['os']``, both openSMILE eGeMAPSv02 functionals), the
distributions of the 10 most important features, and PCA and t-SNE scatter plots.

``--corpus polish`` runs the same comparison on real acted speech: the Polish emotional speech
corpus (450 files, 5 speakers, anger/fear/neutral; ``--polish`` names its folder, which holds
``polish_speech_emotions.zip`` and nkululeko's split ``polish_{train,dev,test}.csv``). The zip is
unpacked into the work folder and the three CSVs are joined into one with absolute paths; nk
reads it with ``data=csv data.csv.path=<csv> target=emotion``, nkululeko as a single csv
database (same explore settings as for the demo, except that the corpus has no age column,
so nkululeko, which stops on a missing one, is not asked for its value counts).

Each repeat runs, interleaved so that load on the machine hits both alike:

- ``nk explore`` with a cold feature cache (the cache's features folder is deleted first) and
  warm (run again), each in a fresh process as a user would run it; the HTML/PDF report is
  switched off (``explore.report=false``) since nkululeko makes none; and warm once more with
  ``explore.plot_jobs=1`` (no plot worker), which shows what the worker process gains;
- nkululeko 1.14.1's explore (``nkululeko.explore``'s steps, timed phase by phase by a small
  driver) from a fresh experiment folder (cold) and again (warm: nkululeko reuses its stored
  experiment, features and importance).

It prints nk's per-analysis times (from ``explore.json``), then the best of the repeats for the
whole command (wall clock) and for the analyses alone — nk: counts, durations, bias, features,
scatter and the plots; nkululeko: ``Experiment.analyse_features`` — and their ratios. Imports,
loading and feature extraction are fixed costs of a Python process and of openSMILE; they are
in the whole-command numbers and outside the analysis numbers for both tools (nk's "setup" —
imports and matplotlib's font loading, done once before the plot workers fork — likewise).

nkululeko runs only when its virtual environment exists (``--nkululeko``); create it with
``python3 -m venv /tmp/nkulu-venv && /tmp/nkulu-venv/bin/pip install torch==2.13.0 &&
/tmp/nkulu-venv/bin/pip install nkululeko==1.14.1`` (PyPI serves a CPU build of that torch).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

CORPUS = ["data.demo.n_utterances=5", "data.demo.confound=0.8"]
EXPLORE = ["feats=egemaps", "'explore.scatter=[pca,tsne]'", "explore.top_k=10", "explore.report=false"]
POLISH_SPLITS = ("polish_train.csv", "polish_dev.csv", "polish_test.csv")
ANALYSES = ("setup", "counts", "durations", "bias", "features", "scatter", "plots")

EXPORT = """
import logging, sys
from pathlib import Path
from rich.console import Console
from nk.config import compose
from nk.context import RunContext
from nk.corpus import load_corpus
from nk.plugins import PluginManager

pm = PluginManager()
cfg = compose(sys.argv[2:], pm)
ctx = RunContext(cfg=cfg, run_dir=Path("."), pm=pm, log=logging.getLogger("bench"), console=Console(quiet=True))
frame, target, task, _ = load_corpus(ctx)
frame[[target, "speaker", "gender", "age", "duration"]].to_csv(sys.argv[1])
print(len(frame))
"""

NKULULEKO_DRIVER = """
# nkululeko.explore's main(), with each phase timed (same calls, same order)
import configparser, json, sys, time
t0 = time.perf_counter()
from nkululeko.experiment import Experiment
from nkululeko.utils.util import Util
times = {"imports": time.perf_counter() - t0}
config = configparser.ConfigParser()
config.read(sys.argv[1])
expr = Experiment(config)
expr.set_module("explore")
util = Util("explore")
t = time.perf_counter()
loaded = False
try:
    expr.load(util.get_save_name())
    expr.util.set_config(config)
    loaded = True
except FileNotFoundError:
    expr.load_datasets()
    expr.fill_train_and_tests()
times["load"] = time.perf_counter() - t
t = time.perf_counter()
if not loaded:
    expr.extract_feats()
times["featurize"] = time.perf_counter() - t
t = time.perf_counter()
expr.analyse_features(True)
times["analyses"] = time.perf_counter() - t
expr.store_report()
times["total"] = time.perf_counter() - t0
print("NKULULEKO_TIMES " + json.dumps(times))
"""


def polish_csv(source: Path, work: Path) -> tuple[Path, int]:
    """Unpack the Polish corpus into ``work`` and join its split CSVs into one with absolute paths."""
    import zipfile

    import pandas as pd

    with zipfile.ZipFile(source / "polish_speech_emotions.zip") as archive:
        archive.extractall(work)
    frame = pd.concat([pd.read_csv(source / name) for name in POLISH_SPLITS], ignore_index=True)
    frame["file"] = [str((work / f).resolve()) for f in frame["file"]]
    missing = [f for f in frame["file"] if not Path(f).is_file()]
    if missing:
        raise SystemExit(f"polish: {len(missing)} files of the CSVs are not in the zip, e.g. {missing[0]}")
    csv = work / "polish.csv"
    frame.to_csv(csv, index=False)
    return csv, len(frame)


def _ini(root: Path, csv: Path, name: str) -> str:
    # nkululeko stops on a value count of a column the corpus lacks (Polish: no age); nk skips it
    counts = "[['gender'], ['duration']]" if name == "polish" else "[['gender'], ['age'], ['duration']]"
    return textwrap.dedent(f"""\
        [EXP]
        root = {root}
        name = explore_bench
        [DATA]
        databases = ['{name}']
        {name} = {csv}
        {name}.type = csv
        {name}.absolute_path = True
        {name}.split_strategy = speaker_split
        target = emotion
        [FEATS]
        type = ['os']
        [EXPL]
        value_counts = {counts}
        feature_distributions = True
        max_feats = 10
        scatter = ['pca', 'tsne']
        [PLOT]
        format = png
        """)


def run_nk(work: Path, env: dict[str, str], corpus: list[str], *, cold: bool,
           extra: tuple[str, ...] = ()) -> dict[str, Any]:
    if cold:
        shutil.rmtree(Path(env["NK_CACHE_DIR"]) / "features", ignore_errors=True)
    before = set(work.glob("results/*/*-explore"))
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "nk.cli", "explore", *corpus, *[a.strip("'") for a in EXPLORE], *extra],
                         cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"nk explore failed:\n{out.stdout}\n{out.stderr}")
    (run_dir,) = set(work.glob("results/*/*-explore")) - before
    result = json.loads((run_dir / "explore.json").read_text())
    return {"wall": wall, "timing": result["timing"], "top": result["bias"]["associations"][0]}


def run_nkululeko(python: Path, work: Path, csv: Path, name: str, *, cold: bool) -> dict[str, Any]:
    root = work / "nkululeko"
    if cold:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(exist_ok=True)
    ini = work / "exp.ini"
    ini.write_text(_ini(root, csv, name))
    driver = work / "nkululeko_driver.py"
    driver.write_text(NKULULEKO_DRIVER)
    started = time.perf_counter()
    out = subprocess.run([str(python), str(driver), str(ini)], cwd=work, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - started
    lines = [line for line in out.stdout.splitlines() if line.startswith("NKULULEKO_TIMES ")]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"nkululeko failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return {"wall": wall, "timing": json.loads(lines[-1].removeprefix("NKULULEKO_TIMES "))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=("demo", "polish"), default="demo",
                        help="demo: nk's synthetic demo corpus; polish: the Polish emotional speech corpus")
    parser.add_argument("--polish", type=Path, default=Path("/work/shared/data/polish"),
                        help="folder with polish_speech_emotions.zip and polish_{train,dev,test}.csv")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nkululeko", type=Path, default=Path("/tmp/nkulu-venv"),
                        help="virtual environment with nkululeko 1.14.1")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="nk-bench-explore-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NK_CACHE_DIR": str(work / "cache"), "COLUMNS": "120"}
    if args.corpus == "polish":
        csv, rows = polish_csv(args.polish, work)
        corpus = ["data=csv", f"data.csv.path={csv}", "target=emotion"]
        print(f"corpus: {rows} files (Polish emotional speech, {args.polish}), joined into {csv}")
    else:
        csv = work / "demo.csv"
        corpus = CORPUS
        rows = subprocess.run([sys.executable, "-c", EXPORT, str(csv), *CORPUS], env=env, cwd=work, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
        print(f"corpus: {rows} files ({' '.join(CORPUS)}), exported to {csv}")
    python = args.nkululeko / "bin" / "python"
    nkululeko = python.exists()
    if not nkululeko:
        print(f"nkululeko: no virtual environment at {args.nkululeko}; timing nk alone")

    runs: dict[str, list[dict[str, Any]]] = {"nk cold": [], "nk warm": [], "nk warm serial": [],
                                             "nkululeko cold": [], "nkululeko warm": []}
    for i in range(args.repeat):
        runs["nk cold"].append(run_nk(work, env, corpus, cold=True))
        runs["nk warm"].append(run_nk(work, env, corpus, cold=False))
        runs["nk warm serial"].append(run_nk(work, env, corpus, cold=False, extra=("explore.plot_jobs=1",)))
        if nkululeko:
            runs["nkululeko cold"].append(run_nkululeko(python, work, csv, args.corpus, cold=True))
            runs["nkululeko warm"].append(run_nkululeko(python, work, csv, args.corpus, cold=False))
        print(f"repeat {i + 1}/{args.repeat}: " + ", ".join(
            f"{k} {v[-1]['wall']:.1f} s" for k, v in runs.items() if v))

    top = runs["nk warm"][-1]["top"]
    print(f"\ntop association: {top['sentence']}")
    print("\nnk explore, seconds per step (median of the repeats; 'analyses' = counts … plots):")
    keys = ["load", "featurize", *ANALYSES, "analyses", "total"]
    print(f"{'step':<10}" + "".join(f"{k:>10}" for k in keys))
    for name in ("nk cold", "nk warm", "nk warm serial"):
        cells = [statistics.median(r["timing"].get(k, 0.0) for r in runs[name]) for k in keys]
        print(f"{name.removeprefix('nk ').replace('warm serial', 'serial'):<10}"
              + "".join(f"{c:>10.2f}" for c in cells))
    print("(serial: warm with explore.plot_jobs=1, every plot drawn by the main process after the analyses)")

    def best(name: str, key: str) -> float:
        return min(r["wall"] if key == "wall" else r["timing"]["analyses"] for r in runs[name])

    print("\nbest of the repeats, seconds:")
    print(f"{'':<28}{'nk':>10}{'nkululeko':>12}{'nk / nkululeko':>17}")
    for label, key, kind in (("whole command, cold", "wall", "cold"), ("whole command, warm", "wall", "warm"),
                             ("analyses + plots, cold", "analyses", "cold"),
                             ("analyses + plots, warm", "analyses", "warm")):
        nk_s = best(f"nk {kind}", key)
        if nkululeko:
            other = best(f"nkululeko {kind}", key)
            print(f"{label:<28}{nk_s:>10.2f}{other:>12.2f}{nk_s / other:>17.2f}")
        else:
            print(f"{label:<28}{nk_s:>10.2f}{'-':>12}{'-':>17}")
    serial = best("nk warm serial", "analyses")
    print(f"plot workers: analyses + plots, warm, {best('nk warm', 'analyses'):.2f} s with the default "
          f"plot_jobs against {serial:.2f} s with plot_jobs=1 (× {serial / best('nk warm', 'analyses'):.2f})")
    if nkululeko:
        n = runs["nkululeko cold"][-1]["timing"]
        print("nkululeko phases (last cold run): " + ", ".join(f"{k} {v:.2f} s" for k, v in n.items()))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
