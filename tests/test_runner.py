"""The engine: scoring, caching, resume, errors, concurrency window, rescore."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from medq.models.base import UnsupportedCapabilityError
from medq.models.retry import RetryPolicy
from medq.registry import tasks
from medq.runner import EvalSpec, RunFailedError, evaluate, rescore, run_id_for
from medq.store import Store
from medq.tasks.base import Task
from medq.testing.scripted import ScriptedModel, failing
from medq.types import GenerationRequest, Question

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0)


def toy_questions(n: int = 20) -> tuple[Question, ...]:
    return tuple(
        Question(
            id=f"q{i:03d}",
            stem=f"Toy question number {i}?",
            options={"A": "alpha", "B": "beta", "C": "gamma", "D": "delta"},
            gold="ABCD"[i % 4],
            metadata={"subject": "odd" if i % 2 else "even"},
        )
        for i in range(n)
    )


@tasks.register("toy")
def toy(data: Path | None, sample: bool) -> Task:
    return Task("toy", toy_questions(), "A toy task for tests.", "generated", "test")


def number(request: GenerationRequest) -> int:
    return int(request.messages[-1].content.split("number ")[1].split("?")[0])


def always(letter: str):
    return lambda request: f"Answer: {letter}"


@pytest.fixture
def store(medq_home: Path):
    with Store() as s:
        yield s


def test_scores_and_counts(store: Store) -> None:
    # Items 0..19 have gold A,B,C,D repeating; answering "B" is right on 5, and items
    # 0-2 get an unparseable reply.
    def respond(request: GenerationRequest) -> str:
        return "I am not sure." if number(request) < 3 else "Answer: B"

    model = ScriptedModel(respond)
    result = evaluate(EvalSpec(task="toy", model="scripted/test"), store=store, model=model)
    s = result.summary
    assert (s["n"], s["invalid"], s["errors"], s["truncated"]) == (20, 3, 0, 0)
    # gold B at items 1,5,9,13,17; item 1 is invalid -> 4 correct out of 20.
    assert s["correct"] == 4 and s["accuracy"] == pytest.approx(0.2)
    assert s["ci_low"] < 0.2 < s["ci_high"]
    assert s["calls"] == 20 and len(model.calls) == 20
    assert s["invalid_rate"] == pytest.approx(0.15)


def test_rerun_makes_zero_calls_and_keeps_run_id(store: Store) -> None:
    spec = EvalSpec(task="toy", model="scripted/test")
    first = ScriptedModel(always("A"))
    a = evaluate(spec, store=store, model=first)
    second = ScriptedModel(always("C"))
    b = evaluate(spec, store=store, model=second)
    assert a.run_id == b.run_id
    assert len(second.calls) == 0 and b.new_calls == 0
    assert b.summary == {**a.summary, "wall_s": b.summary["wall_s"]}


def test_cache_is_shared_across_runs_of_same_prompts(store: Store) -> None:
    evaluate(EvalSpec(task="toy", model="scripted/test", limit=5), store=store,
             model=ScriptedModel(always("A")))
    model = ScriptedModel(always("A"))
    result = evaluate(EvalSpec(task="toy", model="scripted/test"), store=store, model=model)
    assert len(model.calls) == 15 and result.new_calls == 15


def test_failed_calls_are_errors_not_answers_and_are_retried_on_resume(store: Store) -> None:
    spec = EvalSpec(task="toy", model="scripted/test")
    # max_error_rate=1: go through every item, and fail only because all of them failed.
    with pytest.raises(RunFailedError, match="all 20 items failed: HTTP 400: bad") as failed:
        evaluate(spec, store=store, model=ScriptedModel(failing("HTTP 400: bad")),
                 retry=FAST_RETRY, max_error_rate=1.0)
    s = failed.value.summary
    assert (s["errors"], s["n"], s["correct"], s["accuracy"]) == (20, 0, 0, None)
    assert s["status"] == "failed" and store.run(failed.value.run_id)["status"] == "failed"
    rows = list(store.samples(failed.value.run_id))
    assert all(r["status"] == "error" and "HTTP 400" in r["reason"] for r in rows)
    assert all(r["choice"] is None for r in rows)
    fixed = ScriptedModel(always("A"))
    again = evaluate(spec, store=store, model=fixed)
    assert len(fixed.calls) == 20 and again.summary["errors"] == 0
    assert again.summary["correct"] == 5


def test_transient_failures_are_retried_within_bounds(store: Store) -> None:
    model = ScriptedModel(always("A"), fail_first=2)
    result = evaluate(EvalSpec(task="toy", model="scripted/test", limit=1), store=store,
                      model=model, retry=FAST_RETRY, concurrency=1)
    assert len(model.calls) == 3 and result.summary["correct"] == 1
    model = ScriptedModel(always("A"), fail_first=10)
    with pytest.raises(RunFailedError, match="all 2 items failed: gave up after 3 attempts"
                       ) as failed:
        evaluate(EvalSpec(task="toy", model="scripted/test", limit=2, seed=1), store=store,
                 model=model, retry=FAST_RETRY, concurrency=1, max_error_rate=1.0)
    assert failed.value.summary["errors"] == 2
    assert "3 attempts" in next(store.samples(failed.value.run_id))["reason"]


def test_sliding_window_bounds_calls_in_flight(store: Store) -> None:
    model = ScriptedModel(always("A"), latency=0.02)
    evaluate(EvalSpec(task="toy", model="scripted/test"), store=store, model=model,
             concurrency=6)
    assert model.max_in_flight == 6


def test_rescore_makes_no_calls_and_reproduces(store: Store) -> None:
    spec = EvalSpec(task="toy", model="scripted/test", strategy="cot")
    result = evaluate(spec, store=store, model=ScriptedModel(always("D")))
    again = rescore(result.run_id, store=store)
    assert again.summary["correct"] == result.summary["correct"] == 5
    assert again.summary["calls"] == result.summary["calls"]


def test_logprob_scoring_on_a_backend_without_logprobs_is_a_clear_error(store: Store) -> None:
    model = ScriptedModel(always("A"))
    with pytest.raises(UnsupportedCapabilityError, match="offers neither"):
        evaluate(EvalSpec(task="toy", model="scripted/test", strategy="logprob"),
                 store=store, model=model)
    assert model.calls == []


def test_samples_keep_metadata_prompt_hashes_and_order(store: Store) -> None:
    result = evaluate(EvalSpec(task="toy", model="scripted/test", limit=4), store=store,
                      model=ScriptedModel(always("A")))
    rows = list(store.samples(result.run_id))
    assert [r["item_id"] for r in rows] == ["q000", "q001", "q002", "q003"]
    assert rows[1]["details"]["metadata"] == {"subject": "odd"}
    info = store.run(result.run_id)["info"]
    assert set(info["prompts"]) == {"system", "direct"}
    assert info["extractor_version"]


def test_interrupt_keeps_finished_items(store: Store) -> None:
    spec = EvalSpec(task="toy", model="scripted/test")
    model = ScriptedModel(always("A"), latency=0.05)

    async def interrupted() -> None:
        from medq.runner import evaluate_async

        job = asyncio.ensure_future(
            evaluate_async(spec, store=store, model=model, concurrency=2, progress=False)
        )
        await asyncio.sleep(0.18)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(interrupted())
    done = store.done_items(run_id_for(spec, model))
    assert 2 <= len(done) < 20
    resumed = ScriptedModel(always("A"))
    evaluate(spec, store=store, model=resumed)
    assert len(resumed.calls) == 20 - len(done)
    assert len(list(store.samples(run_id_for(spec, model)))) == 20
