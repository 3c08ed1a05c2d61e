"""``n_per_request`` in a sweep plan: every shard asks for its samples as the plan says."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.sweep.helpers import write_plan

from medq.sweep import LocalExecutor, PlanError, load_plan, read_plan, run_sweep
from medq.sweep.run import jobs
from medq.testing.openai_server import FakeOpenAIServer


def _with(path: Path, line: str) -> Path:
    path.write_text(line + "\n" + path.read_text())
    return path


def test_the_plan_carries_n_per_request_to_every_shard(tmp_path: Path) -> None:
    plan = load_plan(_with(write_plan(tmp_path, ["http://127.0.0.1:9/v1"]),
                           'n_per_request = "off"'))
    assert plan.n_per_request == "off"
    assert {j.n_per_request for j in jobs(plan)} == {"off"}
    plan.save()
    assert read_plan(tmp_path / "grid.toml").n_per_request == "off"
    # the default is medq eval's, and the run IDs do not depend on it
    default = load_plan(write_plan(tmp_path, ["http://127.0.0.1:9/v1"], name="default"))
    assert default.n_per_request == "auto"
    assert [s.shard_id for s in default.shards] == [s.shard_id for s in plan.shards]


def test_a_bad_n_per_request_is_one_line(tmp_path: Path) -> None:
    path = _with(write_plan(tmp_path, ["http://127.0.0.1:9/v1"]), 'n_per_request = "yes"')
    with pytest.raises(PlanError, match="'n_per_request' must be one of auto, on, off"):
        load_plan(path)


@pytest.mark.parametrize(("mode", "requests"), [("on", 3), ("off", 9)])
def test_shards_send_as_many_requests_as_the_mode_asks(tmp_path: Path, mode: str,
                                                       requests: int) -> None:
    with FakeOpenAIServer() as server:
        path = _with(write_plan(tmp_path, [server.base_url], tasks=("medqa",),
                                strategies=("self_consistency:n=3",), models=("openai/a",),
                                limit=3), f'n_per_request = "{mode}"')
        results = run_sweep(load_plan(path), LocalExecutor(workers=1))
        assert [r.state for r in results] == ["done"]
        assert server.count == requests
