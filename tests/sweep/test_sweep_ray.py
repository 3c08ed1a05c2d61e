"""The ray executor: the same merged results as the local one, on a loopback Ray.

Ray starts once for the module (~10 s, ~1.5 GB) on 127.0.0.1 only; skipped without the
`ray` extra.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.sweep.helpers import store_content, write_plan

from medq.sweep import LocalExecutor, RayExecutor, load_plan, merge_sweep, run_sweep
from medq.sweep.executors import RAY_LOOPBACK_ENV
from medq.testing.openai_server import FakeOpenAIServer

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    for key, value in RAY_LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    yield
    ray.shutdown()


def _sweep(folder: Path, base_url: str, executor: object) -> dict[str, object]:
    folder.mkdir()
    plan = load_plan(write_plan(folder, [base_url], limit=3))
    results = run_sweep(plan, executor)  # type: ignore[arg-type]
    assert [r.state for r in results] == ["done"] * 12
    target = folder / "merged.sqlite"
    merge_sweep(plan, target)
    return {"content": store_content(target), "calls": [r.new_calls for r in results]}


def test_grid_gives_identical_merged_results_under_local_and_ray(
    tmp_path: Path, local_ray: None
) -> None:
    with FakeOpenAIServer(latency=0.01) as server:
        local = _sweep(tmp_path / "local", server.base_url, LocalExecutor(workers=2))
        on_ray = _sweep(tmp_path / "ray", server.base_url, RayExecutor(cpus_per_item=0.5))
    assert on_ray == local
    assert len(local["content"]["runs"]) == 12  # type: ignore[index]
    assert sum(local["calls"]) == 36  # type: ignore[arg-type]


def test_ray_budget_holds_across_shards(tmp_path: Path, local_ray: None) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        path = write_plan(tmp_path, [server.base_url], models=("openai/a", "openai/b"),
                          tasks=("medqa",), strategies=("direct", "cot"), limit=12,
                          budgets={server.base_url: 3})
        results = run_sweep(load_plan(path), RayExecutor(cpus_per_item=0.5))
    assert [r.state for r in results] == ["done"] * 4
    assert server.max_in_flight == 3
