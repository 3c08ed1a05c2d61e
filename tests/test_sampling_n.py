"""`n` in one request: the samples of one request asked for at once, stored one key each.

Real loopback server (`FakeOpenAIServer`, which serves n as vLLM does, or ignores or
rejects it), real OpenAI backend, real SQLite; requests are counted server-side.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.models.openai_compat import OpenAICompatModel
from medq.outputs import results_schema
from medq.run_settings import RunSettings, SettingError
from medq.runner import EvalSpec, RunResult, evaluate_async, rescore
from medq.store import Store
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

SC5 = "self_consistency(n=5,base=direct)"
ITEMS = 4


def run(server: FakeOpenAIServer, strategy: str = SC5, *, n_per_request: str = "auto",
        limit: int = ITEMS, store_path: Path | None = None, **settings: Any) -> RunResult:
    """Evaluate the MedQA sample over `server` with the real OpenAI backend."""

    async def go() -> RunResult:
        model = OpenAICompatModel("m", base_url=server.base_url)
        with Store(store_path) as store:
            try:
                return await evaluate_async(
                    EvalSpec("medqa", "openai/m", strategy, sample=True, limit=limit,
                             base_url=server.base_url),
                    store=store, model=model, progress=False,
                    settings=RunSettings(n_per_request=n_per_request, **settings))
            finally:
                await model.aclose()

    return asyncio.run(go())


def stored_samples(store_path: Path | None, run_id: str) -> dict[str, dict[str, Any]]:
    """Per item: its answer, confidence, reading, and each call key with its text."""
    with Store(store_path) as store:
        out = {}
        for sample in store.samples(run_id):
            calls = store.calls_for(list(sample["call_keys"]))
            out[sample.item_id] = {
                "choice": sample["choice"], "confidence": sample["confidence"],
                "reading": sample["reading"], "calls": sample["calls"],
                "texts": {c.key: [g["text"] for g in c.response["generations"]]
                          for c in calls},
            }
        return out


def n_info(store_path: Path | None, run_id: str) -> dict[str, Any]:
    with Store(store_path) as store:
        return dict(store.run(run_id)["info"]["n_per_request"]["models"]["model"])


def test_self_consistency_asks_once_per_item_where_the_server_serves_n() -> None:
    with FakeOpenAIServer() as server:
        result = run(server)
        bodies = list(server.bodies)
    assert len(bodies) == ITEMS  # counted server-side: one request per item
    assert [b["n"] for b in bodies] == [5] * ITEMS
    assert {b["seed"] for b in bodies} == {0}  # the seed of sample 0
    assert result.summary["calls"] == 5 * ITEMS and result.new_calls == 5 * ITEMS
    info = n_info(None, result.run_id)
    assert info["serves_n"] is True
    assert (info["requests"], info["samples"], info["alone"]) == (ITEMS, 5 * ITEMS, 0)
    shown = CliRunner().invoke(app, ["show", result.run_id]).output
    assert f"n per request: {ITEMS} requests to openai/m drew {5 * ITEMS} samples" in shown


@pytest.mark.parametrize("how", ["off", "ignore", "reject"])
def test_without_n_every_sample_is_its_own_request_and_stored_the_same(
        tmp_path: Path, how: str) -> None:
    with FakeOpenAIServer() as server:
        with_n = run(server, store_path=tmp_path / "n.sqlite")
        sent = server.count
        server.n_mode = "serve" if how == "off" else how  # the same endpoint, so the same keys
        alone = run(server, n_per_request="off" if how == "off" else "auto",
                    store_path=tmp_path / "alone.sqlite")
        bodies = list(server.bodies)[sent:]
    # off: n requests per item; a server without n: the same, plus the one that taught it.
    assert len(bodies) == 5 * ITEMS + (0 if how == "off" else 1)
    assert sum(1 for b in bodies if b.get("n", 1) > 1) == (0 if how == "off" else 1)
    assert with_n.run_id == alone.run_id  # the mode is not part of the identity
    # The same answers and readings, under the same per-sample keys with the same texts.
    assert stored_samples(tmp_path / "n.sqlite", with_n.run_id) == stored_samples(
        tmp_path / "alone.sqlite", alone.run_id)
    if how != "off":
        info = n_info(tmp_path / "alone.sqlite", alone.run_id)
        assert info["serves_n"] is False and info["alone"] == 5 * ITEMS
        assert ("400" in info["why"]) == (how == "reject")


def test_a_rejecting_server_is_detected_once_and_shown(tmp_path: Path) -> None:
    with FakeOpenAIServer(n_mode="reject") as server:
        result = run(server, limit=8, concurrency=16)
        bodies = list(server.bodies)
    # The first n request goes out alone; the others wait for what it teaches.
    assert sum(1 for b in bodies if b.get("n", 1) > 1) == 1
    assert len(bodies) == 5 * 8 + 1
    shown = CliRunner().invoke(app, ["show", result.run_id])
    assert shown.exit_code == 0, shown.output
    assert "does not serve n" in shown.output and "HTTP 400" in shown.output
    as_json = json.loads(CliRunner().invoke(
        app, ["show", result.run_id, "--format", "json"]).output)
    assert as_json["provenance"]["n_per_request"]["models"]["model"]["serves_n"] is False
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(as_json, results_schema())


def test_identical_choices_are_checked_until_choices_differ() -> None:
    # A server that gives all n choices one seed returns n copies, which would vote as one
    # sample: each answer of copies is checked against sample i + 1 asked alone.
    with FakeOpenAIServer(n_mode="shared_seed") as server:
        result = run(server, limit=8, concurrency=1)
        bodies = list(server.bodies)
    info = n_info(None, result.run_id)
    assert info["serves_n"] is False and "identical" in info["why"]
    n_asked = [b for b in bodies if b.get("n", 1) > 1]
    assert 2 <= len(n_asked) < 8  # two answers belied by their check, then no more n
    assert len(bodies) > 5 * 8  # every sample of the belied answers was asked alone
    with Store() as store:
        samples = list(store.samples(result.run_id))
        drawn = {c.request["messages"][-1]["content"]: "drawn" in c.response
                 for s in samples for c in store.calls_for(list(s.call_keys))}
    # Answers of copies stand only where the check agreed; the two belied ones were
    # asked again sample by sample, and after the second no n request went out.
    belied = [not drawn[b["messages"][-1]["content"]] for b in n_asked]
    assert sum(belied) == 2 and belied[-1]
    assert any(len(set(s["details"]["choices"])) > 1 for s in samples)


def test_a_sure_model_keeps_n_and_pays_one_check_per_item() -> None:
    # Every choice identical, and identical alone too (a model that sure): n stands.
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        result = run(server)
        bodies = list(server.bodies)
    assert sorted(b.get("n", 1) for b in bodies) == [1] * ITEMS + [5] * ITEMS
    assert n_info(None, result.run_id)["serves_n"] is True
    assert result.summary["calls"] == 5 * ITEMS


def test_rescore_and_a_second_run_make_no_request() -> None:
    with FakeOpenAIServer() as server:
        first = run(server)
        requests = server.count
        again = run(server)
        assert server.count == requests and again.new_calls == 0
        with Store() as store:
            rescored = rescore(first.run_id, store=store)
        assert server.count == requests
    assert rescored.summary["accuracy"] == first.summary["accuracy"]


def test_a_partial_cache_asks_only_for_the_missing_samples(tmp_path: Path) -> None:
    # n=3 then n=5: the second run shares the first three samples of every item (the same
    # keys), so it asks each item once more, for samples 3 and 4 (seeds 3 and 4).
    with FakeOpenAIServer() as server:
        three = run(server, "self_consistency(n=3,base=direct)", limit=2)
        sent = server.count
        five = run(server, limit=2)
        resent = list(server.bodies)[sent:]
        once = run(server, limit=2, store_path=tmp_path / "once.sqlite")  # all five at once
    assert [(b["n"], b["seed"]) for b in resent] == [(2, 3), (2, 3)]
    assert five.new_calls == 4
    earlier = stored_samples(None, three.run_id)
    for item, sample in stored_samples(None, five.run_id).items():
        assert set(earlier[item]["texts"]) < set(sample["texts"])
    # The same samples, answers and readings as a run that asked for all five at once.
    assert stored_samples(None, five.run_id) == stored_samples(tmp_path / "once.sqlite",
                                                               once.run_id)


def test_every_sampling_strategy_shares_it() -> None:
    # Ensemble refinement: n paths of one prompt, then m refinements of another.
    with FakeOpenAIServer() as server:
        result = run(server, "ensemble_refinement(n=3,m=4)", limit=2)
        bodies = list(server.bodies)
    assert sorted(b.get("n", 1) for b in bodies) == [3, 3, 4, 4]
    assert result.summary["calls"] == 2 * 7


def test_max_calls_counts_the_samples_of_a_request() -> None:
    spec = ["eval", "--task", "medqa", "--sample", "--limit", "6", "--model", "openai/m",
            "--strategy", SC5, "--concurrency", "1"]
    with FakeOpenAIServer() as server:
        first = CliRunner().invoke(app, [*spec, "--base-url", server.base_url,
                                         "--max-calls", "12"])
        assert first.exit_code == 0, first.output  # a clean stop, as without n
        # Two items of 5 samples fit; the third request (15 > 12) is admitted at 10 < 12.
        assert server.count == 3 and "after 15 new calls" in first.output
        done = CliRunner().invoke(app, [*spec, "--base-url", server.base_url])
        assert done.exit_code == 0, done.output
        assert server.count == 6  # one request per item, none asked twice


def test_greedy_calls_are_never_coalesced() -> None:
    with FakeOpenAIServer() as server:
        run(server, "direct")
        assert all("n" not in b for b in server.bodies) and server.count == ITEMS


def test_the_setting_is_checked_and_named() -> None:
    with pytest.raises(SettingError, match="n_per_request must be auto, on or off"):
        RunSettings(n_per_request="sometimes")
    with FakeOpenAIServer() as server:
        out = CliRunner().invoke(app, [
            "eval", "--task", "medqa", "--sample", "--model", "openai/m", "--base-url",
            server.base_url, "--n-per-request", "sometimes"])
    assert out.exit_code == 2
    assert "--n-per-request must be auto, on or off, not 'sometimes'" in out.output


def test_on_trusts_the_server_and_fails_loudly_without_n() -> None:
    with FakeOpenAIServer(n_mode="ignore") as server:
        with pytest.raises(Exception, match="n=5"):
            run(server, n_per_request="on", limit=1)


def _stored_items(db: Path) -> set[str]:
    if not db.exists():
        return set()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {row[0] for row in con.execute("SELECT item_id FROM samples")}
    except sqlite3.OperationalError:
        return set()
    finally:
        con.close()


def test_sigkill_then_resume_asks_nothing_for_finished_items(medq_home: Path) -> None:
    env = {**os.environ, "MEDQ_HOME": str(medq_home), "OPENAI_API_KEY": "dummy"}
    db = medq_home / "medq.sqlite"
    with FakeOpenAIServer(latency=0.2) as server:
        command = [sys.executable, "-m", "medq.cli", "eval", "--task", "medqa", "--sample",
                   "--limit", "30", "--strategy", SC5, "--model", "openai/fake",
                   "--base-url", server.base_url, "--concurrency", "3"]
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(_stored_items(db)) < 6 and time.monotonic() < deadline:
            assert child.poll() is None
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        finished = _stored_items(db)
        assert 6 <= len(finished) < 30, "the kill must land mid-run"
        first_part = len(server.bodies)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        resumed = list(server.bodies)[first_part:]
    with Store() as store:
        run_id = store.resolve_run_id("last")
        samples = {s.item_id: s for s in store.samples(run_id)}
        finished_prompts = {c.request["messages"][-1]["content"] for i in finished
                            for c in store.calls_for(list(samples[i].call_keys))}
    assert len(samples) == 30
    assert not [b for b in resumed if b["messages"][-1]["content"] in finished_prompts]
    # Each unfinished item is asked at most once more, all its missing samples at once.
    assert len(resumed) <= 30 - len(finished)
    assert all(1 <= b.get("n", 1) <= 5 for b in resumed)
