"""Running a sweep: one runner per shard, each writing its own store; and its status.

Every shard writes a state file (``state/<shard>.json``, atomically) when it starts and
when it ends, so `sweep_status` can tell done, running, failed and pending apart, with a
reason, even after a kill. A shard whose state says done and whose store holds the run
finished is skipped without opening a model: re-running a plan after a kill makes no
call for finished shards (and the runner itself resumes the unfinished ones).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medq._atomic import atomic_write_text
from medq.sweep.executors import Executor, LocalExecutor
from medq.sweep.plan import Shard, SweepPlan

__all__ = ["ShardJob", "ShardResult", "ShardStatus", "run_shard", "run_sweep", "sweep_status"]

STATES = ("done", "running", "failed", "pending")


@dataclass(frozen=True)
class ShardJob:
    """A shard with the files it writes and its endpoint's budget: its own window's size,
    or, when `adaptive`, its adaptive window's ceiling."""

    shard: Shard
    store: str
    state: str
    budget: int
    adaptive: bool = False
    n_per_request: str = "auto"


@dataclass(frozen=True)
class ShardResult:
    """What one shard did: its final state, new calls, and why it did not finish."""

    shard_id: str
    state: str
    new_calls: int = 0
    skipped: bool = False
    reason: str | None = None
    wall_s: float = 0.0


@dataclass(frozen=True)
class ShardStatus:
    """A shard's state as `medq sweep status` shows it."""

    shard_id: str
    state: str
    reason: str | None = None
    new_calls: int | None = None


def _write_state(path: Path, **state: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({**state, "at": time.time()}) + "\n")


def _read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"state": "failed", "reason": f"state file {path} is unreadable"}
    return data if isinstance(data, dict) else None


def _finished_in_store(store_path: Path, run_id: str) -> bool:
    from medq.store import RunNotFoundError, Store

    if not store_path.exists():
        return False
    with Store(store_path, readonly=True, verify=False) as store:
        try:
            return bool(store.run(run_id)["status"] == "finished")
        except RunNotFoundError:
            return False


def run_shard(job: ShardJob, limiter: Any) -> ShardResult:
    """Evaluate one shard into its own store under the shared `limiter` (an executor job).

    Never raises for a failure of the run: the result (and the state file) say why.
    """
    from medq.concurrency import AUTO
    from medq.run_settings import RunSettings
    from medq.runner import evaluate_async
    from medq.store import Store

    shard, state_path, store_path = job.shard, Path(job.state), Path(job.store)
    before = _read_state(state_path)
    if before and before.get("state") == "done" and _finished_in_store(store_path, shard.shard_id):
        return ShardResult(shard.shard_id, "done", skipped=True)
    _write_state(state_path, state="running", pid=os.getpid(), host=socket.gethostname())
    started = time.perf_counter()
    try:
        store_path.parent.mkdir(parents=True, exist_ok=True)
        with Store(store_path) as store:
            settings = RunSettings(concurrency=AUTO if job.adaptive else job.budget,
                                   max_concurrency=job.budget, n_per_request=job.n_per_request)
            result = asyncio.run(evaluate_async(shard.spec, store=store, settings=settings,
                                                progress=False, limiter=limiter))
            if result.run_id != shard.shard_id:
                raise RuntimeError(f"the shard ran as {result.run_id}, not {shard.shard_id}: "
                                   "its data or endpoint changed since `medq sweep plan`")
            errors = [s for s in store.samples(result.run_id) if s.status == "error"]
    except Exception as exc:  # noqa: BLE001 - any failure is the shard's, recorded
        failure = f"{type(exc).__name__}: {exc}"
        _write_state(state_path, state="failed", reason=failure)
        return ShardResult(shard.shard_id, "failed", reason=failure,
                           wall_s=time.perf_counter() - started)
    wall = time.perf_counter() - started
    reason: str | None = None
    if result.interrupted:
        reason = "interrupted"
    elif errors:
        reason = (f"{len(errors)} items ended in error (e.g. {errors[0].item_id}: "
                  f"{errors[0].reason}); `medq sweep run` retries them")
    state = "failed" if reason else "done"
    _write_state(state_path, state=state, reason=reason, new_calls=result.new_calls,
                 wall_s=wall)
    return ShardResult(shard.shard_id, state, result.new_calls, reason=reason, wall_s=wall)


def jobs(plan: SweepPlan) -> list[ShardJob]:
    """The plan's shards as executor jobs."""
    return [ShardJob(s, str(plan.store_path(s)), str(plan.state_path(s)),
                     plan.budgets.get(s.endpoint, 32), plan.adaptive, plan.n_per_request)
            for s in plan.shards]


def run_sweep(plan: SweepPlan, executor: Executor | None = None) -> list[ShardResult]:
    """Run every shard of `plan` (skipping finished ones) on `executor` (default: local
    processes), each endpoint's budget shared by all shards; results in plan order."""
    plan.save()
    executor = executor or LocalExecutor()
    return executor.map(run_shard, jobs(plan), budgets=plan.budgets,
                        gpus=[s.gpus for s in plan.shards])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def shard_status(plan: SweepPlan, shard: Shard) -> ShardStatus:
    """One shard's state, from its state file and its store."""
    state = _read_state(plan.state_path(shard))
    if state is None:
        return ShardStatus(shard.shard_id, "pending", "not started")
    kind = state.get("state")
    if kind == "done":
        if _finished_in_store(plan.store_path(shard), shard.shard_id):
            return ShardStatus(shard.shard_id, "done", None, state.get("new_calls"))
        return ShardStatus(shard.shard_id, "failed", "marked done but its store does not "
                           "hold the finished run (moved or deleted?)")
    if kind == "running":
        pid, host = state.get("pid"), state.get("host")
        if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            return ShardStatus(shard.shard_id, "failed", f"worker {pid} stopped without "
                               "finishing (killed?); `medq sweep run` resumes it")
        return ShardStatus(shard.shard_id, "running", f"worker {pid} on {host}")
    return ShardStatus(shard.shard_id, "failed", state.get("reason") or "unknown",
                       state.get("new_calls"))


def sweep_status(plan: SweepPlan) -> list[ShardStatus]:
    """Every shard's state: done, running, failed or pending, with a reason."""
    return [shard_status(plan, s) for s in plan.shards]


def counts(statuses: Sequence[ShardStatus]) -> dict[str, int]:
    """How many shards are in each state."""
    return {k: sum(s.state == k for s in statuses) for k in STATES}


def result_json(result: ShardResult) -> dict[str, Any]:
    return asdict(result)
