"""Worker processes: how nk starts them, what each does first, and how Ctrl-C stops them.

One implementation for every pool nk runs (feature extraction, explore's plot workers):

- :func:`mp_context` picks the start method. ``fork`` where it is safe and fast (Linux, and
  this process runs one thread): workers inherit the imported modules. An object that holds
  threads or CUDA state says ``start_method = "spawn"`` or ``"forkserver"`` (a forked copy of
  a threaded or CUDA-initialised process can deadlock or crash); without fork, ``forkserver``
  where available, else ``spawn``.
- :func:`init_worker` runs first in each worker: Ctrl-C is ignored (the parent stops the pool),
  BLAS/OpenMP libraries get one thread (``n_jobs`` processes share the cores), a thread ends the
  worker when its parent dies (a parent killed with SIGKILL cannot stop its workers), and the
  pickled payload (a featurizer) is loaded once.
- :func:`deferred_interrupt` and :func:`stop_pool` make one Ctrl-C stop a pool promptly: the
  parent notes the signal instead of raising inside ``concurrent.futures``' internals (where a
  KeyboardInterrupt can leave locks held and hang the shutdown), terminates its workers and
  then raises :class:`KeyboardInterrupt` from its own code.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

START_METHODS = ("fork", "spawn", "forkserver")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")

# The state of a worker process, set once by init_worker. Worker processes only: the parent
# never writes it (per-run state lives in RunContext).
_WORKER: dict[str, Any] = {}


def start_method_of(obj: Any) -> str:
    """The start method an object (a featurizer) asks for: its ``start_method``, else ``fork``.

    Raises :class:`ValueError` for an unknown method (a plugin bug).
    """
    method = getattr(obj, "start_method", None) or "fork"
    if method not in START_METHODS:
        raise ValueError(f"start_method must be one of {', '.join(START_METHODS)}; got {method!r}")
    return str(method)


def mp_context(start_method: str | None = None) -> Any:
    """The multiprocessing context for a pool (see the module docstring).

    :param start_method: ``"fork"`` (the default: used when safe), ``"spawn"`` or
        ``"forkserver"`` (always honoured; ``forkserver`` falls back to ``spawn`` where the
        platform lacks it).
    """
    methods = multiprocessing.get_all_start_methods()
    wanted = start_method or "fork"
    if wanted not in START_METHODS:
        raise ValueError(f"start_method must be one of {', '.join(START_METHODS)}; got {wanted!r}")
    if wanted == "fork":
        if sys.platform.startswith("linux") and "fork" in methods and threading.active_count() == 1:
            return multiprocessing.get_context("fork")
        wanted = "forkserver"
    if wanted == "forkserver" and "forkserver" not in methods:
        wanted = "spawn"
    return multiprocessing.get_context(wanted)


def limit_threads(n: int = 1) -> None:
    """Give BLAS/OpenMP libraries ``n`` threads in this process (loaded ones and later ones)."""
    for var in THREAD_VARS:  # libraries loaded later read these
        os.environ[var] = str(n)
    try:  # libraries already loaded (fork) are limited at run time
        from threadpoolctl import threadpool_limits

        _WORKER["limits"] = threadpool_limits(n)
    except Exception:  # threadpoolctl is optional; limiting threads only helps speed
        pass


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.25)
    os._exit(1)


def init_worker(payload: bytes | None = None, threads: int = 1) -> None:
    """Initialise a worker process once (the pool's ``initializer``).

    :param payload: a pickled object (a featurizer), loaded here and returned by
        :func:`worker_object`: a copy made by pickling, as under spawn, so state the object
        drops in ``__getstate__`` (models created in the parent) is created again here.
    :param threads: BLAS/OpenMP threads of this worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool
    with contextlib.suppress(AttributeError, ValueError, OSError):
        # the parent started us with SIGINT blocked (see sigint_blocked); now it is ignored
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    limit_threads(threads)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="nk-watch-parent",
                     daemon=True).start()
    if payload is not None:
        _WORKER["object"] = pickle.loads(payload)


def worker_object() -> Any:
    """The object :func:`init_worker` loaded in this worker process."""
    return _WORKER["object"]


@contextlib.contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while worker processes are started.

    A started process inherits the signal mask (through fork and exec), so a Ctrl-C arriving
    before its :func:`init_worker` ran stays pending there and is then ignored, instead of
    printing a KeyboardInterrupt traceback from a half-started worker. Here the signal is
    delivered when the block ends.
    """
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (AttributeError, ValueError, OSError):  # not POSIX
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[threading.Event]:
    """Within the block, Ctrl-C sets the yielded event instead of raising KeyboardInterrupt.

    The caller checks the event between steps and stops in an orderly way. A second Ctrl-C
    raises KeyboardInterrupt at once. Outside the main thread (where signal handlers cannot be
    installed) the event is never set and Ctrl-C behaves as usual.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum: int, frame: Any) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_pool(executor: Any, *, terminate: bool) -> None:
    """Shut a ``ProcessPoolExecutor`` down; with ``terminate``, kill its workers first.

    Terminating (on Ctrl-C or an error) does not wait for the batches being computed; the
    parent has committed what finished.
    """
    if terminate:
        # concurrent.futures has no public way to stop running work; its process table is the
        # only handle on the workers
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
    executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["START_METHODS", "deferred_interrupt", "init_worker", "limit_threads", "mp_context",
           "sigint_blocked", "start_method_of", "stop_pool", "worker_object"]
