"""``--concurrency auto`` against the loopback server's rate limit (`max_concurrent`).

The server counts requests in flight itself and answers 429 (Retry-After, x-ratelimit
headers) above its limit, so what is asserted here is what the server saw.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.registry import tasks
from medq.runfile import RunFileError, load_runfile
from medq.runner import EvalSpec, evaluate, prepare_run, run_id_for
from medq.store import Store
from medq.tasks.base import Task
from medq.testing.openai_server import FakeOpenAIServer
from medq.types import Question

runner = CliRunner()


def _questions(n: int) -> tuple[Question, ...]:
    return tuple(
        Question(id=f"a{i:04d}", stem=f"Adaptive question number {i}?",
                 options={"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"},
                 gold="ABCD"[i % 4])
        for i in range(n))


@tasks.register("adaptive240")
def adaptive240(data: Path | None, sample: bool) -> Task:
    return Task("adaptive240", _questions(240), "240 generated items.", "generated", "test")


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


def _call_errors(store: Store) -> int:
    db = sqlite3.connect(store.path)
    try:
        return int(db.execute("SELECT COUNT(*) FROM call_errors").fetchone()[0])
    finally:
        db.close()


def test_auto_converges_below_a_server_limit_with_no_exhausted_retry(tmp_path: Path) -> None:
    limit = 6  # below the start of 8: the first burst meets 429s
    with FakeOpenAIServer(latency=0.03, max_concurrent=limit, retry_after="0") as server, \
            Store(tmp_path / "s.sqlite") as store:
        spec = EvalSpec(task="adaptive240", model="openai/fake", base_url=server.base_url)
        # max_error_rate 0: a 429 that a retry answers is no error against the bound.
        result = evaluate(spec, store=store, concurrency="auto", max_error_rate=0.0,
                          progress=False)
        info = store.run(result.run_id)["info"]
        samples = list(store.samples(result.run_id))
        errors = _call_errors(store)
    assert result.summary["errors"] == 0 and errors == 0  # no retry ran out
    assert len(samples) == 240 and all(s.status != "error" for s in samples)
    assert server.rate_limited > 0  # the limit was met, and answered
    window = info["window"]
    assert window["mode"] == "auto" and window["rate_limited"] == server.rate_limited
    assert window["decreases"] >= 1
    # Converged near the limit: never halved below half of it at the end, never above it
    # for long (a size above the limit would keep drawing 429s and halvings).
    assert limit // 2 <= window["final"] <= limit
    sizes = [n for _, n in window["trajectory"]]
    assert max(sizes[len(sizes) // 2:]) <= limit + 1
    assert info["concurrency"] == "auto" and info["max_concurrency"] == 64


def test_auto_never_exceeds_max_concurrency(tmp_path: Path) -> None:
    with FakeOpenAIServer(latency=0.02) as server, Store(tmp_path / "s.sqlite") as store:
        spec = EvalSpec(task="adaptive240", model="openai/fake", base_url=server.base_url)
        result = evaluate(spec, store=store, concurrency="auto", max_concurrency=12,
                          progress=False)
        window = store.run(result.run_id)["info"]["window"]
    # No limit and no headers: nothing stops it but its ceiling, which it reaches.
    assert server.max_in_flight == 12
    assert (window["start"], window["peak"], window["final"], window["ceiling"]) == (8, 12, 12,
                                                                                    12)
    assert window["rate_limited"] == 0 and window["decreases"] == 0


def test_concurrency_is_not_part_of_the_run_identity(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server, Store(tmp_path / "s.sqlite") as store:
        spec = EvalSpec(task="adaptive240", model="openai/fake", base_url=server.base_url,
                        limit=10)
        fixed = evaluate(spec, store=store, concurrency=3, progress=False)
        sent = server.count
        auto = evaluate(spec, store=store, concurrency="auto", max_concurrency=5,
                        progress=False)
        identity = prepare_run(spec, server.base_url).identity
    assert fixed.run_id == auto.run_id == run_id_for(spec)
    assert auto.new_calls == 0 and server.count == sent == 10  # the same run, resumed
    assert not {"concurrency", "max_concurrency", "window"} & set(identity)


def test_cli_auto_prints_the_window_and_stores_it() -> None:
    with FakeOpenAIServer(latency=0.01, max_concurrent=3, retry_after="0") as server:
        result = runner.invoke(app, ["eval", "--task", "adaptive240", "--model", "openai/fake",
                                     "--base-url", server.base_url, "--limit", "60",
                                     "--concurrency", "auto", "--max-concurrency", "4"])
        assert server.max_in_flight <= 4
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("auto window")]
    assert "ceiling 4" in line and "× 429" in line
    with Store(readonly=True) as store:
        (run,) = store.runs()
        info = store.run(run["run_id"])["info"]
    assert info["concurrency"] == "auto" and info["window"]["ceiling"] == 4


@pytest.mark.parametrize(("flags", "message"), [
    (["--concurrency", "fast"], "--concurrency must be an integer >= 1 or auto, not 'fast'"),
    (["--concurrency", "0"], "--concurrency must be an integer >= 1 or auto, not 0"),
    (["--concurrency", "auto", "--max-concurrency", "0"],
     "--max-concurrency must be an integer >= 1, not 0"),
])
def test_bad_concurrency_flags_are_one_line_before_any_call(flags: list[str],
                                                            message: str) -> None:
    with FakeOpenAIServer() as server:
        result = runner.invoke(app, ["eval", "--task", "medqa", "--sample", "--model",
                                     "openai/fake", "--base-url", server.base_url, *flags])
        assert server.count == 0
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


def test_run_files_take_auto(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('task = "medqa"\nmodel = "openai/x"\nconcurrency = "auto"\n'
                    "max_concurrency = 20\n", encoding="utf-8")
    run = load_runfile(path)
    assert (run.concurrency, run.settings.max_concurrency, run.settings.ceiling) == (
        "auto", 20, 20)
    assert load_runfile(path, concurrency="6").settings.concurrency == 6  # a flag wins
    path.write_text('task = "medqa"\nmodel = "openai/x"\nconcurrency = "fast"\n',
                    encoding="utf-8")
    with pytest.raises(RunFileError, match=r"run file .*run.toml: concurrency must be an "
                                           r"integer >= 1 or auto, not 'fast'"):
        load_runfile(path)
    result = runner.invoke(app, ["eval", "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: run file {path}: concurrency must be an integer >= 1 or auto, not 'fast'"]


def test_the_progress_bar_shows_the_window(medq_home: Path) -> None:
    from tests.test_progress import on_a_terminal

    with FakeOpenAIServer(latency=0.05, max_concurrent=3, retry_after="0") as server:
        code, _, shown = on_a_terminal(["eval", "--task", "medqa", "--sample", "--model",
                                        "openai/fake", "--base-url", server.base_url,
                                        "--concurrency", "auto"], medq_home)
    assert code == 0, shown
    assert re.search(r"medqa · direct · window \d+/64, \d+ × 429", shown), shown
