"""The per-call path's shortcuts give exactly what the slower forms gave."""

from __future__ import annotations

import dataclasses
import json

from medq.calls import completion_from_json, completion_to_json
from medq.scoring.readings import _with_reading, choice_reading
from medq.store import canonical_json
from medq.types import Answer, Completion, Generation, Status, TokenLogprob


def test_canonical_json_is_the_sorted_compact_dump() -> None:
    values = [{"b": [1.5, None, "é", {"z": 1, "a": True}], "a": "x"}, "x", 3, [], {}]
    for value in values:
        assert canonical_json(value) == json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_a_completion_read_back_with_its_key_equals_the_replaced_one() -> None:
    completion = Completion((Generation("B", "stop", (TokenLogprob("B", -0.1, (("B", -0.1),)),)),),
                            12, 1, "m")
    stored = completion_to_json(completion)
    with_key = completion_from_json(stored, "k" * 64)
    assert with_key.key == "k" * 64
    assert with_key == dataclasses.replace(completion_from_json(stored), key="k" * 64)
    assert completion_from_json(stored).key is None


def test_a_reading_is_attached_as_dataclasses_replace_would() -> None:
    # `_with_reading` copies fields: it is only right while `Answer` has no __post_init__.
    assert not hasattr(Answer, "__post_init__")
    answer = Answer("A", Status.OK, "Answer: A", truncated=True, confidence=0.5,
                    details={"method": "answer_line"}, score=None)
    reading = choice_reading(Generation("Answer: A"), {"A": "x", "B": "y"})
    attached = _with_reading(answer, reading)
    assert attached == dataclasses.replace(answer, reading=reading)
    assert attached is not answer and answer.reading is None
