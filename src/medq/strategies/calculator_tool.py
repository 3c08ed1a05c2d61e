"""Calculator as a tool: the model picks the calculator and reads its inputs; medq computes.

Later MedCalc-Bench work finds that LLMs fail mostly at formula recall and arithmetic, and
that handing the computation to code closes much of the gap (Khandekar et al. 2024, the
"code-augmented" setting; Goodell et al., "Large language model agents can use tools to
perform clinical calculations", npj Digital Medicine 2025). Here the model never
computes: it picks one calculator of `medq.calculators` and reads its arguments from the
note; medq validates the arguments with the calculator's pydantic model and computes the
result. Two ways of asking, chosen by the backend:

- ``mode="tools"``, when the model declares `Capability.TOOLS` (the OpenAI-compatible
  backend does unless built with ``tools=False``): every calculator is offered as a
  function tool (name, description, its pydantic JSON schema as the parameters) with
  ``tool_choice="required"``, and the first tool call is computed. A reply with no tool
  call but a ``{"calculator": ..., "arguments": ...}`` object in its text (servers whose
  tool parser missed it) is read from the text.
- ``mode="json"``, on every other backend, or with ``tools=False``: the system text lists
  every calculator (name, what it computes, its parameters in a compact form of their JSON
  schema) and asks for ``{"calculator": name, "arguments": {...}}`` as the reply.

When the call cannot be used (no call, arguments that are not JSON, an unknown
calculator, a missing or out-of-range parameter, an unknown unit), the error is sent back
once as a user turn and the model may correct itself (``repair=True``): 1 call per item,
2 when a repair is needed.

The answer's ``details`` show the trace: the mode, the calculator chosen, the arguments as
given (and in tools mode the raw argument text), the validated parameters, the result with
its unit and worked steps (`medq.calculators.Calculation`) and each attempt's error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from typing import Any

from medq.calculators import Calculator, calculators, get_calculator, json_schema
from medq.models.base import Model
from medq.prompts import render, template
from medq.registry import strategies
from medq.scoring.extract import strip_reasoning
from medq.strategies._shared.answers import require_calculation
from medq.strategies._shared.messages import calc_messages, generation_request
from medq.strategies._shared.params import MaxTokens
from medq.strategies.base import Strategy
from medq.types import Answer, Capability, Generation, JSONObject, Message, Question, Status

CALLS_PER_ITEM = "1 (+1 repair when the first call cannot be computed), in either mode"
PROMPTS = (
    "medcalc_tool_system",
    "medcalc_tool",
    "medcalc_tool_repair",
    # Tools mode: the tool definitions carry the catalog, so the text only frames the task.
    "medcalc_tools_system",
    "medcalc_tools",
    "medcalc_tools_repair",
)
ACCEPTS = ("calculation",)

_QUANTITY_BOILERPLATE = re.compile(
    r', or \{"value": number, "unit": "\.\.\."\} in an accepted unit'
)
_MAX_UNITS = 6


@cache
def calculator_tools() -> tuple[JSONObject, ...]:
    """Every calculator as an OpenAI function spec ``{"name", "description", "parameters"}``
    (read-only, built once: the schemas come to ~100 kB)."""
    return tuple(JSONObject(json_schema(calc)) for calc in calculators().values())


@cache
def catalog() -> str:
    """Every calculator with its parameters, one compact block each (the prompt's list)."""
    return "\n\n".join(_describe(calc) for calc in calculators().values())


def _describe(calc: Calculator) -> str:
    schema = json_schema(calc)
    lines = [f"{calc.name}: {calc.title}" + (f" (result in {calc.unit})" if calc.unit else "")]
    parameters = schema["parameters"]
    defs = parameters.get("$defs", {})
    required = set(parameters.get("required", ()))
    for name, spec in parameters.get("properties", {}).items():
        lines.append(f"  - {_parameter(name, spec, name in required, defs)}")
    return "\n".join(lines)


def _parameter(name: str, spec: Mapping[str, Any], required: bool, defs: Mapping[str, Any]) -> str:
    text = _QUANTITY_BOILERPLATE.sub("", spec.get("description", spec.get("title", name)))
    parts = [f"{name}: {text}"]
    enum = _enum(spec, defs)
    if enum:
        parts.append("one of " + ", ".join(json.dumps(v) for v in enum))
    units = _units(spec)
    if units:
        parts.append("units " + ", ".join(units[:_MAX_UNITS]))
    item = spec.get("items", {})
    ref = item.get("$ref", "").rsplit("/", 1)[-1]
    if ref in defs:
        fields = ", ".join(defs[ref].get("properties", {}))
        parts.append(f"a list of {{{fields}}}")
    if not required:
        default = spec.get("default")
        parts.append("optional" + (f", default {json.dumps(default)}" if default is not None
                                   else ""))
    return "; ".join(parts)


def _enum(spec: Mapping[str, Any], defs: Mapping[str, Any]) -> list[Any]:
    if "enum" in spec:
        return list(spec["enum"])
    for option in spec.get("anyOf", ()):
        ref = option.get("$ref", "").rsplit("/", 1)[-1]
        if "enum" in option:
            return list(option["enum"])
        if ref in defs and "enum" in defs[ref]:
            return list(defs[ref]["enum"])
    return []


def _units(spec: Mapping[str, Any]) -> list[str]:
    for option in spec.get("anyOf", ()):
        unit = option.get("properties", {}).get("unit", {})
        if "examples" in unit:
            return list(unit["examples"])
    return []


def read_call(text: str) -> tuple[str, Mapping[str, Any]] | str:
    """(calculator, arguments) from a reply, or the reason it has none.

    The last JSON object with a ``calculator`` key counts; its arguments are under
    ``arguments`` (also accepted: ``parameters``, ``args``, ``inputs``).
    """
    body, reason = strip_reasoning(text)
    if reason is not None:
        return reason
    decoder = json.JSONDecoder()
    found: tuple[str, Mapping[str, Any]] | str = (
        'no JSON object with a "calculator" key in the reply')
    position = body.find("{")
    while position != -1:
        try:
            obj, end = decoder.raw_decode(body, position)
        except (ValueError, RecursionError):
            position = body.find("{", position + 1)
            continue
        if isinstance(obj, dict):
            keys = {k.lower(): k for k in obj if isinstance(k, str)}
            if "calculator" in keys:
                found = _call(obj, keys)
        position = body.find("{", end)
    return found


def _call(obj: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[str, Mapping[str, Any]] | str:
    name = obj[keys["calculator"]]
    if not isinstance(name, str | int) or isinstance(name, bool):
        return f'"calculator" must be a calculator name, not {name!r}'
    for key in ("arguments", "parameters", "args", "inputs"):
        if key in keys:
            arguments = obj[keys[key]]
            if not isinstance(arguments, dict):
                return f'"{key}" must be an object of parameters, not {type(arguments).__name__}'
            return str(name), arguments
    return 'the reply has no "arguments" object'


def read_tool_call(generation: Generation) -> tuple[str, Mapping[str, Any]] | str:
    """(calculator, arguments) from a reply's first tool call, or the reason it has none.

    A reply without tool calls is read as text (`read_call`), for servers whose tool parser
    left the call in the content.
    """
    if not generation.tool_calls:
        found = read_call(generation.text)
        return found if not isinstance(found, str) else "the reply called no calculator tool"
    call = generation.tool_calls[0]
    try:
        arguments = json.loads(call.arguments)
    except (ValueError, RecursionError):
        return f"the arguments of {call.name} are not valid JSON: {call.arguments[:200]!r}"
    if not isinstance(arguments, dict):
        return f"the arguments of {call.name} must be an object, not {type(arguments).__name__}"
    return call.name, arguments


def _said(generation: Generation) -> str:
    """A reply as text (the answer text, and the turn replayed before a repair): its text
    and the tool call it made, if any."""
    if not generation.tool_calls:
        return generation.text
    call = generation.tool_calls[0]
    return f"{generation.text}\nCalled {call.name} with arguments {call.arguments}".strip()


def compute_call(call: tuple[str, Mapping[str, Any]]) -> tuple[dict[str, Any], str]:
    """Validate and compute one call: (trace, answer text). Raises ValueError or
    ArithmeticError (CalculatorInputError is a ValueError) with a message for the model.

    The trace keeps the calculation as worked: the result with its unit and text
    (``71.2 mL/min``), the inputs after unit conversion and the intermediate values.
    """
    name, arguments = call
    calc = get_calculator(name)
    params = calc.validate(arguments)
    result = calc.compute(params)
    answer = result.answer
    trace = {
        "calculator": calc.name,
        "medcalc_id": calc.medcalc_id,
        "arguments": dict(arguments),
        "parameters": params.model_dump(mode="json"),
        "result": result.to_json()["value"],
        "unit": result.unit,
        "result_text": str(result),
        "inputs": [s.to_json() for s in result.inputs],
        "steps": [s.to_json() for s in result.steps],
    }
    return trace, answer


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def calculator_tool(
    *, seed: int = 0, max_tokens: MaxTokens = None, repair: bool = True, tools: bool = True
) -> Strategy:
    """Pick a calculator and its inputs (a tool call, or JSON); medq validates and computes.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
        repair: send a call that cannot be computed back once with the error.
        tools: offer the calculators as native tools when the backend can call tools;
            False always asks for JSON output (as before tool calling existed).
    """

    async def solve(question: Question, model: Model) -> Answer:
        require_calculation(question, "calculator_tool")
        mode = "tools" if tools and Capability.TOOLS in model.capabilities else "json"
        if mode == "tools":
            messages: tuple[Message, ...] = (
                Message("system", template("medcalc_tools_system").strip()),
                Message("user", render("medcalc_tools", note=question.context or "",
                                       question=question.stem)),
            )
        else:
            messages = calc_messages(question, "medcalc_tool_system", "medcalc_tool",
                                     catalog=catalog())
        attempts: list[dict[str, Any]] = []
        truncated = False
        text = ""
        for attempt in range(2 if repair else 1):
            request = generation_request(messages, seed=seed, max_tokens=max_tokens)
            if mode == "tools":
                request = replace(request, tools=calculator_tools(), tool_choice="required")
            generation = (await model.complete(request)).generations[0]
            text, truncated = _said(generation), truncated or generation.truncated
            call = read_tool_call(generation) if mode == "tools" else read_call(text)
            raw = generation.tool_calls[0].arguments if generation.tool_calls else None
            try:
                if isinstance(call, str):
                    raise ValueError(call)
                trace, answer = compute_call(call)
            except (ValueError, ArithmeticError) as exc:
                attempts.append({"error": str(exc)})
                prompt = "medcalc_tools_repair" if mode == "tools" else "medcalc_tool_repair"
                repair_text = render(prompt, error=str(exc))
                messages = (*messages, Message("assistant", text), Message("user", repair_text))
                continue
            attempts.append({"error": None})
            details = {"mode": mode, **trace, "attempts": attempts, "repaired": attempt > 0}
            if mode == "tools":
                details["raw_arguments"] = raw
            return Answer(answer, Status.OK, text, truncated=truncated, details=details)
        return Answer(None, Status.INVALID, text, truncated=truncated,
                      reason=attempts[-1]["error"], details={"mode": mode, "attempts": attempts})

    return solve
