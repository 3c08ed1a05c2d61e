"""The question a chat request asks: given structured, or read from the last user message.

Structured (``extra_body={"medq": {"question": {"stem": ..., "options": {...}}}}``) is
exact. Plain text is read as a stem followed by options, one per line, lettered from A in
order: ``A. text``, ``A) text``, ``(A) text`` or ``A: text``; a line that is not an
option continues the option above it. Anything else is a question without options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medq.types import LETTERS

__all__ = ["AskedQuestion", "QuestionError", "parse_text", "question_from"]

_OPTION = re.compile(r"^\s*\(?([A-Z])\s*[.):]\s*(\S.*)$")


class QuestionError(ValueError):
    """The request holds no question medq can read; the message says what is missing."""


@dataclass(frozen=True)
class AskedQuestion:
    """A question as asked: the stem and the options, letter -> text (maybe empty)."""

    stem: str
    options: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"stem": self.stem, "options": dict(self.options)}


def parse_text(text: str) -> AskedQuestion:
    """Stem and options from plain text (see the module docstring).

    Example:
        >>> parse_text("Which organ?\\nA. Liver\\nB. Glianorex").options["B"]
        'Glianorex'
    """
    lines = text.strip().splitlines()
    for start, line in enumerate(lines):
        match = _OPTION.match(line)
        if match is None or match.group(1) != "A":
            continue
        options: dict[str, str] = {}
        current = None
        for rest in lines[start:]:
            found = _OPTION.match(rest)
            if found is not None and found.group(1) == LETTERS[len(options)]:
                current = found.group(1)
                options[current] = found.group(2).strip()
            elif rest.strip() and current is not None:
                options[current] += " " + rest.strip()
        stem = "\n".join(lines[:start]).strip()
        if len(options) >= 2 and stem:
            return AskedQuestion(stem, options)
    return AskedQuestion(text.strip(), {})


def _structured(value: Any) -> AskedQuestion:
    if not isinstance(value, Mapping):
        raise QuestionError("medq.question must be an object with 'stem' and 'options'")
    stem = value.get("stem")
    if not isinstance(stem, str) or not stem.strip():
        raise QuestionError("medq.question.stem must be non-empty text")
    raw = value.get("options") or {}
    if isinstance(raw, Sequence) and not isinstance(raw, str):
        if len(raw) > len(LETTERS):
            raise QuestionError(f"medq.question.options: at most {len(LETTERS)} options")
        raw = {LETTERS[i]: text for i, text in enumerate(raw)}
    if not isinstance(raw, Mapping):
        raise QuestionError("medq.question.options must map letters to text, or list texts")
    options: dict[str, str] = {}
    for i, (letter, text) in enumerate(raw.items()):
        if i >= len(LETTERS) or letter != LETTERS[i]:
            raise QuestionError(f"medq.question.options: letters must run A, B, C, … in "
                                f"order; found {letter!r} in place {i + 1}")
        if not isinstance(text, str) or not text.strip():
            raise QuestionError(f"medq.question.options.{letter} must be non-empty text")
        options[letter] = text.strip()
    return AskedQuestion(stem.strip(), options)


def question_from(messages: Sequence[Mapping[str, Any]], extension: Mapping[str, Any] | None
                  ) -> AskedQuestion:
    """The question of a chat request: the structured one when given, else the last user
    message read by `parse_text`.

    Raises:
        QuestionError: no question, or a malformed structured one.
    """
    if extension and extension.get("question") is not None:
        return _structured(extension["question"])
    for message in reversed(messages):
        if message.get("role") == "user":
            text = message.get("content")
            if isinstance(text, list):
                parts = [p for p in text if isinstance(p, Mapping)]
                if any(p.get("type") != "text" for p in parts):
                    raise QuestionError("only text content is supported (no images or files)")
                text = "\n".join(str(p.get("text") or "") for p in parts)
            if not isinstance(text, str) or not text.strip():
                raise QuestionError("the last user message has no text")
            return parse_text(text)
    raise QuestionError("no user message: ask the question as the last user message, or "
                        "give it as medq.question")
