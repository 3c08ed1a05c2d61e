"""Reading a MedCalc-Bench answer: a model's response -> a normalised value, or invalid.

The official prompts ask for a JSON object, ``{"step_by_step_thinking": ..., "answer": ...}``
(Khandekar et al. 2024). The answer is looked for in tiers; the strongest tier that
matches decides, and inside a tier the *last* answer wins:

1. ``json``: a JSON object with an ``answer`` key (fenced, inside prose, or nested);
2. ``json_key``: the ``"answer": value`` pair read by pattern when the object is malformed
   (unescaped quotes or newlines in the reasoning, Python-style single quotes);
3. ``answer_line``: a line ``Answer: value`` / ``Final answer: value``;
4. ``bare``: a response that is nothing but a short value ("25.2 mL/min", "04/02/2012").

The value is then read by the row's answer format:

- numbers (``decimal``, ``integer``): the first number of the value, so "25.24 mL/min",
  "8.1 mL/min/1.73 m²", "4 points" and "3 out of 5" give 25.24, 8.1, 4 and 3; thousands
  commas are removed ("1,234.5"); when the value shows working ("... = 25.2") the number
  after the last "=" counts. A range ("2-3", "2 to 3") is invalid. A percentage is read as
  written ("53.1%" -> 53.1).
- dates: MM/DD/YYYY as in the dataset (also YYYY-MM-DD and "April 2, 2012"), returned as
  MM/DD/YYYY; a day/month order that is not a valid MM/DD date is invalid.
- ``weeks_days``: "(4 weeks, 2 days)", "('4 weeks', '2 days')", "4 weeks and 2 days",
  "(4, 2)", ``[4, 2]``; returned as "(4 weeks, 2 days)".

Model text is never evaluated as Python: an arithmetic expression where a value belongs
("str(round(140 - 87) * 48 / 72)") is invalid. This is stricter than the official script,
which ``eval``s such expressions; rows answered that way are counted and reported as
invalid, never silently scored. ``<think>`` blocks are removed first, as in
`medq.scoring.extract`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from medq.scoring.extract import strip_reasoning

__all__ = [
    "CALC_EXTRACTOR_VERSION",
    "CalcExtraction",
    "extract_calc_answer",
    "medcalc_table",
    "parse_value",
]

CALC_EXTRACTOR_VERSION = "1"

NUMBER_FORMATS = frozenset({"decimal", "integer"})
FORMATS = NUMBER_FORMATS | {"date", "weeks_days"}

# Placeholders copied from the official prompt instead of an answer.
_PLACEHOLDERS = frozenset(
    {
        "str(short_and_direct_answer_of_the_question)",
        "str(value which is the answer to the question)",
        "x.xx",
        "short_and_direct_answer_of_the_question",
    }
)

_NUMBER = r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+−]?\.\d+"
_NUMBER_RE = re.compile(rf"(?<![\w.])(?:{_NUMBER})")
_RANGE_RE = re.compile(rf"^\s*(?:{_NUMBER})\s*(?:-|–|—|to)\s*(?:{_NUMBER})(?![\w/])", re.I)
_EXPRESSION_RE = re.compile(r"\b(?:str|round|min|max|pow|abs|math\.\w+)\s*\(|\d\s*[*^/]\s*\(")
_JSON_START = re.compile(r"\{")
_JSON_KEY = re.compile(
    r"""["']answer["']\s*:\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>[^']*)'|(?P<bare>[^}\n]+))""",
    re.I,
)
_ANSWER_LINE = re.compile(r"(?im)^[ \t>*#_-]*(?:final[ \t]+)?answer[ \t*_]*[:=][ \t*_]*(.+)$")
_DATE_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})/(\d{1,2})/(\d{4})(?!\d)")
_DATE_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DATE_WORDS = re.compile(r"\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")
_WEEKS_DAYS = re.compile(
    r"(\d+)\s*['\"]?\s*(?:weeks?|wks?|w)\b['\"]?[\s,'\"]*(?:and\s+|\+\s*)?['\"]?\s*"
    r"(\d+)\s*(?:days?|d)\b",
    re.I,
)
_WEEKS_ONLY = re.compile(r"^\s*\(?\s*['\"]?(\d+)\s*(?:weeks?|wks?)['\"]?\s*\)?\s*\.?\s*$", re.I)
_PAIR = re.compile(r"^\s*[(\[]\s*['\"]?\s*(\d+)\s*['\"]?\s*,\s*['\"]?\s*(\d+)\s*['\"]?\s*[)\]]\s*$")
_MAX_BARE = 60


@dataclass(frozen=True)
class CalcExtraction:
    """The outcome of reading one response.

    Attributes:
        answer: the normalised answer ("25.24", "04/02/2012", "(4 weeks, 2 days)"), or
            None when the response is invalid.
        method: the tier that found the answer ("json", "json_key", "answer_line", "bare").
        reason: why the response is invalid.
        raw: the answer as the model wrote it, before reading the value.
        explanation: the ``step_by_step_thinking`` of a JSON answer, when there is one.
    """

    answer: str | None
    method: str | None
    reason: str | None = None
    raw: str | None = None
    explanation: str | None = None


def extract_calc_answer(text: str, answer_format: str) -> CalcExtraction:
    """Read the answer of a MedCalc-Bench response.

    Args:
        text: the model's response.
        answer_format: "decimal", "integer", "date" or "weeks_days" (see
            `medq.tasks.medcalc.answer_format`).

    Example:
        >>> extract_calc_answer('{"step_by_step_thinking": "...", "answer": "25.2 mL/min"}',
        ...                     "decimal").answer
        '25.2'
    """
    if answer_format not in FORMATS:
        raise ValueError(f"unknown answer format {answer_format!r}; expected one of {FORMATS}")
    body, reason = strip_reasoning(text)
    if reason is not None:
        return CalcExtraction(None, None, reason)
    for method, found in (
        ("json", _json_answers(body)),
        ("json_key", _json_key_answers(body)),
        ("answer_line", [(m.group(1), None) for m in _ANSWER_LINE.finditer(body)]),
        ("bare", _bare(body)),
    ):
        if not found:
            continue
        raw, explanation = found[-1]
        value, why = parse_value(raw, answer_format)
        raw_text = raw if isinstance(raw, str) else json.dumps(raw)
        if value is None:
            return CalcExtraction(None, method, why, raw_text, explanation)
        return CalcExtraction(value, method, None, raw_text, explanation)
    return CalcExtraction(None, None, "no answer found")


def parse_value(raw: Any, answer_format: str) -> tuple[str | None, str | None]:
    """(normalised value, None), or (None, why) when `raw` is not a value of the format.

    `raw` is a JSON value (string, number, list) or text.
    """
    if isinstance(raw, bool) or raw is None:
        return None, f"answer {raw!r} is not a value"
    if isinstance(raw, list | tuple):
        if answer_format == "weeks_days" and len(raw) == 2:
            return _weeks_days(", ".join(str(part) for part in raw).join("()"))
        return None, f"answer {raw!r} is a list, not one value"
    if isinstance(raw, int | float):
        raw = json.dumps(raw)
    text = str(raw).strip().strip("`*_").strip()
    if not text or text.lower().strip("\"'") in _PLACEHOLDERS:
        return None, "the answer is empty or the prompt's placeholder"
    if answer_format in NUMBER_FORMATS:
        return _number(text)
    if answer_format == "date":
        return _date(text)
    return _weeks_days(text)


def _number(text: str) -> tuple[str | None, str | None]:
    if "=" in text:
        text = text.rsplit("=", 1)[1]
    if _EXPRESSION_RE.search(text):
        return None, f"answer {text[:80]!r} is an expression, not a value"
    if _RANGE_RE.match(text):
        return None, f"answer {text[:80]!r} is a range, not a value"
    match = _NUMBER_RE.search(text)
    if match is None:
        return None, f"no number in answer {text[:80]!r}"
    number = match.group(0).replace(",", "").replace("−", "-").lstrip("+")
    return number, None


def _date(text: str) -> tuple[str | None, str | None]:
    found: date | None = None
    if match := _DATE_NUMERIC.search(text):
        month, day, year = (int(g) for g in match.groups())
        found = _valid(year, month, day)
    elif match := _DATE_ISO.search(text):
        year, month, day = (int(g) for g in match.groups())
        found = _valid(year, month, day)
    elif match := _DATE_WORDS.search(text):
        for fmt in ("%B %d %Y", "%b %d %Y"):
            try:
                found = datetime.strptime(" ".join(match.groups()), fmt).date()
                break
            except ValueError:
                continue
    if found is None:
        return None, f"no MM/DD/YYYY date in answer {text[:80]!r}"
    return found.strftime("%m/%d/%Y"), None


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _weeks_days(text: str) -> tuple[str | None, str | None]:
    match = _WEEKS_DAYS.search(text) or _PAIR.match(text)
    if match is not None:
        weeks, days = int(match.group(1)), int(match.group(2))
    elif only := _WEEKS_ONLY.match(text):
        weeks, days = int(only.group(1)), 0
    else:
        return None, f"no (weeks, days) in answer {text[:80]!r}"
    return f"({weeks} weeks, {days} days)", None


def _json_answers(body: str) -> list[tuple[Any, str | None]]:
    found: list[tuple[Any, str | None]] = []
    decoder = json.JSONDecoder()
    parsed_until = -1
    for start in _JSON_START.finditer(body):
        if start.start() < parsed_until:
            continue
        try:
            obj, end = decoder.raw_decode(body, start.start())
        except (ValueError, RecursionError):
            continue
        parsed_until = end
        hit = _answer_key(obj)
        if hit is not None:
            found.append(hit)
    return found


def _answer_key(obj: Any) -> tuple[Any, str | None] | None:
    if not isinstance(obj, dict):
        return None
    keys = {k.strip().lower(): k for k in obj if isinstance(k, str)}
    if "answer" in keys:
        thinking = obj.get(keys.get("step_by_step_thinking", ""))
        return obj[keys["answer"]], thinking if isinstance(thinking, str) else None
    for value in obj.values():
        nested = _answer_key(value)
        if nested is not None:
            return nested
    return None


def _json_key_answers(body: str) -> list[tuple[Any, str | None]]:
    found: list[tuple[Any, str | None]] = []
    for match in _JSON_KEY.finditer(body):
        value = next(g for g in (match.group("dq"), match.group("sq"), match.group("bare"))
                     if g is not None)
        if match.group("dq") is not None:
            try:
                value = json.loads(f'"{value}"')
            except ValueError:
                pass
        found.append((value.strip(), None))
    return found


def _bare(body: str) -> list[tuple[Any, str | None]]:
    text = body.strip()
    if not text or len(text) > _MAX_BARE or "\n" in text:
        return []
    return [(text.rstrip("."), None)]


def result_hit(sample: Mapping[str, Any]) -> int | None:
    from medq.results import hit

    return hit(sample)


def medcalc_table(samples: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """Accuracy per MedCalc-Bench category and overall, as the paper's table reports it.

    Mirrors the official ``table_stats.compute_overall_accuracy``: ``average`` is the
    percentage correct rounded to 2 decimals, ``std`` is ``sqrt(p (1 - p) / n)`` rounded to
    2; an invalid answer counts as incorrect (the paper's "Incorrect"); items whose model
    calls failed are left out. Returns None when no sample carries a ``category``.

    Example:
        >>> medcalc_table(store.samples(run_id))["overall"]["average"]
        20.63
    """
    groups: dict[str, list[int]] = {}
    for s in samples:
        category = s["details"].get("metadata", {}).get("category")
        if category is None or "answer_format" not in s["details"].get("metadata", {}):
            continue
        hit = result_hit(s)
        if hit is None:
            continue
        groups.setdefault(str(category), []).append(hit)
        groups.setdefault("overall", []).append(hit)
    if not groups:
        return None
    table = {}
    for name in [*sorted(k for k in groups if k != "overall"), "overall"]:
        hits = groups[name]
        p = sum(hits) / len(hits)
        table[name] = {"average": round(p * 100, 2), "std": round(math.sqrt(p * (1 - p) /
                       len(hits)), 2), "correct": sum(hits), "n": len(hits)}
    return table


def medcalc_lines(table: Mapping[str, Any]) -> list[str]:
    """MedCalc-Bench accuracy per category, as `medq show` prints it."""
    cells = [f"{name} {row['average']:.2f}% ({row['correct']}/{row['n']})"
             for name, row in table.items()]
    return ["MedCalc-Bench by category: " + ", ".join(cells)]


def _register_reader() -> None:
    from medq.scoring.readings import register_reader
    from medq.types import Answer, Generation, Reading, Status

    @register_reader("calc")
    def read_calc(reading: Reading, generation: Generation) -> Answer:
        """A calculation answer in the reading's ``answer_format``; invalid when none."""
        extraction = extract_calc_answer(generation.text, reading.args["answer_format"])
        details: dict[str, Any] = {"method": extraction.method, "raw_answer": extraction.raw}
        if extraction.explanation is not None:
            details["step_by_step_thinking"] = extraction.explanation
        if extraction.answer is None:
            return Answer(None, Status.INVALID, generation.text,
                          truncated=generation.truncated,
                          reason=extraction.reason or "no answer found", details=details)
        return Answer(extraction.answer, Status.OK, generation.text,
                      truncated=generation.truncated, details=details)


_register_reader()
