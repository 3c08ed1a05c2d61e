"""The scripted test model: responders, per-call records, failures."""

from __future__ import annotations

import asyncio

import pytest

from medq.models.base import Model, ModelError, TransientModelError
from medq.testing.scripted import (
    ScriptedModel,
    UnscriptedCallError,
    answers,
    failing,
    table,
)
from medq.types import GenerationRequest, Message


def request(text: str, *, temperature: float = 0.0, sample_index: int = 0) -> GenerationRequest:
    return GenerationRequest(
        (Message("system", "sys"), Message("user", text)),
        temperature=temperature,
        sample_index=sample_index,
    )


async def test_function_responder_and_records() -> None:
    model = ScriptedModel(lambda r: r.messages[-1].content.upper())
    assert isinstance(model, Model)
    completion = await model.complete(request("hello there", temperature=0.7, sample_index=3))
    assert completion.generations[0].text == "HELLO THERE"
    assert completion.prompt_tokens == 3 and completion.completion_tokens == 2
    assert model.calls == [request("hello there", temperature=0.7, sample_index=3)]
    (call,) = model.recorded
    assert (call.prompt, call.temperature, call.sample_index, call.text) == (
        "hello there",
        0.7,
        3,
        "HELLO THERE",
    )
    assert model.busy_s >= 0.0


async def test_table_first_matching_key_wins_and_sequences_follow_sample_index() -> None:
    respond = table(
        {"verify": "Verdict: correct", "ver": "never reached", "sample": ["a", "b"]},
        default="Answer: A",
    )
    assert respond(request("please verify this")) == "Verdict: correct"
    assert [respond(request("sample", sample_index=i)) for i in range(3)] == ["a", "b", "a"]
    assert respond(request("other")) == "Answer: A"
    assert table({"x": lambda r: f"#{r.sample_index}"})(request("x", sample_index=4)) == "#4"


def test_table_without_default_is_loud_about_unscripted_prompts() -> None:
    with pytest.raises(UnscriptedCallError, match="no scripted reply"):
        table({"x": "y"})(request("something else"))


def test_answers_cycles_letters_by_sample_index() -> None:
    respond = answers("A", "C")
    assert [respond(request("q", sample_index=i)) for i in range(3)] == [
        "Reasoning.\nAnswer: A",
        "Reasoning.\nAnswer: C",
        "Reasoning.\nAnswer: A",
    ]


async def test_failures_are_recorded_without_text() -> None:
    model = ScriptedModel(table({"bad": failing("boom")}, default="ok"))
    with pytest.raises(ModelError, match="boom"):
        await model.complete(request("bad"))
    await model.complete(request("good"))
    assert [(c.prompt, c.text) for c in model.recorded] == [("bad", None), ("good", "ok")]


async def test_fail_first_and_max_in_flight() -> None:
    model = ScriptedModel(lambda r: "x", fail_first=1, latency=0.01)
    with pytest.raises(TransientModelError):
        await model.complete(request("a"))
    await asyncio.gather(*(model.complete(request(str(i))) for i in range(4)))
    assert model.max_in_flight == 4 and len(model.calls) == 5
    assert model.prompts("3") == ["3"]
