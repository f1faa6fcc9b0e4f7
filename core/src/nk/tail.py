"""The tail of ``nk run`` — saving the model, the reporters' plots, the run report — in a
process forked when the run starts.

While the run loads data, imports scikit-learn and fits, the forked process imports what the
tail needs (matplotlib, skops, nk.report), so that a warm run does not pay for those imports
one after the other. When the predictions are ready the run sends the tail's inputs through a
pipe (pickled) and waits for the list of files written. The forked copy uses the run's
context as it was at the fork (config, folder, plugins, log).

Only what is safe in a forked process goes there: the model must be saved with skops (a
learner with its own ``save_model``, e.g. a torch model, is saved by the run itself) and every
selected reporter must say ``process_safe = True`` (the built-in ``plots`` does). Otherwise,
on platforms without ``fork`` or with ``NK_FORK_TAIL=0``, the run does the tail itself.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nk.context import RunContext

PRELOAD = ("matplotlib.figure", "matplotlib.backends.backend_agg", "skops.io", "nk.plots", "nk.report.run",
           "nk.results")


class Tail:
    """A forked process waiting for one job (:meth:`run`), or nothing when forking is off."""

    def __init__(self, ctx: RunContext) -> None:
        self.proc: Any = None
        self.conn: Any = None
        if not _fork_allowed():
            return
        import multiprocessing

        mp = multiprocessing.get_context("fork")
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_serve, args=(child, ctx), name="nk-tail", daemon=True)
        self.proc.start()
        child.close()

    @property
    def available(self) -> bool:
        return self.proc is not None and self.proc.is_alive()

    def run(self, job: Callable[..., Any], *args: Any) -> Any:
        """``job(ctx, *args)`` in the forked process; its result, or its error raised here."""
        self.conn.send((job, args))
        kind, payload = self.conn.recv()
        self.close()
        if kind == "ok":
            return payload
        if kind == "user":
            from nk.errors import UserError

            raise UserError(payload["what"], where=payload["where"], allowed=payload["allowed"],
                            todo=payload["todo"])
        raise RuntimeError(f"the run's report process failed:\n{payload}")

    def close(self) -> None:
        """Stop the forked process (it is idle or done)."""
        if self.proc is None:
            return
        try:
            self.conn.close()
        finally:
            self.proc.join(timeout=5)
            if self.proc.is_alive():
                self.proc.terminate()
                self.proc.join()
            self.proc = None


def _fork_allowed() -> bool:
    from nk.env import env_flag

    return sys.platform.startswith("linux") and env_flag("NK_FORK_TAIL", default=True)


def _serve(conn: Any, ctx: RunContext) -> None:
    import contextlib
    import importlib
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the run stops this process
    for module in PRELOAD:
        with contextlib.suppress(ImportError):  # the job imports it again and reports the error
            importlib.import_module(module)
    try:
        job, args = conn.recv()
    except (EOFError, OSError):  # the run did its tail itself, or stopped
        return
    try:
        conn.send(("ok", job(ctx, *args)))
    except BaseException as exc:  # every failure goes back to the run
        from nk.errors import UserError

        if isinstance(exc, UserError):
            conn.send(("user", {"what": exc.what, "where": exc.where, "allowed": exc.allowed, "todo": exc.todo}))
        else:
            conn.send(("error", "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


__all__ = ["Tail"]
