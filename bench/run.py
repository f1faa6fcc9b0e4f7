"""Benchmarks (not tests): print ratios against baselines measured in the same run.

    make bench              # or: .venv/bin/python bench/run.py

1. CLI start-up: `nk --help` and `nk plugins` against a bare `python -c pass`.
2. Feature extraction on the demo corpus: eGeMAPS with all cores against one core (files/s,
   × real time), cold cache; then the warm (cached) run against the cold one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], env: dict[str, str], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def run_nk(args: list[str], env: dict[str, str], cwd: str) -> tuple[float, dict]:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nk.cli", "run", *args], env=env, cwd=cwd, check=True,
                   capture_output=True)
    wall = time.perf_counter() - t
    latest = max(Path(cwd, "results").rglob("results.json"), key=lambda p: p.stat().st_mtime)
    return wall, json.loads(latest.read_text())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NK_CACHE_DIR": str(Path(tmp) / "cache")}
        base = timed([sys.executable, "-c", "pass"], env)
        for args in (["--help"], ["plugins"]):
            t = timed([sys.executable, "-m", "nk.cli", *args], env)
            print(f"nk {' '.join(args):8s} {t:6.3f} s  ({t / base:4.1f} × python -c pass = {base:.3f} s)")

        run_nk(["feats=mfcc", "data.demo.n_utterances=1"], env, tmp)  # synthesise the demo corpus
        _, r1 = run_nk(["n_jobs=1", "name=serial"], env, tmp)
        cache = Path(tmp) / "cache" / "features" / "egemaps"
        shutil.rmtree(cache, ignore_errors=True)
        cold, r = run_nk(["n_jobs=-1", "name=parallel"], env, tmp)
        warm, _ = run_nk(["n_jobs=-1", "name=warm"], env, tmp)
        rows = sum(r["data"]["rows"].values())
        ex1, exn = r1["timing"]["featurize"], r["timing"]["featurize"]
        print(f"eGeMAPS extraction, {rows} files: 1 core {ex1:.1f} s ({rows / ex1:.1f} files/s), "
              f"{os.cpu_count()} cores {exn:.1f} s ({rows / exn:.1f} files/s) → {ex1 / exn:.2f}× speed-up")
        print(f"eGeMAPS + SVM run: cold {cold:.1f} s, warm {warm:.1f} s → warm/cold = {warm / cold:.2f}")
        print(f"UAR {r['test']['uar']['value']:.3f} (serial run: {r1['test']['uar']['value']:.3f})")


if __name__ == "__main__":
    main()
