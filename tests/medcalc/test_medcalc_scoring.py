"""MedCalc-Bench answer parsing and the official tolerance rule on hand-made edge cases."""

from __future__ import annotations

import builtins

import pytest

from medq.scoring.medcalc import extract_calc_answer, parse_value
from medq.tasks.medcalc import answer_format, official_score
from medq.types import Question


def row(gold: str, fmt: str, lower: str | None = None, upper: str | None = None) -> Question:
    meta = {"answer_format": fmt, "lower_limit": lower or gold, "upper_limit": upper or gold}
    return Question("1", "q", {}, gold, context="note", metadata=meta)


@pytest.mark.parametrize(
    ("answer", "correct"),
    [("09/23/2014", True), ("9/23/2014", True), ("09/22/2014", False), ("09/24/2014", False)],
)
def test_date_must_be_exact(answer: str, correct: bool) -> None:
    assert official_score(row("09/23/2014", "date"), answer) is correct


@pytest.mark.parametrize(
    ("answer", "correct"),
    [("4", True), ("4.0", True), ("4.4", True), ("3.6", True), ("4.5", True), ("5", False),
     ("3.4", False)],
)
def test_integer_rounds_half_to_even(answer: str, correct: bool) -> None:
    # round(4.5) == 4 in Python (the official script's round), so 4.5 counts for 4.
    assert official_score(row("4", "integer"), answer) is correct


@pytest.mark.parametrize(
    ("answer", "correct"),
    [("23.9761", True), ("26.4999", True), ("23.976", False), ("26.5", False), ("25.238", True)],
)
def test_decimal_limits_are_inclusive(answer: str, correct: bool) -> None:
    question = row("25.238", "decimal", "23.9761", "26.4999")
    assert official_score(question, answer) is correct


@pytest.mark.parametrize(
    ("text", "correct"),
    [('{"answer": "(4 weeks, 2 days)"}', True), ("{\"answer\": \"('4 weeks', '2 days')\"}", True),
     ('{"answer": [4, 2]}', True), ('{"answer": "4 weeks and 2 days"}', True),
     ('{"answer": "(4 weeks, 3 days)"}', False), ('{"answer": "(2, 4)"}', False)],
)
def test_weeks_days_exact(text: str, correct: bool) -> None:
    question = row("('4 weeks', '2 days')", "weeks_days")
    extraction = extract_calc_answer(text, "weeks_days")
    assert extraction.answer is not None
    assert official_score(question, extraction.answer) is correct


def test_weeks_days_rows_are_labelled_integer_in_the_release() -> None:
    assert answer_format("integer", "('14 weeks', '1 days')") == "weeks_days"
    assert answer_format("integer", "4") == "integer"


@pytest.mark.parametrize(
    ("text", "fmt", "expected", "method"),
    [
        ('{"step_by_step_thinking": "...", "answer": "25.2 mL/min"}', "decimal", "25.2", "json"),
        ('```json\n{"answer": 4.0}\n```', "integer", "4.0", "json"),
        ('{"answer": "1,234.5"}', "decimal", "1234.5", "json"),
        ('{"step_by_step_thinking": "a "quoted" word", "answer": "12"}', "integer", "12",
         "json_key"),
        ("{'step_by_step_thinking': 'x', 'answer': '7'}", "integer", "7", "json_key"),
        ('{"answer": "8.1 mL/min/1.73 m²"}', "decimal", "8.1", "json"),
        ('{"answer": "CrCl = (140 - 87) * 48 / (72 * 1.4) = 25.2"}', "decimal", "25.2", "json"),
        ('{"answer": "3 out of 5"}', "integer", "3", "json"),
        ('{"answer": "-5.5"}', "decimal", "-5.5", "json"),
        ('{"answer": "4/2/2012"}', "date", "04/02/2012", "json"),
        ('{"answer": "2012-04-02"}', "date", "04/02/2012", "json"),
        ('{"answer": "April 2, 2012"}', "date", "04/02/2012", "json"),
        ("Answer: 12 points", "integer", "12", "answer_line"),
        ("<think>2 + 2</think>\n17", "integer", "17", "bare"),
        ('{"answer": 1} and later {"answer": 2}', "integer", "2", "json"),
    ],
)
def test_parsing(text: str, fmt: str, expected: str, method: str) -> None:
    extraction = extract_calc_answer(text, fmt)
    assert (extraction.answer, extraction.method) == (expected, method)


@pytest.mark.parametrize(
    ("text", "fmt", "reason"),
    [
        ('{"answer": "str(round((140 - 22) * 50.0 / (1.4 * 72), 2))"}', "decimal", "expression"),
        ('{"answer": "2-3"}', "integer", "range"),
        ('{"answer": "23/09/2014"}', "date", "no MM/DD/YYYY"),
        ('{"answer": "X.XX"}', "decimal", "placeholder"),
        ('{"answer": "str(value which is the answer to the question)"}', "decimal",
         "placeholder"),
        ('{"answer": "unknown"}', "decimal", "no number"),
        ("<think>still thinking", "integer", "unclosed"),
        ("I would need the patient's weight, which the note does not give.", "decimal",
         "no answer"),
        ('{"answer": true}', "integer", "not a value"),
    ],
)
def test_unparseable_is_invalid(text: str, fmt: str, reason: str) -> None:
    extraction = extract_calc_answer(text, fmt)
    assert extraction.answer is None
    assert reason in (extraction.reason or "")


def test_model_text_is_never_evaluated(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_eval(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval called")

    monkeypatch.setattr(builtins, "eval", no_eval)
    monkeypatch.setattr(builtins, "exec", no_eval)
    for text in ('{"answer": "__import__(\'os\').system(\'true\')"}',
                 '{"answer": "str(1 + 1)"}', '{"answer": "(4, 2)"}', "('4 weeks', '2 days')"):
        for fmt in ("decimal", "integer", "date", "weeks_days"):
            extraction = extract_calc_answer(text, fmt)
            if extraction.answer is not None:
                assert official_score(row("4", "integer") if fmt == "integer" else
                                      row("('4 weeks', '2 days')", "weeks_days")
                                      if fmt == "weeks_days" else row("1", "decimal", "0", "2")
                                      if fmt == "decimal" else row("01/01/2020", "date"),
                                      extraction.answer) in (True, False)


def test_parse_value_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown answer format"):
        extract_calc_answer("1", "percent")
    assert parse_value([4, 2], "decimal")[0] is None
