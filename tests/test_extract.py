"""Extraction internals: worker processes, atomic writes, environment flags, Ctrl-C, bad audio,
cache keys from parameter metadata, feature views and the batch path.

Fake featurizers are numpy only; subprocess tests run ``nk`` (or a driver) on tiny corpora.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from nk import plugins as nk_plugins
from nk import workers
from nk.env import env_flag
from nk.errors import UserError
from nk.fsutil import atomic_write_bytes, atomic_write_text
from nk.plugins import PluginManager

EXTRACTED = re.compile(r"extracted (\d+) new rows \((\d+) from the cache\)")

# --- environment flags -------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), (" yes ", True), ("On", True),
    ("0", False), ("false", False), ("No", False), ("OFF", False), ("", False), ("  ", False),
])
def test_env_flag_words(monkeypatch, raw, expected):
    monkeypatch.setenv("NK_TEST_FLAG", raw)
    assert env_flag("NK_TEST_FLAG") is expected


def test_env_flag_unset_is_the_default(monkeypatch):
    monkeypatch.delenv("NK_TEST_FLAG", raising=False)
    assert env_flag("NK_TEST_FLAG") is False
    assert env_flag("NK_TEST_FLAG", default=True) is True


@pytest.mark.parametrize("raw", ["2", "maybe", "enable", "y e s"])
def test_env_flag_rejects_other_values_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("NK_TEST_FLAG", raw)
    with pytest.raises(UserError, match=r"NK_TEST_FLAG.*neither on nor off") as info:
        env_flag("NK_TEST_FLAG")
    assert "NK_TEST_FLAG=1" in info.value.message


class _FakeEntryPoint:
    name = "nk-fake-autoloaded"
    dist = None

    def load(self):
        return types.ModuleType("nk_fake_autoloaded")


@pytest.mark.parametrize(("raw", "loaded"), [("false", True), ("0", True), ("off", True), ("", True),
                                              ("1", False), ("true", False), ("YES", False)])
def test_disable_plugin_autoload_reads_words(monkeypatch, raw, loaded):
    """``NK_DISABLE_PLUGIN_AUTOLOAD=false`` used to disable autoloading."""
    monkeypatch.setattr(nk_plugins, "entry_points", lambda group: [_FakeEntryPoint()])
    monkeypatch.setenv("NK_DISABLE_PLUGIN_AUTOLOAD", raw)
    pm = PluginManager()
    assert (pm.pm.get_plugin("nk-fake-autoloaded") is not None) is loaded


def test_disable_plugin_autoload_bad_value_is_a_user_error(monkeypatch):
    monkeypatch.setenv("NK_DISABLE_PLUGIN_AUTOLOAD", "nope")
    with pytest.raises(UserError, match="NK_DISABLE_PLUGIN_AUTOLOAD"):
        PluginManager()


@pytest.mark.parametrize(("raw", "on"), [("false", False), ("off", False), ("yes", True), ("1", True)])
def test_cache_content_hash_reads_words(monkeypatch, tmp_path, raw, on):
    from nk.cache import FeatureCache

    monkeypatch.setenv("NK_CACHE_CONTENT_HASH", raw)
    assert FeatureCache(tmp_path).content_hash is on


# --- atomic writes -----------------------------------------------------------------------------


def test_atomic_write_replaces_the_whole_file(tmp_path):
    target = tmp_path / "config.yaml"
    atomic_write_text(target, "old\n")
    atomic_write_bytes(target, b"new content\n")
    assert target.read_bytes() == b"new content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


@pytest.mark.parametrize("existing", [True, False], ids=["over-a-file", "new-file"])
def test_atomic_write_failure_leaves_no_empty_or_temporary_file(tmp_path, monkeypatch, existing):
    target = tmp_path / "spec.json"
    if existing:
        target.write_text("before")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(target, "after")
    if existing:
        assert target.read_text() == "before"
    else:
        assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["spec.json"] if existing else [])


# --- worker processes --------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is the default on Linux only")
def test_mp_context_forks_by_default_and_honours_a_declared_start_method():
    import threading

    if threading.active_count() == 1:
        assert workers.mp_context().get_start_method() == "fork"
    assert workers.mp_context("spawn").get_start_method() == "spawn"
    assert workers.mp_context("forkserver").get_start_method() in ("forkserver", "spawn")


def test_mp_context_avoids_fork_while_threads_run():
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert workers.mp_context().get_start_method() != "fork"
    finally:
        stop.set()
        thread.join()


def test_start_method_of_reads_the_declaration():
    class Threaded:
        start_method = "spawn"

    class Wrong:
        start_method = "thread"

    assert workers.start_method_of(object()) == "fork"
    assert workers.start_method_of(Threaded()) == "spawn"
    with pytest.raises(ValueError, match="start_method must be one of"):
        workers.start_method_of(Wrong())


def _worker_report(_: int) -> tuple[str, bool, int]:
    import signal

    return (os.environ["OMP_NUM_THREADS"], signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
            workers.worker_object()["answer"])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_init_worker_limits_threads_ignores_sigint_and_loads_the_payload(method):
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method),
                             initializer=workers.init_worker,
                             initargs=(pickle.dumps({"answer": 42}),)) as pool:
        threads, handler, answer = pool.submit(_worker_report, 0).result()
    assert (threads, answer) == ("1", 42)
    assert handler is True


# --- Ctrl-C during extraction ------------------------------------------------------------------

SLOW_PLUGIN = '''
"""A slow featurizer that counts its rows in a file (Ctrl-C tests)."""

import os
import time
from dataclasses import dataclass

import numpy as np

from nk import hookimpl
from nk.registry import param


@dataclass
class SlowConfig:
    delay: float = param(0.05, ge=0, help="seconds to sleep per row")


class Slow:
    process_safe = True
    sampling_rate = None

    def __init__(self, *, delay):
        self.delay = delay

    def feature_names(self):
        return ["mean", "std", "peak"]

    def extract(self, signal, sampling_rate):
        with open(os.environ["NK_TEST_COUNTER"], "a") as fh:
            fh.write("x\\n")
        time.sleep(self.delay)
        return np.array([signal.mean(), signal.std(), np.abs(signal).max()], dtype=np.float32)


@hookimpl
def nk_register_featurizers(register):
    register("slow", Slow, SlowConfig, description="slow, counting featurizer")
'''

RUN_NK = ("import sys, slow_plugin; from nk.cli import main; from nk.plugins import PluginManager; "
          "pm = PluginManager(autoload=False); pm.register(slow_plugin, name='nk-slow-test'); "
          "sys.exit(main(sys.argv[1:], pm=pm))")


def _run_slow(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NK_")}
    env.update(NK_CACHE_DIR=str(tmp_path / "cache"), NK_TEST_COUNTER=str(tmp_path / "count"),
               PYTHONPATH=str(tmp_path), COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-c", RUN_NK, "run", "data=demo", "data.demo.n_speakers=8",
         "data.demo.n_utterances=2", "feats=slow", *args],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # its own process group: the signal reaches every process, as from a terminal


def _count_rows(tmp_path: Path) -> int:
    path = tmp_path / "count"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _last_log(tmp_path: Path) -> str:
    logs = sorted((tmp_path / "results").rglob("nk.log"), key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text()


@pytest.mark.parametrize("n_jobs", [pytest.param(2, id=f"pool-{i}") for i in range(3)]
                         + [pytest.param(1, id="serial")])
def test_one_ctrl_c_stops_extraction_promptly_and_the_rerun_resumes(tmp_path, n_jobs):
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    proc = _run_slow(tmp_path, f"n_jobs={n_jobs}")
    try:
        deadline = time.monotonic() + 180
        while _count_rows(tmp_path) < 12:  # extraction has started (demo audio written, workers up)
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "extraction did not start"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert waited < 8, f"took {waited:.1f} s to stop"
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err
    assert err.strip().splitlines()[-1] == "Interrupted."
    assert "interrupted (Ctrl-C)" in _last_log(tmp_path)

    before = _count_rows(tmp_path)
    proc = _run_slow(tmp_path, f"n_jobs={n_jobs}")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    new, cached = map(int, EXTRACTED.search(_last_log(tmp_path)).groups())
    assert cached >= 1 and new + cached == 64
    assert _count_rows(tmp_path) - before == new  # only the rows not committed were extracted again
