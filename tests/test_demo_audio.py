"""Tests of the synthetic demo corpus in nk.builtin.demo_audio."""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

try:
    from nk.builtin import demo_audio
except ImportError:  # running from a checkout without nk installed
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "core" / "src"))
    from nk.builtin import demo_audio


def _cramers_v(a: pd.Series, b: pd.Series) -> float:
    table = pd.crosstab(a, b).to_numpy(dtype=float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def _features(path: str) -> np.ndarray:
    """Crude utterance-level prosodic/spectral functionals (a poor man's eGeMAPS)."""
    x, sr = sf.read(path)
    frame, hop, n_fft = int(0.032 * sr), int(0.01 * sr), 2048
    idx = np.arange(0, x.size - frame, hop)[:, None] + np.arange(frame)
    frames = x[idx] * np.hanning(frame)
    energy = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    active = energy > energy.max() - 30
    zcr = np.mean(np.diff(np.signbit(x[idx]), axis=1), axis=1)
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1 / sr)
    centroid = (power * freqs).sum(1) / (power.sum(1) + 1e-12)
    acf = np.fft.irfft(power, n_fft)  # autocorrelation; n_fft > 2 * frame avoids wrap-around
    lo, hi = int(sr / 400), int(sr / 60)
    lag = lo + np.argmax(acf[:, lo:hi], axis=1)
    clarity = acf[np.arange(lag.size), lag] / (acf[:, 0] + 1e-12)
    voiced = active & (clarity > 0.5)
    semitones = 12 * np.log2(sr / lag[voiced]) if voiced.any() else np.zeros(1)
    return np.array(
        [
            energy[active].mean(),
            energy[active].std(),
            zcr[active].mean(),
            np.log(centroid[active].mean()),
            np.median(semitones),
            np.percentile(semitones, 90) - np.percentile(semitones, 10),
            voiced.mean(),
            x.size / sr,
        ]
    )


def test_deterministic(tmp_path: pathlib.Path) -> None:
    a = demo_audio.synthesize_corpus(tmp_path / "a", n_speakers=8, n_utterances=1, seed=3)
    b = demo_audio.synthesize_corpus(tmp_path / "b", n_speakers=8, n_utterances=1, seed=3)
    assert len(a) == len(b) == 32
    for fa, fb in zip(a.index, b.index, strict=True):
        assert pathlib.Path(fa).relative_to(tmp_path / "a") == pathlib.Path(fb).relative_to(tmp_path / "b")
        assert pathlib.Path(fa).read_bytes() == pathlib.Path(fb).read_bytes()
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    c = demo_audio.synthesize_corpus(tmp_path / "c", n_speakers=8, n_utterances=1, seed=4)
    assert pathlib.Path(a.index[0]).read_bytes() != pathlib.Path(c.index[0]).read_bytes()


def test_table_and_balance(tmp_path: pathlib.Path) -> None:
    calls: list[tuple[int, int]] = []
    df = demo_audio.synthesize_corpus(
        tmp_path, n_speakers=8, n_utterances=2, progress=lambda d, t: calls.append((d, t))
    )
    assert df.index.name == "file"
    assert list(df.columns) == ["emotion", "speaker", "gender", "age", "duration"]
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert all(pathlib.Path(f).is_absolute() and pathlib.Path(f).is_file() for f in df.index)
    assert len(df) == 8 * 4 * 2
    assert calls[-1] == (len(df), len(df)) and len(calls) == len(df)
    assert (df.groupby(["speaker", "emotion"]).size() == 2).all()
    assert set(df["emotion"]) == set(demo_audio.EMOTIONS)
    assert df.groupby("speaker")["gender"].first().value_counts().to_dict() == {
        "female": 4,
        "male": 4,
    }
    ages = df.groupby("speaker")["age"].first()
    assert ages.min() < 30 and ages.max() >= 70 and ages.nunique() >= 6
    assert df["age"].dtype == np.int64
    assert df["duration"].between(1.0, 2.5).all()
    info = sf.info(df.index[0])
    assert info.samplerate == 16000 and info.subtype == "PCM_16" and info.channels == 1
    x, _ = sf.read(df.index[0])
    assert x.size / 16000 == pytest.approx(df["duration"].iloc[0])
    assert _cramers_v(df["gender"], df["emotion"]) == pytest.approx(0.0)


def test_confound(tmp_path: pathlib.Path) -> None:
    df = demo_audio.synthesize_corpus(tmp_path, n_speakers=8, n_utterances=2, confound=0.8)
    assert len(df) == 8 * 4 * 2
    assert _cramers_v(df["gender"], df["emotion"]) > 0.3
    female = df[df["gender"] == "female"]["emotion"].value_counts(normalize=True)
    assert female["happy"] == pytest.approx(0.85, abs=0.05)


def test_degrade_adds_noise_to_one_emotion_only(tmp_path: pathlib.Path) -> None:
    """data.demo.degrade: the named emotion's files get white noise at degrade_snr; the other
    files are bit-identical to the undegraded corpus's."""
    clean = demo_audio.synthesize_corpus(tmp_path / "clean", n_speakers=8, n_utterances=1)
    noisy = demo_audio.synthesize_corpus(tmp_path / "noisy", n_speakers=8, n_utterances=1, degrade="angry",
                                         degrade_snr=5.0)
    assert list(noisy["emotion"]) == list(clean["emotion"])
    for (a, row), b in zip(clean.iterrows(), noisy.index, strict=True):
        x, y = sf.read(a)[0], sf.read(b)[0]
        if row["emotion"] == "angry":
            snr = 10 * np.log10(np.mean(x**2) / np.mean((y - x) ** 2))
            assert snr == pytest.approx(5.0, abs=0.5)
        else:
            assert np.array_equal(x, y)


def test_invalid_arguments(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ValueError):
        demo_audio.synthesize_corpus(tmp_path, n_speakers=4)
    with pytest.raises(ValueError):
        demo_audio.synthesize_corpus(tmp_path, confound=1.5)
    with pytest.raises(ValueError, match="degrade"):
        demo_audio.synthesize_corpus(tmp_path, degrade="furious")


def test_learnable_but_not_trivial(tmp_path: pathlib.Path) -> None:
    svm = pytest.importorskip("sklearn.svm")
    from sklearn.metrics import recall_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = demo_audio.synthesize_corpus(tmp_path, n_speakers=12, n_utterances=8)
    features = np.stack([_features(f) for f in df.index])
    train = df["speaker"].isin([s.speaker for s in demo_audio.SPEAKERS[:8]]).to_numpy()
    model = make_pipeline(StandardScaler(), svm.SVC(C=1.0))
    model.fit(features[train], df["emotion"][train])
    uar = recall_score(df["emotion"][~train], model.predict(features[~train]), average="macro")
    assert 0.4 < uar < 0.98, uar
