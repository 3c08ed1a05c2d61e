"""The MediQ expert: turns, abstention rules, forced answers, conditions and rescore."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from medq.interactive.case import case_of
from medq.interactive.patient import REFUSAL
from medq.runner import EvalSpec, ModelRef, evaluate, rescore
from medq.store import Store
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import normalize
from medq.tasks import load_task
from medq.testing.openai_server import FakeOpenAIServer
from medq.testing.scripted import ScriptedModel

sys.path.insert(0, str(Path(__file__).parent))
from scripted_consultation import (  # noqa: E402
    consultation,
    kind_of,
    scripted_responder,
    server_responder,
)

QUESTIONS = load_task("imedqa", sample=True).questions


def _run(strategy: str, reply, *, limit: int = 1, task: str = "imedqa") -> tuple:
    model = ScriptedModel(scripted_responder(reply))
    result = evaluate(EvalSpec(task, "scripted/expert", strategy, sample=True, limit=limit),
                      model=model, progress=False)
    with Store() as store:
        samples = list(store.samples(result.run_id))
    return result, samples, Counter(kind_of(c.prompt) for c in model.recorded), model


def test_two_questions_then_an_answer_is_two_patient_calls_and_two_turns() -> None:
    reply = consultation(ask=2, letter="C")
    with FakeOpenAIServer(server_responder(reply)) as expert, \
            FakeOpenAIServer(server_responder(reply)) as patient:
        result = evaluate(EvalSpec(
            "imedqa", "openai/expert", "mediq(abstain=scale,threshold=0.8)", sample=True,
            limit=1, base_url=expert.base_url, api_key_env="HOME",
            roles={"patient": ModelRef("openai/patient", base_url=patient.base_url)}),
            progress=False)
        assert patient.count == 2
        assert Counter(kind_of(b["messages"][-1]["content"]) for b in expert.bodies) == {
            "scale": 3, "choice": 3, "question": 2}
    with Store() as store:
        (sample,) = store.samples(result.run_id)
    details = sample.details
    assert details["turns"] == 2 and not details["timeout"] and details["stop"] == "confident"
    assert sample.choice == "C" and sample.correct == 1 and sample.confidence == 1.0
    facts = case_of(QUESTIONS[0]).facts
    assert [t["reply"] for t in details["dialogue"]] == [facts[0], facts[0]]
    assert [t["question"] for t in details["dialogue"]] == ["Question 1?", "Question 2?"]
    assert details["intermediate_choices"] == ["C", "C", "C"]
    assert details["calls_by_role"] == {"expert": 8, "patient": 2}
    assert sample.calls == 10


def test_max_questions_forces_an_answer_and_counts_a_timeout() -> None:
    _, (sample,), kinds, _ = _run("mediq(abstain=binary,max_questions=3)",
                                  consultation(ask=None, letter="B"))
    assert kinds == {"binary": 3, "choice": 4, "question": 3, "factselect": 3}
    assert sample.details["turns"] == 3 and sample.details["timeout"]
    assert sample.details["stop"] == "max_questions" and sample.choice == "B"
    assert sample.details["patient_refusals"] == 0


def test_fixed_asks_until_the_limit_and_basic_asks_in_the_same_call() -> None:
    _, (fixed,), kinds, _ = _run("mediq(abstain=fixed,max_questions=2,intermediate=false)",
                                 consultation(ask=0))
    assert kinds == {"question": 2, "factselect": 2, "choice": 1}
    assert fixed.details["timeout"] and fixed.confidence is None
    assert fixed.details["intermediate_choices"] == [None, None, "C"]
    _, (basic,), kinds, _ = _run("mediq(abstain=basic)", consultation(ask=1, letter="A"))
    # (the patient's reply to "Question 1?" is cached from the run before)
    assert kinds == {"basic": 2, "choice": 1}
    assert basic.details["calls_by_role"] == {"expert": 3, "patient": 1}
    assert basic.details["turns"] == 1 and basic.choice == "A" and not basic.details["timeout"]


def test_self_consistency_averages_the_estimate_against_the_threshold() -> None:
    # Samples 0..4 rate 5, 5, 4, 2, 1 -> mean 3.4 / 5 = 0.68: below 0.8, above 0.6.
    ratings = ["Very confident", "Very confident", "Somewhat confident",
               "Somewhat unconfident", "Very unconfident"]
    reply = consultation(ask=1, confident=lambda asked, seed: {"rating": ratings[seed % 5]})
    _, (low,), kinds, _ = _run("mediq(self_consistency=5,threshold=0.8,max_questions=1,seed=0)",
                               reply)
    assert low.details["turns"] == 1 and low.details["timeout"]
    assert low.details["dialogue"][0]["confidence"] == pytest.approx(0.68)
    assert kinds["scale"] == 5
    _, (high,), _, _ = _run("mediq(self_consistency=5,threshold=0.6,seed=0)", reply)
    assert high.details["turns"] == 0 and high.confidence == pytest.approx(0.68)


def test_unread_estimates_are_not_confident_and_are_recorded() -> None:
    reply = consultation(ask=0, confident=lambda asked, seed: "pretty sure")
    _, (sample,), _, _ = _run("mediq(abstain=numerical,max_questions=1)", reply)
    assert sample.details["timeout"] and sample.details["dialogue"][0]["unread"]
    assert sample.details["dialogue"][0]["confidence"] is None


def test_the_initial_condition_shows_only_the_first_sentence() -> None:
    reply = consultation(ask=0)
    with FakeOpenAIServer(server_responder(reply)) as server:
        result = evaluate(EvalSpec("imedqa", "openai/m", "mediq(condition=initial)",
                                   sample=True, base_url=server.base_url, api_key_env="HOME"),
                          progress=False)
        bodies = server.bodies
    assert len(bodies) == len(QUESTIONS) == 20
    by_initial = {case_of(q).initial: case_of(q) for q in QUESTIONS}
    for body in bodies:
        content = "\n".join(m["content"] for m in body["messages"])
        (case,) = [c for initial, c in by_initial.items() if initial and initial in content]
        assert all(s not in content for s in case.sentences[1:] if s not in case.initial)
        assert "Doctor:" not in content
    with Store() as store:
        samples = list(store.samples(result.run_id))
    assert {s.details["stop"] for s in samples} == {"reference"}
    assert all(s.details["turns"] == 0 for s in samples)


def test_the_full_condition_shows_the_whole_case_in_one_call() -> None:
    _, samples, kinds, model = _run("mediq(condition=full)", consultation(ask=0), limit=3)
    assert kinds == {"choice": 3}
    for question, call in zip(QUESTIONS, model.recorded, strict=False):
        assert all(s in call.prompt for s in case_of(question).sentences)


def test_rescore_needs_no_calls_and_keeps_the_dialogue() -> None:
    result, before, _, model = _run("mediq(abstain=scale)", consultation(ask=2), limit=2)
    made = len(model.calls)
    with Store() as store:
        again = rescore(result.run_id, store=store)
        after = list(store.samples(result.run_id))
    assert len(model.calls) == made and again.summary["rescore"]["kept"] == {}
    assert [s.details for s in after] == [s.details for s in before]
    assert [s.choice for s in after] == [s.choice for s in before]


def test_a_refusing_patient_is_counted() -> None:
    def reply(prompt: str, seed: int) -> str:
        if kind_of(prompt) == "factselect":
            return REFUSAL
        return consultation(ask=2)(prompt, seed)

    _, (sample,), _, _ = _run("mediq", reply)
    assert sample.details["patient_refusals"] == 2
    assert [t["reply"] for t in sample.details["dialogue"]] == [REFUSAL, REFUSAL]


def test_the_random_patient_makes_no_call() -> None:
    _, (sample,), kinds, _ = _run("mediq(patient=random)", consultation(ask=3))
    assert "factselect" not in kinds and sample.details["calls_by_role"]["patient"] == 0
    assert sample.details["turns"] == 3


@pytest.mark.parametrize(("spec", "message"), [
    ("mediq(abstain=vibes)", "abstain must be one of basic, fixed"),
    ("mediq(patient=oracle)", "patient must be one of direct"),
    ("mediq(condition=best)", "condition must be one of full, initial"),
    ("mediq(threshold=2)", "threshold=2 must be <= 1"),
])
def test_bad_parameters_are_one_line_errors(spec: str, message: str) -> None:
    from medq.strategies.base import build_strategy

    with pytest.raises(StrategySpecError, match=message):
        build_strategy(normalize(spec, seed=0), seed=0)


def test_other_tasks_are_refused_before_any_call() -> None:
    model = ScriptedModel(scripted_responder(consultation()))
    with pytest.raises(StrategySpecError, match="imedqa and icraftmd"):
        evaluate(EvalSpec("medqa", "scripted/expert", "mediq", sample=True, limit=2),
                 model=model, progress=False)
    assert model.calls == []
