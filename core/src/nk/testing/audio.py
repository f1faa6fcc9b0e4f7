"""Synthetic audio for tests: short voiced tones and a tiny labelled corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf


def write_tone(
    path: Path, *, f0: float = 150.0, seconds: float = 1.0, sampling_rate: int = 16000,
    loudness: float = 0.3, seed: int = 0, channels: int = 1,
) -> Path:
    """Write a harmonic tone with a little vibrato and noise (a crude vowel) as 16-bit wav."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / sampling_rate
    signal = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.minimum(1.0, np.minimum(t, t[-1] - t) * 20)
    signal = loudness * envelope * signal / 2.5 + 0.003 * rng.standard_normal(len(t))
    data = np.repeat(signal[:, None], channels, axis=1) if channels > 1 else signal
    path.parent.mkdir(parents=True, exist_ok=True)
    subtype = "PCM_16" if path.suffix.lower() in (".wav", ".flac") else None
    sf.write(path, data.astype(np.float32), sampling_rate, subtype=subtype)
    return path


def write_tiny_corpus(
    folder: Path, *, n_speakers: int = 6, n_per_class: int = 3,
    classes: tuple[str, ...] = ("low", "high"), seconds: float = 0.6,
) -> pd.DataFrame:
    """A small learnable corpus: class ``high`` has higher pitch and loudness than ``low``.

    Returns a frame indexed by absolute ``file`` with columns label, speaker, gender, age.
    """
    rows = []
    for s in range(n_speakers):
        gender = "female" if s % 2 else "male"
        base = 200.0 if gender == "female" else 110.0
        for c, label in enumerate(classes):
            for u in range(n_per_class):
                path = folder / f"spk{s}" / f"{label}_{u}.wav"
                write_tone(path, f0=base * (1 + 0.3 * c) + 5 * u, seconds=seconds,
                           loudness=0.15 + 0.2 * c, seed=1000 * s + 10 * c + u)
                rows.append({"file": str(path.resolve()), "label": label, "speaker": f"spk{s}",
                             "gender": gender, "age": 20 + 7 * s})
    return pd.DataFrame(rows).set_index("file")
