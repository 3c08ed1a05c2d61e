"""A scripted consultation: an expert that asks a fixed number of questions, and a patient,
both answering from the prompt alone (so they work behind the loopback server too)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

MARKERS = {
    "basic": "to choose, or",
    "binary": '{"confident": "yes"}',
    "numerical": "How likely is it that you would choose",
    "scale": "Rate it on this scale",
    "choice": "Take what you know now as enough",
    "question": "Ask the patient one specific, atomic question about it",
    "factselect": "Numbered statements of fact about the patient",
    "instruct": "Everything that is known about the patient",
    "direct": "What is known about the patient:",
}


def kind_of(prompt: str) -> str:
    """Which of medq's MediQ prompts `prompt` is."""
    for kind, marker in MARKERS.items():
        if marker in prompt:
            return kind
    raise AssertionError(f"not a MediQ prompt: {prompt[:200]!r}")


def answered(prompt: str) -> int:
    """How many questions the conversation in an expert prompt holds."""
    return prompt.count("\nDoctor: ")


def consultation(ask: int | None = 2, letter: str = "C",
                 confident: Callable[[int, int], Any] | None = None) -> Callable[[str, int], str]:
    """A reply function (prompt, seed) -> text for both roles.

    The expert is unconfident until it has asked `ask` questions (None: never confident),
    asks ``Question k?``, and chooses `letter`; the factselect patient returns the first
    fact; `confident(asked, seed)` may override the confidence reply.
    """

    def reply(prompt: str, seed: int) -> str:
        kind = kind_of(prompt)
        asked = answered(prompt)
        sure = ask is not None and asked >= ask
        if kind == "factselect":
            first = re.search(r"^1\. (.+)$", prompt, re.M)
            return first.group(1) if first else "nothing"
        if kind in ("instruct", "direct"):
            return "He says yes."
        if confident is not None and kind in ("binary", "numerical", "scale"):
            return json.dumps(confident(asked, seed))
        if kind == "scale":
            return json.dumps({"rating": "Very confident" if sure else "Very unconfident"})
        if kind == "binary":
            return json.dumps({"confident": "yes" if sure else "no"})
        if kind == "numerical":
            return json.dumps({"confidence": 0.95 if sure else 0.1})
        if kind == "basic":
            if sure:
                return json.dumps({"type": "choice", "choice": letter})
            return json.dumps({"type": "question", "question": f"Question {asked + 1}?"})
        if kind == "choice":
            return json.dumps({"type": "choice", "choice": letter})
        return json.dumps({"type": "question", "question": f"Question {asked + 1}?"})

    return reply


def server_responder(reply: Callable[[str, int], str]) -> Callable[[Mapping[str, Any], int], str]:
    """`reply` as a FakeOpenAIServer responder (the last message is the prompt)."""
    return lambda body, index: reply(body["messages"][-1]["content"], body.get("seed") or 0)


def scripted_responder(reply: Callable[[str, int], str]) -> Callable[[Any], str]:
    """`reply` as a ScriptedModel responder."""
    return lambda request: reply(request.messages[-1].content,
                                 (request.seed or 0) + request.sample_index)
