"""A researcher's first hour: several tasks in one command, files on disk, the plan before
the first call, budgets, discoverable strategies and tasks, listing and inspection.

Every model is the loopback OpenAI-compatible server (`medq.testing.openai_server`).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.outputs import results_schema, sample_schema
from medq.registry import UnknownNameError
from medq.tasks.groups import GROUPS, expand_tasks
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder

runner = CliRunner()


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def medq(*args: str, code: int = 0) -> CliRunner:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def live(server: FakeOpenAIServer, *args: str) -> list[str]:
    return ["eval", "--model", "openai/fake", "--base-url", server.base_url, "--sample", *args]


# -- several tasks, one table -------------------------------------------------------------


def test_task_lists_and_groups_expand() -> None:
    assert expand_tasks("medqa, medmcqa") == ["medqa", "medmcqa"]
    assert expand_tasks("multimedqa") == ["medqa", "medmcqa", "pubmedqa", "mmlu_medical"]
    assert expand_tasks("mirage") == ["mmlu_medical", "medqa", "medmcqa", "pubmedqa_noctx",
                                      "bioasq_yn"]
    assert expand_tasks("medqa,multimedqa")[0] == "medqa"  # each task once, in order
    assert len(GROUPS["medagentsbench_hard"]) == 8
    with pytest.raises(UnknownNameError, match="unknown task 'nope'.*groups: multimedqa"):
        expand_tasks("medqa,nope")


def test_two_tasks_give_one_table_with_aggregates() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        text = medq(*live(server, "--task", "medqa,medmcqa", "--limit", "10")).stdout
        assert server.count == 20
        data = json.loads(medq(*live(server, "--task", "medqa,medmcqa", "--limit", "10",
                                     "--format", "json")).stdout)
        assert server.count == 20  # the same command again resumes: no new call
    assert text.count("┏") == 1 and "medqa " in text and "medmcqa" in text
    assert "over 2 tasks (n=20): micro" in text and "macro" in text
    runs, combined = data["runs"], data["aggregate"]
    assert [r["task"] for r in runs] == ["medqa", "medmcqa"]
    correct = sum(r["correct"] for r in runs)
    assert combined["micro"]["accuracy"] == pytest.approx(correct / 20)
    assert combined["macro"]["accuracy"] == pytest.approx(
        (runs[0]["accuracy"] + runs[1]["accuracy"]) / 2)
    for estimate in ("micro", "macro"):
        assert combined[estimate]["ci_low"] <= combined[estimate]["accuracy"] \
            <= combined[estimate]["ci_high"]


def test_multimedqa_group_in_one_command() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        result = medq(*live(server, "--task", "multimedqa", "--limit", "4"))
        assert server.count == 16
    out = result.stdout
    for task in GROUPS["multimedqa"]:
        assert task in out
    assert "over 4 tasks (n=16)" in out
    assert "report medqa-direct-" in result.stderr and "stored in " in result.stderr


# -- files on disk ----------------------------------------------------------------------------


def test_output_files_validate_against_the_documented_schema(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    with FakeOpenAIServer(fixed_responder("The answer is (B).")) as server:
        medq(*live(server, "--task", "medqa,pubmedqa", "--limit", "5", "--output", str(folder)))
    results = sorted(folder.glob("results_*.json"))
    samples = sorted(folder.glob("samples_*.jsonl"))
    assert len(results) == len(samples) == 2
    for path in results:
        document = json.loads(path.read_text())
        jsonschema.validate(document, results_schema())
        shown = json.loads(medq("show", document["run_id"], "--format", "json").stdout)
        assert document == shown  # the file is `medq show --format json`
    for path in samples:
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(lines) == 5
        for line in lines:
            jsonschema.validate(line, sample_schema())
    bad = json.loads(results[0].read_text())
    del bad["accuracy"]
    with pytest.raises(jsonschema.ValidationError):  # the schema has teeth
        jsonschema.validate(bad, results_schema())


# -- no surprise cost -------------------------------------------------------------------------


def test_dry_run_makes_no_call_and_counts_the_preparation() -> None:
    strategy = "self_consistency(n=3,base=cot_few_shot(k=3,reasoning=self))"
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        out = medq(*live(server, "--task", "medqa", "--limit", "20", "--strategy", strategy,
                         "--dry-run", "--price-in", "1", "--price-out", "2")).stdout
        assert server.count == 0
    assert "items: 20 to answer of 20" in out
    assert "calls per item: about 3" in out
    assert "one-off preparation calls: 50" in out  # the bundled dev pool, reasoned once
    assert "model calls: about 110" in out and "estimated cost: $" in out
    assert "dry run: no model call was made." in out
    assert "runs" not in medq("runs").stdout.split("\n", 1)[-1]  # nothing was stored


def test_the_plan_comes_before_the_first_call() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        result = medq(*live(server, "--task", "medqa", "--limit", "3"))
    plan = result.stderr.index("calls per item: 1")
    assert plan < result.stderr.index("run medqa-direct-")


def test_max_calls_stops_cleanly_and_the_same_command_resumes() -> None:
    # One request per sample (the budget with n per request: tests/test_sampling_n.py).
    args = ["--task", "medqa", "--limit", "6", "--strategy", "self_consistency(n=3,base=cot)",
            "--n-per-request", "off"]
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        first = medq(*live(server, *args, "--max-calls", "7"))
        assert server.count == 7
        assert "stopped at --max-calls 7 after 7 new calls" in first.stderr
        shown = json.loads(medq("show", "last", "--format", "json").stdout)
        assert shown["status"] == "interrupted" and shown["n"] == 2  # 2 items of 3 calls
        medq(*live(server, *args))
        assert server.count == 18  # 6 items x 3 samples: no call was made twice
    shown = json.loads(medq("show", "last", "--format", "json").stdout)
    assert (shown["status"], shown["n"], shown["run_id"]) == ("finished", 6, shown["run_id"])


def test_temperature_and_max_tokens_reach_every_open_call() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        medq(*live(server, "--task", "medqa", "--limit", "2"))
        plain = json.loads(medq("show", "last", "--format", "json").stdout)
        medq(*live(server, "--task", "medqa", "--limit", "2", "--temperature", "0.4",
                   "--max-tokens", "32"))
        tuned = json.loads(medq("show", "last", "--format", "json").stdout)
        medq(*live(server, "--task", "medqa", "--limit", "2", "--temperature", "0.4",
                   "--strategy", "self_consistency(n=2,temperature=0.9,base=cot)"))
        bodies = server.bodies
    assert [b.get("temperature") for b in bodies[:2]] == [0.0, 0.0]
    assert [(b["temperature"], b["max_tokens"]) for b in bodies[2:4]] == [(0.4, 32)] * 2
    assert {b["temperature"] for b in bodies[4:]} == {0.9}  # the strategy fixes its own
    assert tuned["run_id"] != plain["run_id"]  # other defaults, another run
    assert tuned["provenance"]["endpoint"].endswith("#defaults:temperature=0.4,max_tokens=32")


def test_price_table_and_actual_cost(medq_home: Path) -> None:
    medq_home.mkdir(parents=True, exist_ok=True)
    (medq_home / "prices.toml").write_text('["openai/fake"]\nin = 1.0\nout = 2.0\n')
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        result = medq(*live(server, "--task", "medqa", "--limit", "2"))
    summary = json.loads(medq("show", "last", "--format", "json").stdout)
    expected = (summary["prompt_tokens"] * 1.0 + summary["completion_tokens"] * 2.0) / 1e6
    assert "estimated cost: $" in result.stderr
    assert f"cost of {summary['run_id']}: ${expected:.4f}" in result.stderr


# -- discoverable strategies and tasks --------------------------------------------------------


def test_strategy_card_lists_parameters_with_defaults() -> None:
    out = medq("strategies", "self_consistency").stdout
    for row in (("n", "int", "5"), ("temperature", "float", "0.7"), ("base", "strategy", "cot")):
        line = next(x for x in out.splitlines() if f" {row[0]} " in x and row[1] in x)
        assert row[2] in line
    assert "Wang" in out and "n × base" in out
    assert "unknown strategy" in medq("strategies", "nope", code=2).stderr


def test_task_card_says_where_the_data_comes_from() -> None:
    out = medq("tasks", "medcalc").stdout
    for text in ("1047 patient notes", "test-00000-of-00001.parquet",
                 "https://github.com/ncbi-nlp/MedCalc-Bench", "ncbi/MedCalc-Bench-v1.0@",
                 "50 items", "CC BY-SA 4.0", "Khandekar"):
        assert text in out
    assert "no bundled sample" in medq("tasks", "bioasq_yn").stdout
    assert "medqa, medmcqa, pubmedqa, mmlu_medical" in medq("tasks", "multimedqa").stdout
    assert "multimedqa" in medq("tasks").stdout


def test_help_and_version_everywhere() -> None:
    from medq import __version__

    assert medq("--version").stdout.strip() == f"medq {__version__}"
    for command in (["-h"], ["eval", "-h"], ["show", "-h"], ["runs", "-h"], ["corpus", "-h"],
                    ["corpus", "add", "-h"], ["index", "build", "-h"], ["report", "-h"]):
        assert "Usage:" in medq(*command).stdout, command


# -- listing and inspection -------------------------------------------------------------------


def test_runs_show_created_progress_accuracy_and_data_with_filters() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        medq(*live(server, "--task", "medqa,medmcqa", "--limit", "3"))
    out = medq("runs").stdout
    header = out.splitlines()[1]
    for column in ("created", "status", "n/total", "acc %", "data"):
        assert column in header
    assert "3/3" in out and "bundled sample" in out
    only = medq("runs", "--task", "medmcqa").stdout
    assert "medmcqa-direct" in only and "medqa-direct" not in only
    assert "medqa" not in medq("runs", "--status", "interrupted").stdout.split("\n", 3)[-1]


def test_show_by_an_unknown_field_lists_the_fields() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        medq(*live(server, "--task", "medqa", "--limit", "3"))
    error = medq("show", "last", "--by", "nosuchfield", code=2).stderr
    assert "no such metadata field" in error and "exam_step" in error


def test_compare_refuses_runs_that_share_no_items() -> None:
    with FakeOpenAIServer(fixed_responder("The answer is (A).")) as server:
        medq(*live(server, "--task", "medqa", "--limit", "3"))
        medq(*live(server, "--task", "pubmedqa", "--limit", "3"))
    ids = [line.split()[1] for line in medq("runs").stdout.splitlines() if "-direct-" in line]
    error = medq("compare", *ids, code=2).stderr
    assert "share no items" in error and "medqa" in error and "pubmedqa" in error


def test_sample_with_data_is_an_error(tmp_path: Path) -> None:
    error = medq("eval", "--task", "medqa", "--model", "openai/x", "--sample", "--data",
                 str(tmp_path), code=2).stderr
    assert "--sample and --data exclude each other" in error
