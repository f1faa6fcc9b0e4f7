"""From per-frame speech probabilities to segments, and from segments to a segmented corpus.

Shared by ``segment=silero`` and the diarization plugin (which segments first, then finds
speakers): the same options mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from nk.context import RunContext

Segments = list[tuple[float, float]]


def speech_segments(probs: np.ndarray, hop: float, signal: np.ndarray, sampling_rate: int, *,
                    threshold: float, neg_threshold: float, min_speech: float, min_silence: float,
                    max_segment: float, padding: float, merge_gap: float, trim_db: float = 0.0) -> Segments:
    """Speech segments (start, end seconds) of ``signal`` from its frame probabilities.

    A segment starts at the first frame with probability ≥ ``threshold`` and ends once the
    probability stays below ``neg_threshold`` for ``min_silence`` seconds (hysteresis);
    segments shorter than ``min_speech`` are dropped; each is padded by ``padding`` (never past
    the middle of a pause or the file's ends); segments closer than ``merge_gap`` join; a
    segment longer than ``max_segment`` (> 0) is cut at its quietest frame, recursively.

    silero's probability decays over 100–200 ms after speech stops; with ``trim_db`` > 0 the
    leading and trailing 10 ms frames more than ``trim_db`` below the segment's loudest frame
    are trimmed before padding, which brings the boundaries to the signal's.
    """
    duration = len(signal) / sampling_rate
    raw: Segments = []
    start: int | None = None
    below = 0  # frames below neg_threshold since speech was last seen
    silence_frames = max(1, round(min_silence / hop))
    for i, p in enumerate(probs):
        if start is None:
            if p >= threshold:
                start, below = i, 0
        elif p < neg_threshold:
            below += 1
            if below >= silence_frames:
                raw.append((start * hop, (i - below + 1) * hop))
                start = None
        else:
            below = 0
    if start is not None:
        raw.append((start * hop, (len(probs) - below) * hop))
    raw = [(s, min(e, duration)) for s, e in raw]
    if trim_db > 0:
        raw = _trim(raw, signal, sampling_rate, trim_db)
    raw = [(s, e) for s, e in raw if e - s >= max(min_speech, hop)]
    padded: Segments = []
    for k, (s, e) in enumerate(raw):
        left = raw[k - 1][1] if k else 0.0
        right = raw[k + 1][0] if k + 1 < len(raw) else duration
        lo = max(s - padding, (left + s) / 2 if k else 0.0)
        hi = min(e + padding, (e + right) / 2 if k + 1 < len(raw) else duration)
        padded.append((lo, hi))
    merged: Segments = []
    for s, e in padded:
        if merged and s - merged[-1][1] < merge_gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    if max_segment > 0:
        energy = _frame_energy(signal, sampling_rate, hop)
        merged = [piece for s, e in merged for piece in _cut(s, e, max_segment, energy, hop)]
    return [(round(s, 3), round(e, 3)) for s, e in merged]


TRIM_FRAME = 0.01
"""Seconds per frame of the energy trim."""


def _trim(segments: Segments, signal: np.ndarray, sampling_rate: int, trim_db: float) -> Segments:
    energy = _frame_energy(signal, sampling_rate, TRIM_FRAME)
    out = []
    for s, e in segments:
        lo, hi = int(s / TRIM_FRAME), min(len(energy), int(np.ceil(e / TRIM_FRAME)))
        if hi <= lo:
            continue
        level = 10 * np.log10(energy[lo:hi] + 1e-20)
        loud = np.flatnonzero(level >= level.max() - trim_db)
        out.append(((lo + loud[0]) * TRIM_FRAME, min(e, (lo + loud[-1] + 1) * TRIM_FRAME)))
    return out


def _frame_energy(signal: np.ndarray, sampling_rate: int, hop: float) -> np.ndarray:
    n = max(1, round(hop * sampling_rate))
    frames = len(signal) // n
    if frames == 0:
        return np.zeros(1)
    x = signal[:frames * n].astype(np.float64).reshape(frames, n)
    return (x * x).mean(axis=1)


def _cut(start: float, end: float, longest: float, energy: np.ndarray, hop: float) -> Segments:
    """``[start, end]`` cut at its quietest frame until no piece is longer than ``longest``; a
    cut point keeps at least a fifth of ``longest`` on either side."""
    if end - start <= longest:
        return [(start, end)]
    margin = longest / 5
    lo = int(np.ceil((start + margin) / hop))
    hi = int(np.floor((min(end - margin, start + longest)) / hop))
    hi = min(hi, len(energy) - 1)
    cut = start + longest if hi <= lo else (lo + int(np.argmin(energy[lo:hi + 1]))) * hop + hop / 2
    return [(start, cut), *_cut(cut, end, longest, energy, hop)]


def segment_frame(frame: pd.DataFrame, ctx: RunContext | None,
                  speech: Callable[[np.ndarray, int], list[Any]], sampling_rate: int,
                  who: str, label_column: str | None = None) -> pd.DataFrame:
    """The corpus cut into speech segments: ``speech(signal, rate)`` gives each row's segments
    (seconds from the row's start); a segmented input is cut within its segments. Rows without
    speech are dropped and logged. The result is indexed by (file, start, end) with the input's
    columns. With ``label_column``, ``speech`` returns (start, end, label) triples and the labels
    go to that column."""
    import pandas as pd

    from nk.audio import read

    segmented = isinstance(frame.index, pd.MultiIndex)
    files, starts, ends, rows, labels = [], [], [], [], []
    empty = []
    progress = _progress(ctx, len(frame), who)
    for position, key in enumerate(frame.index):
        if segmented:
            file, offset_td, stop_td = key
            offset = offset_td.total_seconds() if pd.notna(offset_td) else 0.0
            stop = stop_td.total_seconds() if pd.notna(stop_td) else None
        else:
            file, offset, stop = key, 0.0, None
        signal, rate = read(file, sampling_rate=sampling_rate, start=offset or None, end=stop)
        found = speech(signal, rate)
        if not found:
            empty.append(str(file))
        for item in found:
            s, e = item[0], item[1]
            if label_column is not None:
                labels.append(item[2])
            files.append(file)
            starts.append(offset + s)
            ends.append(offset + e)
            rows.append(position)
        if progress is not None:
            progress.advance(0)
    if progress is not None:
        progress.stop()
    if empty and ctx is not None:
        ctx.log.warning("segment %s: %d of %d files have no speech and are left out (e.g. %s)",
                        who, len(empty), len(frame), ", ".join(empty[:3]))
    index = pd.MultiIndex.from_arrays(
        [pd.Index(files, dtype=object), pd.to_timedelta(starts, unit="s"), pd.to_timedelta(ends, unit="s")],
        names=["file", "start", "end"])
    out = frame.iloc[rows].copy()
    out.index = index
    if label_column is not None:
        out[label_column] = labels
    return out


class _Bar:
    def __init__(self, progress: object, task: object) -> None:
        self.progress, self.task = progress, task

    def advance(self, _: int) -> None:
        self.progress.advance(self.task)  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.progress.stop()  # type: ignore[attr-defined]


def _progress(ctx: RunContext | None, total: int, who: str) -> _Bar | None:
    if ctx is None or total < 2:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=ctx.console, transient=True)
    task = progress.add_task(f"segment {who}", total=total)
    progress.start()
    return _Bar(progress, task)
