"""Multi-persona (MedAgentsBench baseline): personas debate over rounds, then a final call."""

from __future__ import annotations

import pytest
from tests.strategies.conftest import RunTiny

from medq.run_settings import RunFailedError
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.strategies.multi_persona import PERSONAS, multi_persona
from medq.testing.scripted import ScriptedModel, failing, table
from medq.types import GenerationRequest, Question, Status

QUESTION = Question("q1", "Which drug?", {"A": "aspirin", "B": "heparin", "C": "warfarin"}, "B")
DEBATE = "Here is what your peers concluded"
FINAL = "You are a senior medical expert"


def persona(request: GenerationRequest) -> str:
    prompt = request.messages[-1].content
    role = next(i for i, r in enumerate(PERSONAS) if f"You are the {r}." in prompt)
    stage = "debate" if DEBATE in prompt else "initial"
    return f"Persona {role} {stage} view.\nAnswer: {'ABB'[role] if stage == 'initial' else 'B'}"


async def test_three_personas_two_rounds_then_a_decision() -> None:
    model = ScriptedModel(table({FINAL: "Consensus.\nAnswer: B"}, default=persona))
    answer = await multi_persona()(QUESTION, model)
    assert len(model.recorded) == len(PERSONAS) * 2 + 1 == 7
    initial = [c.prompt for c in model.recorded[:3]]
    debate = [c.prompt for c in model.recorded[3:6]]
    assert all(DEBATE not in p for p in initial) and all(DEBATE in p for p in debate)
    for prompt in model.prompts(DEBATE):
        peers = prompt.split(DEBATE)[1]
        me = next(j for j, r in enumerate(PERSONAS) if f"You are the {r}." in prompt)
        assert f"Persona {me} initial" not in peers
        assert all(f"Persona {j} initial view." in peers for j in range(3) if j != me)
    (final,) = model.prompts(FINAL)
    assert all(f"Persona {j} debate view." in final for j in range(3))
    assert "initial view" not in final
    assert {c.temperature for c in model.recorded} == {0.0}
    assert (answer.choice, answer.status) == ("B", Status.OK)
    assert answer.details["rounds"] == [["A", "B", "B"], ["B", "B", "B"]]


async def test_one_round_is_independent_answers_plus_a_decision() -> None:
    model = ScriptedModel(table({FINAL: "Answer: A"}, default=persona))
    await multi_persona(rounds=1)(QUESTION, model)
    assert len(model.recorded) == 4 and not model.prompts(DEBATE)


def test_failed_persona_is_an_error_in_the_run() -> None:
    spec = EvalSpec(task="medqa", sample=True, limit=1, model="s/mp", strategy="multi_persona")
    model = ScriptedModel(table({PERSONAS[1]: failing("persona down")}, default="Answer: A"))
    with Store() as store:
        with pytest.raises(RunFailedError, match="all 1 items failed") as failed:
            evaluate(spec, store=store, model=model, progress=False)
        (row,) = store.samples(failed.value.run_id)
    assert (row["status"], row["choice"]) == ("error", None)
    assert "persona down" in row["reason"]


@pytest.mark.slow
def test_end_to_end_on_the_tiny_local_model(run_tiny: RunTiny) -> None:
    rows = run_tiny("multi_persona:max_tokens=8")
    assert [r["calls"] for r in rows] == [7, 7]
    assert {r["status"] for r in rows} <= {"ok", "invalid"}
