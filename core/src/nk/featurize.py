"""Running featurizers over a corpus: audio reading, the feature cache, worker processes, batches,
views, progress.

:func:`extract` looks every row up in the feature cache (see :mod:`nk.cache`) and extracts only
the rows it lacks. Three ways to extract them:

- **Worker processes** for featurizers with ``process_safe = True`` (``n_jobs``; see
  :mod:`nk.workers`), each initialised once with its own copy of the featurizer; rows travel in
  batches whose size adapts to the featurizer's speed (about :data:`BATCH_SECONDS` each), so
  start-up and messaging stay small next to the work while the last batches still balance
  across workers.
- **The batch path** for featurizers with ``extract_batch``: in this process, rows sorted by
  duration and grouped so that a batch holds at most ``batch_seconds`` of padded audio
  (longest × count); a failing batch is retried row by row, so one bad file names itself.
- **One row after another** in this process otherwise.

Finished rows are committed to the cache in chunks as they arrive, so an interrupted run
resumes with them. A row whose features are not finite is never committed (unless the
featurizer declares ``may_return_nan``, and then only NaN). Rows that fail are collected and
reported together at the end, after every other row has been extracted and cached. The output
order is the index's, whatever order the rows were extracted in.

The cache key is made of the component, its version, its *key* parameters
(:meth:`nk.registry.Component.key_params`: without ``key=False`` and secret parameters) minus
its ``view_params``, the sampling rate and its ``cache_dependencies``' versions. The cache holds
what ``extract`` returns; a featurizer with ``view()`` then selects from it (a layer, a pooling
statistic), so changing a view parameter reuses the cache.
"""

from __future__ import annotations

import contextlib
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
DEFAULT_BATCH_SECONDS = 60.0
"""Padded audio seconds per ``extract_batch`` call when the featurizer sets no ``batch_seconds``."""

AUDIO = "audio"
FEATURIZER = "featurizer"
Failure = tuple[str, str]
"""A row that failed: (``"audio"`` or ``"featurizer"``, message)."""
Result = np.ndarray | Failure


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


def _read(ref: RowRef, rate: int) -> np.ndarray | Failure:
    """The row's signal, or why it cannot be read (a bad-file problem, not the featurizer's)."""
    from nk import audio

    try:
        signal, _ = audio.read(ref.file, sampling_rate=rate, start=ref.start, end=ref.end)
    except audio.BadAudio as exc:
        return AUDIO, exc.problem
    except UserError as exc:
        return AUDIO, exc.what
    return signal


def _extract_one(featurizer: Any, signal: np.ndarray, rate: int) -> Result:
    try:
        return np.asarray(featurizer.extract(signal, rate), dtype=np.float32).reshape(-1)
    except UserError as exc:
        return FEATURIZER, exc.what
    except Exception as exc:
        return FEATURIZER, f"{type(exc).__name__}: {exc}"


def _extract_rows(featurizer: Any, refs: Sequence[RowRef], rate: int) -> list[Result]:
    """Extract each row; a failing row yields a :data:`Failure` instead of a vector."""
    out: list[Result] = []
    for ref in refs:
        signal = _read(ref, rate)
        out.append(signal if isinstance(signal, tuple) else _extract_one(featurizer, signal, rate))
    return out


def _worker_batch(refs: Sequence[RowRef]) -> tuple[list[Result], float]:
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


def duration_groups(durations: Sequence[float], batch_seconds: float) -> list[list[int]]:
    """Positions grouped for ``extract_batch``: sorted by duration (longest first) so that padding
    stays small, each group holding at most ``batch_seconds`` of padded audio (its longest row ×
    its size); a row longer than ``batch_seconds`` is a group of its own."""
    order = sorted(range(len(durations)), key=lambda i: (-durations[i], i))
    groups: list[list[int]] = []
    for i in order:
        group = groups[-1] if groups else None
        # rows come longest first: the group's first row is its longest
        if group is not None and durations[group[0]] * (len(group) + 1) <= batch_seconds:
            group.append(i)
        else:
            groups.append([i])
    return groups


class _Sink:
    """Receives extracted rows: checks them, fills the output, commits chunks to the cache."""

    def __init__(self, component: Component, entry: CacheEntry, names: Sequence[str],
                 positions: dict[str, list[int]], out: np.ndarray, chunk_rows: int, ctx: RunContext,
                 *, may_return_nan: bool, seconds: dict[str, float]) -> None:
        self.component = component
        self.entry = entry
        self.names = names
        self.positions = positions
        self.out = out
        self.chunk_rows = chunk_rows
        self.ctx = ctx
        self.may_return_nan = may_return_nan
        self.seconds = seconds
        self.failures: dict[str, Failure] = {}
        self.nonfinite: dict[str, tuple[RowRef, list[str]]] = {}
        self.done = 0
        self.audio_done = 0.0
        self.buffer: list[tuple[str, RowRef, np.ndarray]] = []
        self.last_flush = time.monotonic()
        self.writable = True

    def _not_finite(self, result: np.ndarray) -> list[str]:
        """Names of the values that may not be used: NaN or inf (inf only, with may_return_nan)."""
        bad = np.isinf(result) if self.may_return_nan else ~np.isfinite(result)
        return [self.names[int(i)] for i in np.flatnonzero(bad)] if bad.any() else []

    def add(self, batch: Sequence[tuple[str, RowRef]], results: Sequence[Result]) -> None:
        n = len(self.names)
        for (key, ref), result in zip(batch, results, strict=True):
            self.done += 1
            self.audio_done += self.seconds.get(key, 0.0)
            if isinstance(result, tuple):
                self.failures[key] = result
                continue
            if result.shape[0] != n:
                raise ContractError(
                    f"{self.component.name} ({self.component.provider}): extract() returned "
                    f"{result.shape[0]} values but feature_names() has {n} (file {_describe(ref)})"
                )
            if columns := self._not_finite(result):  # a plugin bug: never cached
                self.out[self.positions[key]] = result
                self.nonfinite[key] = (ref, columns)
                continue
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
                    TextColumn("files, {task.fields[rate]} files/s,"),
                    TextColumn("{task.fields[audio]} audio ({task.fields[speed]} × real time)"),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=ctx.console, transient=True)


def _seconds_text(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 600 else f"{seconds:.0f} s"


def _run_serial(featurizer: Any, rate: int, batches: _Batches, sink: _Sink,
                update: Callable[[], None]) -> None:
    while (batch := batches.next()) is not None:
        started = time.perf_counter()
        results = _extract_rows(featurizer, [ref for _, ref in batch], rate)
        batches.observe(len(batch), time.perf_counter() - started)
        sink.add(batch, results)
        update()


def extract_group(featurizer: Any, name: str, rate: int, refs: Sequence[RowRef]) -> tuple[list[Result], str | None]:
    """One ``extract_batch`` call on ``refs`` (read here): each row's vector or :data:`Failure`, and
    a note when the batch failed and its rows were extracted one by one (a bad file then names
    itself). Used in this process (the batch path) and in Ray actors."""
    results: list[Result | None] = [_read(ref, rate) for ref in refs]
    readable = [i for i, r in enumerate(results) if not isinstance(r, tuple)]
    signals = [results[i] for i in readable]
    note = None
    if signals:
        vectors: list[Result] | None = None
        try:
            vectors = list(featurizer.extract_batch(signals, rate))
        except Exception as exc:  # retried row by row
            note = f"{name}: a batch of {len(signals)} rows failed ({type(exc).__name__}: {exc}); " \
                   "extracting them one by one"
        if vectors is not None and len(vectors) != len(signals):
            raise ContractError(f"{name}: extract_batch() returned {len(vectors)} vectors for "
                                f"{len(signals)} signals")
        if vectors is None:
            vectors = [_extract_one(featurizer, s, rate) for s in signals]  # type: ignore[arg-type]
        for i, vector in zip(readable, vectors, strict=True):
            results[i] = vector if isinstance(vector, tuple) else np.asarray(vector, dtype=np.float32).reshape(-1)
    return results, note  # type: ignore[return-value]


def batch_seconds_of(featurizer: Any) -> float:
    return float(getattr(featurizer, "batch_seconds", None) or DEFAULT_BATCH_SECONDS)


def _run_batched(featurizer: Any, component: Component, rate: int, todo: Sequence[tuple[str, RowRef]],
                 sink: _Sink, update: Callable[[], None]) -> None:
    """The batch path: ``extract_batch`` on groups of rows of similar duration, in this process."""
    durations = [sink.seconds.get(key, 0.0) for key, _ in todo]
    for group in duration_groups(durations, batch_seconds_of(featurizer)):
        batch = [todo[i] for i in group]
        results, note = extract_group(featurizer, f"{component.name} ({component.provider})", rate,
                                      [ref for _, ref in batch])
        if note:
            sink.ctx.log.info("%s", note)
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


def _failure_listing(failed: Sequence[tuple[RowRef, Failure]], shown: int = 3) -> str:
    """The failures grouped by message, each with a few of its files ("…and 93 more"): one
    cause shared by every file reads as one line, not a page of paths."""
    groups: dict[str, list[RowRef]] = {}
    for ref, (_, msg) in failed:
        groups.setdefault(msg, []).append(ref)
    parts = []
    for msg, refs in groups.items():
        files = ", ".join(_describe(r) for r in refs[:shown])
        more = f" and {len(refs) - shown} more (nk.log lists them)" if len(refs) > shown else ""
        parts.append(f"{files}{more}: {msg}")
    return "; ".join(parts)


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


def view_params(featurizer: Any) -> tuple[str, ...]:
    """The featurizer's ``view_params``: parameters that only select from the stored vector."""
    return tuple(getattr(featurizer, "view_params", ()) or ())


def cache_spec(component: Component, featurizer: Any, params: dict[str, Any], rate: int) -> dict[str, Any]:
    """What the feature cache key is made of (and ``spec.json`` shows): no ``key=False``, secret or
    view parameter."""
    views = set(view_params(featurizer))
    kept = {k: v for k, v in component.key_params(params).items() if k not in views}
    spec = {
        "component": component.name,
        "provider": component.provider,
        "version": component.version,
        "params": kept,
        "sampling_rate": rate,
    }
    libraries = library_versions(featurizer, component)
    if libraries:  # absent otherwise, so that such featurizers keep their keys
        spec["libraries"] = libraries
    return spec


def _apply_view(component: Component, featurizer: Any, stored: np.ndarray, names: list[str],
                ) -> tuple[np.ndarray, list[str]]:
    view = getattr(featurizer, "view", None)
    if not callable(view):
        return stored, names
    matrix, view_names = view(stored, list(names))
    matrix = np.asarray(matrix, dtype=np.float32)
    view_names = [str(n) for n in view_names]
    if matrix.ndim != 2 or matrix.shape != (stored.shape[0], len(view_names)):
        raise ContractError(f"{component.name} ({component.provider}): view() returned a matrix of "
                            f"shape {matrix.shape} for {stored.shape[0]} rows and {len(view_names)} names")
    return matrix, view_names


def _row_seconds(refs: Sequence[RowRef], positions: dict[str, list[int]],
                 durations: Sequence[float] | None) -> dict[str, float]:
    """Audio seconds of each row key: from ``durations`` when given, else from the files' headers."""
    out: dict[str, float] = {}
    file_seconds: dict[str, float] = {}
    for key, rows in positions.items():
        i = rows[0]
        if durations is not None and np.isfinite(durations[i]):
            out[key] = max(0.0, float(durations[i]))
            continue
        ref = refs[i]
        if ref.end is not None:
            out[key] = max(0.0, ref.end - (ref.start or 0.0))
            continue
        if ref.file not in file_seconds:
            import soundfile as sf

            try:
                info = sf.info(ref.file)
                file_seconds[ref.file] = info.frames / info.samplerate
            except Exception:  # unreadable: reported when extracted
                file_seconds[ref.file] = 0.0
        out[key] = max(0.0, file_seconds[ref.file] - (ref.start or 0.0))
    return out


def extract(
    component: Component, featurizer: Any, params: dict[str, Any], index: pd.Index, ctx: RunContext,
    *, durations: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Features of every row of ``index``: cached rows from the cache, the others extracted, then
    the featurizer's ``view`` applied; columns ``<component>.<name>``.

    :param durations: each row's audio seconds (the corpus frame's ``duration`` column), for the
        batch path and the progress bar; read from the files' headers when not given.
    """
    started = time.perf_counter()
    rate = int(getattr(featurizer, "sampling_rate", None) or ctx.cfg.sampling_rate)
    if rate != int(ctx.cfg.sampling_rate):  # the featurizer pins its rate: say which one is used
        ctx.log.warning("%s reads audio at its own rate, %d Hz (sampling_rate=%d applies to featurizers "
                        "without a fixed rate)", component.name, rate, int(ctx.cfg.sampling_rate))
    views = view_params(featurizer)
    view_text = ", ".join(f"{k}={params[k]}" for k in views if k in params)
    view_note = f" (view: {view_text})" if view_text else ""
    cache = FeatureCache(ctx.cache_dir)
    entry = cache.entry(cache_spec(component, featurizer, params, rate))
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

    def result() -> pd.DataFrame:
        matrix, final = _apply_view(component, featurizer, out, list(names))
        return pd.DataFrame(matrix, index=index, columns=[f"{component.name}.{n}" for n in final],
                            copy=False)

    if not todo and not unreadable:
        entry.touch()
        ctx.log.info("%s: %d rows from the cache%s (%s)", component.name, len(index), view_note,
                     entry.folder)
        return result()

    waited: list[bool] = []

    def on_wait() -> None:
        waited.append(True)
        ctx.log.info("%s: another run is extracting these features (%s); waiting for it to finish",
                     component.name, entry.folder)

    # one run at a time extracts a spec's missing rows: runs side by side (hydra/launcher=…) wait
    # here for the first and then read its rows from the cache instead of extracting them again
    with entry.extracting(on_wait=on_wait) if todo else contextlib.nullcontext():
        if waited:
            found = entry.read_into(positions, out, ctx.log)
            todo = [(key, refs[rows[0]]) for key, rows in positions.items() if key not in found]
            if not todo and not unreadable:
                entry.touch()
                ctx.log.info("%s: %d rows from the cache, extracted by another run%s (%s)", component.name,
                             len(index), view_note, entry.folder)
                return result()
        entry.ensure(names)
        n_cached = len(found)
        batched = callable(getattr(featurizer, "extract_batch", None))
        n_jobs = ctx.n_jobs if getattr(featurizer, "process_safe", False) and not batched else 1
        n_jobs = max(1, min(n_jobs, len(todo) // 4))  # a pool's start-up only pays with some work
        payload, start_method = b"", "fork"
        settings = ctx.cfg.get("extract")
        on_ray = settings is not None and str(getattr(settings.backend, "value", settings.backend)) == "ray"
        if on_ray:  # Ray actors: every featurizer that pickles (see nk.distributed)
            try:
                payload = pickle.dumps((featurizer, rate))
            except Exception as exc:
                raise ContractError(f"{component.name} ({component.provider}) cannot be pickled for Ray "
                                    f"actors ({exc})") from None
        elif n_jobs > 1:
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
        seconds = _row_seconds(refs, {k: positions[k] for k, _ in todo}, durations)
        total_audio = sum(seconds.values())
        chunk_rows = max(32, min(512, len(todo) // 8))
        sink = _Sink(component, entry, names, positions, out, chunk_rows, ctx,
                     may_return_nan=bool(getattr(featurizer, "may_return_nan", False)), seconds=seconds)
        batches = _Batches(todo, n_jobs, first=2 if n_jobs > 1 else 1)
        progress = _progress(ctx)
        described = f"Extracting {component.name}" + (f" ({n_cached} rows cached)" if n_cached else "")
        task = progress.add_task(described, total=len(todo), rate="-", speed="-",
                                 audio=f"0/{_seconds_text(total_audio)}")
        extract_started = time.perf_counter()

        def update() -> None:
            elapsed = max(time.perf_counter() - extract_started, 1e-9)
            progress.update(task, completed=sink.done, rate=f"{sink.done / elapsed:.1f}",
                            speed=f"{sink.audio_done / elapsed:.1f}",
                            audio=f"{_seconds_text(sink.audio_done)}/{_seconds_text(total_audio)}")

        try:
            if on_ray:
                from nk.distributed import run_on_ray

                n_jobs = run_on_ray(payload, f"{component.name} ({component.provider})", settings, ctx.n_jobs,
                                    todo, batched, batch_seconds_of(featurizer), sink, progress, update)
            elif n_jobs > 1:
                _run_pool(payload, n_jobs, start_method, batches, sink, progress, update)
            else:
                with progress:
                    if batched:
                        _run_batched(featurizer, component, rate, todo, sink, update)
                    else:
                        _run_serial(featurizer, rate, batches, sink, update)
        finally:
            sink.flush()  # keep what was done, also when interrupted
            entry.touch()

        elapsed = time.perf_counter() - started
        extract_elapsed = max(time.perf_counter() - extract_started, 1e-9)
        new = len(todo) - len(sink.failures) - len(sink.nonfinite)
        how = ("batched" if batched else f"{n_jobs} jobs") if not on_ray else \
            f"{n_jobs} Ray actors" + (", batched" if batched else "")
        ctx.log.info("%s: extracted %d new rows (%d from the cache) × %d features in %.1f s "
                     "(%.1f files/s, %.1f × real time, %s)%s", component.name, new, n_cached, len(names),
                     elapsed, len(todo) / extract_elapsed, sink.audio_done / extract_elapsed, how, view_note)
        if sink.nonfinite:
            what = "inf" if sink.may_return_nan else "NaN or inf"
            rows = list(sink.nonfinite.values())
            columns = sorted({c for _, cs in rows for c in cs})
            raise ContractError(
                f"{component.name}: returned {what} in {len(rows)} rows (e.g. {_describe(rows[0][0])}), "
                f"columns {columns[:5]}" + ("" if sink.may_return_nan else ", but does not declare "
                "may_return_nan = True (nk never fills missing values silently)")
                + f"; these rows were not cached ({component.provider} {component.version})")
        failed: list[tuple[RowRef, Failure]] = [(refs[i], (AUDIO, msg)) for i, msg in sorted(unreadable.items())]
        failed += [(refs[i], sink.failures[key]) for i, key in enumerate(keys)
                   if key is not None and key in sink.failures]
        if failed:
            listing = _failure_listing(failed)
            if len(failed) > 3:  # the console gets a summary; the log has every file
                ctx.log.info("%s could not process these files:\n%s", component.name,
                             "\n".join(f"{_describe(ref)}: {msg}" for ref, (_, msg) in failed))
            only_audio = all(kind == AUDIO for _, (kind, _) in failed)
            raise UserError(
                f"{component.name} could not process {len(failed)} of {len(refs)} files: {listing}",
                where=f"the audio files read for {component.name!r}" if only_audio
                else f"featurizer {component.name!r} ({component.provider})",
                allowed="existing, readable audio with finite samples (no NaN or inf)" if only_audio else None,
                todo="fix or remove these files (they were not cached; the other rows are, so a rerun "
                "extracts only these)",
            )
        return result()
