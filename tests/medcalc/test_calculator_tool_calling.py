"""calculator_tool with native tool calling: the calculators offered as OpenAI function
tools, end to end through the runner against the loopback OpenAI server, and the JSON
fallback on backends without tool calling."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import pytest

from medq.calculators import calculators, get_calculator
from medq.calculators.medcalc_bench import params_from_entities, parse_entities
from medq.models.openai_compat import OpenAICompatModel
from medq.runner import EvalSpec, RunResult, evaluate, evaluate_async
from medq.store import Store
from medq.strategies._shared.spec import StrategySpec
from medq.strategies.base import build_strategy
from medq.strategies.calculator_tool import calculator_tools, catalog
from medq.tasks import load_task
from medq.testing.openai_server import (
    FakeOpenAIServer,
    Reply,
    offered_tool_names,
    prompt_text,
    tool_call_responder,
)
from medq.testing.scripted import ScriptedModel, tool_call
from medq.types import GenerationRequest, Question, Status

# The first 20 rows of the bundled sample: their Relevant Entities compute to the label.
N_ROWS = 20


@cache
def sample_rows() -> tuple[Mapping[str, str], ...]:
    path = files("medq") / "data" / "samples" / "medcalc" / "test_data.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def right_call(text: str) -> tuple[str, dict[str, Any]] | None:
    """The calculator and arguments a careful model would give for the row in `text`."""
    matches = [r for r in sample_rows() if r["Patient Note"].strip() in text]
    if not matches:
        return None
    row = max(matches, key=lambda r: len(r["Patient Note"]))
    calculator_id = int(row["Calculator ID"])
    arguments = params_from_entities(calculator_id, parse_entities(row["Relevant Entities"]))
    return get_calculator(calculator_id).name, arguments


def careful(body: Mapping[str, Any], index: int) -> tuple[str, dict[str, Any]] | None:
    call = right_call(prompt_text(body))
    assert call is None or call[0] in offered_tool_names(body)
    return call


def careful_either_way(body: Mapping[str, Any], index: int) -> Reply:
    """A tool call when tools are offered, else the same call as JSON text."""
    if body.get("tools"):
        return tool_call_responder(careful)(body, index)
    call = right_call(prompt_text(body))
    assert call is not None
    return json.dumps({"calculator": call[0], "arguments": call[1]})


def run(server: FakeOpenAIServer, store: Store, strategy: str = "calculator_tool",
        limit: int = N_ROWS) -> RunResult:
    spec = EvalSpec(task="medcalc", sample=True, model="openai/x", base_url=server.base_url,
                    strategy=strategy, limit=limit)
    return evaluate(spec, store=store, progress=False)


def sample_question(index: int) -> Question:
    return load_task("medcalc", sample=True).questions[index]


# -- the tool definitions --------------------------------------------------------------------


def test_every_calculator_is_a_valid_openai_function_tool() -> None:
    tools = calculator_tools()
    assert [t["name"] for t in tools] == list(calculators())
    assert len(tools) <= 128  # OpenAI's limit on tools per request
    for tool in tools:
        assert set(tool) == {"name", "description", "parameters"}
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool["name"]), tool["name"]
        assert tool["description"].strip()
        assert tool["parameters"]["type"] == "object", tool["name"]
        assert isinstance(tool["parameters"].get("properties"), Mapping), tool["name"]
    GenerationRequest((), tools=tools, tool_choice="required")  # accepted as request tools


# -- end to end through the runner -----------------------------------------------------------


def test_tools_mode_end_to_end_through_the_runner() -> None:
    with FakeOpenAIServer(tool_call_responder(careful)) as server, Store() as store:
        result = run(server, store)
        samples = {s["item_id"]: s for s in store.samples(result.run_id)}
    assert (result.summary["n"], result.summary["correct"]) == (N_ROWS, N_ROWS)
    assert result.summary["calls"] == N_ROWS  # one call each, no repairs
    for row in sample_rows()[:N_ROWS]:
        details = samples[row["Row Number"]]["details"]
        name, arguments = right_call(row["Patient Note"]) or ("", {})
        assert details["mode"] == "tools"
        assert details["calculator"] == name
        assert json.loads(details["raw_arguments"]) == arguments
        assert details["arguments"] == arguments
        assert details["parameters"] and details["result"] is not None
        # the trace keeps the worked calculation: inputs as used, the value with its unit
        assert sorted(i["name"] for i in details["inputs"]) == sorted(details["parameters"])
        assert details["result_text"].endswith(details["unit"] or "")
        assert isinstance(details["steps"], list)
        assert details["repaired"] is False
    body = server.bodies[0]
    assert body["tool_choice"] == "required"
    assert body["tools"] == [{"type": "function", "function": t} for t in calculator_tools()]
    system = body["messages"][0]["content"]
    assert "call the one calculator tool" in system
    assert catalog()[:200] not in system  # the tools carry the catalog, not the text


def test_tools_mode_repairs_a_call_it_cannot_compute() -> None:
    def respond(body: Mapping[str, Any], index: int) -> Reply:
        name, arguments = careful(body, index) or ("", {})
        if len(body["messages"]) == 2:
            return {"tool_calls": [{"name": name, "arguments": '{"age": 87,'}]}  # cut short
        return {"tool_calls": [{"name": name, "arguments": arguments}]}

    with FakeOpenAIServer(respond) as server, Store() as store:
        result = run(server, store, limit=1)
        (sample,) = store.samples(result.run_id)
    assert (result.summary["correct"], result.summary["calls"]) == (1, 2)
    assert sample["details"]["repaired"] is True
    assert "not valid JSON" in sample["details"]["attempts"][0]["error"]
    retry = server.bodies[1]
    assert [m["role"] for m in retry["messages"]] == ["system", "user", "assistant", "user"]
    assert '{"age": 87,' in retry["messages"][2]["content"]
    assert "could not be computed" in retry["messages"][3]["content"]
    assert retry["tools"] == server.bodies[0]["tools"] and retry["tool_choice"] == "required"


def test_json_mode_when_the_backend_has_no_tool_calling() -> None:
    async def run_without_tools(server: FakeOpenAIServer, store: Store) -> RunResult:
        model = OpenAICompatModel("x", base_url=server.base_url, tools=False)
        try:
            spec = EvalSpec(task="medcalc", sample=True, model="openai/x",
                            base_url=server.base_url, strategy="calculator_tool", limit=4)
            return await evaluate_async(spec, store=store, model=model, progress=False)
        finally:
            await model.aclose()

    with FakeOpenAIServer(careful_either_way) as server, Store() as store:
        result = asyncio.run(run_without_tools(server, store))
        samples = list(store.samples(result.run_id))
    assert result.summary["correct"] == 4
    assert {s["details"]["mode"] for s in samples} == {"json"}
    assert all("tools" not in b and "tool_choice" not in b for b in server.bodies)
    assert catalog()[:200] in server.bodies[0]["messages"][0]["content"]


def test_strategy_can_be_told_not_to_use_tools() -> None:
    with FakeOpenAIServer(careful_either_way) as server, Store() as store:
        result = run(server, store, strategy="calculator_tool:tools=false", limit=2)
        samples = list(store.samples(result.run_id))
    assert result.summary["correct"] == 2
    assert {s["details"]["mode"] for s in samples} == {"json"}
    assert server.tools == [[], []]


# -- replies in tools mode (scripted model) --------------------------------------------------


async def test_a_reply_without_a_tool_call_is_read_from_its_text() -> None:
    question = sample_question(6)  # mean arterial pressure
    call = right_call(question.context or "")
    assert call is not None
    model = ScriptedModel(lambda r: json.dumps({"calculator": call[0], "arguments": call[1]}),
                          tools=True)
    answer = await build_strategy(StrategySpec.parse("calculator_tool"), seed=0)(question, model)
    assert answer.status is Status.OK
    assert answer.details["mode"] == "tools" and answer.details["raw_arguments"] is None
    assert model.calls[0].tools  # it was offered the tools


async def test_no_call_twice_is_invalid_with_the_reason() -> None:
    model = ScriptedModel(lambda r: "The MAP is about 93.", tools=True)
    solve = build_strategy(StrategySpec.parse("calculator_tool"), seed=0)
    answer = await solve(sample_question(6), model)
    assert answer.status is Status.INVALID
    assert answer.reason == "the reply called no calculator tool"
    assert answer.details == {"mode": "tools", "attempts": [
        {"error": "the reply called no calculator tool"}] * 2}
    assert len(model.calls) == 2


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("no_such_calculator", {}, "unknown calculator"),
        ("mean_arterial_pressure", "[140, 80]", "must be an object"),
        ("mean_arterial_pressure", {"systolic_bp": 140}, "diastolic_bp"),
    ],
)
async def test_unusable_tool_calls_are_repaired_with_the_error(
    name: str, arguments: Any, error: str
) -> None:
    good = tool_call("mean_arterial_pressure", {"systolic_bp": 140, "diastolic_bp": 80})
    bad = tool_call(name, arguments)
    model = ScriptedModel(lambda r: bad if len(r.messages) == 2 else good, tools=True)
    solve = build_strategy(StrategySpec.parse("calculator_tool"), seed=0)
    answer = await solve(sample_question(6), model)
    assert answer.status is Status.OK and answer.details["repaired"] is True
    assert error in answer.details["attempts"][0]["error"]
    assert error in model.calls[1].messages[-1].content
    assert float(answer.choice or "nan") == pytest.approx(100.0)
