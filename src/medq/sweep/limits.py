"""One concurrency budget per endpoint across every shard of a sweep.

Each shard's runner keeps its own window (`medq.calls.CallLog`); these limiters sit inside
it (`CallLog.limiter`) and hold one slot of the endpoint's budget around each live call,
so N shards together never have more calls in flight to one server than it was given.

- `ProcessLimiter` (the local executor): one ``multiprocessing`` semaphore per endpoint,
  handed to every worker of the process pool when it starts.
- `RayLimiter` (the ray executor): an async Ray actor holding one asyncio semaphore per
  endpoint; every shard, on any node, asks it for slots.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

__all__ = ["ProcessLimiter", "RayLimiter", "budget_actor"]

# Polling a process-shared semaphore keeps a cancelled waiter from holding a slot it
# never uses (a blocking acquire in a thread cannot be cancelled); the backoff is short
# next to any model call.
_POLL_MIN_S, _POLL_MAX_S = 0.0005, 0.02


class ProcessLimiter:
    """Budgets shared by processes: ``{endpoint: multiprocessing semaphore}``.

    Endpoints without a semaphore are not limited (beyond the run's own window).
    """

    def __init__(self, semaphores: Mapping[str, Any]) -> None:
        self.semaphores = dict(semaphores)

    @contextlib.asynccontextmanager
    async def slot(self, endpoint: str) -> AsyncIterator[None]:
        semaphore = self.semaphores.get(endpoint)
        if semaphore is None:
            yield
            return
        wait = _POLL_MIN_S
        while not semaphore.acquire(False):
            await asyncio.sleep(wait)
            wait = min(wait * 2, _POLL_MAX_S)
        try:
            yield
        finally:
            semaphore.release()


class _Budgets:
    """The Ray actor behind `RayLimiter` (async: thousands of waiters cost nothing)."""

    def __init__(self, budgets: Mapping[str, int]) -> None:
        self.semaphores = {e: asyncio.Semaphore(n) for e, n in budgets.items()}

    async def acquire(self, endpoint: str) -> bool:
        await self.semaphores[endpoint].acquire()
        return True

    def release(self, endpoint: str, granted: Any = None) -> None:
        # `granted`: a pending acquire's result; Ray resolves it before this runs, so a
        # waiter cancelled before its grant still gives the slot back.
        self.semaphores[endpoint].release()


def budget_actor(budgets: Mapping[str, int]) -> Any:
    """Start the budget actor on the connected Ray cluster."""
    import ray

    return ray.remote(num_cpus=0)(_Budgets).options(max_concurrency=10_000).remote(budgets)


class RayLimiter:
    """Budgets held by a Ray actor (`budget_actor`); `endpoints` are the limited ones."""

    def __init__(self, actor: Any, endpoints: frozenset[str]) -> None:
        self.actor = actor
        self.endpoints = endpoints

    @contextlib.asynccontextmanager
    async def slot(self, endpoint: str) -> AsyncIterator[None]:
        if endpoint not in self.endpoints:
            yield
            return
        granted = self.actor.acquire.remote(endpoint)
        try:
            await granted
        except asyncio.CancelledError:
            self.actor.release.remote(endpoint, granted)
            raise
        try:
            yield
        finally:
            await self.actor.release.remote(endpoint)
