"""Reading the expert's replies: decisions, questions, confidence estimates."""

from __future__ import annotations

import pytest

from medq.interactive.replies import Decision, read_confidence, read_decision, read_question

OPTIONS = {"A": "Gentamicin", "B": "Ciprofloxacin", "C": "Ceftriaxone", "D": "Trimethoprim"}


@pytest.mark.parametrize(("text", "expected"), [
    ('{"type": "choice", "choice": "C"}', Decision("choice", choice="C")),
    ('```json\n{"rationale": "why?", "type": "question", "question": "Any fever?"}\n```',
     Decision("question", question="Any fever?")),
    ('{"type": "choice", "choice": "E"}', Decision(None)),  # not an option: unread
    ('{"type": "question", "question": ""}', Decision(None)),
    ("Question: Does he have a rash?", Decision("question", question="Does he have a rash?")),
    ("Answer: B", Decision("choice", choice="B")),
    ("<think>Is it C?</think>C", Decision("choice", choice="C")),
    ("I am not sure.", Decision(None)),
])
def test_decisions(text: str, expected: Decision) -> None:
    assert read_decision(text, OPTIONS) == expected


def test_questions() -> None:
    assert read_question('{"type": "question", "question": " Any travel? "}') == "Any travel?"
    assert read_question("ATOMIC QUESTION: Is the pain worse at night?") == \
        "Is the pain worse at night?"
    assert read_question("I would ask about the history.") is None


@pytest.mark.parametrize(("abstain", "text", "expected"), [
    ("binary", '{"confident": "yes"}', 1.0),
    ("binary", '{"confident": false}', 0.0),
    ("binary", "REASON: missing labs.\nDECISION: NO", 0.0),
    ("binary", "maybe", None),
    ("numerical", '{"confidence": 0.35}', 0.35),
    ("numerical", '{"confidence": "0.9"}', 0.9),
    ("numerical", '{"confidence": 80}', None),  # not a probability: unread, never rescaled
    ("numerical", "SCORE: 0.7", 0.7),
    ("numerical", "very", None),
    ("scale", '{"rating": "Somewhat confident"}', 0.8),
    ("scale", '{"rating": "very unconfident"}', 0.2),
    ("scale", '{"rating": 3}', 0.6),
    ("scale", "DECISION: Neither confident or unconfident", 0.6),
    ("scale", "Somewhat unconfident", 0.4),
    ("scale", "Very Confident", 1.0),
    ("scale", '{"rating": "confident-ish"}', None),
])
def test_confidence(abstain: str, text: str, expected: float | None) -> None:
    assert read_confidence(text, abstain) == expected
