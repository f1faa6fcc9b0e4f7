"""The feature cache and extraction: reuse, resume after SIGKILL, damage, concurrency, `nk cache`.

In-process tests extract the built-in ``mfcc`` from tiny synthetic corpora. The subprocess tests
run a driver script (written to tmp_path) that registers :mod:`nk.testing.slow`, a deliberately
slow featurizer, ``slow``, which counts its calls in a file and can be held after N rows, so that a
SIGKILL lands in the middle of an extraction without any timing assumptions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from nk import audio, hookimpl
from nk.cache import FeatureCache, RowRef
from nk.cli import main
from nk.context import RunContext
from nk.errors import UserError
from nk.featurize import extract
from nk.testing import write_tiny_corpus, write_tone

EXTRACTED = re.compile(r"extracted (\d+) new rows \((\d+) from the cache\)")
HIT = re.compile(r"(\d+) rows from the cache")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def counts(self) -> tuple[int, int]:
        """(new rows, rows from the cache) of the last extraction."""
        for record in reversed(self.records):
            text = record.getMessage()
            if m := EXTRACTED.search(text):
                return int(m[1]), int(m[2])
            if m := HIT.search(text):
                return 0, int(m[1])
        raise AssertionError("no extraction was logged")


@pytest.fixture
def mfcc(nk_pm, nk_compose, tmp_path):
    """``run(index, n_jobs=..., cache=..., **params)`` → (features, (new rows, cached rows), log)."""
    records = Records()
    log = logging.getLogger("nk.test-cache")
    log.setLevel(logging.INFO)
    log.addHandler(records)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    configs = {}

    def run(index, *, n_jobs=2, cache=None, **params):
        cache = cache or tmp_path / "cache"
        if (n_jobs, cache) not in configs:
            configs[n_jobs, cache] = nk_compose(["feats=mfcc", f"n_jobs={n_jobs}", f"cache_dir={cache}"])
        ctx = RunContext(cfg=configs[n_jobs, cache], run_dir=run_dir, pm=nk_pm, log=log,
                         console=Console(quiet=True))
        comp = nk_pm.registry.get("feats", "mfcc")
        values = {**comp.defaults(), **params}
        records.records.clear()
        frame = extract(comp, comp.build(values), values, index, ctx)
        return frame, records.counts(), records

    yield run
    log.removeHandler(records)


def direct(index, **params):
    """mfcc computed without nk's extraction machinery, for comparison."""
    from nk.builtin.featurizers import Mfcc

    featurizer = Mfcc(**{"n_mfcc": 13, "n_mels": 40, "win_ms": 25.0, "hop_ms": 10.0, **params})
    return np.vstack([featurizer.extract(*audio.read(f, sampling_rate=16000)) for f in index])


def test_identical_config_reuses_and_changed_parameter_recomputes(mfcc, tmp_path):
    index = write_tiny_corpus(tmp_path / "audio").index
    first, counts, _ = mfcc(index)
    assert counts == (36, 0)
    np.testing.assert_array_equal(first.to_numpy(), direct(index))
    again, counts, _ = mfcc(index)
    assert counts == (0, 36)
    pd.testing.assert_frame_equal(again, first)

    more, counts, _ = mfcc(index, n_mfcc=20)
    assert counts == (36, 0) and more.shape == (36, 80)
    np.testing.assert_array_equal(more.to_numpy(), direct(index, n_mfcc=20))
    _, counts, _ = mfcc(index, n_mfcc=13)
    assert counts == (0, 36)

    sidecars = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "features" / "mfcc").glob("*/spec.json")]
    assert sorted(s["params"]["n_mfcc"] for s in sidecars) == [13, 20]
    for s in sidecars:
        assert {"component", "provider", "version", "params", "sampling_rate", "row_key", "feature_names"} <= set(s)


def test_serial_and_parallel_agree_in_index_order(mfcc, tmp_path):
    index = write_tiny_corpus(tmp_path / "audio").index
    shuffled = index[np.random.default_rng(0).permutation(len(index))]
    serial, counts, _ = mfcc(shuffled, n_jobs=1, cache=tmp_path / "c1")
    parallel, counts2, _ = mfcc(shuffled, n_jobs=2, cache=tmp_path / "c2")
    assert counts == counts2 == (36, 0)
    pd.testing.assert_frame_equal(serial, parallel)
    assert list(parallel.index) == list(shuffled)
    np.testing.assert_array_equal(parallel.to_numpy(), direct(shuffled))


def test_grown_corpus_extracts_only_new_and_changed_files(mfcc, tmp_path):
    old = write_tiny_corpus(tmp_path / "audio").index
    first, _, _ = mfcc(old)
    new = [str(write_tone(tmp_path / "more" / f"n{i}.wav", f0=120 + 9 * i, seconds=0.5, seed=i)) for i in range(8)]
    grown = old.append(pd.Index(new, name="file"))
    frame, counts, _ = mfcc(grown)
    assert counts == (8, 36)
    pd.testing.assert_frame_equal(frame.loc[old], first)
    np.testing.assert_array_equal(frame.to_numpy(), direct(grown))

    changed = old[3]  # new content, new size and mtime: the file's identity changed
    write_tone(Path(changed), f0=333.0, seconds=0.7, seed=99)
    frame, counts, _ = mfcc(grown)
    assert counts == (1, 43)
    np.testing.assert_array_equal(frame.loc[[changed]].to_numpy(), direct([changed]))


def test_segments_are_rows_of_their_own(mfcc, tmp_path):
    file = str(write_tone(tmp_path / "long.wav", seconds=1.2))
    index = pd.MultiIndex.from_tuples(
        [(file, pd.Timedelta(0), pd.Timedelta(seconds=0.6)), (file, pd.Timedelta(seconds=0.6), pd.NaT)],
        names=["file", "start", "end"])
    frame, counts, _ = mfcc(index)
    assert counts == (2, 0)
    assert not np.array_equal(frame.iloc[0].to_numpy(), frame.iloc[1].to_numpy())
    _, counts, _ = mfcc(index[:1].append(pd.MultiIndex.from_tuples(
        [(file, pd.Timedelta(seconds=0.3), pd.Timedelta(seconds=0.9))], names=index.names)))
    assert counts == (1, 1)


def _chunks(cache: Path, component: str = "mfcc") -> list[Path]:
    return sorted(p for p in (cache / "features" / component).glob("*/chunks/*.parquet")
                  if not p.name.startswith("."))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "bit-flip", "index"])
def test_damaged_cache_file_is_reported_and_recomputed(mfcc, tmp_path, damage):
    import pyarrow.parquet as pq

    index = write_tiny_corpus(tmp_path / "audio", n_speakers=8).index  # 48 rows, 2+ chunks
    first, _, _ = mfcc(index)
    victim = max(_chunks(tmp_path / "cache"), key=lambda p: p.stat().st_size)
    rows = pq.read_metadata(victim).num_rows
    data = victim.read_bytes()
    if damage == "truncated":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        victim.write_bytes(os.urandom(len(data)))
    elif damage == "bit-flip":  # still a readable parquet file, but not the bytes that were written
        victim.write_bytes(data[:200] + bytes([data[200] ^ 0x01]) + data[201:])
    else:
        (victim.parent.parent / "index.jsonl").write_text("{not json\n\x00\x00garbage\n")

    frame, counts, records = mfcc(index)
    pd.testing.assert_frame_equal(frame, first)
    warnings = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
    if damage == "index":  # the index is only an accelerator: chunks are found by listing
        assert counts == (0, 48) and not warnings
    else:
        assert counts == (rows, 48 - rows)
        assert len(warnings) == 1 and str(victim) in warnings[0] and "recomputed" in warnings[0]
    _, counts, _ = mfcc(index)
    assert counts == (0, 48)


def test_failures_are_collected_and_reported_together(mfcc, tmp_path):
    index = write_tiny_corpus(tmp_path / "audio").index
    garbage = tmp_path / "bad" / "garbage.wav"
    garbage.parent.mkdir()
    garbage.write_bytes(b"RIFF not really a wav file")
    missing = str(tmp_path / "bad" / "missing.wav")
    bad = index.append(pd.Index([str(garbage), missing], name="file"))
    with pytest.raises(UserError) as info:
        mfcc(bad)
    message = str(info.value)
    assert "could not process 2 of 38 files" in message
    assert str(garbage) in message and missing in message and "No such file" in message
    _, counts, _ = mfcc(index)  # the good rows were extracted and cached before the error
    assert counts == (0, 36)


def test_content_hash_catches_changes_that_keep_size_and_mtime(tmp_path, monkeypatch):
    path = write_tone(tmp_path / "a.wav", f0=100.0)
    stat = path.stat()
    refs = [RowRef(str(path))]
    plain, hashed = FeatureCache(tmp_path), FeatureCache(tmp_path, content_hash=True)
    before = plain.row_keys(refs)[0], hashed.row_keys(refs)[0]
    write_tone(path, f0=200.0)  # same length: same size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert plain.row_keys(refs)[0] == before[0]
    assert hashed.row_keys(refs)[0] != before[1]
    monkeypatch.setenv("NK_CACHE_CONTENT_HASH", "1")
    assert FeatureCache(tmp_path).content_hash


PREPARED = "nk_test_prepared_module"


class Prepared:
    """Reports whether its process holds the module ``prepare`` imports, and its process id."""

    process_safe = True
    sampling_rate = None

    def prepare(self):
        sys.modules.setdefault(PREPARED, types.ModuleType(PREPARED))

    def feature_names(self):
        return ["prepared", "pid"]

    def extract(self, signal, sampling_rate):
        return np.array([PREPARED in sys.modules, os.getpid()], dtype=np.float32)


@dataclass
class PreparedConfig:
    pass


class PreparedPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("prepared", Prepared, PreparedConfig, description="reports its imports (test)")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_prepare_runs_in_the_parent_before_the_workers_fork(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(PreparedPlugin(), name="nk-prepared-test")
    index = write_tiny_corpus(tmp_path / "audio").index
    cfg = nk_compose(["feats=prepared", "n_jobs=2", f"cache_dir={tmp_path / 'cache'}"])
    ctx = RunContext(cfg=cfg, run_dir=tmp_path, pm=nk_pm, log=logging.getLogger("nk.test-prepare"),
                     console=Console(quiet=True))
    comp = nk_pm.registry.get("feats", "prepared")
    try:
        frame = extract(comp, comp.build({}), {}, index, ctx)
        assert PREPARED in sys.modules  # prepare() ran here, in the parent
    finally:
        sys.modules.pop(PREPARED, None)
    pids = set(frame["prepared.pid"].astype(int))
    assert pids and os.getpid() not in pids, pids  # extracted by worker processes
    assert (frame["prepared.prepared"] == 1).all()  # which inherited the import


class Versioned:
    """Its values depend on a library's version (numpy here, monkeypatched in the test)."""

    process_safe = False
    sampling_rate = None
    cache_dependencies = ("numpy",)

    def feature_names(self):
        return ["peak"]

    def extract(self, signal, sampling_rate):
        return np.array([np.abs(signal).max()], dtype=np.float32)


class VersionedPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("versioned", Versioned, PreparedConfig, description="depends on numpy (test)")


def test_an_upgraded_library_recomputes(nk_pm, nk_register_plugin, nk_compose, tmp_path, monkeypatch):
    import importlib.metadata

    nk_register_plugin(VersionedPlugin(), name="nk-versioned-test")
    index = write_tiny_corpus(tmp_path / "audio").index
    cfg = nk_compose(["feats=versioned", "n_jobs=1", f"cache_dir={tmp_path / 'cache'}"])
    records = Records()
    log = logging.getLogger("nk.test-versioned")
    log.setLevel(logging.INFO)
    log.addHandler(records)
    ctx = RunContext(cfg=cfg, run_dir=tmp_path, pm=nk_pm, log=log, console=Console(quiet=True))
    comp = nk_pm.registry.get("feats", "versioned")
    real = importlib.metadata.version

    def run(numpy_version):
        monkeypatch.setattr(importlib.metadata, "version",
                            lambda dist: numpy_version if dist == "numpy" else real(dist))
        records.records.clear()
        extract(comp, comp.build({}), {}, index, ctx)
        return records.counts()

    try:
        assert run("1.0") == (len(index), 0)
        assert run("1.0") == (0, len(index))  # same version: reused
        assert run("2.0") == (len(index), 0)  # upgraded: recomputed
        specs = (tmp_path / "cache" / "features" / "versioned").glob("*/spec.json")
        assert sorted(json.loads(p.read_text())["libraries"]["numpy"] for p in specs) == ["1.0", "2.0"]
    finally:
        log.removeHandler(records)


# --- subprocesses: SIGKILL and resume, concurrent runs ---------------------------------------------

DRIVER = '''
"""Extract the ``slow`` features of the files listed in argv[2] into the cache argv[1]."""

import logging
import os
import sys
import time
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf
from rich.console import Console

import nk.testing.slow as slow_plugin
from nk.context import RunContext
from nk.featurize import extract
from nk.plugins import PluginManager

cache, listing, out, n_jobs = sys.argv[1:5]
pm = PluginManager(autoload=False)
pm.register(slow_plugin, name="nk-slow-test")
comp = pm.registry.get("feats", "slow")
params = comp.defaults()
log = logging.getLogger("nk.driver")
log.setLevel(logging.INFO)
log.addHandler(logging.FileHandler(out + ".log"))
cfg = OmegaConf.create({"n_jobs": int(n_jobs), "cache_dir": cache, "sampling_rate": 16000, "seed": 0})
ctx = RunContext(cfg=cfg, run_dir=Path(out).parent, pm=pm, log=log, console=Console(quiet=True))
index = pd.Index(Path(listing).read_text().split(), name="file")
go = os.environ.get("NK_TEST_GO")
if go:  # start extracting together with the other run
    Path(out + ".ready").touch()
    while not os.path.exists(go):
        time.sleep(0.01)
extract(comp, comp.build(params), params, index, ctx).to_parquet(out)
'''


@pytest.fixture
def driver(tmp_path):
    """``start(name, cache, n_jobs=2, **env)`` → Popen of the driver; files listed in tmp_path/files.txt."""
    (tmp_path / "driver.py").write_text(textwrap.dedent(DRIVER))
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("NK_")}
    base_env["NK_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    procs: list[subprocess.Popen] = []

    def start(name: str, cache: Path, n_jobs: int = 2, **env: str) -> subprocess.Popen:
        out = tmp_path / f"{name}.parquet"
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "driver.py"), str(cache), str(tmp_path / "files.txt"),
             str(out), str(n_jobs)],
            env={**base_env, "NK_TEST_COUNTER": str(tmp_path / f"{name}.count"), **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _write_files(tmp_path: Path, n: int) -> list[str]:
    files = [str(write_tone(tmp_path / "audio" / f"f{i:03d}.wav", f0=90 + i, seconds=0.1, seed=i))
             for i in range(n)]
    (tmp_path / "files.txt").write_text("\n".join(files))
    return files


def _finish(proc: subprocess.Popen) -> None:
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output


def _count(tmp_path: Path, name: str) -> int:
    path = tmp_path / f"{name}.count"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _logged(tmp_path: Path, name: str) -> tuple[int, int]:
    text = (tmp_path / f"{name}.parquet.log").read_text()
    if m := EXTRACTED.search(text):
        return int(m[1]), int(m[2])
    m = HIT.search(text)
    assert m, text
    return 0, int(m[1])


def _wait_for(condition, what: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver ended before {what}: {proc.communicate()[0]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_sigkill_during_extraction_resumes_with_the_remainder(tmp_path, driver):
    n = 320
    _write_files(tmp_path, n)
    cache = tmp_path / "cache"
    gate = tmp_path / "never-created"
    killed = driver("killed", cache, NK_TEST_HOLD=f"200:{gate}")  # holds after 200 rows
    _wait_for(lambda: len(_chunks(cache, "slow")) >= 1, "a committed chunk", killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    (entry,) = FeatureCache(cache).entries()
    cached = entry.stats().rows
    assert 0 < cached <= 200

    _finish(driver("resumed", cache))
    assert _count(tmp_path, "resumed") == n - cached  # only the remainder was extracted
    assert _logged(tmp_path, "resumed") == (n - cached, cached)

    _finish(driver("uninterrupted", tmp_path / "other-cache"))
    assert _count(tmp_path, "uninterrupted") == n
    resumed = pd.read_parquet(tmp_path / "resumed.parquet")
    pd.testing.assert_frame_equal(resumed, pd.read_parquet(tmp_path / "uninterrupted.parquet"))
    assert entry.verify() == {"rows": n, "files": n, "damaged": {}}


def test_two_concurrent_runs_share_a_cache(tmp_path, driver):
    n = 200
    _write_files(tmp_path, n)
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    runs = {name: driver(name, cache, NK_TEST_GO=str(go)) for name in ("a", "b")}
    for name, proc in runs.items():
        _wait_for(lambda name=name: (tmp_path / f"{name}.parquet.ready").exists(), f"run {name} to start", proc)
    go.touch()
    for proc in runs.values():
        _finish(proc)
    a = pd.read_parquet(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(a, pd.read_parquet(tmp_path / "b.parquet"))
    assert a.shape == (n, 4) and list(a.index) == (tmp_path / "files.txt").read_text().split()

    (entry,) = FeatureCache(cache).entries()
    assert entry.verify() == {"rows": n, "files": n, "damaged": {}}
    _finish(driver("c", cache))
    assert _count(tmp_path, "c") == 0 and _logged(tmp_path, "c") == (0, n)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "c.parquet"), a)


# --- nk cache ls | info | prune ---------------------------------------------------------------------


def test_cache_commands(mfcc, nk_pm, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    cache = tmp_path / "cache"
    index = write_tiny_corpus(tmp_path / "audio").index
    mfcc(index)
    mfcc(index, n_mfcc=20)
    (cache / "features" / "mfcc" / "0123456789abcdef.parquet").write_bytes(b"an old-format file")
    keys = {json.loads(p.read_text())["params"]["n_mfcc"]: p.parent.name
            for p in (cache / "features" / "mfcc").glob("*/spec.json")}

    def nk(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["cache", *args, "--cache-dir", str(cache)], pm=nk_pm)
        out, err = capsys.readouterr()
        return code, out, " ".join(err.split())

    code, out, _ = nk("ls")
    assert code == 0
    assert keys[13][:12] in out and keys[20][:12] in out and "n_mfcc=20" in out
    assert re.search(r"mfcc\s.*\b36\b", out) and "2 entries" in out and "older cache format" in out

    code, out, _ = nk("info", f"mfcc/{keys[20][:8]}")
    assert code == 0 and '"n_mfcc": 20' in out and '"provider": "nk"' in out
    assert re.search(r"rows\s+36", out) and re.search(r"damaged chunks\s+0", out)

    for args, expected in ((["info", "ffffffff"], "No feature cache entry has the key"),
                           (["prune"], "needs to be told what to remove"),
                           (["prune", "--older-than", "-1"], "must be a number of days"),
                           (["prune", "--all", "--component", "mfcc"], "cannot be combined"),
                           (["prune", "--component", "mfc"], "No featurizer named 'mfc'")):
        code, out, err = nk(*args)
        assert code == 2 and expected in err, (args, err)

    long_ago = time.time() - 10 * 86400
    os.utime(cache / "features" / "mfcc" / keys[20] / ".used", (long_ago, long_ago))
    code, out, _ = nk("prune", "--older-than", "5")
    assert code == 0 and f"removed mfcc {keys[20][:12]}" in out and keys[13][:12] not in out
    assert [e.key for e in FeatureCache(cache).entries()] == [keys[13]]
    code, out, _ = nk("prune", "--component", "egemaps")
    assert code == 0 and "Nothing to remove" in out
    code, out, _ = nk("prune", "--all")
    assert code == 0 and keys[13][:12] in out and "0123456789abcdef.parquet" in out
    assert not list((cache / "features").iterdir())
    code, out, _ = nk("ls")
    assert code == 0 and "is empty" in out
    _, counts, _ = mfcc(index)  # a pruned cache is simply cold again
    assert counts == (36, 0)


def test_cache_command_errors_are_one_paragraph_exit_2(run_nk):
    out = run_nk("cache", "prune", "--older-than", "soon")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    out = run_nk("cache", "info", "nope")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "No feature cache entry has the key 'nope'" in " ".join(out.stderr.split())
