"""`--probe open_ended`: a multiple-choice task without its options, the answer judged."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import rescore
from medq.store import Store
from medq.tasks.base import load_task
from medq.testing.openai_server import FakeOpenAIServer, prompt_text

runner = CliRunner()
# The model's free-text replies for the first three MedQA sample items: 0000 right,
# 0001 right among other candidates (partially), 0002 wrong.
REPLIES = {
    "correct next action for the resident": "He should tell the attending that he cannot "
                                            "fail to disclose this mistake.",
    "most likely due to which": "Cross-linking of DNA, or perhaps tubulin binding.",
    "most likely cause of this patient": "Renal artery stenosis.",
}


def expert(body: dict[str, Any], index: int) -> str:
    text = prompt_text(body)
    if "\nA. " in text:  # the multiple-choice prompt lists the options
        return "Answer: B"
    return next(reply for key, reply in REPLIES.items() if key in text)


def grading_judge(body: dict[str, Any], index: int) -> str:
    prompt = prompt_text(body)
    reference = re.search(r"<reference_answer>\n(.*?)\n</reference_answer>", prompt, re.S)
    answer = re.search(r"<answer_to_grade>\n(.*?)\n</answer_to_grade>", prompt, re.S)
    assert reference and answer
    ref, said = reference.group(1).lower(), answer.group(1).lower()
    grade = ("incorrect" if ref not in said else
             "partially_correct" if " or " in said else "correct")
    return json.dumps({"explanation": "scripted", "grade": grade})


def test_the_probe_removes_options_and_keeps_the_gold_text() -> None:
    from medq.probes.base import apply_probes, probe_grading

    task = load_task("medqa", sample=True)
    probed = apply_probes(task.questions[:2], ["open_ended"], seed=0).questions
    q, original = probed[0], task.questions[0]
    assert q.id == "0000~open" and q.options == {}
    assert q.metadata["reference"] == original.options[original.gold]
    assert q.gold == original.gold and q.metadata["probe"]["of"] == "0000"
    assert q.metadata["messages"] == [{"role": "user", "content": original.stem}]
    grading = probe_grading(["open_ended"])
    assert grading is not None and grading.apply(task).answer_kind == "free_text"
    with pytest.raises(ValueError, match="must be the last probe"):
        probe_grading(["open_ended", "nota"])


def test_open_ended_run_is_judged_and_pairs_with_the_mcq_run() -> None:
    with FakeOpenAIServer(expert) as model, \
            FakeOpenAIServer(grading_judge) as judge:
        common = ["--task", "medqa", "--sample", "--limit", "3", "--model", "openai/m",
                  "--base-url", model.base_url, "--api-key-env", "HOME", "--format", "json"]
        opened = runner.invoke(app, ["eval", *common, "--probe", "open_ended", "--strategy",
                                     "respond", "--judge", "openai/j", "--judge-base-url",
                                     judge.base_url])
        assert opened.exit_code == 0, opened.output
        assert judge.count == 3
        # The model never saw an option.
        sent = [b["messages"][-1]["content"] for b in model.bodies]
        assert not any("A." in text and "B." in text for text in sent)
        mcq = runner.invoke(app, ["eval", *common])
        assert mcq.exit_code == 0, mcq.output
    s = json.loads(opened.stdout)
    assert s["accuracy"] == pytest.approx(1 / 3)  # only 0000 is fully correct
    assert s["score"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert (s["graded"], s["ungraded"]) == (3, 0)
    mcq_id = json.loads(mcq.stdout)["run_id"]
    assert json.loads(mcq.stdout)["accuracy"] == pytest.approx(2 / 3)  # B, B, B vs B, D, B
    compared = runner.invoke(app, ["probe", "--clean", mcq_id, "--run", s["run_id"],
                                   "--format", "json"])
    assert compared.exit_code == 0, compared.output
    row = json.loads(compared.stdout)["rows"][0]
    # Paired by original item: MCQ right on 0000 and 0002, open-ended right on 0000 only.
    assert row["n_paired"] == 3
    assert (row["clean_accuracy"], row["paired_accuracy"]) == pytest.approx((2 / 3, 1 / 3))
    assert row["delta"] == pytest.approx(-1 / 3)
    with Store() as store:
        run = store.run(s["run_id"])
        assert run["info"]["identity"]["probes"]["specs"] == ["open_ended"]
        assert "judge_open_ended" in run["info"]["prompts"]
        again = rescore(s["run_id"], store=store)
    assert again.summary["score"] == pytest.approx(0.5) and again.summary["rescore"]["kept"] == {}
    from medq.report import build_report

    with Store(readonly=True) as store:
        md = build_report(store, [s["run_id"]], "markdown", progress=False)
    # Both numbers, each under its own name: accuracy (correct only) and the judged score
    # (partial credit); the judge has no meta-evaluation, and the report says so.
    row = next(x for x in md.splitlines() if x.startswith("| 1 |"))
    assert "| 33.3 |" in row and "| 50.0 (" in row and "| 0 of 3 (0.0%) |" in row
    assert "| judge | openai/j | 50.0 | 3 | 3 | 0 | 0 | no meta-evaluation for this judge |" in md


def test_a_multiple_choice_strategy_cannot_answer_the_open_variant() -> None:
    result = runner.invoke(app, ["eval", "--task", "medqa", "--sample", "--model", "openai/m",
                                 "--probe", "open_ended", "--judge", "openai/j",
                                 "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "needs free_text answers" in result.stderr
    unknown = runner.invoke(app, ["eval", "--task", "medqa", "--sample", "--model",
                                  "openai/m", "--probe", "closed", "--base-url",
                                  "http://127.0.0.1:9"])
    assert unknown.exit_code == 2 and "unknown probe 'closed'" in unknown.stderr
