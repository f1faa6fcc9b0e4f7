"""Extraction internals: worker processes, atomic writes, environment flags, Ctrl-C, bad audio,
cache keys from parameter metadata, feature views and the batch path.

Fake featurizers are numpy only; subprocess tests run ``nk`` (or a driver) on tiny corpora.
"""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from rich.console import Console

from nk import audio, hookimpl, workers
from nk import plugins as nk_plugins
from nk.cache import FeatureCache
from nk.cli import main
from nk.context import RunContext
from nk.env import env_flag
from nk.errors import ContractError, UserError
from nk.featurize import extract
from nk.fsutil import atomic_write_bytes, atomic_write_text
from nk.plugins import PluginManager
from nk.registry import param
from nk.testing import write_tiny_corpus, write_tone

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

RUN_NK = ("import sys; import nk.testing.slow as slow_plugin; from nk.cli import main; from nk.plugins import PluginManager; "
          "pm = PluginManager(autoload=False); pm.register(slow_plugin, name='nk-slow-test'); "
          "sys.exit(main(sys.argv[1:], pm=pm))")


def _run_slow(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NK_")}
    env.update(NK_CACHE_DIR=str(tmp_path / "cache"), NK_TEST_COUNTER=str(tmp_path / "count"),
               PYTHONPATH=str(tmp_path), COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-c", RUN_NK, "run", "data=demo", "data.demo.n_speakers=8",
         "data.demo.n_utterances=2", "feats=slow", "feats.slow.delay=0.05", *args],
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


# --- NaN and inf samples in audio --------------------------------------------------------------


def _float_wav(path: Path, bad: float | None, at: int = 1234, seconds: float = 0.5) -> Path:
    """A float32 WAV tone; with ``bad`` (nan, inf) the sample ``at`` holds it."""
    rng = np.random.default_rng(at)
    t = np.arange(int(seconds * 16000)) / 16000
    signal = (0.2 * np.sin(2 * np.pi * 150 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    if bad is not None:
        signal[at] = bad
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, 16000, subtype="FLOAT")
    return path


@pytest.mark.parametrize(("bad", "kind"), [(np.nan, "NaN"), (np.inf, "+inf"), (-np.inf, "-inf")],
                         ids=["nan", "inf", "minus-inf"])
def test_read_names_the_file_and_the_first_nonfinite_sample(tmp_path, bad, kind):
    path = _float_wav(tmp_path / "x.wav", bad, at=1234)
    with pytest.raises(audio.BadAudio) as info:
        audio.read(path, sampling_rate=16000)
    assert info.value.file == str(path)
    assert info.value.problem == f"{kind} sample at frame 1234 (0.077 s)"
    assert str(path) in info.value.message
    assert audio.nonfinite_problem(path) == info.value.problem
    assert audio.nonfinite_problem(_float_wav(tmp_path / "ok.wav", None)) is None
    signal, _ = audio.read(path, start=0.1)  # a segment after the bad sample is fine
    assert np.isfinite(signal).all()


@pytest.fixture
def nan_corpus(tmp_path):
    """A CSV corpus of 36 tones in which two files are float WAVs with a NaN or an inf sample."""
    frame = write_tiny_corpus(tmp_path / "audio")
    bad = {frame.index[3]: np.nan, frame.index[20]: np.inf}
    for file, value in bad.items():
        _float_wav(Path(file), value, at=2000)
    path = tmp_path / "db.csv"
    frame.reset_index().to_csv(path, index=False)
    return path, list(bad)


def _run_csv(nk_pm, tmp_path, csv: Path, *extra: str) -> int:
    return main(["run", "data=csv", f"data.csv.path={csv}", "target=label", "feats=mfcc", "n_jobs=1",
                 "model=knn", "model.n_neighbors=3", f"results_root={tmp_path / 'results'}",
                 f"cache_dir={tmp_path / 'cache'}", *extra], pm=nk_pm)


def test_nonfinite_samples_stop_the_run_naming_every_file(nk_pm, tmp_path, capsys, nan_corpus):
    csv, bad = nan_corpus
    assert _run_csv(nk_pm, tmp_path, csv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "2 of 36 audio files cannot be used" in err and "Traceback" not in err
    assert f"{bad[0]}: NaN sample at frame 2000 (0.125 s)" in err
    assert f"{bad[1]}: +inf sample at frame 2000 (0.125 s)" in err
    assert "audio.bad_files=skip" in err
    assert not (tmp_path / "cache" / "features").exists()  # nothing extracted, nothing cached


def test_nonfinite_samples_are_skipped_and_listed_with_bad_files_skip(nk_pm, tmp_path, capsys, nan_corpus):
    csv, bad = nan_corpus
    assert _run_csv(nk_pm, tmp_path, csv, "audio.bad_files=skip") == 0
    (results,) = (tmp_path / "results").rglob("results.json")
    skipped = {s["file"]: s["problem"] for s in json.loads(results.read_text())["load"]["skipped_files"]}
    assert skipped == {bad[0]: "NaN sample at frame 2000 (0.125 s)",
                       bad[1]: "+inf sample at frame 2000 (0.125 s)"}
    (entry,) = FeatureCache(tmp_path / "cache").entries()
    assert entry.verify()["rows"] == 34


def _extract(nk_pm, nk_compose, tmp_path, name, index, *, n_jobs=1, durations=None, **params):
    """(features, log text) of extracting the registered featurizer ``name`` in-process."""
    records = _Records()
    log = logging.getLogger(f"nk.test-extract-{name}")
    log.setLevel(logging.INFO)
    log.addHandler(records)
    try:
        cfg = nk_compose([f"feats={name}", f"n_jobs={n_jobs}", f"cache_dir={tmp_path / 'cache'}"])
        ctx = RunContext(cfg=cfg, run_dir=tmp_path, pm=nk_pm, log=log, console=Console(quiet=True))
        comp = nk_pm.registry.get("feats", name)
        values = {**comp.defaults(), **params}
        frame = extract(comp, comp.build(values), values, index, ctx, durations=durations)
        return frame, records.text()
    finally:
        log.removeHandler(records)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def text(self) -> str:
        return "\n".join(self.lines)


def test_extraction_of_a_nonfinite_file_names_it_and_caches_the_others(nk_pm, nk_compose, tmp_path):
    """Files that reach extraction unchecked (not through the load stage) are bad files too."""
    index = write_tiny_corpus(tmp_path / "audio", n_speakers=2).index
    _float_wav(Path(index[1]), np.nan, at=100)
    with pytest.raises(UserError) as info:
        _extract(nk_pm, nk_compose, tmp_path, "mfcc", index)
    message = info.value.message
    assert f"mfcc could not process 1 of {len(index)} files: {index[1]}: NaN sample at frame 100" in message
    assert "Where: the audio files read for 'mfcc'" in message
    (entry,) = FeatureCache(tmp_path / "cache").entries()
    assert entry.verify()["rows"] == len(index) - 1


@dataclass
class NanConfig:
    quiet_below: float = param(0.2, help="peak below which the featurizer's value is undefined")


class Nan:
    """Its second value is undefined (NaN) for quiet files; the third is inf for them."""

    process_safe = False
    sampling_rate = None
    may_return_nan = False

    def __init__(self, *, quiet_below):
        self.quiet_below = quiet_below

    def feature_names(self):
        return ["peak", "ratio", "log"]

    def extract(self, signal, sampling_rate):
        peak = float(np.abs(signal).max())
        quiet = peak < self.quiet_below
        return np.array([peak, np.nan if quiet else 1.0, 1.0], dtype=np.float32)


class MayNan(Nan):
    may_return_nan = True


class InfNan(MayNan):
    def extract(self, signal, sampling_rate):
        return np.array([1.0, 1.0, np.inf], dtype=np.float32)


class NanPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("nan_test", Nan, NanConfig, description="NaN for quiet files (test)")
        register("may_nan_test", MayNan, NanConfig, description="declares may_return_nan (test)")
        register("inf_test", InfNan, NanConfig, description="returns inf (test)")


def test_nonfinite_features_are_never_cached_unless_declared(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(NanPlugin(), name="nk-nan-test")
    frame = write_tiny_corpus(tmp_path / "audio", n_speakers=2)
    index = frame.index  # class "low" is quiet (peak < 0.2), "high" is loud
    quiet = [f for f in index if "low_" in f]
    with pytest.raises(ContractError) as info:  # a plugin bug, named with a file
        _extract(nk_pm, nk_compose, tmp_path, "nan_test", index)
    assert str(info.value).startswith(
        f"nan_test: returned NaN or inf in {len(quiet)} rows (e.g. {quiet[0]}), columns ['ratio'], but "
        "does not declare may_return_nan = True")
    assert "these rows were not cached" in str(info.value)
    entries = {e.folder.parent.name: e for e in FeatureCache(tmp_path / "cache").entries()}
    assert entries["nan_test"].verify()["rows"] == len(index) - len(quiet)  # only finite rows

    features, _ = _extract(nk_pm, nk_compose, tmp_path, "may_nan_test", index)  # declared: cached
    assert features["may_nan_test.ratio"].isna().sum() == len(quiet)
    entries = {e.folder.parent.name: e for e in FeatureCache(tmp_path / "cache").entries()}
    assert entries["may_nan_test"].verify()["rows"] == len(index)

    with pytest.raises(ContractError, match=r"inf_test: returned inf in \d+ rows"):  # NaN only
        _extract(nk_pm, nk_compose, tmp_path, "inf_test", index)


# --- cache keys from parameter metadata, views, the batch path -----------------------------------

N_LAYERS = 3
POOLINGS = ("mean", "std")


@dataclass
class LayeredConfig:
    layer: int = param(-1, help="layer to use (negative: from the top); a view")
    pooling: str = param("mean", help="mean or std; a view")
    gain: float = param(1.0, help="scales every value (enters the cache key)")
    counter: str = param("", key=False, help="file that counts extracted rows")
    batch_seconds: float = param(2.0, gt=0, key=False, help="padded audio seconds per batch")
    token: str = param("", secret=True, help="an access token")


class Layered:
    """A fake embedding model: per 'layer' l, the mean and std of (l + 1) · gain · |signal|.

    Stores every layer and pooling statistic; ``layer`` and ``pooling`` are views.
    """

    process_safe = False
    sampling_rate = None
    view_params = ("layer", "pooling")

    def __init__(self, *, layer, pooling, gain, counter, batch_seconds, token):
        self.layer = layer
        self.pooling = pooling
        self.gain = gain
        self.counter = counter
        self.batch_seconds = batch_seconds
        self.token = token

    def feature_names(self):
        return [f"layer{layer}.{stat}" for layer in range(N_LAYERS) for stat in POOLINGS]

    def _count(self, what: str, n: int) -> None:
        if self.counter:
            with open(self.counter, "a") as fh:
                fh.write(f"{what} {n}\n")

    def extract(self, signal, sampling_rate):
        self._count("row", 1)
        x = np.abs(signal.astype(np.float64)) * self.gain
        return np.array([f(x * (layer + 1)) for layer in range(N_LAYERS) for f in (np.mean, np.std)],
                        dtype=np.float32)

    def view(self, stored, names):
        layer = self.layer % N_LAYERS
        column = layer * len(POOLINGS) + POOLINGS.index(self.pooling)
        return stored[:, [column]], [names[column]]


class BatchedLayered(Layered):
    """:class:`Layered` with ``extract_batch``: padded to the longest signal, masked statistics."""

    def extract_batch(self, signals, sampling_rate):
        self._count("batch", len(signals))
        self._count("padded", max(len(s) for s in signals) * len(signals))
        longest = max(len(s) for s in signals)
        padded = np.zeros((len(signals), longest))
        mask = np.zeros((len(signals), longest), dtype=bool)
        for i, s in enumerate(signals):
            padded[i, :len(s)] = np.abs(s.astype(np.float64)) * self.gain
            mask[i, :len(s)] = True
        out = []
        for layer in range(N_LAYERS):
            x = np.ma.masked_array(padded * (layer + 1), mask=~mask)
            out.append(np.stack([x.mean(axis=1).filled(), x.std(axis=1).filled()], axis=1))
        return list(np.concatenate(out, axis=1).astype(np.float32))


class FlakyBatched(BatchedLayered):
    """Fails on signals shorter than 0.3 s, in a batch as for one row."""

    def _check(self, signal):
        if len(signal) < 0.3 * 16000:
            raise ValueError(f"signal too short for the model ({len(signal)} samples)")

    def extract(self, signal, sampling_rate):
        self._check(signal)
        return super().extract(signal, sampling_rate)

    def extract_batch(self, signals, sampling_rate):
        for s in signals:
            self._check(s)
        return super().extract_batch(signals, sampling_rate)


class LayeredPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("layered", Layered, LayeredConfig, description="fake layered embeddings (test)")
        register("batched", BatchedLayered, LayeredConfig, description="batched layered embeddings (test)")
        register("flaky", FlakyBatched, LayeredConfig, description="fails on short files (test)")


@pytest.fixture
def layered(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    """``run(name, index, **params)`` → (features, log); ``counts(name)`` → {what: total}."""
    nk_register_plugin(LayeredPlugin(), name="nk-layered-test")

    def run(name, index, **params):
        params.setdefault("counter", str(tmp_path / f"{name}.count"))
        return _extract(nk_pm, nk_compose, tmp_path, name, index, **params)

    return run


def _counts(tmp_path: Path, name: str) -> dict[str, int]:
    out: dict[str, int] = {}
    path = tmp_path / f"{name}.count"
    for line in path.read_text().splitlines() if path.exists() else []:
        what, n = line.split()
        out[what] = out.get(what, 0) + int(n)
    return out


def _varied_corpus(folder: Path, n: int = 14) -> pd.Index:
    """Tones of 0.2 to 1.5 s, in no particular order of length."""
    files = [str(write_tone(folder / f"f{i:02d}.wav", f0=100 + 9 * i, seconds=0.2 + 0.1 * ((i * 5) % n),
                            seed=i)) for i in range(n)]
    return pd.Index(files, name="file")


def test_key_false_and_secret_params_never_enter_the_cache_key(layered, tmp_path, nk_pm, capsys, monkeypatch):
    index = _varied_corpus(tmp_path / "audio", n=6)
    first, log = layered("layered", index, token="SECRET123XYZ", batch_seconds=2.0)
    assert "extracted 6 new rows" in log
    again, log = layered("layered", index, token="another-token", batch_seconds=9.0,
                         counter=str(tmp_path / "other.count"))
    assert "layered: 6 rows from the cache" in log and "extracted" not in log
    pd.testing.assert_frame_equal(first, again)
    (spec,) = (tmp_path / "cache" / "features" / "layered").glob("*/spec.json")
    params = json.loads(spec.read_text())["params"]
    assert params == {"gain": 1.0}  # no key=False, secret or view parameter
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"SECRET123XYZ" not in data and b"another-token" not in data, path
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    assert main(["cache", "ls", "--cache-dir", str(tmp_path / "cache")], pm=nk_pm) == 0
    out = capsys.readouterr().out
    assert "gain=1.0" in out and "SECRET" not in out and "token" not in out

    _, log = layered("layered", index, gain=2.0)  # a key parameter recomputes
    assert "extracted 6 new rows" in log


def test_views_select_from_the_stored_vector_and_reuse_the_cache(layered, tmp_path):
    index = _varied_corpus(tmp_path / "audio", n=6)
    top, log = layered("layered", index)
    assert list(top.columns) == ["layered.layer2.mean"] and "extracted 6 new rows" in log
    assert "(view: layer=-1, pooling=mean)" in log
    first_std, log = layered("layered", index, layer=0, pooling="std")
    assert list(first_std.columns) == ["layered.layer0.std"]
    assert "layered: 6 rows from the cache (view: layer=0, pooling=std)" in log
    assert _counts(tmp_path, "layered") == {"row": 6}  # extracted once
    stored = np.vstack([Layered(layer=0, pooling="mean", gain=1.0, counter="", batch_seconds=1,
                                token="").extract(*audio.read(f)) for f in index])
    np.testing.assert_array_equal(top.to_numpy()[:, 0], stored[:, 4])
    np.testing.assert_array_equal(first_std.to_numpy()[:, 0], stored[:, 1])
    assert top.dtypes.eq(np.float32).all()


def test_batched_features_equal_per_file_features(layered, tmp_path):
    index = _varied_corpus(tmp_path / "audio")
    per_file, log = layered("layered", index, layer=1, pooling="std")
    batched, log = layered("batched", index, layer=1, pooling="std")
    assert "batched" in log
    # tolerance: float32 results of float64 masked statistics; the order of sums differs
    np.testing.assert_allclose(batched.to_numpy(), per_file.to_numpy(), rtol=1e-6, atol=1e-7)
    assert list(batched.index) == list(index)
    counts = _counts(tmp_path, "batched")
    assert counts["batch"] == len(index) and "row" not in counts
    durations = [sf.info(f).duration for f in index]
    # every batch held at most batch_seconds (2 s) of padded audio, unless one row is longer
    assert counts["padded"] <= sum(durations) * 16000 * 1.5


def test_batch_groups_are_sorted_by_duration_and_bounded():
    from nk.featurize import duration_groups

    durations = [0.5, 3.0, 1.0, 0.4, 1.0, 0.6, 5.0]
    groups = duration_groups(durations, batch_seconds=2.5)
    assert sorted(i for g in groups for i in g) == list(range(len(durations)))
    assert groups[0] == [6] and groups[1] == [1]  # longer than a batch: alone
    for group in groups:
        lengths = [durations[i] for i in group]
        assert lengths == sorted(lengths, reverse=True)
        assert len(group) == 1 or max(lengths) * len(group) <= 2.5


def test_batches_use_the_corpus_durations_and_commit_as_they_finish(layered, tmp_path):
    index = _varied_corpus(tmp_path / "audio")
    durations = np.array([sf.info(f).duration for f in index])
    _, log = layered("batched", index, durations=durations, batch_seconds=1.0)
    (entry,) = FeatureCache(tmp_path / "cache").entries()
    assert entry.verify()["rows"] == len(index)
    _, log = layered("batched", index, durations=durations, batch_seconds=1.0, layer=0)
    assert f"batched: {len(index)} rows from the cache (view: layer=0, pooling=mean)" in log


def test_a_failing_batch_falls_back_to_rows_and_the_bad_file_names_itself(layered, tmp_path):
    index = _varied_corpus(tmp_path / "audio")  # one file is 0.2 s: too short for "flaky"
    short = [f for f in index if sf.info(f).duration < 0.3]
    assert len(short) == 1
    with pytest.raises(UserError) as info:
        layered("flaky", index, batch_seconds=10.0)  # batches of 6 (longest 1.5 s) and 8 rows
    message = info.value.message
    assert f"flaky could not process 1 of {len(index)} files: {short[0]}: ValueError: signal too short" in message
    (entry,) = FeatureCache(tmp_path / "cache").entries()
    assert entry.verify()["rows"] == len(index) - 1  # the others are cached
    counts = _counts(tmp_path, "flaky")
    # the batch holding the short file was retried row by row; the other one succeeded
    assert counts == {"batch": 6, "padded": 6 * 24000, "row": 8 - 1}


SWEEP_LOG = re.compile(r"batched: (\d+) rows from the cache \(view: layer=(-?\d+), pooling=mean\)")


def test_a_sweep_over_a_view_parameter_extracts_once(nk_pm, nk_register_plugin, tmp_path, capsys):
    nk_register_plugin(LayeredPlugin(), name="nk-layered-test")
    frame = write_tiny_corpus(tmp_path / "audio", n_speakers=4)
    csv = tmp_path / "db.csv"
    frame.reset_index().to_csv(csv, index=False)
    counter = tmp_path / "sweep.count"
    code = main(["run", "-m", "data=csv", f"data.csv.path={csv}", "target=label", "feats=batched",
                 "feats.batched.layer=0,1,2", f"feats.batched.counter={counter}", "n_jobs=1",
                 "model=knn", "model.n_neighbors=3", f"results_root={tmp_path / 'results'}",
                 f"cache_dir={tmp_path / 'cache'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr()
    logs = "\n".join(p.read_text() for p in (tmp_path / "results").rglob("nk.log"))
    assert len(re.findall(r"batched: extracted \d+ new rows", logs)) == 1
    assert sorted(int(m[1]) for m in SWEEP_LOG.finditer(logs))[:2] == [len(frame)] * 2
    assert _counts(tmp_path, "sweep")["batch"] == len(frame)  # every row extracted once


class Spawned:
    """Declares that it must not be forked (it would hold threads or CUDA state)."""

    process_safe = True
    sampling_rate = None
    start_method = "spawn"

    def feature_names(self):
        return ["peak", "pid", "forked"]

    def extract(self, signal, sampling_rate):
        import multiprocessing as mp

        return np.array([np.abs(signal).max(), os.getpid(), mp.get_start_method(allow_none=True) == "fork"],
                        dtype=np.float32)


@dataclass
class NoConfig:
    pass


class SpawnedPlugin:
    @hookimpl
    def nk_register_featurizers(self, register):
        register("spawned", Spawned, NoConfig, description="asks for spawned workers (test)")


def test_a_featurizer_can_ask_for_spawned_workers(nk_pm, nk_register_plugin, nk_compose, tmp_path):
    nk_register_plugin(SpawnedPlugin(), name="nk-spawned-test")
    index = write_tiny_corpus(tmp_path / "audio", n_speakers=2).index
    features, log = _extract(nk_pm, nk_compose, tmp_path, "spawned", index, n_jobs=2)
    pids = set(features["spawned.pid"].astype(int))
    assert pids and os.getpid() not in pids and "2 jobs" in log
    assert (features["spawned.forked"] == 0).all()
    expected = [np.abs(audio.read(f)[0]).max() for f in index]
    np.testing.assert_allclose(features["spawned.peak"], expected, rtol=1e-6)
