"""Benchmark (not a test): nk on a large synthetic corpus (1,000 and 10,000 files).

    .venv/bin/python bench/bench_scale.py [--sizes 1000,10000] [--seconds 0.5] [--work /tmp/nk-scale]
                                          [--throughput-size 1000] [--no-ray]

1. **Corpus.** ``--sizes`` files of ``--seconds`` of synthetic voiced tones (two classes, by pitch
   and loudness; 20 files per speaker, half female), written with a CSV into ``--work`` (not the
   repository); reused when already there.
2. **eGeMAPS throughput** on ``--throughput-size`` files, each in a fresh child process calling
   ``nk.featurize.extract`` with a fresh cache: local ``n_jobs=1``, local ``n_jobs=2``, and
   ``extract.backend=ray`` on a local Ray cluster (2 CPUs, 2 actors, no dashboard; Ray's start
   included). Files/s, × real time, ratios against ``n_jobs=1``.
3. **Peak memory** (RSS, sampled every 0.1 s with psutil) of the extracting process and of each
   worker, for the smallest and the largest size (local ``n_jobs=2``); the ratio largest/smallest
   should stay ≤ 1.2 (the cache is written in chunks; nothing holds more than a chunk of audio).
4. **``nk run`` outside extraction**, per size, with the cache just filled by step 3: ``nk run
   data=csv feats=egemaps model=svm`` (speaker split, dev split for ranking, no PDF) and the
   stage times from its ``results.json`` (load, split, featurize = cache lookup, scale, fit,
   predict, evaluate, report): each stage's share and how much it grew per 10× rows.
5. **Cache lookup** of every row of the largest size (row keys + reading the parquet chunks),
   in a fresh process.

On 2 shared cores the 10,000-file extraction takes several minutes; ``--sizes 1000`` alone takes
about two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def make_corpus(work: Path, n: int, seconds: float) -> Path:
    """The CSV of an ``n``-file corpus below ``work`` (written once)."""
    import pandas as pd

    from nk.testing import write_tone

    folder = work / f"corpus{n}"
    csv = folder / "corpus.csv"
    if csv.exists():
        return csv
    rows = []
    per_speaker = 20
    for i in range(n):
        speaker = i // per_speaker
        gender = "female" if speaker % 2 else "male"
        label = "high" if i % 2 else "low"
        base = 200.0 if gender == "female" else 110.0
        path = folder / f"spk{speaker:04d}" / f"{i:05d}.wav"
        write_tone(path, f0=base * (1.3 if label == "high" else 1.0) + (i % 7), seconds=seconds,
                   loudness=0.35 if label == "high" else 0.15, seed=i)
        rows.append({"file": str(path), "label": label, "speaker": f"s{speaker}", "gender": gender})
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv


class PeakRss:
    """Peak RSS of this process and of each of its descendants (by pid), sampled in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.me = psutil.Process()
        self.interval = interval
        self.parent = 0
        self.children: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            self.parent = max(self.parent, self.me.memory_info().rss)
            for child in self.me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    if child.pid not in self.names:
                        self.names[child.pid] = " ".join(child.cmdline()[:3])[:60]
                except psutil.Error:
                    continue
                self.children[child.pid] = max(self.children.get(child.pid, 0), rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child_extract(csv: Path, cache: Path, n_jobs: int, backend: str) -> dict[str, Any]:
    """In a fresh process: extract eGeMAPS for the corpus; time and peak memory."""
    import logging

    import pandas as pd
    from rich.console import Console

    from nk.config import compose
    from nk.context import RunContext
    from nk.featurize import extract
    from nk.plugins import PluginManager

    pm = PluginManager()
    overrides = ["feats=egemaps", f"n_jobs={n_jobs}", f"cache_dir={cache}", f"extract.backend={backend}"]
    if backend == "ray":
        overrides.append("extract.actors=2")
    cfg = compose(overrides, pm)
    run_dir = cache.parent / f"run-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = RunContext(cfg=cfg, run_dir=run_dir, pm=pm, log=logging.getLogger("nk.bench"),
                     console=Console(quiet=True))
    comp = pm.registry.get("feats", "egemaps")
    values = comp.defaults()
    index = pd.Index(pd.read_csv(csv)["file"], name="file")
    with PeakRss() as rss:
        started = time.perf_counter()
        frame = extract(comp, comp.build(values), values, index, ctx)
        seconds = time.perf_counter() - started
    workers = {pid: peak for pid, peak in rss.children.items() if peak > 50e6}  # not short-lived helpers
    return {"files": len(index), "seconds": seconds, "columns": frame.shape[1], "parent_rss": rss.parent,
            "worker_rss": sorted(workers.values(), reverse=True)[:8]}


def child_lookup(csv: Path, cache: Path) -> dict[str, Any]:
    """In a fresh process: look every row up in the filled cache (keys + chunk reads)."""
    import numpy as np
    import pandas as pd

    from nk.cache import FeatureCache
    from nk.featurize import _row_ref

    files = pd.read_csv(csv)["file"]
    (entry,) = FeatureCache(cache).entries()
    started = time.perf_counter()
    cache_ = FeatureCache(cache)
    keys, _ = cache_.row_keys([_row_ref(f) for f in files])
    positions: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        positions.setdefault(str(key), []).append(i)
    names = entry.feature_names() or []
    out = np.empty((len(files), len(names)), dtype=np.float32)
    found = entry.read_into(positions, out)
    return {"rows": len(files), "found": len(found), "seconds": time.perf_counter() - started}


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def nk_run(csv: Path, cache: Path, results: Path) -> dict[str, Any]:
    env = {**os.environ, "NK_CACHE_DIR": str(cache), "COLUMNS": "200"}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "nk.cli", "run", "data=csv", f"data.csv.path={csv}",
                          "target=label", "feats=egemaps", "model=svm", "n_jobs=2", "split.dev_size=0.2",
                          "document.pdf=never", f"results_root={results}", "name=scale"],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"nk run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    (found,) = sorted((results / "scale").glob("*/results.json"))[-1:]
    data = json.loads(found.read_text())
    return {"wall": wall, "timing": data.get("timing", {}), "run_wall": data.get("wall_seconds")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--work", type=Path, default=Path("/tmp/nk-scale"))
    ap.add_argument("--throughput-size", type=int, default=1000)
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "extract":
            result = child_extract(Path(rest[0]), Path(rest[1]), int(rest[2]), rest[3])
        else:
            result = child_lookup(Path(rest[0]), Path(rest[1]))
        print(json.dumps(result))
        return

    import shutil

    sizes = [int(s) for s in args.sizes.split(",")]
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    mb = 1024 * 1024
    print(f"# nk scale benchmark: {sizes} files of {args.seconds} s, work folder {work}, {os.cpu_count()} cores")
    t = time.perf_counter()
    csvs = {n: make_corpus(work, n, args.seconds) for n in sorted({*sizes, args.throughput_size})}
    print(f"corpora ready in {time.perf_counter() - t:.0f} s")

    # 2. throughput
    n = args.throughput_size
    print(f"\n## eGeMAPS extraction throughput, {n} files (fresh cache each, Ray start included)")
    base = None
    variants = [("local, n_jobs=1", 1, "local"), ("local, n_jobs=2", 2, "local")]
    if not args.no_ray:
        variants.append(("Ray, local cluster, 2 actors", 2, "ray"))
    for label, jobs, backend in variants:
        cache = work / f"cache-tp-{backend}-{jobs}"
        shutil.rmtree(cache, ignore_errors=True)
        r = _child("extract", str(csvs[n]), str(cache), str(jobs), backend)
        rate = r["files"] / r["seconds"]
        base = base or rate
        print(f"{label:32s} {r['seconds']:7.1f} s  {rate:7.1f} files/s  {rate * args.seconds:6.1f} × real time  "
              f"{rate / base:4.2f}× n_jobs=1")
        shutil.rmtree(cache, ignore_errors=True)

    # 3. memory (and fill the caches for 4 and 5)
    print("\n## Peak RSS while extracting (local, n_jobs=2)")
    memory = {}
    for size in sizes:
        cache = work / f"cache-{size}"
        shutil.rmtree(cache, ignore_errors=True)
        r = _child("extract", str(csvs[size]), str(cache), "2", "local")
        memory[size] = r
        workers = ", ".join(f"{w / mb:.0f}" for w in r["worker_rss"])
        print(f"{size:6d} files: {r['seconds']:7.1f} s ({r['files'] / r['seconds']:.1f} files/s); parent "
              f"{r['parent_rss'] / mb:.0f} MiB, workers {workers} MiB")
    if len(sizes) > 1:
        lo, hi = memory[sizes[0]], memory[sizes[-1]]
        ratio_p = hi["parent_rss"] / lo["parent_rss"]
        ratio_w = max(hi["worker_rss"] or [0]) / max(max(lo["worker_rss"] or [1]), 1)
        print(f"ratio {sizes[-1]}/{sizes[0]} files: parent {ratio_p:.2f}×, largest worker {ratio_w:.2f}× "
              f"(target ≤ 1.2×)")

    # 4. nk run outside extraction
    print("\n## nk run with a warm cache (egemaps + svm, dev split): stage times (s) and shares")
    runs = {}
    for size in sizes:
        results = work / f"results-{size}"
        shutil.rmtree(results, ignore_errors=True)
        runs[size] = nk_run(csvs[size], work / f"cache-{size}", results)
    stages = [s for s in runs[sizes[0]]["timing"] if isinstance(runs[sizes[0]]["timing"][s], (int, float))]
    head = "stage".ljust(12) + "".join(f"{s:>10d} files  share" for s in sizes)
    print(head)
    for stage in stages:
        line = stage.ljust(12)
        for size in sizes:
            timing = runs[size]["timing"]
            total = sum(v for v in timing.values() if isinstance(v, (int, float)))
            value = float(timing.get(stage, 0.0))
            line += f"{value:>16.2f} {100 * value / max(total, 1e-9):5.1f}%"
        print(line)
    for size in sizes:
        r = runs[size]
        total = sum(v for v in r["timing"].values() if isinstance(v, (int, float)))
        print(f"{size:6d} files: stages {total:.1f} s, nk run wall {r['wall']:.1f} s (start-up and imports "
              f"{r['wall'] - total:.1f} s)")
    if len(sizes) > 1:
        lo, hi = runs[sizes[0]]["timing"], runs[sizes[-1]]["timing"]
        growth = {s: float(hi.get(s, 0)) / max(float(lo.get(s, 0)), 1e-3) for s in stages}
        factor = sizes[-1] / sizes[0]
        print(f"growth for {factor:.0f}× rows: " + ", ".join(f"{s} {g:.1f}×" for s, g in growth.items()))

    # 5. cache lookup
    size = sizes[-1]
    r = _child("lookup", str(csvs[size]), str(work / f"cache-{size}"))
    print(f"\n## Cache lookup of {r['rows']} cached rows (fresh process): {r['seconds']:.2f} s "
          f"({r['found']} found; target ≤ 1 s)")


if __name__ == "__main__":
    main()
