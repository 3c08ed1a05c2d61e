"""Self-refine: answer, review, revise until the review approves or rounds run out."""

from __future__ import annotations

import pytest
from tests.strategies.conftest import RunTiny

from medq.run_settings import RunFailedError
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies.self_refine import self_refine
from medq.testing.scripted import ScriptedModel, failing, table
from medq.types import GenerationRequest, Question, Status

QUESTION = Question("q1", "Which drug?", {"A": "aspirin", "B": "heparin", "C": "warfarin"}, "B")
REVIEW = "Critically review a proposed solution"
REVISE = "Revise a solution"


def revisions(request: GenerationRequest) -> str:
    """Revision k (k = how many revisions the prompt's solution has) answers B then C..."""
    solution = request.messages[-1].content.split("Original solution:")[1]
    k = solution.count("revision")
    return f"revision {k + 1} " + "revision " * k + f"\nAnswer: {'BC'[min(k, 1)]}"


def reviews(*verdicts: str):  # noqa: ANN201
    seen: list[int] = []

    def respond(request: GenerationRequest) -> str:
        seen.append(1)
        return f"Looked again.\n{verdicts[min(len(seen), len(verdicts)) - 1]}"

    return respond


async def test_approval_at_the_first_review_makes_two_calls() -> None:
    model = ScriptedModel(table({REVIEW: "Fine.\nVerdict: correct"}, default="Hmm.\nAnswer: A"))
    answer = await self_refine()(QUESTION, model)
    assert len(model.recorded) == 2
    assert (answer.choice, answer.details["reviews"]) == ("A", [True])


async def test_never_approved_makes_one_plus_two_per_round_and_keeps_the_last_revision() -> None:
    model = ScriptedModel(
        table(
            {REVIEW: "Verdict: incorrect. The dose is wrong.", REVISE: revisions},
            default="Answer: A",
        )
    )
    answer = await self_refine(rounds=3)(QUESTION, model)
    kinds = [
        "review" if REVIEW in c.prompt else "revise" if REVISE in c.prompt else "first"
        for c in model.recorded
    ]
    assert kinds == ["first", "review", "revise", "review", "revise", "review", "revise"]
    assert answer.choice == "C"
    assert answer.details["reviews"] == [False, False, False]
    first_revision = model.prompts(REVISE)[0]
    assert "Answer: A" in first_revision and "The dose is wrong." in first_revision
    assert {c.temperature for c in model.recorded} == {0.0}


async def test_approval_in_round_two_stops_after_four_calls() -> None:
    model = ScriptedModel(
        table(
            {REVIEW: reviews("Verdict: incorrect", "Verdict: correct"), REVISE: revisions},
            default="Answer: A",
        )
    )
    answer = await self_refine()(QUESTION, model)
    assert len(model.recorded) == 4
    assert (answer.choice, answer.details["reviews"]) == ("B", [False, True])
    assert "revision 1" in model.prompts(REVIEW)[1]


async def test_an_unparseable_review_is_not_an_approval() -> None:
    model = ScriptedModel(table({REVIEW: "Who knows.", REVISE: revisions}, default="Answer: A"))
    answer = await self_refine(rounds=1)(QUESTION, model)
    assert len(model.recorded) == 3 and answer.details["reviews"] == [None]


async def test_zero_rounds_is_plain_chain_of_thought() -> None:
    model = ScriptedModel(table({}, default="Answer: C"))
    answer = await self_refine(rounds=0)(QUESTION, model)
    assert (len(model.recorded), answer.choice, answer.status) == (1, "C", Status.OK)


def test_failed_review_is_an_error_in_the_run() -> None:
    spec = EvalSpec(task="medqa", sample=True, limit=1, model="s/sr", strategy="self_refine")
    model = ScriptedModel(table({REVIEW: failing("reviewer down")}, default="Answer: A"))
    with Store() as store:
        with pytest.raises(RunFailedError, match="all 1 items failed") as failed:
            evaluate(spec, store=store, model=model, progress=False)
        (row,) = store.samples(failed.value.run_id)
    assert (row["status"], row["choice"], row["calls"]) == (
        "error",
        None,
        1,
    )  # the failed call is logged apart


@pytest.mark.slow
def test_end_to_end_on_the_tiny_local_model(run_tiny: RunTiny) -> None:
    rows = run_tiny("self_refine:rounds=1,max_tokens=8")
    assert all(r["calls"] in (2, 3) for r in rows)  # garbage review: almost surely revised
    assert {r["status"] for r in rows} <= {"ok", "invalid"}
