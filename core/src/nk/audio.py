"""Reading audio: any format libsndfile reads, mixed to mono, resampled, cut to a segment."""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from nk.errors import UserError


def read(
    path: str | Path,
    *,
    sampling_rate: int | None = None,
    start: float | None = None,
    end: float | None = None,
) -> tuple[np.ndarray, int]:
    """Return (mono float32 signal, sampling rate) of ``path`` between ``start`` and ``end`` s.

    With ``sampling_rate`` set, the signal is resampled to it (polyphase, scipy).
    """
    try:
        info = sf.info(str(path))
        first = round((start or 0.0) * info.samplerate)
        last = round(end * info.samplerate) if end is not None else -1
        signal, rate = sf.read(str(path), start=first, stop=None if last < 0 else last,
                               dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise UserError(
            f"Cannot read audio file {str(path)!r}: {exc}",
            allowed="wav, flac, ogg and other formats libsndfile reads",
            todo="check that the file exists and is not damaged",
        ) from None
    mono = signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]
    if sampling_rate is not None and rate != sampling_rate:
        mono = resample(mono, rate, sampling_rate)
        rate = sampling_rate
    return np.ascontiguousarray(mono, dtype=np.float32), int(rate)


def resample(signal: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling from ``source_rate`` to ``target_rate`` (float32)."""
    from scipy.signal import resample_poly

    g = gcd(int(source_rate), int(target_rate))
    out = resample_poly(signal, target_rate // g, source_rate // g)
    return out.astype(np.float32, copy=False)
