"""The augmentation loop shared by the augmenters, and the audiomentations glue."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nk.errors import UserError

if TYPE_CHECKING:
    from nk.context import RunContext

EXCLUDED = {"Lambda"}
"""audiomentations transforms a config cannot express (a Python callable)."""


def transforms_available() -> dict[str, type]:
    """audiomentations' waveform transforms by class name."""
    import audiomentations
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    return {name: obj for name, obj in vars(audiomentations).items()
            if inspect.isclass(obj) and issubclass(obj, BaseWaveformTransform)
            and obj is not BaseWaveformTransform and name not in EXCLUDED}


def build_chain(spec: list[dict[str, Any]], where: str) -> Any:
    """An ``audiomentations.Compose`` of ``spec``; a bad name, parameter or value is a UserError
    listing what exists."""
    from audiomentations import Compose

    available = transforms_available()
    steps = []
    for position, item in enumerate(spec):
        item = dict(item)
        name = item.pop("name", None)
        at = f"{where}[{position}]"
        if name is None:
            raise UserError(f"{at} has no 'name'", where=at,
                            allowed="{name: <transform>, <parameter>: <value>, …}",
                            todo="add name: AddGaussianSNR (or another transform)")
        if name not in available:
            raise UserError(f"{at}: audiomentations has no transform {name!r}", where=at,
                            allowed=", ".join(sorted(available)), todo="use one of the allowed names")
        cls = available[name]
        accepted = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
        unknown = sorted(set(item) - set(accepted))
        if unknown:
            raise UserError(f"{at}: {name} has no parameter {', '.join(map(repr, unknown))}", where=at,
                            allowed=", ".join(accepted), todo="use the allowed parameter names")
        try:
            steps.append(cls(**item))
        except (ValueError, TypeError, AssertionError) as exc:
            raise UserError(f"{at}: {name}({', '.join(f'{k}={v!r}' for k, v in item.items())}) is refused "
                            f"by audiomentations: {exc}", where=at,
                            allowed=f"{name}{inspect.signature(cls)}", todo="fix the values") from None
    return Compose(steps, p=1.0)


def check_chain(spec: Any, where: str) -> None:
    """Check a chain when the config is composed (before any audio is read)."""
    if not isinstance(spec, (list, tuple)) or not spec:
        raise UserError(f"{where} must be a non-empty list of transforms", where=where,
                        allowed="[{name: AddGaussianSNR, min_snr_db: 10, p: 1.0}, …]", todo="list transforms")
    build_chain([dict(s) for s in spec], where)


def run_audiomentations(spec: list[dict[str, Any]], signal: np.ndarray, sampling_rate: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Apply the chain with audiomentations' random draws seeded from ``rng``. audiomentations
    draws from the global ``random`` and ``numpy.random`` states: they are seeded for the call and
    restored afterwards, so the run's other random numbers are not disturbed."""
    import random

    chain = build_chain(spec, "augment.transforms")
    seed = int(rng.integers(2**32))
    saved_py, saved_np = random.getstate(), np.random.get_state()
    try:
        random.seed(seed)
        np.random.seed(seed)
        out = chain(samples=np.ascontiguousarray(signal, dtype=np.float32), sample_rate=sampling_rate)
    finally:
        random.setstate(saved_py)
        np.random.set_state(saved_np)
    return np.asarray(out, dtype=np.float32)


def splice(signal: np.ndarray, sampling_rate: int, rng: np.random.Generator, min_chunk: float,
           max_chunk: float, crossfade: float) -> np.ndarray:
    """``signal`` in chunks of ``[min_chunk, max_chunk]`` seconds, shuffled, joined with linear
    crossfades of ``crossfade`` seconds (the result is shorter by one crossfade per join)."""
    bounds = [0]
    while bounds[-1] < len(signal):
        bounds.append(min(len(signal), bounds[-1] + int(rng.uniform(min_chunk, max_chunk) * sampling_rate)))
    chunks = [signal[a:b].astype(np.float32) for a, b in itertools.pairwise(bounds)]
    order = rng.permutation(len(chunks))
    fade = int(crossfade * sampling_rate)
    out = chunks[order[0]].copy()
    for k in order[1:]:
        chunk = chunks[k]
        n = min(fade, len(out), len(chunk))
        if n:
            ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
            joined = out[len(out) - n:] * (1 - ramp) + chunk[:n] * ramp
            out = np.concatenate([out[:len(out) - n], joined, chunk[n:]])
        else:
            out = np.concatenate([out, chunk])
    return out


def _selected(frame: pd.DataFrame, only: Any, name: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, values in (only or {}).items():
        if column not in frame.columns:
            raise UserError(f"augment.only names the column {column!r}, which the data does not have",
                            where="config key augment.only",
                            allowed=", ".join(c for c in map(str, frame.columns) if not c.startswith("_")),
                            todo="name a column of the data, e.g. augment.only={emotion: [sad]}")
        many = hasattr(values, "__iter__") and not isinstance(values, str)
        wanted = {str(v) for v in (values if many else [values])}
        present = set(frame[column].astype(str))
        missing = sorted(wanted - present)
        if missing:
            raise UserError(f"augment.only: column {column!r} has no training rows with {missing}",
                            where="config key augment.only", allowed=", ".join(sorted(present)[:30]),
                            todo="use values the column holds")
        mask &= frame[column].astype(str).isin(wanted)
    return mask


def _source_identity(file: str) -> dict[str, Any]:
    st = os.stat(file)
    return {"path": str(Path(file).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _versions(dists: tuple[str, ...]) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("nk-audiomentations", *dists):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "?"
    return out


def augment_rows(augmenter: Any, frame: pd.DataFrame, ctx: RunContext) -> pd.DataFrame:
    """New rows: ``copies`` augmented copies of each row ``only`` selects, written content-
    addressed below ``<cache>/augment/<name>/`` (reused when they exist), indexed like the input
    (a segmented input gives segments that span each new file), with ``augmented_from``."""
    import soundfile as sf

    from nk.audio import read

    seed = ctx.seed if augmenter.seed is None else int(augmenter.seed)
    mask = _selected(frame, augmenter.only, augmenter.name)
    chosen = frame[mask.to_numpy()]
    folder = ctx.cache_dir / "augment" / augmenter.name
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"component": augmenter.name, "params": augmenter.params, "seed": seed,
            "versions": _versions(tuple(augmenter.cache_dependencies))}
    segmented = isinstance(frame.index, pd.MultiIndex)
    files, ends, positions, sources = [], [], [], []
    reused = 0
    for position, key in enumerate(chosen.index):
        if segmented:
            file, start_td, end_td = key
            start = start_td.total_seconds() if pd.notna(start_td) else 0.0
            end = end_td.total_seconds() if pd.notna(end_td) else None
        else:
            file, start, end = key, 0.0, None
        source = {**_source_identity(file), "start": start, "end": end}
        signal: np.ndarray | None = None
        for copy in range(augmenter.copies):
            digest = hashlib.sha256(json.dumps({**spec, "source": source, "copy": copy}, sort_keys=True,
                                               default=str).encode()).hexdigest()
            target = folder / digest[:2] / f"{digest}.wav"
            if target.exists():
                reused += 1
            else:
                if signal is None:
                    signal, rate = read(file, start=start or None, end=end)
                rng = np.random.default_rng(int(digest[:16], 16))  # per row and copy, order-free
                out = augmenter.transform(signal, rate, rng)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
                sf.write(tmp, out, rate, subtype="FLOAT", format="WAV")
                os.replace(tmp, target)
            files.append(str(target))
            ends.append(sf.info(str(target)).duration)
            positions.append(position)
            sources.append(file)
    ctx.log.info("augment %s: %d copies of %d rows (%d reused from %s)", augmenter.name, len(files),
                 len(chosen), reused, folder)
    out = chosen.iloc[positions].copy()
    if segmented:
        out.index = pd.MultiIndex.from_arrays(
            [pd.Index(files, dtype=object), pd.to_timedelta([0.0] * len(files), unit="s"),
             pd.to_timedelta(ends, unit="s")], names=["file", "start", "end"])
    else:
        out.index = pd.Index(files, name="file", dtype=object)
    if "duration" in out.columns:
        out["duration"] = ends
    out["augmented_from"] = sources
    return out
