"""Where a sweep's shards run: `Executor.map(job, items)`, local processes or Ray.

Both executors call ``job(item, limiter)`` once per item in a worker and return the
results in the items' order; `limiter` holds the per-endpoint budgets given to `map`
(`medq.sweep.limits`), shared by every worker. A job must be a module-level function
and items and results must pickle. An exception raised by a job propagates.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from medq.sweep.limits import ProcessLimiter, RayLimiter, budget_actor

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "executor_for", "ray_session"]

T = TypeVar("T")
R = TypeVar("R")
Job = Callable[[T, Any], R]

# Pinned with the `ray` extra: these make every Ray listener bind to 127.0.0.1 on a single
# machine (the first is an internal switch, so the Ray version is pinned in pyproject).
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


class Executor(Protocol):
    """Runs ``job(item, limiter)`` for every item and returns the results in order."""

    def map(self, job: Job[T, R], items: Sequence[T], *,
            budgets: Mapping[str, int] | None = None,
            gpus: Sequence[float] | None = None) -> list[R]: ...


_WORKER_LIMITER: list[ProcessLimiter] = []


def _start_worker(semaphores: Mapping[str, Any]) -> None:
    _WORKER_LIMITER.append(ProcessLimiter(semaphores))


def _call_in_worker(job: Job[T, R], item: T) -> R:
    return job(item, _WORKER_LIMITER[0])


class LocalExecutor:
    """A process pool on this machine (the default executor).

    Args:
        workers: processes at once (default: the number of CPUs, at most one per item).

    Workers are spawned, not forked: the caller may hold threads (a server, a progress
    bar) that a fork would copy in an unknown state. GPUs are not scheduled: ``hf/``
    shards share whatever devices the machine has.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers

    def map(self, job: Job[T, R], items: Sequence[T], *,
            budgets: Mapping[str, int] | None = None,
            gpus: Sequence[float] | None = None) -> list[R]:
        if not items:
            return []
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("spawn")
        semaphores = {e: context.BoundedSemaphore(n) for e, n in (budgets or {}).items()}
        workers = min(self.workers or os.cpu_count() or 1, len(items))
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                 initargs=(semaphores,)) as pool:
            return list(pool.map(_call_in_worker, [job] * len(items), items))


def _ray() -> Any:
    for key, value in RAY_LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    from medq._extras import require_extra

    return require_extra("ray", "the ray executor (--executor ray)")


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """The `ray` module, connected: to the Ray already initialised in this process, to a
    cluster (`address`: ``ray://host:10001`` or ``auto``), or to a Ray started on 127.0.0.1
    for the block (with `num_cpus`) and stopped after it."""
    ray = _ray()
    started = not ray.is_initialized()
    if started:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False,
                     _node_ip_address="127.0.0.1", log_to_driver=False)
        else:
            ray.init(address=address, log_to_driver=False)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


class RayExecutor:
    """Ray tasks, on a running cluster (`address`) or on a local one started for the call.

    Args:
        address: a cluster to join (``ray://host:10001`` or ``auto``); None starts a local
            Ray on 127.0.0.1 for the call and stops it after.
        num_cpus: CPUs of a local Ray (default: all).
        cpus_per_item: CPUs each task asks for (shards are I/O-bound: a fraction is fine).

    An item with ``gpus[i] > 0`` asks Ray for that many GPUs (``hf/`` shards ask for one).
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 cpus_per_item: float = 1.0) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.cpus_per_item = cpus_per_item

    def map(self, job: Job[T, R], items: Sequence[T], *,
            budgets: Mapping[str, int] | None = None,
            gpus: Sequence[float] | None = None) -> list[R]:
        if not items:
            return []
        with ray_session(self.address, num_cpus=self.num_cpus) as ray:
            actor = budget_actor(dict(budgets or {}))
            endpoints = frozenset(budgets or {})
            task = ray.remote(_call_on_ray)
            refs = [task.options(num_cpus=self.cpus_per_item,
                                 num_gpus=(gpus[i] if gpus else 0) or 0,
                                 max_retries=0).remote(job, item, actor, endpoints)
                    for i, item in enumerate(items)]
            return list(ray.get(refs))


def _call_on_ray(job: Job[T, R], item: T, actor: Any, endpoints: frozenset[str]) -> R:
    return job(item, RayLimiter(actor, endpoints))


def executor_for(name: str, *, address: str | None = None,
                 workers: int | None = None) -> Executor:
    """The executor called `name` (``local`` or ``ray``)."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for --executor ray")
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, num_cpus=workers)
    raise ValueError(f"--executor must be local or ray, not {name!r}")
