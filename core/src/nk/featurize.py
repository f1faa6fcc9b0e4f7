"""Running featurizers over a corpus: audio reading, caching, parallel workers, progress."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nk.cache import FeatureCache, feature_key
from nk.context import RunContext
from nk.errors import ContractError, UserError
from nk.registry import Component


def _row_times(row: Any) -> tuple[str, float | None, float | None]:
    if isinstance(row, tuple):
        file, start, end = row
        return file, pd.Timedelta(start).total_seconds(), (
            None if pd.isna(end) else pd.Timedelta(end).total_seconds())
    return row, None, None


def _extract_chunk(featurizer: Any, rows: Sequence[Any], rate: int) -> list[np.ndarray | str]:
    """Worker: extract each row; a failing row yields its error message instead of a vector."""
    from nk import audio

    out: list[np.ndarray | str] = []
    for row in rows:
        file, start, end = _row_times(row)
        try:
            signal, sr = audio.read(file, sampling_rate=rate, start=start, end=end)
            out.append(np.asarray(featurizer.extract(signal, sr), dtype=np.float32))
        except UserError as exc:
            out.append(exc.what)
        except Exception as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def extract(
    component: Component, featurizer: Any, params: dict[str, Any], index: pd.Index, ctx: RunContext
) -> pd.DataFrame:
    """Features of every row of ``index`` (from the cache when the key matches)."""
    rate = int(getattr(featurizer, "sampling_rate", None) or ctx.cfg.sampling_rate)
    spec = {
        "component": component.name,
        "provider": component.provider,
        "version": component.version,
        "params": params,
        "sampling_rate": rate,
    }
    cache = FeatureCache(ctx.cache_dir)
    key, sidecar = feature_key(spec, index)
    cached = cache.load(component.name, key, index)
    if cached is not None:
        ctx.log.info("%s: %d rows from the cache (%s)", component.name, len(index), key[:12])
        return cached

    names = [f"{component.name}.{n}" for n in featurizer.feature_names()]
    rows = list(index)
    n_jobs = ctx.n_jobs if getattr(featurizer, "process_safe", False) else 1
    n_jobs = min(n_jobs, max(1, len(rows) // 8))
    chunk = max(1, min(64, len(rows) // (n_jobs * 8) or 1))
    chunks = [rows[i : i + chunk] for i in range(0, len(rows), chunk)]
    results: list[np.ndarray | str] = []
    started = time.perf_counter()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} files/s"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=ctx.console, transient=True) as progress:
        task = progress.add_task(f"Extracting {component.name}", total=len(rows), rate="-")
        if n_jobs == 1:
            parts = (_extract_chunk(featurizer, c, rate) for c in chunks)
        else:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_extract_chunk)(featurizer, c, rate) for c in chunks
            )
        for part in parts:
            results.extend(part)
            elapsed = time.perf_counter() - started
            progress.update(task, completed=len(results), rate=f"{len(results) / elapsed:.1f}")
    failures = [(rows[i], r) for i, r in enumerate(results) if isinstance(r, str)]
    if failures:
        listing = "; ".join(f"{_row_times(r)[0]}: {msg}" for r, msg in failures[:20])
        more = f" (and {len(failures) - 20} more)" if len(failures) > 20 else ""
        raise UserError(
            f"{component.name} could not process {len(failures)} of {len(rows)} files: {listing}{more}",
            todo="fix or remove these files",
        )
    matrix = np.vstack(results) if results else np.empty((0, len(names)), np.float32)
    if matrix.shape[1] != len(names):
        raise ContractError(
            f"{component.name} ({component.provider}): extract() returned {matrix.shape[1]} "
            f"values but feature_names() has {len(names)}"
        )
    frame = pd.DataFrame(matrix, index=index, columns=names, dtype=np.float32)
    elapsed = time.perf_counter() - started
    ctx.log.info("%s: extracted %d rows × %d features in %.1f s (%.1f files/s, %d jobs)",
                 component.name, len(rows), len(names), elapsed, len(rows) / max(elapsed, 1e-9), n_jobs)
    cache.save(component.name, key, frame, sidecar)
    return frame
