"""Models for other roles (a patient, a judge) and the task's grading stage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from medq.registry import strategies
from medq.runner import EvalSpec, ModelRef, evaluate, rescore
from medq.store import Store
from medq.strategies.base import Strategy, generation_request
from medq.tasks.base import TaskSpec, load_task, register_task
from medq.testing.openai_server import FakeOpenAIServer, fixed_responder
from medq.types import Answer, Message, Question


@strategies.register("ask_the_patient", prompts=(), calls_per_item=2, accepts=("choice",))
def ask_the_patient(*, seed: int = 0) -> Strategy:
    """Ask the patient once, then answer (a test strategy).

    Args:
        seed: sent with every request.
    """

    async def solve(question: Question, model) -> Answer:
        patient = model.role("patient")
        heard = (await patient.complete(generation_request(
            (Message("user", f"Patient, {question.id}?"),), seed=seed, max_tokens=None,
        ))).generations[0].text
        reply = await model.complete(generation_request(
            (Message("user", f"{question.stem} Patient said: {heard}"),), seed=seed,
            max_tokens=None))
        from medq.strategies.base import answer_from

        return answer_from(reply, question)

    return solve



def test_one_call_budget_bounds_the_patient_and_the_model_together(medq_home: Path) -> None:
    import asyncio

    from medq.models.views import Budget
    from medq.runner import evaluate_async

    with FakeOpenAIServer(fixed_responder("Answer: B")) as expert, \
            FakeOpenAIServer(fixed_responder("It hurts.")) as patient:
        spec = EvalSpec("medqa", "openai/expert", "ask_the_patient", sample=True, limit=3,
                        base_url=expert.base_url, api_key_env="HOME",
                        roles={"patient": ModelRef("openai/patient", base_url=patient.base_url)})
        budget = Budget(3)
        with Store() as store:
            stopped = asyncio.run(evaluate_async(spec, store=store, progress=False,
                                                 concurrency=1, budget=budget))
        assert stopped.interrupted and budget.exhausted
        assert expert.count + patient.count == budget.made == 3  # not 3 each
        done = evaluate(spec, progress=False)
        assert done.run_id == stopped.run_id and (expert.count, patient.count) == (3, 3)


def test_a_role_model_is_called_stored_and_part_of_the_identity(medq_home: Path) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as expert, \
            FakeOpenAIServer(fixed_responder("It hurts.")) as patient:
        spec = EvalSpec("medqa", "openai/expert", "ask_the_patient", sample=True, limit=3,
                        base_url=expert.base_url, api_key_env="HOME",
                        roles={"patient": ModelRef("openai/patient", base_url=patient.base_url)})
        first = evaluate(spec, progress=False)
        assert expert.count == 3 and patient.count == 3
        assert all("It hurts." in b["messages"][-1]["content"] for b in expert.bodies)
        again = evaluate(spec, progress=False)
        assert again.run_id == first.run_id and again.new_calls == 0
        other = evaluate(replace(spec, roles={"patient": ModelRef("openai/other",
                                                                  base_url=patient.base_url)}),
                         progress=False)
        assert other.run_id != first.run_id
        with Store() as store:
            assert store.run(first.run_id)["info"]["roles"]["patient"]["endpoint"] == \
                patient.base_url
            assert all(s.calls == 2 for s in store.samples(first.run_id))


def test_without_a_role_model_the_evaluated_model_plays_it(medq_home: Path) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as server:
        evaluate(EvalSpec("medqa", "openai/m", "ask_the_patient", sample=True, limit=2,
                          base_url=server.base_url, api_key_env="HOME"), progress=False)
        assert server.count == 4


async def _grade(question: Question, answer: Answer, model) -> Answer:
    judge = model.role("judge", default_self=False)
    text = (await judge.complete(generation_request(
        (Message("user", f"Grade: {answer.text}"),), seed=0, max_tokens=None,
    ))).generations[0].text
    return replace(answer, details={**answer.details, "grade": text})


register_task(replace(TaskSpec("medqa_graded_toy", "test", "toy", "toy", "toy",
                               lambda data, sample: (load_task("medqa", sample=True)
                                                     .questions[:2], "sample")),
                      grader=_grade))


def test_the_grading_stage_runs_through_the_store_and_rescore_replays_it(
    medq_home: Path,
) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as model, \
            FakeOpenAIServer(fixed_responder("PASS")) as judge:
        spec = EvalSpec("medqa_graded_toy", "openai/m", "direct", base_url=model.base_url,
                        api_key_env="HOME",
                        roles={"judge": ModelRef("openai/judge", base_url=judge.base_url)})
        result = evaluate(spec, progress=False)
        assert judge.count == 2
        with Store() as store:
            assert {s.details["grade"] for s in store.samples(result.run_id)} == {"PASS"}
            again = rescore(result.run_id, store=store)
            assert judge.count == 2 and again.summary["rescore"]["kept"] == {}
            assert {s.details["grade"] for s in store.samples(result.run_id)} == {"PASS"}


def test_a_required_role_that_is_missing_is_an_error(medq_home: Path) -> None:
    with FakeOpenAIServer(fixed_responder("Answer: B")) as model:
        with pytest.raises(LookupError, match="no model for role 'judge'"):
            evaluate(EvalSpec("medqa_graded_toy", "openai/m", "direct",
                              base_url=model.base_url, api_key_env="HOME"), progress=False)
    with Store() as store:  # the run fails loudly, not item by item
        assert [r["status"] for r in store.runs()] == ["failed"]
