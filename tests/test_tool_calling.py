"""Tool calling in medq's core types: requests with tools, tool calls in completions, the
cache key and the stored form, and the scripted model's tool calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medq.calls import CallLog, ItemModel, ItemTally, completion_from_json, completion_to_json
from medq.models.base import UnsupportedCapabilityError
from medq.store import Store, content_hash
from medq.testing.scripted import ScriptedModel, table, tool_call
from medq.types import (
    Capability,
    Completion,
    Generation,
    GenerationRequest,
    JSONObject,
    Message,
    TokenLogprob,
    ToolCall,
)

BMI_TOOL = {
    "name": "body_mass_index",
    "description": "Body mass index.",
    "parameters": {
        "type": "object",
        "properties": {"weight_kg": {"type": "number"}, "units": {"enum": ["kg", "lb"]}},
        "required": ["weight_kg"],
    },
}

# Cache keys computed with medq's types as they were before tool calling existed
# (`git show` of the earlier src/medq/types.py): a request without tools must keep its key.
PLAIN_KEYS = {
    ("openai/x", "http://127.0.0.1:9/v1"):
        "677c36140b58d60c6e3f435b63b5d336b6ace521244432a11e85cb39b07b603e",
}


def plain_request() -> GenerationRequest:
    return GenerationRequest(
        (Message("system", "Be brief."), Message("user", "Which letter?")),
        temperature=0.0, seed=7, max_tokens=64, stop=("END",),
    )


def ask(**params: Any) -> GenerationRequest:
    return GenerationRequest((Message("user", "BMI?"),), **params)


async def item_call(
    store: Store, model: ScriptedModel, request: GenerationRequest, name: str, endpoint: str
) -> tuple[Completion, str]:
    log = CallLog(model, store)
    log.bind(name, endpoint, model.capabilities)
    tally = ItemTally("run", "item")
    completion = await ItemModel(log, tally).complete(request)
    return completion, tally.keys[0]


# -- the request ---------------------------------------------------------------------------


def test_params_include_tools_only_when_set() -> None:
    plain = plain_request().params()
    assert "tools" not in plain and "tool_choice" not in plain
    with_tools = ask(tools=(BMI_TOOL,), tool_choice="required").params()
    assert with_tools["tools"] == [BMI_TOOL]
    assert with_tools["tool_choice"] == "required"
    assert json.loads(json.dumps(with_tools)) == with_tools  # plain JSON
    assert "tool_choice" not in ask(tools=(BMI_TOOL,)).params()


async def test_cache_key_of_a_request_without_tools_is_unchanged() -> None:
    (name, endpoint), expected = next(iter(PLAIN_KEYS.items()))
    with Store() as store:
        _, key = await item_call(store, ScriptedModel(lambda r: "A"), plain_request(),
                                 name, endpoint)
        _, tools_key = await item_call(
            store, ScriptedModel(lambda r: "A", tools=True),
            GenerationRequest(plain_request().messages, temperature=0.0, seed=7,
                              max_tokens=64, stop=("END",), tools=(BMI_TOOL,)),
            name, endpoint)
        stored = store.get_call(key)
    assert key == expected
    assert tools_key != key
    assert stored is not None
    assert "tool_calls" not in stored.response["generations"][0]  # stored as before


def test_request_with_tools_is_frozen_hashable_and_compares_by_value() -> None:
    spec = json.loads(json.dumps(BMI_TOOL))
    request = ask(tools=(spec,), tool_choice="body_mass_index")
    spec["name"] = "changed after the fact"
    assert request.tools[0]["name"] == "body_mass_index"
    with pytest.raises(TypeError):
        request.tools[0]["parameters"]["required"] = []  # type: ignore[index]
    assert request == ask(tools=(BMI_TOOL,), tool_choice="body_mass_index")
    assert hash(request) == hash(ask(tools=(BMI_TOOL,), tool_choice="body_mass_index"))
    assert request != ask(tools=(BMI_TOOL,))
    assert request.tool_specs() == [BMI_TOOL]
    assert len({request, ask()}) == 2


def test_tools_are_json_objects_independent_of_key_order() -> None:
    reordered = {k: BMI_TOOL[k] for k in reversed(list(BMI_TOOL))}
    a, b = ask(tools=(BMI_TOOL,)), ask(tools=(reordered,))
    assert a == b and hash(a) == hash(b)
    assert content_hash(a.params()) == content_hash(b.params())
    tool = a.tools[0]
    assert isinstance(tool, JSONObject) and tool == BMI_TOOL
    assert JSONObject(tool) == tool  # rebuilding one costs nothing
    copy = tool.thaw()
    copy["name"] = "mine now"
    assert tool["name"] == "body_mass_index"
    with pytest.raises(TypeError, match="not a JSON object"):
        ask(tools=({"name": "f", "parameters": {"x": float("nan")}},))
    with pytest.raises(TypeError):
        ask(tools=({"name": "f", "parameters": {"x": {1, 2}}},))


@pytest.mark.parametrize(
    ("tools", "choice", "message"),
    [
        ((), "auto", "needs tools"),
        ((BMI_TOOL,), "other_tool", "tool name"),
        (({"description": "no name"},), None, "string 'name'"),
        ((BMI_TOOL, BMI_TOOL), None, "unique"),
    ],
)
def test_invalid_tool_requests_are_refused(
    tools: tuple[dict[str, Any], ...], choice: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ask(tools=tools, tool_choice=choice)


def test_capability_value() -> None:
    assert Capability("tools") is Capability.TOOLS


# -- the stored completion ------------------------------------------------------------------


def test_tool_calls_round_trip_through_json() -> None:
    completion = Completion(
        (
            Generation("", "tool_calls", None, (ToolCall("c1", "body_mass_index", '{"a": 1}'),)),
            Generation("Answer: A", "stop", (TokenLogprob("A", -0.1, (("A", -0.1),)),)),
        ),
        prompt_tokens=3, completion_tokens=4, model="m",
    )
    data = json.loads(json.dumps(completion_to_json(completion)))
    assert data["generations"][0]["tool_calls"] == [
        {"id": "c1", "name": "body_mass_index", "arguments": '{"a": 1}'}]
    assert "tool_calls" not in data["generations"][1]
    assert completion_from_json(data) == completion


def test_completions_stored_before_tool_calling_still_load() -> None:
    old = {"generations": [{"text": "Answer: B", "finish_reason": "stop", "logprobs": None}],
           "prompt_tokens": 5, "completion_tokens": 2, "model": "m"}
    loaded = completion_from_json(old)
    assert loaded.generations[0].tool_calls == ()
    assert json.loads(json.dumps(completion_to_json(loaded))) == old


# -- the scripted model ---------------------------------------------------------------------


async def test_scripted_model_makes_tool_calls_and_they_are_cached() -> None:
    model = ScriptedModel(
        table({"BMI?": tool_call("body_mass_index", {"weight_kg": 70})}), tools=True)
    assert Capability.TOOLS in model.capabilities
    request = ask(tools=(BMI_TOOL,), tool_choice="required")
    with Store() as store:
        first, key = await item_call(store, model, request, "scripted/test", "scripted")
        again, same_key = await item_call(store, model, request, "scripted/test", "scripted")
    assert key == same_key and len(model.calls) == 1  # the second was a cache hit
    assert again == first
    generation = first.generations[0]
    assert generation.tool_calls == (ToolCall("call_0", "body_mass_index", '{"weight_kg": 70}'),)
    assert (generation.text, generation.finish_reason) == ("", "tool_calls")
    assert model.recorded[0].tool_calls == generation.tool_calls


async def test_scripted_model_without_tools_refuses_tools() -> None:
    model = ScriptedModel(lambda r: "A")
    assert Capability.TOOLS not in model.capabilities
    with pytest.raises(UnsupportedCapabilityError, match="tools=True"):
        await model.complete(ask(tools=(BMI_TOOL,)))
    assert (await model.complete(ask())).generations[0].text == "A"
