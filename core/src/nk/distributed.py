"""``extract.backend=ray``: featurizer batches mapped over Ray actors, written into the same cache.

Each actor holds one copy of the featurizer (pickled once, as for nk's local worker processes;
a featurizer that drops its model in ``__getstate__`` loads it again in the actor, on the GPU
the actor reserved with ``extract.num_gpus``). The parent hands out batches (two in flight per
actor) and commits what comes back through the same sink as the local backends, so rows are
cached as they finish, failures are collected, and the features equal the local backend's.

Featurizers with ``extract_batch`` get groups of rows of similar duration (as on the batch
path); the others get batches whose size adapts to the featurizer's speed (as in the local
pool). Ray is imported only here, when the backend is chosen.

Cluster: ``extract.address`` joins a running cluster (``auto``: the one ``ray start`` made on
this machine); without it nk joins the cluster it already runs in (a run started by
``hydra/launcher=ray``) or starts a local one with ``n_jobs`` CPUs and no dashboard, kept for
the rest of the process (later featurizers of the run reuse it).
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nk.errors import UserError

if TYPE_CHECKING:
    from nk.cache import RowRef


class Extractor:
    """A Ray actor's state: the featurizer and the sampling rate (see :func:`run_on_ray`)."""

    def __init__(self, payload: bytes, threads: int) -> None:
        from nk.workers import limit_threads

        limit_threads(threads)
        self.featurizer, self.rate = pickle.loads(payload)

    def run(self, refs: Sequence[RowRef], batched: bool, name: str) -> tuple[list[Any], float, str | None]:
        from nk.featurize import _extract_rows, extract_group

        started = time.perf_counter()
        note = None
        if batched:
            out, note = extract_group(self.featurizer, name, self.rate, refs)
        else:
            out = _extract_rows(self.featurizer, refs, self.rate)
        return out, time.perf_counter() - started, note


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("extract.backend=ray needs Ray, which is not installed",
                        where="config key extract.backend", allowed="local, or ray with Ray installed",
                        todo="pip install 'nk[ray]', or set extract.backend=local") from None
    return ray


def ensure_cluster(address: str | None, n_cpus: int, log: Any) -> Any:
    """The ``ray`` module, connected to a cluster (see the module docstring)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=n_cpus, include_dashboard=False, log_to_driver=True)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise UserError(f"Cannot connect to or start a Ray cluster ({exc})", where="config key extract.address",
                        allowed="'auto' (a cluster started with `ray start` on this machine), "
                        "'ray://HOST:10001', or null to start a local one",
                        todo="start the cluster or fix extract.address") from None
    resources = ray.cluster_resources()
    log.info("Ray cluster: %s CPUs, %s GPUs (%s)", resources.get("CPU", 0), resources.get("GPU", 0),
             address or "started by nk on this machine")
    return ray


def n_actors(requested: int | None, num_cpus: float, num_gpus: float, resources: dict[str, float], rows: int) -> int:
    """How many actors: ``requested``, else as many as the cluster's CPUs (or GPUs) hold; never more
    than a quarter of the rows (an actor's start-up pays only with some work)."""
    if requested is None:
        fit = resources.get("GPU", 0) / num_gpus if num_gpus > 0 else resources.get("CPU", 1) / num_cpus
        requested = max(1, math.floor(fit + 1e-9))
    return max(1, min(requested, max(1, rows // 4)))


def run_on_ray(payload: bytes, name: str, settings: Any, n_cpus: int, todo: Sequence[tuple[str, RowRef]],
               batched: bool, batch_seconds: float, sink: Any, progress: Any, update: Callable[[], None]) -> int:
    """Extract ``todo`` on Ray actors into ``sink``; returns the number of actors used.

    :param settings: the run's ``extract`` section (address, actors, num_cpus, num_gpus).
    :param n_cpus: CPUs of a local cluster nk starts (the run's ``n_jobs``).
    """
    from nk.featurize import _Batches, duration_groups

    ray = ensure_cluster(settings.address, n_cpus, sink.ctx.log)
    num_cpus, num_gpus = float(settings.num_cpus), float(settings.num_gpus)
    count = n_actors(settings.actors, num_cpus, num_gpus, ray.cluster_resources(), len(todo))
    remote = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=0)(Extractor)
    payload_ref = ray.put(payload)
    actors = [remote.remote(payload_ref, max(1, int(num_cpus))) for _ in range(count)]

    if batched:
        durations = [sink.seconds.get(key, 0.0) for key, _ in todo]
        groups = iter([[todo[i] for i in g] for g in duration_groups(durations, batch_seconds)])
        batches = None

        def next_batch() -> list[tuple[str, RowRef]] | None:
            return next(groups, None)
    else:
        batches = _Batches(todo, count, first=2)
        next_batch = batches.next

    pending: dict[Any, tuple[Any, list[tuple[str, RowRef]]]] = {}
    free = [a for a in actors for _ in range(2)]  # two batches per actor in flight

    def fill() -> None:
        while free and (batch := next_batch()) is not None:
            actor = free.pop()
            pending[actor.run.remote([ref for _, ref in batch], batched, name)] = (actor, batch)

    try:
        with progress:
            fill()
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=0.2)
                for ref in done:
                    actor, batch = pending.pop(ref)
                    try:
                        results, seconds, note = ray.get(ref)
                    except ray.exceptions.RayActorError as exc:
                        raise UserError(
                            f"A Ray actor extracting {name} died ({type(exc).__name__}); the "
                            f"{sink.done - len(sink.failures)} rows finished before are cached",
                            where=f"featurizer {name}",
                            todo="check the actors' memory (extract.num_cpus reserves more per actor), or "
                            "run with extract.backend=local n_jobs=1 to see which file crashes the featurizer",
                        ) from None
                    except ray.exceptions.RayTaskError as exc:  # a bug in the featurizer: its own error
                        raise exc.as_instanceof_cause() from None
                    if note:
                        sink.ctx.log.info("%s", note)
                    if batches is not None:
                        batches.observe(len(batch), seconds)
                    sink.add(batch, results)
                    free.append(actor)
                if done:
                    update()
                    fill()
    finally:
        for actor in actors:
            ray.kill(actor)
    return count


__all__ = ["Extractor", "ensure_cluster", "n_actors", "run_on_ray"]
