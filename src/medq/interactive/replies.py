"""Reading the expert's replies in an interactive consultation: decisions (a choice or a
question), questions, and confidence estimates.

Li et al., NeurIPS 2024 (MediQ) asks for these as free text; medq asks for one JSON object
per reply and reads the last such object, falling back on the plain text the way the
release does (a line with a question mark is a question; a letter is read by medq's
extractor). A reply that says neither is *unread*, never guessed: an unread decision or
confidence counts as not confident, and the dialogue records it.

Confidence is always on [0, 1]: ``binary`` is 1 for yes and 0 for no, ``numerical`` the
stated probability, ``scale`` the rating r of 1..5 (very unconfident .. very confident)
as r / 5, so the release's scale cut-off of 4 ("somewhat confident") is 0.8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medq.scoring.extract import extract_choice, strip_reasoning

SCALE = ("very unconfident", "somewhat unconfident", "neither confident nor unconfident",
         "somewhat confident", "very confident")
"""The five ratings, least confident first (rating r is ``SCALE[r - 1]``)."""
_SCALE_TEXT = re.compile(
    r"very unconfident|somewhat unconfident|neither confident (?:nor|or) unconfident|"
    r"somewhat confident|very confident", re.I)
_DECIMAL = re.compile(r"\d*\.\d+")
_LABEL = re.compile(r"^\s*(?:[-*]\s*)?(?:\**\s*(?:atomic\s+)?(?:doctor\s+)?question\s*\**\s*:)\s*",
                    re.I)


@dataclass(frozen=True)
class Decision:
    """One reply read as the expert's move.

    Attributes:
        kind: ``choice``, ``question``, or None when the reply says neither.
        choice: the option letter of a choice.
        question: the text of a question.
    """

    kind: str | None
    choice: str | None = None
    question: str | None = None


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object in `text` (after any reasoning block), in order."""
    body, _ = strip_reasoning(text)
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = body.find("{")
    while position != -1:
        try:
            obj, end = decoder.raw_decode(body, position)
        except (ValueError, RecursionError):
            position = body.find("{", position + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        position = body.find("{", end)
    return found


def _last(objects: list[dict[str, Any]], key: str) -> Any:
    values = [o[key] for o in objects if key in o]
    return values[-1] if values else None


def read_question(text: str) -> str | None:
    """The question a reply asks: its JSON ``question``, else the last line holding a
    question mark (a ``Question:`` label removed); None when it asks none."""
    asked = _last(json_objects(text), "question")
    if isinstance(asked, str) and asked.strip():
        return asked.strip()
    body, _ = strip_reasoning(text)
    lines = [line.strip() for line in body.splitlines() if "?" in line]
    if not lines:
        return None
    question = _LABEL.sub("", lines[-1]).strip().strip("\"'*").strip()
    return question or None


def read_choice(text: str, options: Mapping[str, str]) -> str | None:
    """The option a reply chose (medq's extractor), or None."""
    return extract_choice(text, options).choice


def read_decision(text: str, options: Mapping[str, str]) -> Decision:
    """A ``basic`` reply: a choice or a question (by its JSON ``type``, else its text)."""
    objects = json_objects(text)
    kind = _last(objects, "type")
    if isinstance(kind, str) and kind.strip().lower() in {"choice", "question"}:
        if kind.strip().lower() == "question":
            question = read_question(text)
            return Decision("question", question=question) if question else Decision(None)
        choice = read_choice(text, options)
        return Decision("choice", choice=choice) if choice else Decision(None)
    question = read_question(text)
    if question is not None:
        return Decision("question", question=question)
    choice = read_choice(text, options)
    return Decision("choice", choice=choice) if choice else Decision(None)


def read_confidence(text: str, abstain: str) -> float | None:
    """The confidence a ``binary``, ``numerical`` or ``scale`` reply states, on [0, 1];
    None when it states none (or a number outside [0, 1])."""
    objects = json_objects(text)
    body, _ = strip_reasoning(text)
    if abstain == "binary":
        value = _last(objects, "confident")
        if isinstance(value, bool):
            return float(value)
        words = re.findall(r"\b(yes|no)\b", str(value) if value is not None else body, re.I)
        return float(words[-1].lower() == "yes") if words else None
    if abstain == "numerical":
        value = _last(objects, "confidence")
        if value is None:
            # Without JSON, the release's rule: the last number written with a decimal point.
            numbers = _DECIMAL.findall(body)
            value = numbers[-1] if numbers else None
        try:
            number = float(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        return number if number is not None and 0.0 <= number <= 1.0 else None
    if abstain == "scale":
        value = _last(objects, "rating")
        if isinstance(value, int | float) and not isinstance(value, bool) and value in range(1, 6):
            return int(value) / 5
        found = _SCALE_TEXT.findall(str(value) if isinstance(value, str) else body)
        if not found:
            return None
        rating = found[-1].lower().replace("confident or", "confident nor")
        return (SCALE.index(rating) + 1) / 5
    raise ValueError(f"no confidence estimate for abstain={abstain!r}")
