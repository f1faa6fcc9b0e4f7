"""Fixed cost of a warm ``nk run``: the default experiment on the demo corpus (240 files) with
its features cached, timed for this tree and for a baseline commit in the same bench run.

The baseline is checked out into a temporary git worktree under /tmp and run with this venv
(``PYTHONPATH`` puts its ``core/src`` ahead of the editable install). Runs alternate between
the two trees, so machine load affects both alike; the medians and their ratio are printed,
then the slowest imports of this tree by ``python -X importtime`` (cumulative).

    .venv/bin/python bench/bench_fixed_cost.py [--baseline COMMIT] [--repeats 5] [args for nk run]

Wall time is what the target is about; the CPU time (the run and the processes it waits for)
is the better guide while other programs load the machine.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASELINE = "c592180"  # main before the stage functions (issue 9 item 7)


def _nk(tree: Path | None, args: list[str], env: dict[str, str], cwd: Path, *,
        importtime: bool = False) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stderr) of one ``nk run``."""
    env = dict(env)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "core" / "src")
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "nk.cli", "run", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if out.returncode != 0:
        raise SystemExit(f"nk run failed ({tree or 'this tree'}):\n{out.stdout}\n{out.stderr}")
    return seconds, cpu, out.stderr


def _slowest_imports(stderr: str, n: int = 15) -> list[tuple[float, str]]:
    """Top-level packages by cumulative import time (µs → s) from ``-X importtime`` output."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(3)) <= 1:  # top level: one space of indentation
            rows.append((int(m.group(2)) / 1e6, m.group(4)))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="commit to compare with")
    parser.add_argument("--repeats", type=int, default=5, help="warm runs per tree")
    parser.add_argument("nk_args", nargs="*", default=["data.demo.n_utterances=5"],
                        help="overrides for nk run (default: the 240-file demo corpus)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="nk-fixed-cost-") as tmp_name:
        tmp = Path(tmp_name)
        baseline = tmp / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
                       check=True, capture_output=True)
        try:
            env = {**os.environ, "NK_CACHE_DIR": str(tmp / "cache"), "COLUMNS": "120"}
            work = tmp / "work"
            work.mkdir()
            run_args = [f"results_root={tmp / 'results'}", *args.nk_args]
            print(f"warming the cache (nk run {' '.join(args.nk_args) or 'with defaults'}) …", flush=True)
            _nk(None, run_args, env, work)
            _nk(baseline, run_args, env, work)
            times: dict[str, list[float]] = {"baseline": [], "this tree": []}
            cpu: dict[str, list[float]] = {"baseline": [], "this tree": []}
            for _ in range(args.repeats):
                for name, tree in (("baseline", baseline), ("this tree", None)):
                    wall, used, _ = _nk(tree, run_args, env, work)
                    times[name].append(wall)
                    cpu[name].append(used)
            for name, values in times.items():
                print(f"{name:10s} wall median {statistics.median(values):.2f} s "
                      f"(runs: {', '.join(f'{v:.2f}' for v in values)}); CPU median "
                      f"{statistics.median(cpu[name]):.2f} s")
            ratio = statistics.median(times["this tree"]) / statistics.median(times["baseline"])
            cpu_ratio = statistics.median(cpu["this tree"]) / statistics.median(cpu["baseline"])
            print(f"ratio this tree / baseline ({args.baseline}): wall {ratio:.2f}, CPU {cpu_ratio:.2f}")
            print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
                  "(well above 0: wall-time ratios are unreliable)")
            _, _, stderr = _nk(None, run_args, env, work, importtime=True)
            print("slowest imports of this tree's warm run (cumulative, seconds):")
            for seconds, name in _slowest_imports(stderr):
                print(f"  {seconds:6.3f}  {name}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                           capture_output=True)


if __name__ == "__main__":
    main()
