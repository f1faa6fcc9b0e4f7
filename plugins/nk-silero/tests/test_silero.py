"""segment=silero on synthetic speech: accuracy, both backends, options, errors."""

from __future__ import annotations

import subprocess
import sys
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from nk.errors import UserError
from nk.testing import (
    SegmenterContract,
    boundary_errors,
    frame_accuracy,
    speech_like,
    write_speech_bursts,
)

needs_torch = pytest.mark.skipif(find_spec("torch") is None, reason="torch is not installed")

DEFAULTS = {"threshold": 0.5, "neg_threshold": 0.0, "min_speech": 0.25, "min_silence": 0.1,
            "max_segment": 0.0, "padding": 0.03, "trim_db": 35.0, "merge_gap": 0.0,
            "backend": "onnx", "sampling_rate": 16000}


def silero(nk_pm, **params):
    from nk_silero import Backend

    values = {**DEFAULTS, **params}
    values["backend"] = Backend[values["backend"]]
    return nk_pm.registry.get("segment", "silero").build(values)


class TestSileroContract(SegmenterContract):
    name = "silero"


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.wav"
    truth = write_speech_bursts(path, bursts=12, seed=3)
    return path, [(s, e) for s, e, _ in truth], sf.info(str(path)).duration


def test_segments_match_the_truth(nk_pm, long_file):
    """The torch backend gives the same probabilities (next test); it is ~200× slower here."""
    from nk.audio import read

    path, truth, duration = long_file
    signal, rate = read(path, sampling_rate=16000)
    found = silero(nk_pm).speech(signal, rate)
    assert len(found) == len(truth)
    assert frame_accuracy(truth, found, duration) >= 0.95
    assert np.median(boundary_errors(truth, found)) <= 0.05


def test_without_the_trim_boundaries_lag(nk_pm, long_file):
    """The energy trim is what brings silero's late ends to the signal's."""
    from nk.audio import read

    path, truth, _ = long_file
    signal, rate = read(path, sampling_rate=16000)
    untrimmed = np.median(boundary_errors(truth, silero(nk_pm, trim_db=0.0).speech(signal, rate)))
    trimmed = np.median(boundary_errors(truth, silero(nk_pm).speech(signal, rate)))
    assert trimmed < untrimmed


@needs_torch
def test_the_backends_agree_and_torch_keeps_its_threads(nk_pm, long_file):
    import torch

    from nk.audio import read

    path, _, _ = long_file
    signal, rate = read(path, sampling_rate=16000, end=6.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        jit = silero(nk_pm, backend="torch")
        probs_torch, _ = jit.model().probabilities(signal, rate)
        assert torch.get_num_threads() == 2  # import silero_vad sets 1; nk_silero restores it
    finally:
        torch.set_num_threads(before)
    probs_onnx, _ = silero(nk_pm).model().probabilities(signal, rate)
    assert probs_onnx.shape == probs_torch.shape
    assert np.abs(probs_onnx - probs_torch).max() < 0.01


def test_the_onnx_backend_never_imports_torch(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, np.concatenate([np.zeros(8000), speech_like(1.5), np.zeros(8000)]), 16000)
    code = ("import sys\nfrom nk_silero import Silero\n"
            f"s = Silero(**{ {k: v for k, v in DEFAULTS.items() if k != 'backend'} !r}, backend='onnx')\n"
            "from nk.audio import read\n"
            f"x, r = read({str(path)!r}, sampling_rate=16000)\n"
            "print(s.speech(x, r))\nassert 'torch' not in sys.modules, 'torch was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "(0.4" in out.stdout or "(0.5" in out.stdout


def test_long_speech_is_cut_at_its_quietest_frame(nk_pm, tmp_path):
    from nk.audio import read

    sr = 16000
    speech = [speech_like(2.0, seed=1), np.zeros(int(0.06 * sr), np.float32), speech_like(2.0, seed=2)]
    x = np.concatenate([np.zeros(sr // 2, np.float32), *speech, np.zeros(sr // 2, np.float32)])
    sf.write(tmp_path / "a.wav", x, sr)
    signal, rate = read(tmp_path / "a.wav", sampling_rate=sr)
    whole = silero(nk_pm).speech(signal, rate)
    assert len(whole) == 1  # a 60 ms pause does not end speech (min_silence 0.1 s)
    cut = silero(nk_pm, max_segment=3.0).speech(signal, rate)
    assert len(cut) == 2 and all(e - s <= 3.0 for s, e in cut)
    assert abs(cut[0][1] - 2.53) < 0.05  # inside the pause, not at 3 s


def test_segment_keeps_columns_offsets_and_drops_silent_files(nk_pm, nk_context, tmp_path):
    sr = 16000
    sf.write(tmp_path / "speech.wav", np.concatenate([np.zeros(sr), speech_like(1.5, seed=0), np.zeros(sr)]), sr)
    sf.write(tmp_path / "silent.wav", 0.001 * np.random.default_rng(0).standard_normal(2 * sr), sr)
    files = [str(tmp_path / "speech.wav"), str(tmp_path / "silent.wav")]
    frame = pd.DataFrame({"label": ["a", "b"], "speaker": ["s1", "s2"]}, index=pd.Index(files, name="file"))
    out = silero(nk_pm).segment(frame, nk_context)
    assert list(out.index.names) == ["file", "start", "end"]
    assert set(out.index.get_level_values("file")) == {files[0]}
    assert list(out["label"]) == ["a"] and list(out["speaker"]) == ["s1"]
    start, end = out.index[0][1].total_seconds(), out.index[0][2].total_seconds()
    assert abs(start - 1.0) < 0.06 and abs(end - 2.5) < 0.06
    # a segmented input is cut inside its segments, in the file's time
    given = pd.MultiIndex.from_arrays([[files[0]], pd.to_timedelta([0.5], unit="s"), pd.to_timedelta([3.5], unit="s")],
                                      names=["file", "start", "end"])
    again = silero(nk_pm).segment(pd.DataFrame({"label": ["a"]}, index=given), nk_context)
    assert abs(again.index[0][1].total_seconds() - 1.0) < 0.06


@pytest.mark.parametrize(("override", "message"), [
    (["segment.max_segment=0.05"], "max_segment"),
    (["segment.neg_threshold=0.7"], "neg_threshold"),
    (["segment.sampling_rate=22050"], "sampling_rate"),
    (["segment.sampling_rate=8000", "segment.backend=onnx"], "torch backend"),
])
def test_bad_options_are_user_errors(nk_compose, override, message):
    with pytest.raises(UserError, match=message):
        nk_compose(["segment=silero", *override])
