"""One judge, one verdict: strict validation, bounded re-asks, ungraded after that."""

from __future__ import annotations

import json

import pytest

from medq.judge import (
    MAX_REASKS,
    ChoiceVerdict,
    GradeVerdict,
    RubricVerdict,
    VerdictError,
    ask_judge,
    parse_verdict,
)
from medq.testing.scripted import ScriptedModel

FIELDS = {"conversation": "user: hi\n\nassistant: hello", "criterion": "[1] greets"}


@pytest.mark.parametrize("reply", [
    '{"explanation": "ok", "criteria_met": true}',
    '```json\n{"criteria_met": true}\n```',
    'Here it is: {"criteria_met": true} as asked.',
    '<think>hmm</think>{"criteria_met": true}',
])
def test_a_verdict_is_read_from_the_usual_wrappings(reply: str) -> None:
    assert parse_verdict(reply, RubricVerdict).criteria_met is True


@pytest.mark.parametrize(("reply", "why"), [
    ("It meets the criterion.", "no JSON object"),
    ('{"criteria_met": "maybe"}', "valid boolean"),
    ('{"criteria_met": "true"}', "valid boolean"),  # strict: a string is not a boolean
    ('{"criteria_met": 1}', "valid boolean"),
    ('{"explanation": "x"}', "Field required"),
    ('{"criteria_met": tru}', "not valid JSON"),
    ("[true]", "no JSON object"),
    ("<think>never closed", "unusable"),
])
def test_anything_else_is_not_a_verdict(reply: str, why: str) -> None:
    with pytest.raises(VerdictError, match=why):
        parse_verdict(reply, RubricVerdict)


def test_grade_and_choice_verdicts_validate_their_values() -> None:
    assert parse_verdict('{"grade": "partially_correct"}', GradeVerdict).label == \
        "partially_correct"
    with pytest.raises(VerdictError, match="grade"):
        parse_verdict('{"grade": "mostly"}', GradeVerdict)
    letters = {"letters": ["A", "B"]}
    assert parse_verdict('{"choice": "B"}', ChoiceVerdict, letters).label == "B"
    assert parse_verdict('{"choice": null}', ChoiceVerdict, letters).label == "none"
    with pytest.raises(VerdictError, match="one of A, B"):
        parse_verdict('{"choice": "E"}', ChoiceVerdict, letters)


async def test_a_re_ask_quotes_the_error_and_a_valid_second_reply_counts() -> None:
    replies = iter(['{"criteria_met": "maybe"}', '{"criteria_met": false}'])
    judge = ScriptedModel(lambda request: next(replies), name="j")
    reply = await ask_judge(judge, "judge_rubric", FIELDS, RubricVerdict)
    assert reply.verdict is not None and reply.verdict.label == "not_met"
    assert reply.attempts == 2 and reply.model == "j"
    second = judge.calls[1]
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]
    assert "criteria_met" in second.messages[-1].content
    assert all(r.temperature == 0.0 and r.seed == 0 for r in judge.calls)


async def test_after_two_re_asks_the_verdict_is_ungraded() -> None:
    judge = ScriptedModel(lambda request: json.dumps({"criteria_met": "maybe"}))
    reply = await ask_judge(judge, "judge_rubric", FIELDS, RubricVerdict)
    assert reply.verdict is None and reply.attempts == MAX_REASKS + 1 == len(judge.calls)
    assert "valid boolean" in (reply.error or "")
