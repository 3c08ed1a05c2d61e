"""Verification of choice: one verification call per option, then one decision."""

from __future__ import annotations

import pytest
from tests.strategies.conftest import RunTiny

from medq.models.base import ModelError
from medq.run_settings import RunFailedError
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies.verification_of_choice import verification_of_choice
from medq.testing.scripted import ScriptedModel, failing, table
from medq.types import GenerationRequest, Question, Status

OPTIONS = {"A": "aspirin", "B": "heparin", "C": "warfarin", "D": "alteplase", "E": "clopidogrel"}
QUESTION = Question("q1", "Which drug?", OPTIONS, "B")
VERIFY = "Option to verify:"
DECIDE = "has been verified independently"


def verdict(request: GenerationRequest) -> str:
    letter = request.messages[-1].content.split(VERIFY)[1].split(".")[0].strip()
    return f"Checking {letter}.\nVerdict: {'correct' if letter == 'B' else 'incorrect'}"


async def test_one_verification_per_option_then_one_decision() -> None:
    model = ScriptedModel(table({DECIDE: "Weighing them.\nAnswer: B", VERIFY: verdict}))
    answer = await verification_of_choice()(QUESTION, model)
    verifications = model.prompts(VERIFY)
    assert len(model.recorded) == len(OPTIONS) + 1 == 6
    assert sorted(p.split(VERIFY)[1].strip() for p in verifications) == [
        f"{x}. {t}" for x, t in OPTIONS.items()
    ]
    assert {c.temperature for c in model.recorded} == {0.0}
    (decision,) = model.prompts(DECIDE)
    assert model.recorded[-1].prompt == decision
    for letter in OPTIONS:
        assert f"Checking {letter}.\nVerdict:" in decision
    assert decision.index("Checking A.") < decision.index("Checking E.")
    assert (answer.choice, answer.status) == ("B", Status.OK)
    assert answer.details["verdicts"] == {x: x == "B" for x in OPTIONS}


async def test_the_decision_is_extracted_never_taken_from_the_verdicts() -> None:
    model = ScriptedModel(table({DECIDE: "They all look fine to me.", VERIFY: verdict}))
    answer = await verification_of_choice()(QUESTION, model)
    assert (answer.choice, answer.status) == (None, Status.INVALID)


async def test_a_failed_verification_fails_the_item() -> None:
    model = ScriptedModel(table({"C. warfarin": failing("down"), VERIFY: verdict}, default="x"))
    with pytest.raises(ModelError):
        await verification_of_choice()(QUESTION, model)
    assert not model.prompts(DECIDE)


def test_failed_sub_call_is_an_error_in_the_run() -> None:
    spec = EvalSpec(
        task="medqa", sample=True, limit=1, model="s/v", strategy="verification_of_choice"
    )
    model = ScriptedModel(table({VERIFY: "Verdict: correct", DECIDE: failing("decider down")}))
    with Store() as store:
        with pytest.raises(RunFailedError, match="all 1 items failed") as failed:
            evaluate(spec, store=store, model=model, progress=False)
        (row,) = store.samples(failed.value.run_id)
    assert (row["status"], row["choice"], row["calls"]) == (
        "error",
        None,
        4,
    )  # the failed call is logged apart


@pytest.mark.slow
def test_end_to_end_on_the_tiny_local_model(run_tiny: RunTiny) -> None:
    rows = run_tiny("verification_of_choice:max_tokens=8")
    assert [r["calls"] for r in rows] == [5, 5]  # 4 options + 1
    assert {r["status"] for r in rows} <= {"ok", "invalid"}
