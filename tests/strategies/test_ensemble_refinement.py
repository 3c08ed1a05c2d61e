"""Ensemble refinement: n sampled paths, m refinements conditioned on all of them, vote."""

from __future__ import annotations

import pytest
from tests.strategies.conftest import RunTiny

from medq.models.base import ModelError
from medq.registry import strategies
from medq.run_settings import RunFailedError
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies._shared.spec import StrategySpec
from medq.strategies.base import build_strategy
from medq.strategies.ensemble_refinement import CALLS_PER_ITEM, ensemble_refinement
from medq.testing.scripted import ScriptedModel, answers, failing, table
from medq.types import GenerationRequest, Question, Status

QUESTION = Question("q1", "Which drug?", {"A": "aspirin", "B": "heparin", "C": "warfarin"}, "B")
STAGE_TWO = "Other clinicians have answered"


def path(request: GenerationRequest) -> str:
    return f"Path number {request.sample_index} reasons.\nAnswer: A"


async def test_two_stages_with_sample_indices_temperature_and_seeds() -> None:
    model = ScriptedModel(table({STAGE_TWO: answers("B")}, default=path))
    answer = await ensemble_refinement(n=3, m=5, temperature=0.5, seed=10)(QUESTION, model)
    first, second = model.recorded[:3], model.recorded[3:]
    assert len(model.recorded) == 8
    assert all(STAGE_TWO not in c.prompt for c in first)
    assert sorted(c.sample_index for c in first) == [0, 1, 2]
    assert sorted(c.sample_index for c in second) == [0, 1, 2, 3, 4]
    assert {c.temperature for c in model.recorded} == {0.5}
    assert {c.request.seed for c in first} == {10}  # distinct sample indices, one seed
    assert len({c.prompt for c in second}) == 1
    for i in range(3):
        assert f"Path number {i} reasons." in second[0].prompt
    assert (answer.choice, answer.status, answer.confidence) == ("B", Status.OK, 1.0)
    assert answer.details["votes"] == {"B": 5}
    assert answer.details["stage_one_votes"] == {"A": 3}


async def test_defaults_make_44_calls() -> None:
    model = ScriptedModel(answers("C"))
    answer = await build_strategy(StrategySpec("ensemble_refinement"), seed=0)(QUESTION, model)
    assert len(model.calls) == 44 == 11 + 33
    assert CALLS_PER_ITEM.endswith("44")
    assert answer.choice == "C"


async def test_plurality_with_ties_to_the_earliest_letter_and_invalid_votes() -> None:
    stage_two = ["Answer: C", "Answer: B", "Answer: C", "Answer: B", "no idea"]
    model = ScriptedModel(table({STAGE_TWO: stage_two}, default=path))
    answer = await ensemble_refinement(n=2, m=5)(QUESTION, model)
    assert answer.choice == "B"
    assert answer.confidence == pytest.approx(2 / 5)
    assert answer.details["votes"] == {"B": 2, "C": 2}
    assert answer.text == "Answer: B"


async def test_no_valid_refinement_is_invalid() -> None:
    model = ScriptedModel(table({STAGE_TWO: "I cannot decide"}, default=path))
    answer = await ensemble_refinement(n=2, m=3)(QUESTION, model)
    assert (answer.choice, answer.status, answer.confidence) == (None, Status.INVALID, None)


async def test_a_failed_path_fails_the_item_and_cancels_the_rest() -> None:
    def respond(request: GenerationRequest) -> str:
        if request.sample_index == 1:
            raise ModelError("path 1 failed")
        return path(request)

    model = ScriptedModel(respond, latency=0.01)
    with pytest.raises(ModelError, match="path 1 failed"):
        await ensemble_refinement(n=3, m=3)(QUESTION, model)
    assert all(STAGE_TWO not in c.prompt for c in model.recorded)


def test_failed_sub_call_is_an_error_in_the_run_not_a_vote() -> None:
    spec = EvalSpec(
        task="medqa",
        sample=True,
        limit=2,
        model="scripted/er",
        strategy="ensemble_refinement:n=2,m=3",
    )
    model = ScriptedModel(table({STAGE_TWO: failing("stage two down")}, default=path))
    with Store() as store:
        # max_error_rate=1: go on after the first failed item, to see both recorded.
        with pytest.raises(RunFailedError, match="all 2 items failed") as failed:
            evaluate(spec, store=store, model=model, progress=False, max_error_rate=1.0)
        rows = list(store.samples(failed.value.run_id))
    assert [r["status"] for r in rows] == ["error", "error"]
    assert all("stage two down" in r["reason"] and r["choice"] is None for r in rows)


def test_registered_and_validates_arguments() -> None:
    assert "ensemble_refinement" in strategies.names()
    with pytest.raises(ValueError):
        ensemble_refinement(n=0)


@pytest.mark.slow
def test_end_to_end_on_the_tiny_local_model(run_tiny: RunTiny) -> None:
    rows = run_tiny("ensemble_refinement:n=2,m=2,max_tokens=8")
    assert [r["calls"] for r in rows] == [4, 4]
    assert {r["status"] for r in rows} <= {"ok", "invalid"}
    assert all(r["completion_tokens"] > 0 for r in rows)
