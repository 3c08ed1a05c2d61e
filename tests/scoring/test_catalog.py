"""The extraction catalog (`extraction_catalog.toml`) is the specification: every case runs.

Classes, from issue 11's table and the extractor's standing guarantees:

| class | what it pins |
|---|---|
| non_english_phrase | each language's answer phrases ("答案：C", "La respuesta es la C") |
| lowercase_with_text | "c) Pulmonary embolism" is C; "a. patient..." is not A |
| first_person_copular | "I think it's C", "It's C", "C is the answer" |
| self_correction | "The answer is B. Wait, no, it's D." is D |
| retraction | "The answer is C. Actually, no - it is not C." is invalid (retracted) |
| conditional_aside | "(Had the onset been gradual, the answer would be A.)" never commits |
| text_contradicts_letter | "C. Asthma" when Asthma is B is a conflict |
| punctuation_escapes | "B.. Explanation", literal "\\n", zero-width characters |
| number_form | "9/10 (90%)" for option 9/10; 0.9 and 90% too |
| correct_option_lowercase | "the correct option is c" |
| reasoning_blocks, boxed, json, last_wins, out_of_range, no_default_letter | guarantees |
| several_answers, someone_elses_view, hedge, options_under_review, refusal | statement kinds |
| yes_no, fullwidth, label_kinds | yes/no/maybe, full-width forms, labels a-e / 1-5 / I-V |
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medq.scoring.extract import INVALID_REASONS, extract_choice

CATALOG = Path(__file__).with_name("extraction_catalog.toml")
_DOCUMENT = tomllib.loads(CATALOG.read_text(encoding="utf-8"))
OPTIONS: dict[str, dict[str, str]] = _DOCUMENT["options"]
CASES: list[dict[str, Any]] = _DOCUMENT["case"]
ISSUE_CLASSES = (
    "non_english_phrase", "lowercase_with_text", "first_person_copular", "self_correction",
    "retraction", "conditional_aside", "text_contradicts_letter", "punctuation_escapes",
    "number_form", "correct_option_lowercase",
)
LANGUAGES = ("ar", "de", "en", "es", "fa", "fr", "it", "ja", "ko", "pl", "pt", "zh")


def _id(case: dict[str, Any]) -> str:
    return f"{case['class']}-{case['language']}-{case['response'][:40]!r}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_catalog_case(case: dict[str, Any]) -> None:
    options = OPTIONS[case["options"]]
    result = extract_choice(case["response"], options, languages=(case["language"],))
    if "choice" in case:
        assert (result.choice, result.reason) == (case["choice"], None), result
        assert result.span is not None
        start, end = result.span
        assert 0 <= start < end <= len(case["response"])
    else:
        assert (result.choice, result.reason) == (None, case["invalid"]), result


def test_catalog_is_well_formed() -> None:
    assert len(CASES) >= 500
    for case in CASES:
        assert set(case) <= {"class", "style", "language", "options", "response", "choice",
                             "invalid"}, case
        assert ("choice" in case) != ("invalid" in case), case
        assert case["options"] in OPTIONS, case
        assert case["language"] in LANGUAGES, case
        assert case["style"] in {"instruct", "chatty", "reasoning", "json"}, case
        if "choice" in case:
            assert case["choice"] in OPTIONS[case["options"]], case
        else:
            assert case["invalid"] in INVALID_REASONS, case


def test_catalog_covers_every_class_language_and_reason() -> None:
    by_class = Counter(c["class"] for c in CASES)
    assert all(by_class[name] >= 10 for name in ISSUE_CLASSES), by_class
    by_language = Counter(c["language"] for c in CASES)
    assert set(by_language) == set(LANGUAGES)
    assert all(n >= 14 for n in by_language.values()), by_language
    assert {c["invalid"] for c in CASES if "invalid" in c} == set(INVALID_REASONS)
    styles = Counter(c["style"] for c in CASES)
    assert all(styles[s] >= 20 for s in ("instruct", "chatty", "reasoning", "json")), styles
