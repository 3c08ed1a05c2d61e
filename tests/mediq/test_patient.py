"""The simulated patient's variants, against scripted models."""

from __future__ import annotations

import dataclasses

import pytest

from medq.interactive.case import Case, case_of
from medq.interactive.patient import REFUSAL, is_refusal, make_patient, select_facts
from medq.strategies._shared.spec import StrategySpecError
from medq.tasks import load_task
from medq.testing.scripted import ScriptedModel, table

CASE = case_of(load_task("imedqa", sample=True).questions[0])
# "Patient is a 21-year-old male.", ..., "Patient complains of fever.", ...


async def _ask(variant: str, model: ScriptedModel, questions: list[str], case: Case = CASE,
               **kwargs: object) -> list:
    patient = make_patient(variant, case, model, seed=0, item_id="0", max_tokens=200,
                           **kwargs)
    return [await patient.answer(q, turn) for turn, q in enumerate(questions, start=1)]


async def test_factselect_returns_only_verbatim_facts_or_the_exact_refusal() -> None:
    responder = table({
        "Age?": "1. Patient is a 21-year-old male.",
        "Fever?": '"patient complains of fever"',
        "Urine?": "The patient reports burning when he pees.",  # a paraphrase
        "Knee?": ("STATEMENTS:\n5. Patient complains of inflammation and pain in the right "
                  "knee.\nThis suggests septic arthritis.\n- Culture of joint fluid shows a "
                  "bacteria."),
        "Smoke?": REFUSAL.upper(),
        "Travel?": "I don't know.",
        "Think?": "<think>fever?</think>Patient complains of fever.",
    })
    model = ScriptedModel(responder)
    questions = ["Age?", "Fever?", "Urine?", "Knee?", "Smoke?", "Travel?", "Think?"]
    replies = await _ask("factselect", model, questions)
    facts = set(CASE.facts or ())
    for reply in replies:
        assert reply.text == REFUSAL or all(line in facts for line in reply.text.splitlines())
        assert reply.refused == (reply.text == REFUSAL)
    texts = [r.text for r in replies]
    assert texts[0] == "Patient is a 21-year-old male."
    assert texts[1] == "Patient complains of fever."
    assert texts[2] == REFUSAL and replies[2].dropped == 1
    assert texts[3] == ("Patient complains of inflammation and pain in the right knee.\n"
                        "Culture of joint fluid shows a bacteria.") and replies[3].dropped == 1
    assert texts[4:6] == [REFUSAL, REFUSAL]
    assert texts[6] == "Patient complains of fever."
    prompt = model.recorded[0].prompt
    assert "1. Patient is a 21-year-old male.\n2. Patient is sexually active." in prompt
    assert REFUSAL in prompt and all(r.calls == 1 for r in replies)


async def test_factselect_derives_facts_once_when_the_case_has_none() -> None:
    case = dataclasses.replace(CASE, facts=None)
    model = ScriptedModel(table({
        "atomic facts": "1. He is 21.\n2. He has a fever.",
        "Fever?": "He has a fever.",
    }))
    first, second = await _ask("factselect", model, ["Fever?", "Fever?"], case=case)
    assert (first.text, first.calls, second.calls) == ("He has a fever.", 2, 1)
    assert len(model.prompts("atomic facts")) == 1


async def test_factselect_without_any_fact_refuses_without_a_call() -> None:
    model = ScriptedModel(table({}))
    (reply,) = await _ask("factselect", model, ["Fever?"], case=Case("", (), ()))
    assert (reply.text, reply.refused, reply.calls) == (REFUSAL, True, 0)
    assert model.calls == []


async def test_instruct_sees_the_case_and_direct_only_the_initial_information() -> None:
    model = ScriptedModel(table({"Culture?": "It grew a bacterium.",
                                 "Smoke?": f'"{REFUSAL}"'}))
    answered, refused = await _ask("instruct", model, ["Culture?", "Smoke?"])
    assert answered.text == "It grew a bacterium." and not answered.refused
    assert refused.text == REFUSAL and refused.refused
    assert CASE.sentences[1] in model.recorded[0].prompt
    direct = ScriptedModel(table({}, default="He has a fever."))
    (reply,) = await _ask("direct", direct, ["Fever?"])
    prompt = direct.recorded[0].prompt
    assert CASE.initial in prompt and CASE.sentences[1] not in prompt
    assert reply.text == "He has a fever." and not reply.refused


async def test_random_patient_is_seeded_by_item_and_turn_and_calls_no_model() -> None:
    model = ScriptedModel(table({}))
    first = [r.text for r in await _ask("random", model, ["q"] * 8)]
    again = [r.text for r in await _ask("random", model, ["other"] * 8)]
    assert first == again and model.calls == []
    assert set(first) <= {REFUSAL, *CASE.sentences} and REFUSAL in first
    assert set(first) - {REFUSAL}


def test_select_facts_and_refusal_rules() -> None:
    assert select_facts("2. B.\n1) A\n* A.\nC", ["A.", "B."]) == ([1, 0], 1)
    assert is_refusal(f"  '{REFUSAL.lower()}'  ") and not is_refusal(REFUSAL + " He is 21.")


def test_unknown_variant_is_an_error() -> None:
    with pytest.raises(StrategySpecError, match="patient must be one of direct, instruct"):
        make_patient("oracle", CASE, ScriptedModel(table({})), seed=0, item_id="0",
                     max_tokens=None)
