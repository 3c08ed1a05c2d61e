"""The stored form of a completion: field by field, equal to the dataclass's own fields."""

from __future__ import annotations

import dataclasses
import json

from medq.calls import completion_from_json, completion_to_json
from medq.store import canonical_json
from medq.types import Completion, Generation, TokenLogprob, ToolCall


def _every_field_set() -> Completion:
    logprobs = (TokenLogprob("A", -0.1, (("A", -0.1), ("B", -2.5))), TokenLogprob(".", -0.01))
    return Completion(
        (Generation("Answer: A", "stop", logprobs),
         Generation("", "tool_calls", None, (ToolCall("call_1", "lookup", '{"q": 1}'),))),
        prompt_tokens=12, completion_tokens=3, model="served-model", key="k" * 64)


def test_completion_json_equals_asdict_without_key() -> None:
    completion = _every_field_set()
    reference = dataclasses.asdict(completion)
    reference.pop("key")
    for generation in reference["generations"]:
        if not generation["tool_calls"]:
            del generation["tool_calls"]
    # A field added to Completion, Generation, TokenLogprob or ToolCall must be stored too.
    assert canonical_json(completion_to_json(completion)) == canonical_json(reference)


def test_completion_json_round_trips() -> None:
    completion = _every_field_set()
    stored = json.loads(canonical_json(completion_to_json(completion)))
    assert completion_from_json(stored) == dataclasses.replace(completion, key=None)
