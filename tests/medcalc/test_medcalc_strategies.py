"""The calculation strategies with the scripted model: prompts, parsing, the one-shot
example, and calculator_tool end to end through the runner."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from medq.registry import tasks
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.strategies.base import build_strategy
from medq.tasks import load_task
from medq.tasks.base import Task
from medq.tasks.medcalc import official_score
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question, Status

# Rows of the bundled sample and the call a careful model would make for each.
TOOL_CALLS = {
    "61": {"calculator": "mean_arterial_pressure",
           "arguments": {"systolic_bp": 140, "diastolic_bp": 80}},
    "81": {"calculator": "body_mass_index",
           "arguments": {"weight": {"value": 10.2, "unit": "kg"},
                         "height": {"value": 83.8, "unit": "cm"}}},
    "928": {"calculator": "estimated_due_date",
            "arguments": {"last_menstrual_period": "12/11/2013", "cycle_length": 22}},
    "1028": {"calculator": "gestational_age",
             "arguments": {"last_menstrual_period": "03/23/2020", "current_date": "03/29/2020"}},
}


@tasks.register("medcalc_tool_toy")
def medcalc_tool_toy(data: Path | None, sample: bool) -> Task:
    full = load_task("medcalc", sample=True)
    keep = tuple(q for q in full.questions if q.id in {*TOOL_CALLS, "62", "82"})
    return replace(full, name="medcalc_tool_toy", questions=keep)


# A task factory declares its scoring like a TaskSpec does: summarize and rescore read these.
medcalc_tool_toy.scorer = tasks.get("medcalc").scorer  # type: ignore[attr-defined]
medcalc_tool_toy.metrics = tasks.get("medcalc").metrics  # type: ignore[attr-defined]


def sample_question(row: str) -> Question:
    return next(q for q in load_task("medcalc", sample=True).questions if q.id == row)


def note_of(request: GenerationRequest) -> str:
    return request.messages[1].content


async def test_calc_direct_sends_the_official_prompt() -> None:
    question = sample_question("61")
    model = ScriptedModel(lambda r: '{"answer": "100.0 mm Hg"}')
    solve = build_strategy(StrategySpec.parse("calc_direct"), seed=0)
    answer = await solve(question, model)
    assert (answer.choice, answer.status, answer.details["method"]) == ("100.0", Status.OK, "json")
    assert official_score(question, answer.choice)
    system, user = model.calls[0].messages
    assert system.content.endswith('{"answer": str(value which is the answer to the question)}.')
    assert user.content.startswith("Here is the patient note:\n" + (question.context or "")[:40])
    assert f"Here is the task:\n{question.stem}" in user.content


async def test_calc_cot_keeps_the_reasoning() -> None:
    model = ScriptedModel(lambda r: '{"step_by_step_thinking": "MAP = (2*80+140)/3", '
                          '"answer": "100"}')
    answer = await build_strategy(StrategySpec.parse("calc_cot"), seed=0)(
        sample_question("61"), model)
    assert answer.choice == "100"
    assert answer.details["step_by_step_thinking"] == "MAP = (2*80+140)/3"
    assert "step-by-step" in model.calls[0].messages[0].content


async def test_one_shot_cot_never_uses_the_test_row() -> None:
    task = load_task("medcalc", sample=True)
    solve = build_strategy(StrategySpec.parse("one_shot_cot"), seed=0, task=task)
    model = ScriptedModel(lambda r: '{"step_by_step_thinking": "...", "answer": "1"}')
    for question in task.questions:
        answer = await solve(question, model)
        example = answer.details["example"]
        assert example != question.id
        chosen = next(q for q in task.questions if q.id == example)
        assert chosen.metadata["calculator_id"] == question.metadata["calculator_id"]
        system = model.calls[-1].messages[0].content
        assert json.dumps(chosen.metadata["explanation"]) in system
        assert json.dumps(question.metadata["explanation"]) not in system
        assert (question.context or "") not in system


async def test_one_shot_cot_without_another_row_is_an_error_item() -> None:
    question = sample_question("61")
    lonely = Task("t", (question,), "", "", "test", official_score)
    solve = build_strategy(StrategySpec.parse("one_shot_cot"), seed=0, task=lonely)
    answer = await solve(question, ScriptedModel(lambda r: "unused"))
    assert answer.status is Status.ERROR and "no other row" in (answer.reason or "")
    with pytest.raises(StrategySpecError, match="task"):
        build_strategy(StrategySpec.parse("one_shot_cot"), seed=0)


@pytest.mark.parametrize("name", ["calc_direct", "calc_cot", "calculator_tool"])
async def test_calculation_strategy_refuses_multiple_choice(name: str) -> None:
    question = Question("q1", "Which?", {"A": "x", "B": "y"}, "A")
    solve = build_strategy(StrategySpec.parse(name), seed=0)
    with pytest.raises(StrategySpecError, match="multiple choice"):
        await solve(question, ScriptedModel(lambda r: "A"))


def test_calculator_tool_end_to_end() -> None:
    notes = {sample_question(row).context: call for row, call in TOOL_CALLS.items()}
    repaired_note = sample_question("62").context
    broken_note = sample_question("82").context

    def respond(request: GenerationRequest) -> str:
        note = next(n for n in [*notes, repaired_note, broken_note] if n and n in note_of(request))
        if note in notes:
            return json.dumps(notes[note])
        if note == repaired_note:
            if len(request.messages) == 2:  # first try: a unit the calculator does not know
                return json.dumps({"calculator": "mean_arterial_pressure", "arguments": {
                    "systolic_bp": {"value": 80, "unit": "furlongs"}, "diastolic_bp": 45}})
            assert "could not be computed" in request.messages[-1].content
            return json.dumps({"calculator": "mean_arterial_pressure",
                               "arguments": {"systolic_bp": 80, "diastolic_bp": 45}})
        return "I think the BMI is about 24."

    model = ScriptedModel(respond)
    with Store() as store:
        result = evaluate(EvalSpec(task="medcalc_tool_toy", model="scripted/test",
                                   strategy="calculator_tool"),
                          store=store, model=model, progress=False)
        samples = {s["item_id"]: s for s in store.samples(result.run_id)}
    summary = result.summary
    # Row 928's label adds (28 - cycle length) days to Naegele's rule where the published
    # rule adds (cycle length - 28): whether it counts depends on the calculator, not on us.
    due_date_hit = samples["928"]["correct"]
    assert (summary["n"], summary["correct"], summary["invalid"]) == (6, 4 + due_date_hit, 1)
    assert summary["calls"] == 8  # 4 + 2 (repaired) + 2 (failed twice)
    assert samples["61"]["details"]["calculator"] == "mean_arterial_pressure"
    assert samples["61"]["details"]["arguments"] == {"systolic_bp": 140, "diastolic_bp": 80}
    assert samples["81"]["details"]["parameters"]["weight"] is not None
    assert re.fullmatch(r"\d\d/\d\d/\d{4}", samples["928"]["choice"])
    assert samples["1028"]["choice"] == "(0 weeks, 6 days)"
    assert samples["62"]["details"]["repaired"] is True
    assert "furlongs" in samples["62"]["details"]["attempts"][0]["error"]
    assert samples["82"]["status"] == "invalid" and "calculator" in samples["82"]["reason"]
    assert summary["medcalc"]["overall"]["correct"] == 4 + due_date_hit
    system = model.calls[0].messages[0].content
    assert "mean_arterial_pressure: Mean Arterial Pressure" in system
