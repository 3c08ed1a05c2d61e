"""Sweeps: a grid of runs split into shards, run by a local process pool or Ray.

``medq sweep plan grid.toml`` expands the grid (`load_plan`), ``medq sweep run`` runs one
runner per shard into its own store under one concurrency budget per endpoint
(`run_sweep`), ``medq sweep status`` says where each shard is (`sweep_status`) and
``medq sweep merge`` unions the shard stores into medq's store (`merge_sweep`).

Example:
    >>> plan = load_plan("grid.toml")
    >>> run_sweep(plan, RayExecutor("ray://head:10001"))
    >>> merge_sweep(plan)

Names are imported on first use: `medq --help` and `medq eval` load none of the sweep's
modules.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Executor": "medq.sweep.executors",
    "LocalExecutor": "medq.sweep.executors",
    "MergeReport": "medq.sweep.merge",
    "PlanError": "medq.sweep.plan",
    "RayExecutor": "medq.sweep.executors",
    "Shard": "medq.sweep.plan",
    "ShardResult": "medq.sweep.run",
    "ShardStatus": "medq.sweep.run",
    "SweepPlan": "medq.sweep.plan",
    "executor_for": "medq.sweep.executors",
    "load_plan": "medq.sweep.plan",
    "merge_stores": "medq.sweep.merge",
    "merge_sweep": "medq.sweep.merge",
    "read_plan": "medq.sweep.plan",
    "run_sweep": "medq.sweep.run",
    "sweep_status": "medq.sweep.run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medq.sweep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
