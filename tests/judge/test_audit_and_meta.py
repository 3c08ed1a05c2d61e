"""The extraction audit and the judge meta-evaluation, with scripted judges."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.judge.audit import audit_extraction
from medq.judge.meta import meta_evaluate, pairwise_metrics, read_meta
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.judges import judged_parts, rubric_judge
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.testing.scripted import ScriptedModel, table
from medq.types import GenerationRequest

runner = CliRunner()
# The model's replies; medq's extractor reads B, C, (nothing), and D.
REPLIES = {"junior orthopaedic": "Answer: B", "transitional cell": "I lean to A. Answer: C",
           "Two weeks after": "Hard to say.", "39-year-old woman": "Answer: D"}


def extraction_judge(request: GenerationRequest) -> str:
    text = judged_parts(request)["response"]
    if "Hard to say" in text:
        return json.dumps({"choice": None})
    if "lean to A" in text:
        return json.dumps({"choice": "A"})  # the judge reads this one differently
    if "Answer: D" in text:
        return "D, clearly."  # never valid: ungraded after the re-asks
    return json.dumps({"explanation": "states B", "choice": text.split()[-1]})


def test_the_audit_compares_the_extractor_with_the_judge_and_changes_nothing() -> None:
    model = ScriptedModel(table(REPLIES), name="scripted/m")
    run = evaluate(EvalSpec("medqa", "scripted/m", sample=True, limit=4), model=model,
                   progress=False)
    judge = ScriptedModel(extraction_judge, name="scripted/judge")
    with Store() as store:
        before = [s.row() for s in store.samples(run.run_id)]
        audit = asyncio.run(audit_extraction(run.run_id, store, [("scripted/judge", judge)]))
        after = [s.row() for s in store.samples(run.run_id)]
        assert after == before  # the run's results are untouched
        again = asyncio.run(audit_extraction(run.run_id, store, [("scripted/judge", judge)]))
    assert (audit.responses, audit.judged, audit.agreed, audit.ungraded) == (4, 3, 2, 1)
    assert [(d.item_id, d.medq, d.judge) for d in audit.disagreements] == [("0001", "C", "A")]
    assert audit.agreement == pytest.approx(2 / 3)
    assert again.new_calls == 0 and again.agreed == audit.agreed
    # The judge saw the question and the options as presented.
    first = judge.calls[0].messages[0].content
    assert "A junior orthopaedic" in first and "\nA. " in first


def test_audit_extraction_command_against_a_loopback_judge() -> None:
    model = ScriptedModel(table(REPLIES), name="scripted/m")
    run = evaluate(EvalSpec("medqa", "scripted/m", sample=True, limit=4), model=model,
                   progress=False)
    with FakeOpenAIServer(fixed_responder('{"choice": "B"}')) as judge:
        result = runner.invoke(app, ["audit-extraction", run.run_id, "--judge", "openai/j",
                                     "--judge-base-url", judge.base_url,
                                     "--judge-api-key-env", "HOME"])
    assert result.exit_code == 0, result.output
    assert "agree on 1 of 4 responses (25.0%" in result.stdout
    assert "0001 #0: medq C, judge B" in result.stdout


def test_audit_extraction_takes_an_adaptive_window_and_names_a_bad_one() -> None:
    model = ScriptedModel(table(REPLIES), name="scripted/m")
    run = evaluate(EvalSpec("medqa", "scripted/m", sample=True, limit=4), model=model,
                   progress=False)
    with FakeOpenAIServer(fixed_responder('{"choice": "B"}')) as judge:
        args = ["audit-extraction", run.run_id, "--judge", "openai/j", "--judge-base-url",
                judge.base_url, "--judge-api-key-env", "HOME"]
        adaptive = runner.invoke(app, [*args, "--concurrency", "auto",
                                       "--max-concurrency", "4"])
        bad = runner.invoke(app, [*args, "--concurrency", "fast"])
        assert judge.max_in_flight <= 4
    assert adaptive.exit_code == 0, adaptive.output
    assert "agree on 1 of 4 responses" in adaptive.stdout
    assert bad.exit_code == 2 and "concurrency" in bad.stderr and "auto" in bad.stderr
    assert "Traceback" not in bad.output


def test_pairwise_metrics_match_the_reference_test_values() -> None:
    # simple-evals' healthbench_meta_eval_test: precision pos (2+0+0)/(3+0+1), neg 1/2;
    # recall pos 2/3, neg 1/3.
    m = pairwise_metrics([True, False, True], [[True, True, False], [True, False], [False]])
    f1_pos = 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)
    f1_neg = 2 * 0.5 * (1 / 3) / (0.5 + 1 / 3)
    assert m["pairs"] == 6
    assert m["f1_pos"] == pytest.approx(f1_pos) and m["f1_neg"] == pytest.approx(f1_neg)
    assert m["macro_f1"] == pytest.approx((f1_pos + f1_neg) / 2)
    # Pairs (T,T) ×2, (T,F) ×2, (F,T), (F,F): p_o 3/6, p_e (4·3 + 2·3) / 36 = 1/2: kappa 0.
    assert m["kappa"] == pytest.approx(0.0)


def test_judge_meta_grades_rows_and_is_saved_for_judged_runs(tmp_path: Path) -> None:
    rows = [
        {"prompt": [{"role": "user", "content": "fever?"}], "completion": "drink fluids",
         "rubric": "[5] mentions fluids", "category": "cluster:a",
         "binary_labels": [True, True], "completion_id": "c1"},
        {"prompt": [{"role": "user", "content": "fever?"}], "completion": "drink fluids",
         "rubric": "[3] mentions rest", "category": "cluster:a",
         "binary_labels": [False, True], "completion_id": "c1"},
        {"prompt": [{"role": "user", "content": "cough?"}], "completion": "rest",
         "rubric": "[4] mentions rest", "category": "cluster:b",
         "binary_labels": [True], "completion_id": "c2"},
    ]
    path = tmp_path / "meta.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    judge = ScriptedModel(rubric_judge(lambda reply, c: c.rsplit(" ", 1)[-1] in reply))
    with Store() as store:
        result = asyncio.run(meta_evaluate(read_meta(path), [("scripted/j", judge)], store))
    # Judge: met, not met, met; pairs (T,T) (T,T) (F,F) (F,T) (T,T).
    assert (result.rows, result.judged, result.ungraded) == (3, 3, 0)
    assert result.overall == pairwise_metrics([True, False, True],
                                              [[True, True], [False, True], [True]])
    assert result.overall["precision_pos"] == 1.0 and result.overall["recall_pos"] == 0.75
    assert set(result.by_category) == {"cluster:a", "cluster:b"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "binary_labels": ["yes"]}) + "\n", encoding="utf-8")
    failed = runner.invoke(app, ["judge", "meta", "--data", str(bad), "--judge", "openai/j"])
    assert failed.exit_code == 2
    assert "bad.jsonl, line 1: field 'binary_labels'" in failed.stderr


def test_a_saved_meta_eval_appears_beside_the_judged_score(tmp_path: Path, judges) -> None:
    from judge_helpers import write_rubric_file

    from medq.judge.meta import MetaEvaluation, save_meta
    from medq.prompts import prompt_hash
    from medq.runner import ModelRef

    with Store() as store:
        save_meta(MetaEvaluation(("judgetest/kw",), prompt_hash("judge_rubric"), 10, 9, 1,
                                 {"macro_f1": 0.7, "kappa": 0.4, "pairs": 20}), store)
    data = write_rubric_file(tmp_path / "2025-05-07-06-14-12_oss_eval.jsonl", [
        {"id": "x", "messages": [{"role": "user", "content": "q"}],
         "rubric": [(1, "mentions A")]}])
    judges["kw"] = rubric_judge(lambda reply, c: True)
    result = evaluate(EvalSpec("healthbench", "scripted/m", "respond", data=str(data),
                               roles={"judge": ModelRef("judgetest/kw")}),
                      model=ScriptedModel(lambda r: "A"), progress=False)
    meta = result.summary["judges"]["meta"]
    assert (meta["macro_f1"], meta["kappa"], meta["judged"]) == (0.7, 0.4, 9)
    assert result.summary["judges"]["per_judge"]["judge"]["meta"] == meta
