"""``concurrency = "auto"`` in a sweep plan: adaptive shard windows under a hard budget."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.sweep.helpers import write_plan

from medq.sweep import LocalExecutor, PlanError, load_plan, read_plan, run_sweep
from medq.sweep.run import jobs
from medq.testing.openai_server import FakeOpenAIServer

URL = "http://127.0.0.1:9/v1"


def _with(path: Path, *lines: str) -> Path:
    text = path.read_text()
    head, sep, budgets = text.partition("[budgets]")
    path.write_text(head + "\n".join(lines) + "\n" + sep + budgets)
    return path


def test_auto_plans_the_same_shards_with_max_concurrency_as_the_budget(tmp_path: Path) -> None:
    fixed = load_plan(write_plan(tmp_path, [URL], name="fixed"))
    auto = load_plan(_with(write_plan(tmp_path, [URL], name="auto"), 'concurrency = "auto"',
                           "max_concurrency = 12"))
    assert [s.shard_id for s in auto.shards] == [s.shard_id for s in fixed.shards]
    assert auto.adaptive and not fixed.adaptive
    assert dict(auto.budgets) == {URL: 12}
    assert {(j.budget, j.adaptive) for j in jobs(auto)} == {(12, True)}
    auto.save()
    again = read_plan(tmp_path / "auto.toml")
    assert again.adaptive and dict(again.budgets) == {URL: 12}
    # [budgets] still names each endpoint's ceiling
    per = load_plan(_with(write_plan(tmp_path, [URL], name="per", budgets={URL: 5}),
                          'concurrency = "auto"'))
    assert dict(per.budgets) == {URL: 5}


@pytest.mark.parametrize(("lines", "says"), [
    (['concurrency = "fast"'], "'concurrency' must be a positive integer or \"auto\""),
    (["concurrency = 8", "max_concurrency = 16"], "'max_concurrency' is the ceiling"),
    (['concurrency = "auto"', "max_concurrency = 0"], "the budget of 'max_concurrency'"),
])
def test_bad_auto_plans_are_one_line(tmp_path: Path, lines: list[str], says: str) -> None:
    path = _with(write_plan(tmp_path, [URL]), *lines)
    with pytest.raises(PlanError, match=says):
        load_plan(path)


def test_the_shared_budget_stays_a_hard_ceiling_over_adaptive_shards(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        # Two shards at once, each adapting up to the whole budget of 4: only the shared
        # budget keeps the endpoint at 4 in flight.
        path = _with(write_plan(tmp_path, [server.base_url], tasks=("medqa",),
                                strategies=("direct",), models=("openai/a", "openai/b"),
                                limit=24), 'concurrency = "auto"', "max_concurrency = 4")
        plan = load_plan(path)
        results = run_sweep(plan, LocalExecutor(workers=2))
    assert [r.state for r in results] == ["done"] * 2
    assert server.count == 48 and server.max_in_flight == 4
    for shard in plan.shards:
        db = sqlite3.connect(plan.store_path(shard))
        (info,) = db.execute("SELECT json_extract(info, '$.window.mode'), "
                             "json_extract(info, '$.window.ceiling') FROM runs").fetchall()
        db.close()
        assert info == ("auto", 4)
