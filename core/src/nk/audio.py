"""Reading audio: any format libsndfile reads, mixed to mono, resampled, cut to a segment.

Samples must be finite: a float file (WAV/AIFF ``FLOAT``/``DOUBLE``) can hold NaN or inf, which
no featurizer can turn into meaningful features. :func:`read` raises :class:`BadAudio` naming
the file and the first bad sample; :func:`nonfinite_problem` finds such files when the corpus
is loaded, so that ``audio.bad_files`` (stop or skip) handles them like unreadable files.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from nk.errors import UserError

FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
"""libsndfile subtypes whose samples can be NaN or inf (integer PCM cannot)."""
_BLOCK = 1 << 18  # frames read at a time when scanning a whole file


class BadAudio(UserError):
    """An audio file nk cannot use (its samples are not finite); ``file`` and ``problem`` say
    which and why, for the bad-file listing."""

    def __init__(self, file: str, problem: str) -> None:
        self.file = file
        self.problem = problem
        super().__init__(
            f"The audio file {file!r} cannot be used: {problem}",
            allowed="finite samples (no NaN or inf)",
            todo="fix or remove the file, or set audio.bad_files=skip to leave it out",
        )


def _first_nonfinite(block: np.ndarray, offset: int, rate: int) -> str | None:
    """'NaN sample at 1234 (0.077 s, channel 1)' for the first non-finite sample, else None."""
    bad = ~np.isfinite(block)
    if not bad.any():
        return None
    frame, channel = np.unravel_index(int(np.argmax(bad)), bad.shape)
    value = block[frame, channel]
    kind = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    where = f"channel {channel + 1}, " if block.shape[1] > 1 else ""
    n_bad = int(bad.any(axis=1).sum())
    more = f"; {n_bad} frames are not finite" if n_bad > 1 else ""
    position = offset + int(frame)
    return f"{kind} sample at frame {position} ({where}{position / rate:.3f} s){more}"


def nonfinite_problem(path: str | Path, info: Any = None) -> str | None:
    """The first non-finite sample of a float file as a problem text, else None.

    Integer PCM files are not read (their samples are always finite); float files are read in
    blocks, so memory stays bounded. ``info`` is the file's ``soundfile.info`` when known.
    """
    info = info if info is not None else sf.info(str(path))
    if info.subtype not in FLOAT_SUBTYPES:
        return None
    offset = 0
    for block in sf.blocks(str(path), blocksize=_BLOCK, dtype="float32", always_2d=True):
        problem = _first_nonfinite(block, offset, info.samplerate)
        if problem:
            return problem
        offset += len(block)
    return None


def read(
    path: str | Path,
    *,
    sampling_rate: int | None = None,
    start: float | None = None,
    end: float | None = None,
) -> tuple[np.ndarray, int]:
    """Return (mono float32 signal, sampling rate) of ``path`` between ``start`` and ``end`` s.

    With ``sampling_rate`` set, the signal is resampled to it (polyphase, scipy). Raises
    :class:`BadAudio` when a sample is NaN or inf.
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
    problem = _first_nonfinite(signal, first, rate)
    if problem:
        raise BadAudio(str(path), problem)
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
