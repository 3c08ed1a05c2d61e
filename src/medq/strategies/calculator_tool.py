"""Calculator as a tool: the model picks the calculator and reads its inputs; medq computes.

Later MedCalc-Bench work finds that LLMs fail mostly at formula recall and arithmetic, and
that handing the computation to code closes much of the gap (Khandekar et al. 2024, the
"code-augmented" setting; Goodell et al., "Large language model agents can use tools to
perform clinical calculations", npj Digital Medicine 2025). Here the model never
computes: the system text lists every calculator of `medq.calculators` (name, what it
computes, its parameters in a compact form of their JSON schema) and asks for
``{"calculator": name, "arguments": {...}}``; medq validates the arguments with the
calculator's pydantic model and computes the result.

This is the JSON-schema-output path, which runs on every backend. When the reply cannot
be used (no JSON, an unknown calculator, a missing or out-of-range parameter, an unknown
unit), the error is sent back once and the model may correct itself (``repair=True``): 1
call per item, 2 when a repair is needed. Native tool calling (an OpenAI ``tools`` field)
needs support in medq's request type and backends and is not used yet.

The answer's ``details`` show the trace: the calculator chosen, the arguments as given,
the validated parameters, the result and each attempt's error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from medq.calculators import Calculator, calculators, get_calculator, json_schema
from medq.models.base import Model
from medq.prompts import render
from medq.registry import strategies
from medq.scoring.extract import _strip_reasoning
from medq.strategies.base import Strategy, generation_request
from medq.strategies.calc_direct import calc_messages, require_calculation
from medq.types import Answer, Message, Question, Status

CALLS_PER_ITEM = "1 (+1 repair when the first reply cannot be computed)"
PROMPTS = ("medcalc_tool_system", "medcalc_tool", "medcalc_tool_repair")

_QUANTITY_BOILERPLATE = re.compile(
    r', or \{"value": number, "unit": "\.\.\."\} in an accepted unit'
)
_MAX_UNITS = 6


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
    body, reason = _strip_reasoning(text)
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


def format_result(result: Any, output: str) -> str:
    """A calculator's result as answer text: a number, MM/DD/YYYY, or "(w weeks, d days)"."""
    if output == "weeks_days" and isinstance(result, tuple | list) and len(result) == 2:
        return f"({int(result[0])} weeks, {int(result[1])} days)"
    if isinstance(result, date):
        return result.strftime("%m/%d/%Y")
    if isinstance(result, float) and not math.isfinite(result):
        raise ValueError(f"the calculator returned {result}")
    return str(result)


def compute_call(call: tuple[str, Mapping[str, Any]]) -> tuple[dict[str, Any], str]:
    """Validate and compute one call: (trace, answer text). Raises ValueError or
    ArithmeticError (CalculatorInputError is a ValueError) with a message for the model."""
    name, arguments = call
    calc = get_calculator(name)
    params = calc.validate(arguments)
    result = calc.func(params)
    trace = {
        "calculator": calc.name,
        "medcalc_id": calc.medcalc_id,
        "arguments": dict(arguments),
        "parameters": params.model_dump(mode="json"),
        "result": list(result) if isinstance(result, tuple) else (
            result.isoformat() if isinstance(result, date) else result),
    }
    return trace, format_result(result, calc.output)


@strategies.register()
def calculator_tool(
    *, seed: int = 0, max_tokens: int | None = None, repair: bool = True
) -> Strategy:
    """Pick a calculator and its inputs as JSON; medq validates and computes.

    Args:
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
        repair: send a reply that cannot be computed back once with the error.
    """

    async def solve(question: Question, model: Model) -> Answer:
        require_calculation(question, "calculator_tool")
        messages = calc_messages(question, "medcalc_tool_system", "medcalc_tool",
                                 catalog=catalog())
        attempts: list[dict[str, Any]] = []
        truncated = False
        text = ""
        for attempt in range(2 if repair else 1):
            request = generation_request(messages, seed=seed, max_tokens=max_tokens)
            generation = (await model.complete(request)).generations[0]
            text, truncated = generation.text, truncated or generation.truncated
            call = read_call(text)
            try:
                if isinstance(call, str):
                    raise ValueError(call)
                trace, answer = compute_call(call)
            except (ValueError, ArithmeticError) as exc:
                attempts.append({"error": str(exc)})
                messages = (*messages, Message("assistant", text),
                            Message("user", render("medcalc_tool_repair", error=str(exc))))
                continue
            attempts.append({"error": None})
            details = {**trace, "attempts": attempts, "repaired": attempt > 0}
            return Answer(answer, Status.OK, text, truncated=truncated, details=details)
        return Answer(None, Status.INVALID, text, truncated=truncated,
                      reason=attempts[-1]["error"], details={"attempts": attempts})

    return solve
