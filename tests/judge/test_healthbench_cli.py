"""`medq eval --task healthbench --judge …` end to end against loopback servers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from judge_helpers import write_rubric_file
from typer.testing import CliRunner

from medq.cli import app
from medq.testing.openai_server import FakeOpenAIServer, prompt_text, table_responder

runner = CliRunner()
FILE = "2025-05-07-06-14-12_oss_eval.jsonl"

ITEMS = [
    {"id": "p1", "messages": [{"role": "user", "content": "my child has a fever"}],
     "rubric": [(6, "mentions fluids", ["axis:completeness"]),
                (4, "mentions paracetamol", ["axis:accuracy"]),
                (-5, "mentions aspirin", ["axis:accuracy"])],
     "tags": ["theme:emergency_referrals"]},
    {"id": "p2", "messages": [{"role": "user", "content": "I have a headache"},
                              {"role": "assistant", "content": "How long for?"},
                              {"role": "user", "content": "two days"}],
     "rubric": [(5, "mentions rest", ["axis:completeness"]),
                (-8, "mentions aspirin", ["axis:accuracy"])],
     "tags": ["theme:context_seeking"]},
]
REPLIES = {"fever": "Give fluids and aspirin.", "two days": "Take aspirin."}
# p1: fluids (+6) and aspirin (-5) met of 10 positive: 0.1; p2: aspirin (-8) of 5: -1.6.
HAND = [0.1, -1.6]


def keyword_judge(body: dict[str, Any], index: int) -> str:
    prompt = prompt_text(body)
    criterion = re.search(r"<criterion>\n\[-?\d+\] (.*?)\n</criterion>", prompt, re.S)
    conversation = re.search(r"<conversation>\n(.*?)\n</conversation>", prompt, re.S)
    assert criterion and conversation
    reply = conversation.group(1).rsplit("assistant: ", 1)[-1]
    met = criterion.group(1).rsplit(" ", 1)[-1] in reply
    return json.dumps({"explanation": "scripted", "criteria_met": met})


def eval_args(data: Path, model: FakeOpenAIServer, *judges: FakeOpenAIServer,
              extra: tuple[str, ...] = ()) -> list[str]:
    args = ["eval", "--task", "healthbench", "--data", str(data), "--model", "openai/m",
            "--strategy", "respond", "--base-url", model.base_url, "--api-key-env", "HOME",
            "--format", "json", *extra]
    for i in range(len(judges)):
        args += ["--judge", f"openai/j{i}"]
    if judges:
        args += ["--judge-base-url", judges[0].base_url]
    return args


def test_eval_healthbench_end_to_end_matches_the_hand_score(tmp_path: Path) -> None:
    data = write_rubric_file(tmp_path / FILE, ITEMS)
    with FakeOpenAIServer(table_responder(REPLIES)) as model, \
            FakeOpenAIServer(keyword_judge) as judge:
        result = runner.invoke(app, eval_args(data, model, judge))
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert model.count == 2 and judge.count == 5
        # The conversation went to the model as it is: every turn, no system prompt added.
        assert ITEMS[1]["messages"] in [b["messages"] for b in model.bodies]
        assert all(b["temperature"] == 0 and b["seed"] == 0 for b in judge.bodies)
        shown = runner.invoke(app, ["show", summary["run_id"], "--format", "json"])
    shown_summary = json.loads(shown.stdout)
    mean = sum(HAND) / 2  # -0.75
    for s in (summary, shown_summary):
        assert s["score_unclipped"] == pytest.approx(mean)
        assert s["score"] == 0.0  # clipped only in the aggregate
        assert (s["graded"], s["ungraded"], s["ungraded_rate"]) == (2, 0, 0.0)
        assert s["ci_low"] == 0.0 and 0.0 <= s["ci_high"] <= 1.0
        assert s["judges"]["per_judge"]["judge"]["reported_models"] == ["j0"]
    text = runner.invoke(app, ["show", summary["run_id"]]).stdout
    assert "score: 0.0%" in text and "unclipped mean -75.0%" in text
    assert "HealthBench by theme: context_seeking 0.0% (n=1), emergency_referrals 10.0% " \
           "(n=1)" in text


def test_an_invalid_judge_fails_the_run_over_the_threshold(tmp_path: Path) -> None:
    data = write_rubric_file(tmp_path / FILE, ITEMS)
    with FakeOpenAIServer(table_responder(REPLIES)) as model, \
            FakeOpenAIServer(table_responder({}, default="Yes, it does.")) as judge:
        result = runner.invoke(app, eval_args(data, model, judge))
        assert judge.count == 3 * 5
    assert result.exit_code == 1
    assert "2 of 2 items (100.0%) are ungraded" in result.stderr
    assert "over --max-ungraded 1%" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["score"] is None and summary["ungraded"] == 2


def test_the_threshold_can_be_raised(tmp_path: Path) -> None:
    data = write_rubric_file(tmp_path / FILE, ITEMS)
    with FakeOpenAIServer(table_responder(REPLIES)) as model, \
            FakeOpenAIServer(table_responder({}, default="Yes.")) as judge:
        result = runner.invoke(app, eval_args(data, model, judge,
                                              extra=("--max-ungraded", "1")))
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["eval", "--task", "healthbench", "--model", "openai/m",
                              "--max-ungraded", "5"])
    assert bad.exit_code == 2 and "--max-ungraded must be a fraction" in bad.stderr


def test_dry_run_counts_judge_calls_and_makes_none(tmp_path: Path) -> None:
    data = write_rubric_file(tmp_path / FILE, ITEMS)
    result = runner.invoke(app, ["eval", "--task", "healthbench", "--data", str(data),
                                 "--model", "openai/m", "--strategy", "respond",
                                 "--judge", "openai/a", "--judge", "openai/b", "--dry-run",
                                 "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert "judge calls: 10 (2 items × their criteria × 2 judges)" in result.stdout
    assert "dry run: no model call was made." in result.stdout
    missing = runner.invoke(app, ["eval", "--task", "healthbench", "--data", str(data),
                                  "--model", "openai/m", "--dry-run"])
    assert missing.exit_code == 2 and "give --judge MODEL" in missing.stderr


def test_offline_without_data_fails_fast_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--task", "healthbench", "--model", "openai/m",
                                 "--strategy", "respond", "--judge", "openai/j",
                                 "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "HF_HUB_OFFLINE is set" in result.stderr and "--data PATH" in result.stderr
    assert "Traceback" not in result.output


def test_a_run_file_judge_table(tmp_path: Path) -> None:
    from medq.runfile import RunFileError, load_runfile

    path = tmp_path / "run.toml"
    path.write_text('task = "healthbench"\nmodel = "openai/m"\nstrategy = "respond"\n'
                    '[judge]\nmodels = ["openai/a", "openai/b"]\nbase_url = "http://j"\n'
                    'max_ungraded = 0.05\n', encoding="utf-8")
    run = load_runfile(path)
    assert [(name, ref.model, ref.base_url) for name, ref in run.spec.roles] == [
        ("judge", "openai/a", "http://j"), ("judge_2", "openai/b", "http://j")]
    assert run.max_ungraded == 0.05
    path.write_text('task = "healthbench"\nmodel = "openai/m"\n[judge]\nmodle = "x"\n',
                    encoding="utf-8")
    with pytest.raises(RunFileError, match="unknown key 'judge.modle'"):
        load_runfile(path)


def test_the_released_sample_loads_and_scores(shared_data: Path) -> None:
    """The 30 released examples (test use only): every criterion is asked once, and the
    score equals the official formula applied by hand to the judge's verdicts."""
    from medq.tasks.base import load_task

    folder = shared_data / "healthbench_sample"
    task = load_task("healthbench", folder / "healthbench_oss_eval_first30.jsonl")
    assert len(task) == 30 and sum(len(q.metadata["rubrics"]) for q in task.questions) == 352

    def even_judge(body: dict[str, Any], index: int) -> str:
        criterion = re.search(r"<criterion>\n(.*?)\n</criterion>", prompt_text(body), re.S)
        assert criterion
        return json.dumps({"criteria_met": len(criterion.group(1)) % 2 == 0})

    expected = []
    for q in task.questions:
        rubrics = q.metadata["rubrics"]
        met = [len(f"[{r['points']}] {r['criterion']}") % 2 == 0 for r in rubrics]
        possible = sum(r["points"] for r in rubrics if r["points"] > 0)
        expected.append(sum(r["points"] for r, m in zip(rubrics, met, strict=True) if m)
                        / possible)
    with FakeOpenAIServer(table_responder({}, default="See a doctor.")) as model, \
            FakeOpenAIServer(even_judge) as judge:
        result = runner.invoke(app, [
            "eval", "--task", "healthbench", "--data", str(folder / "healthbench_oss_eval_"
                                                            "first30.jsonl"),
            "--model", "openai/m", "--strategy", "respond", "--base-url", model.base_url,
            "--api-key-env", "HOME", "--judge", "openai/j", "--judge-base-url",
            judge.base_url, "--format", "json"])
        assert result.exit_code == 0, result.output
        assert judge.count == 352 and model.count == 30
    summary = json.loads(result.stdout)
    assert summary["score_unclipped"] == pytest.approx(sum(expected) / 30)


def test_max_calls_bounds_the_judge_calls_too_and_the_same_command_resumes(
        tmp_path: Path) -> None:
    """One budget over the run's model and its judges: at most K calls reach the loopback
    servers, the run stops as Ctrl-C does, and the same command finishes it without
    asking any call twice."""
    data = write_rubric_file(tmp_path / FILE, ITEMS)
    with FakeOpenAIServer(table_responder(REPLIES)) as model, \
            FakeOpenAIServer(keyword_judge) as judge:
        first = runner.invoke(app, eval_args(data, model, judge, extra=("--max-calls", "4")))
        assert first.exit_code == 0, first.output
        made = model.count + judge.count
        assert made <= 4 and judge.count >= 1
        assert f"stopped at --max-calls 4 after {made} new calls" in first.stderr
        stopped = json.loads(first.stdout)
        assert stopped["status"] == "interrupted"
        again = runner.invoke(app, eval_args(data, model, judge))
        assert again.exit_code == 0, again.output
        assert (model.count, judge.count) == (2, 5)  # no call was made twice
    summary = json.loads(again.stdout)
    assert summary["run_id"] == stopped["run_id"] and summary["status"] == "finished"
    assert summary["score_unclipped"] == pytest.approx(sum(HAND) / 2)
