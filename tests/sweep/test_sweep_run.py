"""Sweeps on the loopback server: budgets across shards, resume after a kill, merge."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.sweep.helpers import store_content, write_plan
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.sweep import LocalExecutor, load_plan, merge_sweep, read_plan, run_sweep, sweep_status
from medq.testing.openai_server import FakeOpenAIServer


def test_two_endpoints_never_see_more_in_flight_than_their_budgets(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.05) as four, FakeOpenAIServer(latency=0.05) as eight:
        # Shards alternate between the endpoints; four at once, each with a window as
        # large as its endpoint's whole budget, so only the shared budget holds them.
        path = write_plan(tmp_path, [four.base_url, eight.base_url], tasks=("medqa",),
                          strategies=("direct",), models=("openai/a", "openai/b"), limit=24,
                          budgets={four.base_url: 4, eight.base_url: 8})
        plan = load_plan(path)
        assert [s.endpoint for s in plan.shards] == [four.base_url, eight.base_url] * 2
        results = run_sweep(plan, LocalExecutor(workers=4))
    assert [r.state for r in results] == ["done"] * 4
    assert sum(r.new_calls for r in results) == four.count + eight.count == 96
    assert four.max_in_flight == 4
    assert eight.max_in_flight == 8


def test_sweep_runs_are_the_runs_plain_eval_makes(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        path = write_plan(tmp_path, [server.base_url], models=("openai/a",),
                          tasks=("medqa",), strategies=("cot",), limit=3)
        plan = load_plan(path)
        run_sweep(plan, LocalExecutor(workers=1))
        merge_sweep(plan)
        with Store() as store:
            before = server.count
            result = evaluate(EvalSpec(task="medqa", model="openai/a", strategy="cot",
                                       sample=True, limit=3, base_url=server.base_url),
                              store=store, progress=False)
    assert result.run_id == plan.shards[0].shard_id
    assert result.new_calls == 0 and server.count == before


def _done(plan_path: Path) -> list[str]:
    folder = plan_path.parent / f"{plan_path.stem}.sweep" / "state"
    done = []
    for state in folder.glob("*.json") if folder.is_dir() else ():
        try:
            if json.loads(state.read_text())["state"] == "done":
                done.append(state.stem)
        except (ValueError, OSError):
            continue
    return done


def test_killed_sweep_reruns_with_no_call_for_finished_shards(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.02) as server:
        path = write_plan(tmp_path, [server.base_url], models=("openai/a", "openai/b"),
                          tasks=("medqa",), strategies=("direct", "cot"), limit=20)
        log = tmp_path / "sweep.log"
        with log.open("wb") as out:
            sweep = subprocess.Popen(
                [sys.executable, "-m", "medq.cli", "sweep", "run", str(path), "--workers", "1"],
                start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while len(_done(path)) < 2 and sweep.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(sweep.pid, signal.SIGKILL)
        sweep.wait()
        finished = set(_done(path))
        assert 2 <= len(finished) < 4, log.read_text()
        plan = read_plan(path)
        settle = time.monotonic() + 10  # until the killed worker is reaped
        while True:
            states = {s.shard_id: s.state for s in sweep_status(plan)}
            if "running" not in states.values() or time.monotonic() > settle:
                break
            time.sleep(0.05)
        assert {k for k, v in states.items() if v == "done"} == finished
        assert set(states.values()) <= {"done", "failed", "pending"}  # the killed one failed
        before = server.count
        results = run_sweep(load_plan(path), LocalExecutor(workers=1))
        made = server.count - before
    by_id = {r.shard_id: r for r in results}
    for shard_id in finished:
        assert by_id[shard_id].skipped and by_id[shard_id].new_calls == 0
    assert made == sum(r.new_calls for r in results) > 0
    assert made <= 20 * (4 - len(finished))  # the rest of the sweep, not all of it again
    assert all(r.state == "done" for r in results)


def test_merge_unions_shards_and_twice_changes_nothing(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        path = write_plan(tmp_path, [server.base_url], models=("openai/a", "openai/b"),
                          tasks=("medqa",), strategies=("direct",), limit=3)
        plan = load_plan(path)
        run_sweep(plan, LocalExecutor(workers=2))
    target = tmp_path / "merged.sqlite"
    first = merge_sweep(plan, target)
    content = store_content(target)
    second = merge_sweep(plan, target)
    assert (first.stores, first.runs, first.samples, first.calls_added) == (2, 2, 6, 6)
    assert second.calls_added == 0 and second.calls_present == 6
    assert store_content(target) == content
    assert sorted(content["runs"]) == sorted(s.shard_id for s in plan.shards)
    runner = CliRunner()
    shown = runner.invoke(app, ["sweep", "merge", str(path)])
    assert shown.exit_code == 0 and "2 runs, 6 results, 6 calls added" in shown.output
    listed = runner.invoke(app, ["runs"])
    assert all(s.shard_id in listed.output for s in plan.shards)
    assert "stale" not in listed.output  # the shards' liveness came along, finished
    shown = runner.invoke(app, ["show", plan.shards[0].shard_id])
    assert shown.exit_code == 0, shown.output
    texts = set()  # requests refer to shared texts by hash: every one must come along
    for shard in plan.shards:
        db = sqlite3.connect(plan.store_path(shard))
        texts |= {r[0] for r in db.execute("SELECT hash FROM request_texts")}
        db.close()
    db = sqlite3.connect(target)
    assert {r[0] for r in db.execute("SELECT hash FROM request_texts")} == texts != set()
    db.close()
