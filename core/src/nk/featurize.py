"""Running featurizers over a corpus: audio reading, the feature cache, worker processes, progress.

:func:`extract` looks every row up in the feature cache (see :mod:`nk.cache`) and extracts only
the rows it lacks. Featurizers with ``process_safe = True`` run in a pool of worker processes
(``n_jobs``), each initialised once with its own copy of the featurizer; rows travel in batches
whose size adapts to the featurizer's speed (about :data:`BATCH_SECONDS` each), so start-up and
messaging stay small next to the work while the last batches still balance across workers.
Finished rows are committed to the cache in chunks as they arrive, so an interrupted run
resumes with them. Rows that fail are collected and reported together at the end, after every
other row has been extracted and cached. The output order is the index's, whatever order the
workers finish in.
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nk.cache import CacheEntry, FeatureCache, RowRef
from nk.context import RunContext
from nk.errors import ContractError, UserError
from nk.registry import Component
from nk.workers import start_method_of

BATCH_SECONDS = 0.25
"""Target duration of one batch of rows sent to a worker."""
MAX_BATCH = 64
FLUSH_SECONDS = 10.0
"""Finished rows are committed to the cache at least this often."""


def _row_ref(row: Any) -> RowRef:
    if isinstance(row, tuple):
        file, start, end = row
        return RowRef(str(file), pd.Timedelta(start).total_seconds(),
                      None if pd.isna(end) else pd.Timedelta(end).total_seconds())
    return RowRef(str(row))


def _describe(ref: RowRef) -> str:
    if ref.start is None and ref.end is None:
        return ref.file
    end = "end" if ref.end is None else f"{ref.end:g}"
    return f"{ref.file} [{ref.start or 0:g}–{end} s]"


def _extract_rows(featurizer: Any, refs: Sequence[RowRef], rate: int) -> list[np.ndarray | str]:
    """Extract each row; a failing row yields its error message instead of a vector."""
    from nk import audio

    out: list[np.ndarray | str] = []
    for ref in refs:
        try:
            signal, sr = audio.read(ref.file, sampling_rate=rate, start=ref.start, end=ref.end)
            out.append(np.asarray(featurizer.extract(signal, sr), dtype=np.float32).reshape(-1))
        except UserError as exc:
            out.append(exc.what)
        except Exception as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def _worker_batch(refs: Sequence[RowRef]) -> tuple[list[np.ndarray | str], float]:
    from nk.workers import worker_object

    featurizer, rate = worker_object()
    started = time.perf_counter()
    out = _extract_rows(featurizer, refs, rate)
    return out, time.perf_counter() - started


class _Batches:
    """Hands out batches of rows; sizes adapt to the measured time per row."""

    def __init__(self, items: Sequence[tuple[str, RowRef]], n_jobs: int, first: int) -> None:
        self.items = items
        self.n_jobs = n_jobs
        self.pos = 0
        self.size = first
        self.per_row: float | None = None

    def next(self) -> list[tuple[str, RowRef]] | None:
        remaining = len(self.items) - self.pos
        if remaining <= 0:
            return None
        # never more than a fair share of what is left, so the last batches balance
        size = max(1, min(self.size, math.ceil(remaining / (2 * self.n_jobs))))
        batch = list(self.items[self.pos : self.pos + size])
        self.pos += size
        return batch

    def observe(self, rows: int, seconds: float) -> None:
        per_row = seconds / max(rows, 1)
        self.per_row = per_row if self.per_row is None else 0.7 * self.per_row + 0.3 * per_row
        self.size = max(1, min(MAX_BATCH, int(BATCH_SECONDS / max(self.per_row, 1e-6))))


class _Sink:
    """Receives extracted rows: checks them, fills the output, commits chunks to the cache."""

    def __init__(self, component: Component, entry: CacheEntry, names: Sequence[str],
                 positions: dict[str, list[int]], out: np.ndarray, chunk_rows: int, ctx: RunContext) -> None:
        self.component = component
        self.entry = entry
        self.names = names
        self.positions = positions
        self.out = out
        self.chunk_rows = chunk_rows
        self.ctx = ctx
        self.failures: dict[str, str] = {}
        self.done = 0
        self.buffer: list[tuple[str, RowRef, np.ndarray]] = []
        self.last_flush = time.monotonic()
        self.writable = True

    def add(self, batch: Sequence[tuple[str, RowRef]], results: Sequence[np.ndarray | str]) -> None:
        n = len(self.names)
        for (key, ref), result in zip(batch, results, strict=True):
            self.done += 1
            if isinstance(result, str):
                self.failures[key] = result
                continue
            if result.shape[0] != n:
                raise ContractError(
                    f"{self.component.name} ({self.component.provider}): extract() returned "
                    f"{result.shape[0]} values but feature_names() has {n} (file {_describe(ref)})"
                )
            self.out[self.positions[key]] = result
            self.buffer.append((key, ref, result))
        if len(self.buffer) >= self.chunk_rows or (
                self.buffer and time.monotonic() - self.last_flush >= FLUSH_SECONDS):
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.buffer or not self.writable:
            return
        keys, refs, rows = zip(*self.buffer, strict=True)
        self.buffer = []
        try:
            self.entry.commit(keys, refs, np.vstack(rows), self.names)
        except OSError as exc:  # the cache only saves time: carry on without it
            self.writable = False
            self.ctx.log.warning("Cannot write to the feature cache %s (%s); continuing without it",
                                 self.entry.folder, exc)


def _progress(ctx: RunContext) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]} files/s"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=ctx.console, transient=True)


def _run_serial(featurizer: Any, rate: int, batches: _Batches, sink: _Sink,
                update: Callable[[], None]) -> None:
    while (batch := batches.next()) is not None:
        started = time.perf_counter()
        results = _extract_rows(featurizer, [ref for _, ref in batch], rate)
        batches.observe(len(batch), time.perf_counter() - started)
        sink.add(batch, results)
        update()


def _run_pool(payload: bytes, n_jobs: int, start_method: str, batches: _Batches, sink: _Sink,
              progress: Any, update: Callable[[], None]) -> None:
    """Extract in ``n_jobs`` worker processes; one Ctrl-C terminates them and raises
    KeyboardInterrupt here (what finished is committed by the caller)."""
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    from nk import workers

    executor = ProcessPoolExecutor(n_jobs, mp_context=workers.mp_context(start_method),
                                   initializer=workers.init_worker, initargs=(payload,))
    pending: dict[Future[Any], list[tuple[str, RowRef]]] = {}
    stopped = True  # until the loop ends normally: terminate the workers

    def fill() -> None:  # two batches per worker in flight: none waits for the parent
        with workers.sigint_blocked():  # processes started here ignore Ctrl-C from birth
            while len(pending) < 2 * n_jobs and (batch := batches.next()) is not None:
                pending[executor.submit(_worker_batch, [ref for _, ref in batch])] = batch

    try:
        with workers.deferred_interrupt() as interrupted:
            fill()  # starts (forks) the workers before the progress bar starts its thread
            with progress:
                while pending:
                    done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                    if interrupted.is_set():
                        raise KeyboardInterrupt
                    for future in done:
                        batch = pending.pop(future)
                        results, seconds = future.result()
                        batches.observe(len(batch), seconds)
                        sink.add(batch, results)
                    if done:
                        update()
                        fill()
            stopped = False
    except BrokenProcessPool as exc:
        raise UserError(
            f"A worker process extracting {sink.component.name} died unexpectedly ({exc}); the "
            f"{sink.done - len(sink.failures)} rows finished before are cached",
            where=f"featurizer {sink.component.name!r} ({sink.component.provider})",
            todo="check free memory, or run with n_jobs=1 to see which file crashes the featurizer",
        ) from None
    finally:
        workers.stop_pool(executor, terminate=stopped)


def library_versions(featurizer: Any, component: Component) -> dict[str, str]:
    """Installed versions of the distributions the featurizer's values depend on (its
    ``cache_dependencies``): upgrading e.g. openSMILE then recomputes instead of reusing.

    Raises :class:`UserError` naming the featurizer when one of them is not installed.
    """
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in getattr(featurizer, "cache_dependencies", ()):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            raise UserError(f"{component.name} lists {dist!r} in cache_dependencies, which is not "
                            "installed", where=f"featurizer {component.name!r} ({component.provider})",
                            todo=f"install {dist}, or fix the plugin's cache_dependencies") from None
    return out


def extract(
    component: Component, featurizer: Any, params: dict[str, Any], index: pd.Index, ctx: RunContext
) -> pd.DataFrame:
    """Features of every row of ``index``: cached rows from the cache, the others extracted."""
    started = time.perf_counter()
    rate = int(getattr(featurizer, "sampling_rate", None) or ctx.cfg.sampling_rate)
    spec = {
        "component": component.name,
        "provider": component.provider,
        "version": component.version,
        "params": params,
        "sampling_rate": rate,
    }
    libraries = library_versions(featurizer, component)
    if libraries:  # absent otherwise, so that such featurizers keep their keys
        spec["libraries"] = libraries
    cache = FeatureCache(ctx.cache_dir)
    entry = cache.entry(spec)
    refs = [_row_ref(row) for row in index]
    keys, unreadable = cache.row_keys(refs)
    positions: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            positions.setdefault(key, []).append(i)

    cached_names = entry.feature_names()  # spares creating the featurizer's model on a cache hit
    if cached_names is None and entry.exists():
        ctx.log.warning("The feature cache's sidecar %s is missing or damaged; rewriting it",
                        entry.sidecar_path)
    names = cached_names if cached_names is not None else list(featurizer.feature_names())
    out = np.empty((len(refs), len(names)), dtype=np.float32)
    found = entry.read_into(positions, out, ctx.log)
    todo = [(key, refs[rows[0]]) for key, rows in positions.items() if key not in found]
    if todo and cached_names is not None:
        fresh = list(featurizer.feature_names())
        if fresh != cached_names:  # the plugin changed its output without a new version
            ctx.log.warning("%s (%s %s) now names its features differently from the cache %s; "
                            "recomputing every row", component.name, component.provider,
                            component.version, entry.folder)
            entry.remove()
            names, found = fresh, set()
            out = np.empty((len(refs), len(names)), dtype=np.float32)
            todo = [(key, refs[rows[0]]) for key, rows in positions.items()]
    columns = [f"{component.name}.{n}" for n in names]
    if not todo and not unreadable:
        entry.touch()
        ctx.log.info("%s: %d rows from the cache (%s)", component.name, len(index), entry.folder)
        return pd.DataFrame(out, index=index, columns=columns, copy=False)

    entry.ensure(names)
    n_cached = len(found)
    n_jobs = ctx.n_jobs if getattr(featurizer, "process_safe", False) else 1
    n_jobs = max(1, min(n_jobs, len(todo) // 4))  # a pool's start-up only pays with some work
    payload, start_method = b"", "fork"
    if n_jobs > 1:
        prepare = getattr(featurizer, "prepare", None)
        if callable(prepare):  # imports made here are inherited by the forked workers
            prepare()
        try:
            start_method = start_method_of(featurizer)
        except ValueError as exc:
            raise ContractError(f"{component.name} ({component.provider}): {exc}") from None
        try:
            payload = pickle.dumps((featurizer, rate))
        except Exception as exc:
            ctx.log.warning("%s declares process_safe but cannot be pickled (%s); extracting in "
                            "one process", component.name, exc)
            n_jobs = 1
    chunk_rows = max(32, min(512, len(todo) // 8))
    sink = _Sink(component, entry, names, positions, out, chunk_rows, ctx)
    batches = _Batches(todo, n_jobs, first=2 if n_jobs > 1 else 1)
    progress = _progress(ctx)
    described = f"Extracting {component.name}" + (f" ({n_cached} rows cached)" if n_cached else "")
    task = progress.add_task(described, total=len(todo), rate="-")
    extract_started = time.perf_counter()

    def update() -> None:
        elapsed = max(time.perf_counter() - extract_started, 1e-9)
        progress.update(task, completed=sink.done, rate=f"{sink.done / elapsed:.1f}")

    try:
        if n_jobs == 1:
            with progress:
                _run_serial(featurizer, rate, batches, sink, update)
        else:
            _run_pool(payload, n_jobs, start_method, batches, sink, progress, update)
    finally:
        sink.flush()  # keep what was done, also when interrupted
        entry.touch()

    elapsed = time.perf_counter() - started
    new = len(todo) - len(sink.failures)
    ctx.log.info("%s: extracted %d new rows (%d from the cache) × %d features in %.1f s "
                 "(%.1f files/s, %d jobs)", component.name, new, n_cached, len(names), elapsed,
                 len(todo) / max(time.perf_counter() - extract_started, 1e-9), n_jobs)
    failed = [(refs[i], msg) for i, msg in sorted(unreadable.items())]
    failed += [(refs[i], sink.failures[key]) for i, key in enumerate(keys)
               if key is not None and key in sink.failures]
    if failed:
        listing = "; ".join(f"{_describe(ref)}: {msg}" for ref, msg in failed)
        raise UserError(
            f"{component.name} could not process {len(failed)} of {len(refs)} files: {listing}",
            where=f"featurizer {component.name!r} ({component.provider})",
            todo="fix or remove these files (the other rows are cached, so a rerun extracts only these)",
        )
    return pd.DataFrame(out, index=index, columns=columns, copy=False)
