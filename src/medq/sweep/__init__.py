"""Sweeps: a grid of runs split into shards, run by a local process pool or Ray.

``medq sweep plan grid.toml`` expands the grid (`load_plan`), ``medq sweep run`` runs one
runner per shard into its own store under one concurrency budget per endpoint
(`run_sweep`), ``medq sweep status`` says where each shard is (`sweep_status`) and
``medq sweep merge`` unions the shard stores into medq's store (`merge_sweep`).

Example:
    >>> plan = load_plan("grid.toml")
    >>> run_sweep(plan, RayExecutor("ray://head:10001"))
    >>> merge_sweep(plan)
"""

from medq.sweep.executors import Executor, LocalExecutor, RayExecutor, executor_for
from medq.sweep.merge import MergeReport, merge_stores, merge_sweep
from medq.sweep.plan import PlanError, Shard, SweepPlan, load_plan, read_plan
from medq.sweep.run import ShardResult, ShardStatus, run_sweep, sweep_status

__all__ = [
    "Executor",
    "LocalExecutor",
    "MergeReport",
    "PlanError",
    "RayExecutor",
    "Shard",
    "ShardResult",
    "ShardStatus",
    "SweepPlan",
    "executor_for",
    "load_plan",
    "merge_stores",
    "merge_sweep",
    "read_plan",
    "run_sweep",
    "sweep_status",
]
