"""Benchmark (not a test): nk against nkululeko 1.14.1 on the same files and the same split.

    .venv/bin/python bench/bench_vs_nkululeko.py                 # full run (about 10 min on 2 idle cores)
    .venv/bin/python bench/bench_vs_nkululeko.py --quick --only polish
    .venv/bin/python bench/bench_vs_nkululeko.py --keep --json /tmp/vs.json

What it does, in a temporary work folder (kept with ``--keep``):

1. nkululeko's environment: reuses the virtual environment at ``--nkululeko-venv`` (default
   /tmp/nkulu-venv) when it imports nkululeko 1.14.1, else creates it there with
   ``pip install nkululeko==1.14.1`` and torch pinned to 2.13.0 by a constraints file (so pip
   takes the CPU wheel and no CUDA torch), printing how long that took and its size.
2. Two corpora, each written once as a CSV that both tools read (absolute paths, the same rows,
   the same split): the nk demo corpus (12 speakers × 4 emotions × 5 utterances = 240 files,
   synthesised by ``nk run`` into the work folder's cache; speaker-disjoint split, 8 train
   speakers / 4 test speakers, half of each gender) and the Polish emotional speech corpus
   (``../shared/data/polish``: 450 files; nkululeko's given split, train + dev as train, test as
   test). nk reads ``data=csv split.method=given`` (a ``split`` column); nkululeko reads an INI
   with ``databases = ['train', 'test']`` and ``split_strategy = train`` / ``test``.
3. Per corpus: eGeMAPS + SVM cold and warm (the second run reusing the first run's cached
   features), Praat + SVM cold, eGeMAPS + XGBoost cold. Every cold run gets a fresh cache
   (nk: ``NK_CACHE_DIR``; nkululeko: a fresh experiment root, whose ``store/`` is its cache).
   Settings matched explicitly: SVC C=1, rbf kernel, gamma "scale"; XGBoost 100 rounds,
   depth 6, learning rate 0.3, no row/column subsampling, no early stopping; standard scaling
   fitted on train; no balancing. Each tool otherwise runs with its defaults (both write their
   plots, nk its report). Repeats are interleaved (nk first, then nkululeko first) so that load
   from other processes hits both; the table shows the best wall time of the repeats.
4. nk's extraction throughput and peak memory on about 1,000 files (demo corpus, 24 speakers ×
   11 utterances = 1,056 files, eGeMAPS, cold, n_jobs=-1), and the install footprint: a fresh
   venv with only nk's core and nk-opensmile (the eGeMAPS + SVM install) against nkululeko's.
5. Whether each target is met.

Measured per run: wall time (``time.perf_counter`` around the subprocess), CPU time and the
largest single process's peak RSS (``/usr/bin/time -v``; falls back to ``resource`` deltas), the
peaks of the summed RSS and of the summed PSS of the whole process tree (``/proc`` sampled
every 50 ms, extraction workers included; RSS counts the pages that forked workers share with
their parent once per process, PSS splits them among the sharers), the UAR (nk: ``results.json`` ``test.uar.value``; nkululeko: the
classification report it writes for the run, ``results/run_0/*_last_0_000.txt``, "macro avg"
recall, with its ``*_runs.txt`` (4 decimals) / log line as fall-backs), and "other load": how
many cores other processes kept busy during the run (this machine is shared; wall-time ratios
are only trustworthy when that is near 0, CPU-time ratios are less sensitive to it).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NK_BIN = Path(sys.executable).parent / "nk"
NKULULEKO_VERSION = "1.14.1"
TORCH_VERSION = "2.13.0"
POLISH_DIR = REPO.parent / "shared" / "data" / "polish"
TIME_BIN = "/usr/bin/time"

# targets: nk time / nkululeko time
TARGETS = {"eGeMAPS + SVM cold": 0.4, "eGeMAPS + SVM warm": 0.25, "Praat + SVM cold": 0.3}
INSTALL_TARGET_MB = 800
# UARs are fractions computed in floating point by two programs (35/90 may come out as
# 0.38888888888888884 or 0.3888888888888889): closer than this they are the same number
UAR_EPS = 1e-9

# (label, feats, model, cold?) — the warm run follows the cold eGeMAPS + SVM run in its cache
EXPERIMENTS = [
    ("eGeMAPS + SVM cold", "egemaps", "svm", True),
    ("eGeMAPS + SVM warm", "egemaps", "svm", False),
    ("Praat + SVM cold", "praat", "svm", True),
    ("eGeMAPS + XGB cold", "egemaps", "xgb", True),
]

NK_MODEL_ARGS = {
    "svm": ["model=svm", "model.C=1.0", "model.kernel=rbf"],
    "xgb": ["model=xgb", "model.n_estimators=100", "model.max_depth=6", "model.learning_rate=0.3",
            "model.subsample=1.0", "model.colsample_bytree=1.0", "model.early_stopping_rounds=null"],
}
NKL_MODEL_INI = {
    "svm": "type = svm\nC_val = 1.0\nkernel = rbf\n",
    "xgb": "type = xgb\nn_estimators = 100\nmax_depth = 6\nlearning_rate = 0.3\nsubsample = 1.0\n",
}
NKL_FEATS = {"egemaps": "type = ['os']\nset = eGeMAPSv02\nlevel = functionals\n",
             "praat": "type = ['praat']\n"}


def say(msg: str = "") -> None:
    print(msg, flush=True)


# --- measuring a command ---------------------------------------------------------------------


def _busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (zeros elsewhere)."""
    try:
        values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - values[3] - values[4]) / tick, sum(values) / tick


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


class TreeSampler(threading.Thread):
    """Samples the summed RSS and PSS (kB) of a process and all its descendants until stopped.

    RSS counts a page shared by several processes (forked workers share their parent's pages
    copy-on-write) once per process, so the summed RSS overstates the tree's memory; PSS
    (proportional set size, from /proc/PID/smaps_rollup) splits each shared page among its
    sharers, so the summed PSS is what the tree really occupies.
    """

    def __init__(self, root: int, skip_root: bool, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.skip_root, self.interval = root, skip_root, interval
        self.peak_kb = 0
        self.peak_pss_kb = 0
        self._stop_event = threading.Event()
        self._page_kb = os.sysconf("SC_PAGE_SIZE") // 1024

    def _sample(self) -> tuple[int, int]:
        children = _children_map()
        todo, rss, pss = [self.root], 0, 0
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            if pid == self.root and self.skip_root:
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * self._page_kb
            with contextlib.suppress(OSError, IndexError, ValueError):
                found = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(),
                                  re.M)
                pss += int(found.group(1)) if found else 0
        return rss, pss

    def run(self) -> None:
        if not Path("/proc/self/statm").exists():
            return
        while not self._stop_event.is_set():
            rss, pss = self._sample()
            self.peak_kb = max(self.peak_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class Measure:
    wall_s: float
    cpu_s: float
    max_rss_mb: float  # largest single process (wait4 rusage)
    tree_rss_mb: float  # peak of the summed RSS of the process tree (sampled)
    tree_pss_mb: float  # peak of the summed PSS of the process tree (0: not available)
    other_load: float  # cores kept busy by other processes meanwhile
    rc: int
    log: str


def measure(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Measure:
    use_time = os.access(TIME_BIN, os.X_OK)
    timefile = log.with_suffix(".time")
    full = [TIME_BIN, "-v", "-o", str(timefile), *cmd] if use_time else cmd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, _ = _busy()
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        sampler = TreeSampler(proc.pid, skip_root=use_time)
        sampler.start()
        rc = proc.wait()
    wall = time.perf_counter() - t0
    sampler.stop()
    busy1, _ = _busy()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    max_rss_kb = float(after.ru_maxrss)  # a running maximum: only an upper bound
    if use_time and timefile.exists():
        text = timefile.read_text()
        num = {k: float(v) for k, v in re.findall(r"^\s*(.+?): ([\d.]+)$", text, re.M)}
        cpu = num.get("User time (seconds)", 0.0) + num.get("System time (seconds)", 0.0)
        max_rss_kb = num.get("Maximum resident set size (kbytes)", max_rss_kb)
        status = re.search(r"Exit status: (\d+)", text)
        if status:
            rc = int(status.group(1))
        elif "Command terminated by signal" in text:
            rc = rc or 1
    other = max(0.0, (busy1 - busy0 - cpu) / wall) if busy1 else float("nan")
    return Measure(wall, cpu, max_rss_kb / 1024, sampler.peak_kb / 1024, sampler.peak_pss_kb / 1024,
                   other, rc, str(log))


def tail(path: str | Path, n: int = 25) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in lines[-n:])


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def du_h(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True,
                          check=True).stdout.split()[0]


def ensure_time_tool() -> None:
    """`/usr/bin/time -v` gives CPU time and the peak RSS of the tree's largest process."""
    if os.access(TIME_BIN, os.X_OK) or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    say("installing GNU time (apt-get install -y time) for CPU time and peak RSS ...")
    subprocess.run(["apt-get", "install", "-y", "-q", "time"], capture_output=True)
    if not os.access(TIME_BIN, os.X_OK):
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "time"], capture_output=True)
    if not os.access(TIME_BIN, os.X_OK):
        say("  not available: falling back to resource.getrusage (peak RSS is a running maximum)")


# --- environments ----------------------------------------------------------------------------


def _python3() -> str:
    return shutil.which("python3") or sys.executable


def nkululeko_ok(venv: Path) -> str | None:
    """nkululeko's version in that venv, or None."""
    py = venv / "bin" / "python"
    if not py.exists():
        return None
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m, nkululeko, torch; "
                          "print(m.version('nkululeko'), torch.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_nkululeko(venv: Path, work: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"venv": str(venv)}
    found = nkululeko_ok(venv)
    if found and found.split()[0] == NKULULEKO_VERSION:
        info.update(created=False, versions=found)
        say(f"nkululeko venv {venv}: reused (nkululeko, torch = {found})")
    else:
        if venv.exists() and not (venv / "pyvenv.cfg").exists():
            sys.exit(f"{venv} exists but is not a virtual environment; pass another "
                     "--nkululeko-venv")
        constraints = work / "nkululeko-constraints.txt"
        constraints.write_text(f"torch=={TORCH_VERSION}\n")
        say(f"nkululeko venv {venv}: {'repairing' if venv.exists() else 'creating'} "
            f"(nkululeko=={NKULULEKO_VERSION}, torch=={TORCH_VERSION} pinned by {constraints}) ...")
        t0 = time.perf_counter()
        if not venv.exists():
            subprocess.run([_python3(), "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(constraints)]
        log = work / "nkululeko-install.log"
        with open(log, "w") as out:
            for pkgs in ([f"torch=={TORCH_VERSION}"], [f"nkululeko=={NKULULEKO_VERSION}"]):
                if subprocess.run(pip + pkgs, stdout=out, stderr=subprocess.STDOUT).returncode:
                    sys.exit(f"installing {pkgs} into {venv} failed:\n{tail(log)}")
        found = nkululeko_ok(venv)
        if not found:
            sys.exit(f"nkululeko does not import in {venv} after installing it")
        info.update(created=True, versions=found, install_s=time.perf_counter() - t0)
        say(f"  installed in {info['install_s']:.0f} s (nkululeko, torch = {found})")
    info["size_mb"] = du_mb(venv)
    info["du_sh"] = du_h(venv)
    say(f"  du -sh {venv}: {info['du_sh']}")
    return info


def nk_minimal_venv(work: Path) -> dict[str, Any]:
    """A fresh venv with only core + nk-opensmile: what eGeMAPS + SVM needs."""
    venv = work / "nk-egemaps-svm-venv"
    say(f"fresh venv with nk core + nk-opensmile only: {venv} ...")
    t0 = time.perf_counter()
    subprocess.run([_python3(), "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    log = work / "nk-install.log"
    with open(log, "w") as out:
        rc = subprocess.run([py, "-m", "pip", "install", "-q", "-c", str(REPO / "constraints.txt"),
                             "-e", str(REPO / "core"), "-e", str(REPO / "plugins" / "nk-opensmile")],
                            stdout=out, stderr=subprocess.STDOUT).returncode
    if rc:
        return {"error": f"pip install failed:\n{tail(log)}"}
    seconds = time.perf_counter() - t0
    listing = subprocess.run([py, "-m", "pip", "list", "--format=json"], capture_output=True,
                             text=True, check=True).stdout
    names = sorted(p["name"].lower() for p in json.loads(listing))
    torchy = [n for n in names if n == "torch" or n.startswith(("torch", "nvidia-"))]
    smoke = subprocess.run([str(venv / "bin" / "nk"), "plugins"], capture_output=True, text=True,
                           cwd=work)
    info = {"venv": str(venv), "install_s": seconds, "size_mb": du_mb(venv), "du_sh": du_h(venv),
            "packages": len(names), "torch_like": torchy,
            "egemaps_svm_available": smoke.returncode == 0 and "egemaps" in smoke.stdout
            and "svm" in smoke.stdout}
    say(f"  installed in {seconds:.0f} s, {len(names)} packages, du -sh: {info['du_sh']}, "
        f"torch-like packages: {torchy or 'none'}")
    return info


# --- corpora ---------------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    all_csv: Path  # nk: with a split column
    train_csv: Path  # nkululeko
    test_csv: Path
    rows: dict[str, int] = field(default_factory=dict)
    speakers: dict[str, list[str]] = field(default_factory=dict)


def _write_corpus(name: str, frame: Any, folder: Path) -> Corpus:
    folder.mkdir(parents=True, exist_ok=True)
    columns = ["file", "speaker", "gender", "emotion"]
    all_csv = folder / f"{name}.csv"
    frame[[*columns, "split"]].to_csv(all_csv, index=False)
    corpus = Corpus(name, all_csv, folder / f"{name}_train.csv", folder / f"{name}_test.csv")
    for part, path in (("train", corpus.train_csv), ("test", corpus.test_csv)):
        rows = frame[frame["split"] == part]
        rows[columns].to_csv(path, index=False)
        corpus.rows[part] = len(rows)
        corpus.speakers[part] = sorted(rows["speaker"].unique())
    missing = [f for f in frame["file"] if not os.path.isfile(f)]
    if missing:
        sys.exit(f"{name}: {len(missing)} audio files missing, e.g. {missing[0]}")
    return corpus


def prepare_demo(work: Path, env: dict[str, str]) -> Corpus:
    import pandas as pd

    cache = work / "demo-corpus"
    say("demo corpus: synthesising 12 speakers × 4 emotions × 5 utterances with nk ...")
    m = measure([str(NK_BIN), "run", "feats=mfcc", "data.demo.n_utterances=5", "name=synth",
                 "results_root=" + str(work / "results-synth")],
                cwd=work, env={**env, "NK_CACHE_DIR": str(cache)}, log=work / "synth-demo.log")
    if m.rc:
        sys.exit(f"synthesising the demo corpus failed:\n{tail(m.log)}")
    tables = glob.glob(str(cache / "demo" / "*" / "table.csv"))
    if len(tables) != 1:
        sys.exit(f"expected one demo table under {cache}/demo, found {tables}")
    table = Path(tables[0])
    frame = pd.read_csv(table)
    frame["file"] = [str((table.parent / f).resolve()) for f in frame["file"]]
    # fixed speaker-disjoint split: per gender, the last two speakers (by id) are test speakers
    test = set()
    for _, group in frame.groupby("gender"):
        test.update(sorted(group["speaker"].unique())[-2:])
    frame["split"] = ["test" if s in test else "train" for s in frame["speaker"]]
    corpus = _write_corpus("demo", frame, work / "corpora")
    say(f"  {corpus.rows} rows; test speakers {corpus.speakers['test']}")
    return corpus


def prepare_polish(work: Path, source: Path) -> Corpus:
    import pandas as pd

    zip_path = source / "polish_speech_emotions.zip"
    if not zip_path.exists():
        sys.exit(f"{zip_path} not found (pass --polish FOLDER)")
    target = work / "polish"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(target)
    parts = []
    for csv, split in (("polish_train.csv", "train"), ("polish_dev.csv", "train"),
                       ("polish_test.csv", "test")):
        frame = pd.read_csv(source / csv)
        frame["file"] = [str((target / f).resolve()) for f in frame["file"]]
        frame["split"] = split
        parts.append(frame)
    corpus = _write_corpus("polish", pd.concat(parts, ignore_index=True), work / "corpora")
    say(f"polish corpus: {corpus.rows} rows (train = nkululeko's train + dev); "
        f"test speakers {corpus.speakers['test']}")
    return corpus


# --- one run of each tool --------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    corpus: str
    experiment: str
    repeat: int
    m: Measure
    uar: float | None
    timing: dict[str, float] = field(default_factory=dict)  # nk's stage timing
    error: str | None = None


def run_nk(work: Path, env: dict[str, str], corpus: Corpus, label: str, feats: str, model: str,
           cache: Path, repeat: int) -> Run:
    name = f"{corpus.name}-{feats}-{model}-{'cold' if 'cold' in label else 'warm'}-r{repeat}"
    root = work / "results-nk"
    cmd = [str(NK_BIN), "run", "data=csv", f"data.csv.path={corpus.all_csv}", "target=emotion",
           "split.method=given", f"feats={feats}", *NK_MODEL_ARGS[model], "scale=standard",
           "balance=none", "n_jobs=-1", f"name={name}", f"results_root={root}"]
    m = measure(cmd, cwd=work, env={**env, "NK_CACHE_DIR": str(cache)},
                log=work / "logs" / f"nk-{name}.log")
    found = sorted(glob.glob(str(root / name / "*" / "results.json")))
    if m.rc or not found:
        return Run("nk", corpus.name, label, repeat, m, None,
                   error=f"exit {m.rc}:\n{tail(m.log)}")
    result = json.loads(Path(found[-1]).read_text())
    return Run("nk", corpus.name, label, repeat, m, float(result["test"]["uar"]["value"]),
               timing=result.get("timing", {}))


def nkululeko_ini(root: Path, name: str, corpus: Corpus, feats: str, model: str) -> str:
    return (
        f"[EXP]\nroot = {root}/\nname = {name}\n"
        "[DATA]\ndatabases = ['train', 'test']\n"
        f"train = {corpus.train_csv}\ntrain.type = csv\ntrain.absolute_path = True\n"
        "train.split_strategy = train\n"
        f"test = {corpus.test_csv}\ntest.type = csv\ntest.absolute_path = True\n"
        "test.split_strategy = test\n"
        "target = emotion\n"
        f"[FEATS]\n{NKL_FEATS[feats]}scale = standard\n"
        f"[MODEL]\n{NKL_MODEL_INI[model]}"
    )


def nkululeko_uar(exp_dir: Path, log: str) -> float | None:
    """UAR: "macro avg" recall of the classification report (JSON) nkululeko writes per run."""
    for report in sorted(exp_dir.glob("results/run_0/*.txt")):  # *_last_0_000.txt
        for line in report.read_text().splitlines():
            if line.startswith("{") and "macro avg" in line:
                return float(json.loads(line)["macro avg"]["recall"])
    for runs in sorted(exp_dir.glob("results/*_runs.txt")):  # "0.3889 \nmean: ..."
        first = runs.read_text().split()
        if first:
            return float(first[0])
    found = re.findall(r"best \(TEST\) result=([\d.]+)", Path(log).read_text(errors="replace"))
    return float(found[-1]) if found else None


def run_nkululeko(work: Path, env: dict[str, str], venv: Path, corpus: Corpus, label: str,
                  feats: str, model: str, root: Path, repeat: int) -> Run:
    name = f"{corpus.name}_{feats}_{model}"
    root.mkdir(parents=True, exist_ok=True)
    ini = root / f"{name}.ini"
    ini.write_text(nkululeko_ini(root, name, corpus, feats, model))
    tag = f"{name}-{'cold' if 'cold' in label else 'warm'}-r{repeat}"
    cmd = [str(venv / "bin" / "python"), "-m", "nkululeko.nkululeko", "--config", str(ini)]
    m = measure(cmd, cwd=root, env=env, log=work / "logs" / f"nkululeko-{tag}.log")
    uar = nkululeko_uar(root / name, m.log)
    error = None
    if m.rc or uar is None:
        error = f"exit {m.rc}, UAR {'not found' if uar is None else uar}:\n{tail(m.log)}"
    return Run("nkululeko", corpus.name, label, repeat, m, None if error else uar, error=error)


def run_corpus(work: Path, env: dict[str, str], venv: Path, corpus: Corpus,
               repeats: int) -> list[Run]:
    runs: list[Run] = []

    def show(r: Run) -> None:
        runs.append(r)
        if r.error:
            say(f"    {r.tool:9s} {r.experiment:20s} FAILED ({r.m.wall_s:.1f} s): {r.error}")
            return
        say(f"    {r.tool:9s} {r.experiment:20s} {r.m.wall_s:6.1f} s  CPU {r.m.cpu_s:6.1f} s  "
            f"RSS {r.m.tree_rss_mb:5.0f} MB  UAR {r.uar:.4f}  other load {r.m.other_load:.1f}")

    for rep in range(repeats):
        say(f"  {corpus.name}, repeat {rep + 1}/{repeats}")
        order = ["nk", "nkululeko"] if rep % 2 == 0 else ["nkululeko", "nk"]
        for label, feats, model, cold in EXPERIMENTS:
            if not cold:
                continue
            for tool in order:
                slug = f"{corpus.name}-{feats}-{model}-r{rep}"
                if tool == "nk":
                    cache = work / "caches-nk" / slug
                    show(run_nk(work, env, corpus, label, feats, model, cache, rep))
                    if feats == "egemaps" and model == "svm":
                        warm = "eGeMAPS + SVM warm"
                        show(run_nk(work, env, corpus, warm, feats, model, cache, rep))
                else:
                    root = work / "nkululeko" / slug
                    show(run_nkululeko(work, env, venv, corpus, label, feats, model, root, rep))
                    if feats == "egemaps" and model == "svm":
                        warm = "eGeMAPS + SVM warm"
                        show(run_nkululeko(work, env, venv, corpus, warm, feats, model, root, rep))
    return runs


# --- throughput on about 1,000 files ----------------------------------------------------------


def throughput(work: Path, env: dict[str, str]) -> dict[str, Any]:
    cache = work / "cache-1k"
    demo = ["data.demo.n_speakers=24", "data.demo.n_utterances=11"]
    say("throughput: synthesising the 1,056-file demo corpus (not measured) ...")
    m = measure([str(NK_BIN), "run", *demo, "feats=mfcc", "name=synth-1k",
                 f"results_root={work / 'results-synth'}"],
                cwd=work, env={**env, "NK_CACHE_DIR": str(cache)}, log=work / "synth-1k.log")
    if m.rc:
        return {"error": f"synthesis failed:\n{tail(m.log)}"}
    say("throughput: eGeMAPS + SVM, cold eGeMAPS cache, n_jobs=-1 ...")
    root = work / "results-1k"
    m = measure([str(NK_BIN), "run", *demo, "feats=egemaps", "model=svm", "n_jobs=-1",
                 "name=throughput", f"results_root={root}"],
                cwd=work, env={**env, "NK_CACHE_DIR": str(cache)}, log=work / "throughput.log")
    found = sorted(glob.glob(str(root / "throughput" / "*" / "results.json")))
    if m.rc or not found:
        return {"error": f"exit {m.rc}:\n{tail(m.log)}"}
    result = json.loads(Path(found[-1]).read_text())
    files = sum(result["data"]["rows"].values())
    audio = float(result["data"]["duration_s"]["total"])
    extract = float(result["timing"]["featurize"])
    return {"files": files, "audio_s": audio, "featurize_s": extract, "files_per_s": files / extract,
            "x_real_time": audio / extract, "run_wall_s": m.wall_s, "cpu_s": m.cpu_s,
            "tree_rss_mb": m.tree_rss_mb, "tree_pss_mb": m.tree_pss_mb, "max_rss_mb": m.max_rss_mb,
            "other_load": m.other_load,
            "timing": result["timing"], "cores": os.cpu_count()}


# --- report ----------------------------------------------------------------------------------


def best(runs: list[Run], tool: str, corpus: str, experiment: str) -> Run | None:
    ok = [r for r in runs if r.tool == tool and r.corpus == corpus and r.experiment == experiment
          and not r.error]
    return min(ok, key=lambda r: r.m.wall_s) if ok else None


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    fmt = lambda r: "  ".join(str(x).rjust(w) if i > 1 else str(x).ljust(w)  # noqa: E731
                              for i, (x, w) in enumerate(zip(r, widths, strict=False)))
    return "\n".join([fmt(header), line, *(fmt(r) for r in rows)])


def report(runs: list[Run], corpora: list[str], tp: dict[str, Any] | None,
           nk_venv: dict[str, Any] | None, nkl: dict[str, Any], repeats: int) -> dict[str, Any]:
    rows, cpu_rows, checks = [], [], []
    uar_lower = []
    for corpus in corpora:
        for label, *_ in EXPERIMENTS:
            a, b = best(runs, "nk", corpus, label), best(runs, "nkululeko", corpus, label)
            f = lambda r, fmt: fmt(r) if r else "failed"  # noqa: E731
            ratio = a.m.wall_s / b.m.wall_s if a and b else None
            rows.append([corpus, label, f(a, lambda r: f"{r.m.wall_s:.1f} s"),
                         f(b, lambda r: f"{r.m.wall_s:.1f} s"),
                         f"{ratio:.2f}" if ratio is not None else "-",
                         f(a, lambda r: f"{r.m.tree_rss_mb:.0f} MB"),
                         f(b, lambda r: f"{r.m.tree_rss_mb:.0f} MB"),
                         f(a, lambda r: f"{r.uar:.4f}"), f(b, lambda r: f"{r.uar:.4f}")])
            cpu_rows.append([corpus, label, f(a, lambda r: f"{r.m.cpu_s:.1f} s"),
                             f(b, lambda r: f"{r.m.cpu_s:.1f} s"),
                             f"{a.m.cpu_s / b.m.cpu_s:.2f}" if a and b else "-",
                             f(a, lambda r: f"{r.m.tree_pss_mb:.0f} MB"),
                             f(b, lambda r: f"{r.m.tree_pss_mb:.0f} MB"),
                             f(a, lambda r: f"{r.m.max_rss_mb:.0f} MB"),
                             f(b, lambda r: f"{r.m.max_rss_mb:.0f} MB"),
                             f(a, lambda r: f"{r.m.other_load:.1f}"),
                             f(b, lambda r: f"{r.m.other_load:.1f}"),
                             " ".join(f"{k} {v:.1f}" for k, v in (a.timing if a else {}).items()
                                      if v >= 0.1)])
            if label in TARGETS:
                limit = TARGETS[label]
                checks.append((f"{corpus}: {label} ≤ {limit} × nkululeko's time",
                               ratio is not None and ratio <= limit,
                               f"{ratio:.2f} ×" if ratio is not None else "not measured"))
            if a and b and a.uar is not None and b.uar is not None and a.uar < b.uar - UAR_EPS:
                uar_lower.append(f"{corpus} {label}: nk {a.uar:.4f} < nkululeko {b.uar:.4f}")
            if not (a and b):
                uar_lower.append(f"{corpus} {label}: not compared (a run failed)")
            for tool in ("nk", "nkululeko"):
                uars = {round(r.uar, 6) for r in runs if r.tool == tool and r.corpus == corpus
                        and r.experiment == label and r.uar is not None}
                if len(uars) > 1:
                    say(f"note: {tool} {corpus} {label}: UAR differs between repeats: {sorted(uars)}")
    say()
    say(f"nk vs nkululeko {NKULULEKO_VERSION}: best wall time of {repeats} interleaved repeat(s); "
        "peak RSS = summed RSS of the process tree; UAR on the test split")
    say(table(rows, ["corpus", "experiment", "nk time", "nkululeko time", "nk/nkululeko",
                     "nk peak RSS", "nkululeko peak RSS", "nk UAR", "nkululeko UAR"]))
    say()
    say("the same runs: CPU time (user + sys, process tree), peak PSS of the process tree (shared "
        "pages counted once), largest single process's peak RSS, cores kept busy by other "
        "processes, nk's stage times (s)")
    say(table(cpu_rows, ["corpus", "experiment", "nk CPU", "nkululeko CPU", "CPU ratio", "nk PSS",
                         "nkululeko PSS", "nk max proc", "nkululeko max proc", "other load nk",
                         "other load nkl", "nk stages"]))
    failures = [r for r in runs if r.error]
    if failures:
        say()
        say("failed runs:")
        for r in failures:
            say(f"  {r.tool} {r.corpus} {r.experiment} (repeat {r.repeat + 1}): {r.error}")
    say()
    if tp and "error" not in tp:
        say(f"nk extraction throughput: {tp['files']} files, {tp['audio_s'] / 60:.1f} min of audio, "
            f"eGeMAPS cold, n_jobs=-1 on {tp['cores']} cores: featurize {tp['featurize_s']:.1f} s → "
            f"{tp['files_per_s']:.1f} files/s, {tp['x_real_time']:.0f} × real time; whole run "
            f"{tp['run_wall_s']:.1f} s, peak memory of the process tree {tp['tree_rss_mb']:.0f} MB "
            f"RSS / {tp['tree_pss_mb']:.0f} MB PSS, largest process {tp['max_rss_mb']:.0f} MB RSS; "
            f"other load {tp['other_load']:.1f} cores")
    elif tp:
        say(f"nk extraction throughput: FAILED: {tp['error']}")
    if nk_venv and "error" not in nk_venv:
        say(f"install footprint: nk core + nk-opensmile (eGeMAPS + SVM) {nk_venv['du_sh']} "
            f"({nk_venv['size_mb']:.0f} MB, {nk_venv['packages']} packages, torch-like: "
            f"{nk_venv['torch_like'] or 'none'}) vs nkululeko {nkl['du_sh']} "
            f"({nkl['size_mb']:.0f} MB) → {nk_venv['size_mb'] / nkl['size_mb']:.2f} ×")
        checks.append((f"eGeMAPS + SVM install ≤ {INSTALL_TARGET_MB} MB and no torch",
                       nk_venv["size_mb"] <= INSTALL_TARGET_MB and not nk_venv["torch_like"]
                       and nk_venv["egemaps_svm_available"],
                       f"{nk_venv['size_mb']:.0f} MB, torch: "
                       f"{'yes' if nk_venv['torch_like'] else 'no'}, egemaps+svm available: "
                       f"{nk_venv['egemaps_svm_available']}"))
    elif nk_venv:
        say(f"install footprint: FAILED: {nk_venv['error']}")
    checks.append(("UAR not lower than nkululeko's on the same split", not uar_lower,
                   "; ".join(uar_lower) if uar_lower else "nk ≥ nkululeko everywhere"))
    say()
    say("targets:")
    for what, ok, detail in checks:
        say(f"  [{'met' if ok else 'NOT met'}] {what}: {detail}")
    return {"rows": rows, "cpu_rows": cpu_rows, "checks": checks, "uar_lower": uar_lower}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nkululeko-venv", type=Path, default=Path("/tmp/nkulu-venv"),
                    help="venv with nkululeko 1.14.1 (created there when missing)")
    ap.add_argument("--quick", action="store_true", help="one repeat instead of --repeat")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats (default 3)")
    ap.add_argument("--only", choices=["demo", "polish"], help="one corpus only")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--work", type=Path, help="work folder (default: a new temporary folder)")
    ap.add_argument("--polish", type=Path, default=POLISH_DIR,
                    help=f"folder with polish_speech_emotions.zip and its CSVs ({POLISH_DIR})")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-install", action="store_true",
                    help="skip the fresh nk venv for the install footprint")
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    ap.add_argument("--no-pyc", action="store_true",
                    help="keep PYTHONDONTWRITEBYTECODE from the environment (nk then compiles its "
                    "editable sources in every run)")
    args = ap.parse_args()
    repeats = 1 if args.quick else max(1, args.repeat)

    work = args.work or Path(tempfile.mkdtemp(prefix="nk-vs-nkululeko-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "logs").mkdir(exist_ok=True)
    say(f"work folder: {work}{' (kept)' if args.keep else ''}; nk: {NK_BIN}; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    # as on a user's machine: Python caches bytecode. nkululeko's venv holds the .pyc files pip
    # wrote; nk's sources are installed editable, so without this every nk run would compile nk
    # again (~0.2 s) where PYTHONDONTWRITEBYTECODE is set (it writes git-ignored __pycache__/)
    drop = {"NK_CACHE_DIR", "VIRTUAL_ENV"} | (set() if args.no_pyc else {"PYTHONDONTWRITEBYTECODE"})
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(MPLBACKEND="Agg", NO_COLOR="1")
    if not args.no_pyc:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "core" / "src"),
                        *map(str, sorted(REPO.glob("plugins/*/src")))], capture_output=True)
    t_start = time.perf_counter()
    try:
        ensure_time_tool()
        nkl = ensure_nkululeko(args.nkululeko_venv.absolute(), work)
        corpora: list[Corpus] = []
        if args.only in (None, "demo"):
            corpora.append(prepare_demo(work, env))
        if args.only in (None, "polish"):
            corpora.append(prepare_polish(work, args.polish))
        runs: list[Run] = []
        for corpus in corpora:
            runs += run_corpus(work, env, args.nkululeko_venv.absolute(), corpus, repeats)
        tp = None if args.skip_throughput else throughput(work, env)
        nk_venv = None if args.skip_install else nk_minimal_venv(work)
        summary = report(runs, [c.name for c in corpora], tp, nk_venv, nkl, repeats)
        say(f"\nbenchmark took {(time.perf_counter() - t_start) / 60:.1f} min")
        if args.json:
            args.json.write_text(json.dumps({
                "nkululeko": nkl, "nk_install": nk_venv, "throughput": tp,
                "corpora": [asdict(c) for c in corpora], "runs": [asdict(r) for r in runs],
                "summary": summary, "repeats": repeats}, indent=1, default=str))
            say(f"measurements written to {args.json}")
    finally:
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
