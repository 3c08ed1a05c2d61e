"""The CLI end to end against a real loopback OpenAI-compatible server."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder, table_responder

runner = CliRunner()

SHOW_KEYS = {
    "run_id", "task", "model", "strategy", "n", "correct", "accuracy", "ci_low", "ci_high",
    "invalid", "truncated", "errors", "calls", "prompt_tokens", "completion_tokens",
}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def medq(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def eval_args(server: FakeOpenAIServer, *extra: str) -> list[str]:
    return ["eval", "--task", "medqa", "--sample", "--model", "openai/fake",
            "--base-url", server.base_url, *extra]


def show(run: str = "last") -> dict:
    return json.loads(medq("show", run, "--format", "json"))


def test_eval_show_export_rescore() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is **(B)**.")) as server:
        result = runner.invoke(app, eval_args(server, "--limit", "12"))
        assert result.exit_code == 0, result.output
        assert "run medqa-direct-" in result.stderr
        assert server.count == 12
    summary = show()
    assert SHOW_KEYS <= summary.keys()
    assert (summary["n"], summary["calls"], summary["invalid"], summary["errors"]) == (12, 12, 0, 0)
    assert summary["ci_low"] <= summary["accuracy"] <= summary["ci_high"]

    rows = [json.loads(line) for line in medq("export", "last").splitlines()]
    assert len(rows) == 12 and {r["choice"] for r in rows} == {"B"}
    assert sum(r["correct"] for r in rows) == summary["correct"]
    table = list(csv.DictReader(io.StringIO(medq("export", "last", "--format", "csv"))))
    assert [r["item_id"] for r in table] == [r["item_id"] for r in rows]

    # The server is gone: rescoring works from the store alone.
    assert "rescored" in medq("rescore", summary["run_id"])
    assert show()["correct"] == summary["correct"]


def test_export_parquet(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    with FakeOpenAIServer() as server:
        medq(*eval_args(server, "--limit", "3"))
    out = tmp_path / "run.parquet"
    medq("export", "last", "--format", "parquet", "-o", str(out))
    assert pq.read_table(out).num_rows == 3


def test_rerun_makes_no_calls() -> None:
    with FakeOpenAIServer() as server:
        medq(*eval_args(server, "--limit", "5"))
        medq(*eval_args(server, "--limit", "5"))
        assert server.count == 5


def test_rate_limits_are_retried_and_a_run_of_errors_fails() -> None:
    with FakeOpenAIServer(faults={"429": 2}) as server:
        medq(*eval_args(server, "--limit", "4"))
        assert server.faults_sent["429"] == 8 and server.count == 12
    assert show()["errors"] == 0

    with FakeOpenAIServer(always="400") as server:
        failed = runner.invoke(app, eval_args(server, "--limit", "3", "--seed", "7"))
    assert failed.exit_code == 1 and "HTTP 400: injected fault" in failed.stderr
    summary = show()
    assert summary["status"] == "failed" and "HTTP 400" in summary["failure"]
    assert summary["errors"] >= 1 and (summary["n"], summary["accuracy"]) == (0, None)


def test_truncation_is_counted() -> None:
    with FakeOpenAIServer(fixed_responder("Let me think about this at great length first.")) as s:
        medq(*eval_args(s, "--limit", "3", "--strategy", "direct:max_tokens=2"))
    summary = show()
    assert summary["truncated"] == 3 and summary["invalid"] == 3


def test_letter_logprob_scoring_and_missing_capability() -> None:
    with FakeOpenAIServer(table_responder({"": "C"})) as server:
        medq(*eval_args(server, "--limit", "4", "--scoring", "logprob"))
        body = server.bodies[0]
        assert body["logprobs"] is True and body["max_tokens"] == 1
    summary = show()
    assert summary["n"] == 4 and summary["invalid"] == 0

    with FakeOpenAIServer() as server:
        result = runner.invoke(
            app,
            ["eval", "--task", "medqa", "--sample", "--model", "openai/fake", "--base-url",
             server.base_url, "--scoring", "logprob", "--limit", "2", "--seed", "3"],
        )
    assert result.exit_code == 0  # the server does logprobs; now a backend that does not:
    from medq.models.openai_compat import OpenAICompatModel
    from medq.runner import EvalSpec, evaluate

    with FakeOpenAIServer(logprobs=False) as server:
        model = OpenAICompatModel("fake", base_url=server.base_url, logprobs=False)
        with pytest.raises(Exception, match="top_logprobs"):
            evaluate(EvalSpec(task="medqa", model="openai/fake", strategy="logprob:mode=letter",
                              sample=True, limit=2), model=model)
        assert server.count == 0


def test_clear_errors() -> None:
    result = runner.invoke(app, ["eval", "--task", "nope", "--model", "openai/x"])
    assert result.exit_code == 2 and "unknown task 'nope'" in result.stderr
    result = runner.invoke(app, ["eval", "--task", "medqa", "--model", "openai/x"])
    assert result.exit_code == 2 and "--data" in result.stderr
    result = runner.invoke(app, ["show", "no-such-run"])
    assert result.exit_code == 2 and "no run matches" in result.stderr
    result = runner.invoke(app, ["eval", "--task", "medqa", "--sample", "--model", "gpt-4o"])
    assert result.exit_code == 2 and "backend prefix" in result.stderr
    result = runner.invoke(
        app, ["eval", "--task", "medqa", "--sample", "--model", "openai/x", "--strategy",
              "direct:temperature=0.5"]
    )
    assert result.exit_code == 2 and "no parameter" in result.stderr
    with FakeOpenAIServer() as server:
        result = runner.invoke(app, ["eval", "--task", "medcalc", "--sample", "--model",
                                     "openai/x", "--base-url", server.base_url, "--limit", "2"])
        assert server.count == 0
    assert result.exit_code == 2 and "needs calculation answers" in result.stderr


def test_listings() -> None:
    out = medq("tasks")
    for name in ("medqa", "medqa_5opt", "medmcqa", "pubmedqa", "pubmedqa_noctx",
                 "mmlu_medical", "mmlu_anatomy", "bioasq_yn", "medagentsbench_medqa_hard"):
        assert name in out
    out = medq("strategies")
    assert "direct" in out and "cot" in out and "Kojima" in out


def test_demo_offline_says_it_replays() -> None:
    result = runner.invoke(app, ["demo", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "replaying GPT-4-32k's released MIRAGE" in result.stdout
    for task in ("medqa", "medmcqa", "mmlu_medical", "pubmedqa_noctx"):
        assert task in result.stdout
    runs = medq("runs")
    assert runs.count("replay/mirage_gpt-4-32k_cot") == 4


def test_show_breaks_accuracy_down_by_a_metadata_field() -> None:
    with FakeOpenAIServer(fixed_responder("Answer: A")) as server:
        medq(*eval_args(server, "--limit", "20"))
    summary = show()
    out = json.loads(medq("show", "last", "--format", "json", "--by", "exam_step"))
    groups = out["breakdowns"]["exam_step"]
    assert sum(g["n"] for g in groups) == summary["n"] == 20
    assert sum(g["correct"] for g in groups) == summary["correct"]
    assert {g["group"] for g in groups} <= {"step1", "step2&3", "(none)"}
    text = medq("show", "last", "--by", "exam_step")
    assert "by exam_step" in text and "step1" in text

