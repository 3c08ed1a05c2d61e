"""Asking one judge for one verdict, failing closed.

The judge gets the rendered prompt file at temperature 0 with a fixed seed, through the
run's call store like every other call (cached, resumable, replayed by rescore). Its
reply must be a JSON object that validates against the verdict's schema; when it does
not, the judge is asked again, quoting the validation error, at most `MAX_REASKS` times.
After that the verdict is *ungraded*: `JudgeReply.verdict` is None and the error is kept.
Nothing here ever substitutes a default verdict.

Peers fail open: simple-evals' HealthBench grader retries unparseable JSON in an
unbounded loop, and MedHELM's jury falls back to a default score when no judge parses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from medq.judge.schema import Verdict
from medq.models.base import Model
from medq.prompts import render
from medq.types import GenerationRequest, Message

V = TypeVar("V", bound=Verdict)

JUDGE_SEED = 0
"""The seed of every judge call. Fixed rather than the run's seed: a verdict on the same
text by the same judge should not depend on how the answer was sampled, and a fixed seed
lets runs that differ only in their seed share the judge's cached verdicts."""
MAX_REASKS = 2
REASK_PROMPT = "judge_reask"
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


class VerdictError(ValueError):
    """A judge's reply that is not a valid verdict; the message says why."""


@dataclass(frozen=True)
class JudgeReply:
    """One judge's answer to one question, after any re-asks.

    Attributes:
        verdict: the validated verdict, or None when every attempt failed (ungraded).
        attempts: calls made for it (1 + re-asks).
        error: why the last attempt was not a verdict (None when there is a verdict).
        model: the model ID the judge's server reported (None when it reported none).
        calls: the store keys of the calls, in order.
    """

    verdict: Verdict | None
    attempts: int
    error: str | None
    model: str | None
    calls: tuple[str, ...] = ()


def parse_verdict(text: str, schema: type[V], context: Mapping[str, Any] | None = None) -> V:
    """The verdict in a judge's reply: the reply itself, its one fenced block, or the span
    from its first ``{`` to its last ``}``, parsed as JSON and validated strictly.

    Raises:
        VerdictError: no JSON object, invalid JSON, or a field missing or of the wrong type.

    Example:
        >>> from medq.judge.schema import RubricVerdict
        >>> parse_verdict('{"criteria_met": true}', RubricVerdict).label
        'met'
    """
    from medq.scoring.extract import strip_reasoning

    body, unusable = strip_reasoning(text)
    if unusable:
        raise VerdictError(f"the reply is unusable ({unusable})")
    candidate = _json_span(body)
    if candidate is None:
        raise VerdictError("the reply holds no JSON object")
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise VerdictError(f"the reply is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise VerdictError("the reply is not a JSON object")
    try:
        return schema.model_validate(data, strict=True, context=dict(context or {}))
    except ValidationError as exc:
        raise VerdictError("; ".join(
            f"field {'.'.join(str(p) for p in e['loc']) or '(object)'!r}: {e['msg']}"
            for e in exc.errors()
        )) from None


def _json_span(body: str) -> str | None:
    stripped = body.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        return stripped
    fenced = _FENCE.findall(stripped)
    if len(fenced) == 1:
        return fenced[0].strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    return stripped[start : end + 1] if 0 <= start < end else None


async def ask_judge(
    judge: Model,
    prompt: str,
    fields: Mapping[str, str],
    schema: type[V],
    *,
    context: Mapping[str, Any] | None = None,
    max_tokens: int | None = None,
) -> JudgeReply:
    """Ask `judge` for a verdict of type `schema` with prompt file `prompt` filled by
    `fields`; re-ask at most `MAX_REASKS` times, quoting the validation error.

    A ModelError (the judge could not be reached) propagates: the item is then an error,
    retried on resume, not an ungraded verdict.
    """
    messages: tuple[Message, ...] = (Message("user", render(prompt, **fields)),)
    error: str | None = None
    reported: str | None = None
    calls: list[str] = []
    for attempt in range(1, MAX_REASKS + 2):
        completion = await judge.complete(GenerationRequest(
            messages, temperature=0.0, seed=JUDGE_SEED, max_tokens=max_tokens))
        if completion.key is not None:
            calls.append(completion.key)
        reported = completion.model or reported
        text = completion.generations[0].text
        try:
            verdict = parse_verdict(text, schema, context)
        except VerdictError as exc:
            error = str(exc)
        else:
            return JudgeReply(verdict, attempt, None, reported, tuple(calls))
        messages = (*messages, Message("assistant", text),
                    Message("user", render(REASK_PROMPT, error=error)))
    return JudgeReply(None, MAX_REASKS + 1, error, reported, tuple(calls))
