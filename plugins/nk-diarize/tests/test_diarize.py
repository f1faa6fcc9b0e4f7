"""Diarization on synthetic voices; pyannote's optional import; nk segment's speaker tables."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from nk.cli import main
from nk.errors import UserError
from nk.testing import SegmenterContract, write_speech_bursts

VOICES = ((115.0, 1.0), (175.0, 1.15))  # a low, long vocal tract and a higher, shorter one


@pytest.fixture
def tiny_corpus(tmp_path):
    """A smaller corpus than nk.testing's for the contract suite (embedding 36 files is slow)."""
    from nk.testing import write_tiny_corpus

    return write_tiny_corpus(tmp_path / "tiny", n_speakers=2, n_per_class=1, seconds=1.0)


class TestDiarizeContract(SegmenterContract):
    name = "diarize"


def diarizer(nk_pm, **params):
    comp = nk_pm.registry.get("segment", "diarize")
    return comp.build({**comp.defaults(), **params})


@pytest.fixture(scope="module")
def two_voices(tmp_path_factory):
    path = tmp_path_factory.mktemp("dia") / "two.wav"
    return path, write_speech_bursts(path, bursts=6, seed=5, voices=VOICES)


def found(out):
    return [(i[1].total_seconds(), i[2].total_seconds(), who)
            for i, who in zip(out.index, out["diarized_speaker"], strict=True)]


def test_two_alternating_voices_are_two_speakers(nk_pm, nk_context, two_voices):
    path, truth = two_voices
    frame = pd.DataFrame({"speaker": ["interview1"]}, index=pd.Index([str(path)], name="file"))
    out = diarizer(nk_pm).segment(frame, nk_context)
    turns = found(out)
    assert {w for _, _, w in turns} == {"spk0", "spk1"}
    assert list(out["speaker"].unique()) == ["interview1"]  # the data's own column is kept
    # every true burst is covered by a turn of one speaker, and the voices map one to one
    mapping = {}
    for s, e, voice in truth:
        overlapping = [w for a, b, w in turns if min(b, e) - max(a, s) > 0.5 * (e - s)]
        assert len(overlapping) == 1
        mapping.setdefault(voice, set()).add(overlapping[0])
    assert all(len(v) == 1 for v in mapping.values()) and mapping[0] != mapping[1]


def test_one_voice_is_one_speaker_and_n_speakers_forces_a_count(nk_pm, nk_context, tmp_path):
    path = tmp_path / "one.wav"
    write_speech_bursts(path, bursts=4, seed=2, voices=VOICES[:1])
    frame = pd.DataFrame({"x": [1]}, index=pd.Index([str(path)], name="file"))
    assert set(diarizer(nk_pm).segment(frame, nk_context)["diarized_speaker"]) == {"spk0"}
    assert set(diarizer(nk_pm, n_speakers=2).segment(frame, nk_context)["diarized_speaker"]) == {"spk0", "spk1"}


def test_a_speaker_change_inside_a_segment_cuts_it():
    from nk_diarize._cluster import turns, windows

    spans = windows([(0.0, 4.0)], 1.0, 0.5)
    assert spans[0] == (0.0, 1.0) and spans[-1] == (3.0, 4.0)
    labels = np.array([0 if (a + b) / 2 < 2.0 else 1 for a, b in spans])
    assert turns([(0.0, 4.0)], spans, labels) == [(0.0, 1.75, "spk0"), (1.75, 4.0, "spk1")]


def test_bad_options_are_user_errors(nk_compose):
    with pytest.raises(UserError, match="hop"):
        nk_compose(["segment=diarize", "segment.hop=2.0"])
    with pytest.raises(UserError, match="max_speakers"):
        nk_compose(["segment=diarize", "segment.n_speakers=9"])


def test_pyannote_without_its_library_is_a_clear_error(nk_pm, nk_context, tiny_corpus, monkeypatch):
    import os

    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # as where it cannot be imported
    monkeypatch.delenv("PYANNOTE_METRICS_ENABLED", raising=False)
    comp = nk_pm.registry.get("segment", "pyannote")
    assert comp.secret_params() == {"token"}
    segmenter = comp.build({**comp.defaults(), "token": "hf_secret"})
    with pytest.raises(UserError, match=r"cannot import pyannote\.audio.*segment=diarize") as info:
        segmenter.segment(tiny_corpus, nk_context)
    assert "hf_secret" not in str(info.value)
    assert os.environ["PYANNOTE_METRICS_ENABLED"] == "false"  # telemetry off before the import


def test_nk_segment_writes_speaker_tables(nk_pm, nk_compose, two_voices, tmp_path, capsys):
    nk_compose([])
    path, _ = two_voices
    table = tmp_path / "long.csv"
    table.write_text(f"file,label\n{path},a\n")
    code = main(["segment", "data=csv", f"data.csv.path={table}", "segment=diarize",  # no target needed
                 f"results_root={tmp_path / 'res'}"], pm=nk_pm)
    assert code == 0, capsys.readouterr().err
    (run,) = (tmp_path / "res").glob("*/*-segment")
    speakers = pd.read_csv(run / "speakers.csv")
    assert list(speakers["diarized_speaker"]) == ["spk0", "spk1"] and (speakers["segments"] == 3).all()
    assert (run / "speakers.png").stat().st_size > 1000
    assert "diarized_speaker" in pd.read_csv(run / "segments.csv").columns


def test_embeddings_come_from_nk_predict():
    """One speaker-embedding implementation: diarization uses nk-predict's encoder, and no module
    of nk-diarize loads resemblyzer itself."""
    from pathlib import Path

    import nk_diarize
    from nk_diarize._cluster import embedder
    from nk_predict.embeddings import Resemblyzer

    encoder = embedder()
    assert isinstance(encoder, Resemblyzer)
    window = 0.1 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000)
    (vector,) = encoder.windows([window])
    assert vector.shape == (256,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    for source in Path(nk_diarize.__file__).parent.glob("*.py"):
        assert "from resemblyzer" not in source.read_text() and "import resemblyzer" not in source.read_text()
