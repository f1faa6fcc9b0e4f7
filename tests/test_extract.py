"""Extraction internals: worker processes, atomic writes, environment flags, Ctrl-C, bad audio,
cache keys from parameter metadata, feature views and the batch path.

Fake featurizers are numpy only; subprocess tests run ``nk`` (or a driver) on tiny corpora.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import sys
import types

import pytest

from nk import plugins as nk_plugins
from nk import workers
from nk.env import env_flag
from nk.errors import UserError
from nk.fsutil import atomic_write_bytes, atomic_write_text
from nk.plugins import PluginManager

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
