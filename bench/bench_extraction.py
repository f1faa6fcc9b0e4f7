"""Benchmark (not a test): feature extraction serial vs parallel, warm cache, peak memory.

    .venv/bin/python bench/bench_extraction.py [--repeat 2] [--big-speakers 24 --big-utterances 11]

On the demo corpus (12 speakers × 4 emotions × 8 utterances = 384 files, about 2 s each) it
prints, for eGeMAPS and MFCC: files/s and × real time of a cold extraction with one process
(the baseline) and with all cores, the speed-up against that baseline, and the time of a warm
(fully cached) extraction. Then peak RSS (``resource.getrusage``) of the extracting process and
of its workers for the demo corpus and for a corpus of about 1,000 files (24 speakers × 11
utterances = 1,056 files), which shows that memory stays flat as the corpus grows.

Every number comes from a fresh child process calling ``nk.featurize.extract`` (the call
``nk run`` makes), so imports and worker start-up are included and peak RSS is per
measurement; times are the best of ``--repeat`` runs, interleaved so that load on the machine
affects baseline and candidate alike. Ratios only compare numbers measured in the same run.
"CPU s" is the CPU time of the extracting process and its workers (parallel minus serial is the
cost of parallelism); "other load" is how many cores other processes kept busy meanwhile: on a
shared machine the speed-up cannot exceed the cores left free.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _context(cache: Path, n_jobs: int) -> Any:
    import logging

    from omegaconf import OmegaConf
    from rich.console import Console

    from nk.context import RunContext
    from nk.plugins import PluginManager

    cfg = OmegaConf.create({"sampling_rate": 16000, "cache_dir": str(cache), "n_jobs": n_jobs, "seed": 0})
    run_dir = Path(tempfile.mkdtemp(prefix="nk-bench-run-"))
    return RunContext(cfg=cfg, run_dir=run_dir, pm=PluginManager(), log=logging.getLogger("nk.bench"),
                      console=Console(quiet=True))


def _corpus(ctx: Any, speakers: int, utterances: int) -> Any:
    comp = ctx.pm.registry.get("data", "demo")
    params = {**comp.defaults(), "n_speakers": speakers, "n_utterances": utterances}
    return comp.build(params).load(ctx).frame


def _busy() -> tuple[float, float]:
    """(busy, total) CPU time of the whole machine so far (Linux; zeros elsewhere)."""
    try:
        values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    return sum(values) - values[3] - values[4], sum(values)


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def child(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    ctx = _context(Path(args.cache), args.n_jobs)
    frame = _corpus(ctx, args.speakers, args.utterances)
    result: dict[str, Any] = {"rows": len(frame)}
    if args.feats == "none":  # only synthesise the corpus, report its duration
        import soundfile as sf

        result["audio_s"] = sum(sf.info(f).duration for f in frame.index)
    else:
        from nk.featurize import extract

        comp = ctx.pm.registry.get("feats", args.feats)
        params = comp.defaults()
        featurizer = comp.build(params)
        busy0, total0 = _busy()
        cpu0 = _cpu_seconds()
        started = time.perf_counter()
        features = extract(comp, featurizer, params, frame.index, ctx)
        result["seconds"] = time.perf_counter() - started
        result["cpu_s"] = _cpu_seconds() - cpu0
        busy1, total1 = _busy()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        machine = (busy1 - busy0) / max(total1 - total0, 1e-9) * cores * result["seconds"]
        # cores that other processes kept busy meanwhile (they slow the parallel run down)
        result["other_cores"] = max(0.0, machine - result["cpu_s"]) / result["seconds"]
        result["shape"] = list(features.shape)
    result["rss_self_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_workers_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    shutil.rmtree(ctx.run_dir, ignore_errors=True)
    print(json.dumps(result))


def measure(cache: Path, feats: str, n_jobs: int, speakers: int, utterances: int, *,
            cold: bool) -> dict[str, Any]:
    if cold:
        shutil.rmtree(cache / "features", ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", "--cache", str(cache), "--feats", feats,
           "--n-jobs", str(n_jobs), "--speakers", str(speakers), "--utterances", str(utterances)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="cold runs per configuration (best is kept)")
    parser.add_argument("--feats", default="egemaps,mfcc", help="comma-separated featurizers")
    parser.add_argument("--n-jobs", type=int, default=-1, help="workers of the parallel runs (-1: all cores)")
    parser.add_argument("--big-speakers", type=int, default=24)
    parser.add_argument("--big-utterances", type=int, default=11)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--speakers", type=int, default=12, help=argparse.SUPPRESS)
    parser.add_argument("--utterances", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"nk extraction benchmark: {cores} cores, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine skews timings)")
    with tempfile.TemporaryDirectory(prefix="nk-bench-") as tmp:
        cache = Path(tmp) / "cache"
        demo = measure(cache, "none", 1, 12, 8, cold=False)  # synthesise the demo corpus
        rows, audio = demo["rows"], demo["audio_s"]
        print(f"demo corpus: {rows} files, {audio / 60:.1f} min of audio\n")
        print(f"{'featurizer':10s} {'run':20s} {'seconds':>8s} {'files/s':>8s} {'× real time':>12s} "
              f"{'ratio':>13s} {'CPU s':>6s} {'other load':>10s}")
        for feats in args.feats.split(","):
            best: dict[int, dict[str, Any]] = {}
            for _ in range(args.repeat):  # interleaved: serial, parallel, serial, parallel
                for n_jobs in (1, args.n_jobs):
                    r = measure(cache, feats, n_jobs, 12, 8, cold=True)
                    if n_jobs not in best or r["seconds"] < best[n_jobs]["seconds"]:
                        best[n_jobs] = r
            warm = measure(cache, feats, args.n_jobs, 12, 8, cold=False)
            serial, parallel = best[1]["seconds"], best[args.n_jobs]["seconds"]
            for label, r, ratio in (("cold, 1 process", best[1], "baseline"),
                                    (f"cold, n_jobs={args.n_jobs}", best[args.n_jobs], f"{serial / parallel:.2f}× faster"),
                                    ("warm (cached)", warm, f"{serial / warm['seconds']:.0f}× faster")):
                t = r["seconds"]
                print(f"{feats:10s} {label:20s} {t:8.2f} {rows / t:8.1f} {audio / t:12.0f} {ratio:>13s} "
                      f"{r['cpu_s']:6.1f} {r['other_cores']:7.1f} cores")

        print("\npeak RSS (MB) of a cold eGeMAPS extraction with all cores")
        print(f"{'corpus':24s} {'files':>6s} {'process':>8s} {'worker':>8s} {'seconds':>8s} {'files/s':>8s}")
        feats = args.feats.split(",")[0]
        small = measure(cache, feats, args.n_jobs, 12, 8, cold=True)
        measure(cache, "none", 1, args.big_speakers, args.big_utterances, cold=False)
        big = measure(cache, feats, args.n_jobs, args.big_speakers, args.big_utterances, cold=True)
        for label, r in (("demo (12 × 8)", small), (f"big ({args.big_speakers} × {args.big_utterances})", big)):
            print(f"{label:24s} {r['rows']:6d} {r['rss_self_mb']:8.0f} {r['rss_workers_mb']:8.0f} "
                  f"{r['seconds']:8.2f} {r['rows'] / r['seconds']:8.1f}")
        print(f"process RSS {big['rss_self_mb'] / small['rss_self_mb']:.2f}× and worker RSS "
              f"{big['rss_workers_mb'] / max(small['rss_workers_mb'], 1):.2f}× for "
              f"{big['rows'] / small['rows']:.2f}× the files")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
