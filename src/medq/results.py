"""One item's stored result, and the one rule of what counts in an accuracy or a score.

The rule, written once here and used by every reader (metrics, intervals, breakdowns,
calibration, paired comparisons, benchmark tables, reports): an item whose model calls
failed (`error`) is excluded and counted apart, never scored; an item a judge could not
grade (`ungraded`) is likewise excluded and counted apart, never given a default score;
every other item is in n; a correct answer is a hit; a wrong or an invalid answer (the
model answered, but nothing could be read) is a miss.

Judged items carry a float `score` (a rubric task's points fraction, which may be
negative). An item's score (`item_score`) is that judged score when it has one, and its
hit (1 or 0) otherwise, so an invalid answer scores 0 in a judged run as it is a miss in
an accurate one. An item judged on a rubric alone (a score, no right/wrong verdict) is
`graded`: it is in n and in the mean score, but has no accuracy.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from medq.types import Reading


class Outcome(enum.StrEnum):
    """What became of one item."""

    CORRECT = "correct"
    WRONG = "wrong"
    INVALID = "invalid"  # the model answered, but no answer could be read: a miss
    ERROR = "error"  # the model could not be reached: excluded from n, counted apart
    GRADED = "graded"  # a judge's score on a rubric, with no right/wrong verdict: in n
    UNGRADED = "ungraded"  # the judge could not grade it: excluded from n, counted apart


def outcome_of(status: str, correct: Any, score: float | None = None) -> Outcome:
    """The outcome of a stored (status, correct, score) triple."""
    if status == "error":
        return Outcome.ERROR
    if status == "ungraded":
        return Outcome.UNGRADED
    if status == "invalid":
        return Outcome.INVALID
    if correct is None and score is not None:
        return Outcome.GRADED
    return Outcome.CORRECT if correct else Outcome.WRONG


@dataclass(frozen=True)
class SampleResult(Mapping[str, Any]):
    """One item's result as the store keeps it (one row per extractor version).

    Also a read-only mapping of its columns (``result["status"]``), as store rows were
    before results were typed.
    """

    item_id: str
    position: int
    status: str
    choice: str | None
    gold: str
    correct: int | None
    truncated: int
    confidence: float | None
    reason: str | None
    response: str
    details: Mapping[str, Any]
    calls: int
    new_calls: int
    prompt_tokens: int
    completion_tokens: int
    call_keys: tuple[str, ...]
    extractor: str
    reading: Reading | None = None
    score: float | None = None
    run_id: str = ""
    created_at: float = 0.0
    extras: Mapping[str, Any] = field(default_factory=dict)

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.status, self.correct, self.score)

    @property
    def scored(self) -> bool:
        """In n: anything but an error or an ungraded item."""
        return self.outcome not in _EXCLUDED

    @property
    def hit(self) -> int:
        """1 for a correct answer, else 0 (invalid and wrong are misses)."""
        return int(self.outcome is Outcome.CORRECT)

    @classmethod
    def from_row(cls, row: sqlite3.Row | Mapping[str, Any]) -> SampleResult:
        known = dict(row)
        reading = known.pop("reading", None)
        data = {k: known.pop(k) for k in [k for k in known if k not in _COLUMNS]}  # extras
        known["details"] = json.loads(known["details"]) if isinstance(
            known["details"], str) else known["details"]
        keys = known["call_keys"]
        known["call_keys"] = tuple(json.loads(keys) if isinstance(keys, str) else keys)
        parsed = None
        if reading:
            parsed = Reading.from_json(json.loads(reading) if isinstance(reading, str)
                                       else reading)
        return cls(**known, reading=parsed, extras=data)

    def row(self) -> dict[str, Any]:
        """The result as a store row (JSON columns as values)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extras"}
        out["reading"] = None if self.reading is None else self.reading.to_json()
        out["call_keys"] = list(self.call_keys)
        out["details"] = dict(self.details)
        return out

    # Mapping-style access to the columns, for readers written against store rows.
    def __getitem__(self, key: str) -> Any:
        if self.extras and key in self.extras:
            return self.extras[key]
        if key in _COLUMNS:  # the common case, without getattr's lookup through the class
            return self.__dict__[key]
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __iter__(self) -> Iterator[str]:
        yield from (f.name for f in fields(self) if f.name != "extras")
        yield from self.extras

    def __len__(self) -> int:
        return len(fields(self)) - 1 + len(self.extras)


_EXCLUDED = frozenset({Outcome.ERROR, Outcome.UNGRADED})
_COLUMNS = frozenset(f.name for f in fields(SampleResult)) - {"extras"}


@dataclass(frozen=True)
class Counts:
    """The counts beside every accuracy and judged score (see the module's rule).

    Attributes:
        graded: items in n with a judged score.
        rated: items in n with a right/wrong verdict (or invalid): those an accuracy covers.
        ungraded: items the judge could not grade (excluded from n, counted apart).
        score_sum: the sum of `item_score` over n (unclipped).
    """

    n: int = 0
    correct: int = 0
    invalid: int = 0
    truncated: int = 0
    errors: int = 0
    graded: int = 0
    ungraded: int = 0
    rated: int = 0
    score_sum: float = 0.0

    @property
    def accuracy(self) -> float | None:
        """correct / n; None when n is 0 or some item has a rubric score and no verdict."""
        return self.correct / self.n if self.n and self.rated == self.n else None

    @property
    def mean_score(self) -> float | None:
        """The mean item score (unclipped); None unless some item was judged."""
        return self.score_sum / self.n if self.n and self.graded else None

    @property
    def ungraded_rate(self) -> float | None:
        """Ungraded items over the items that reached grading (n + ungraded)."""
        total = self.n + self.ungraded
        return self.ungraded / total if total else None


def _status(result: Any) -> tuple[str, Any, int, float | None]:
    if isinstance(result, SampleResult):
        return result.status, result.correct, result.truncated, result.score
    return (result["status"], result["correct"], result.get("truncated", 0),
            result.get("score"))


def hit(result: SampleResult | Mapping[str, Any]) -> int | None:
    """1 (correct), 0 (wrong or invalid), or None (an error or an ungraded item: not
    scored; or a rubric score with no right/wrong verdict)."""
    status, correct, _, score = _status(result)
    found = outcome_of(status, correct, score)
    if found in _EXCLUDED or found is Outcome.GRADED:
        return None
    return int(found is Outcome.CORRECT)


def item_score(result: SampleResult | Mapping[str, Any]) -> float | None:
    """The item's score: its judged score, else its hit (1 or 0; invalid is 0); None for
    an error or an ungraded item (excluded, never a default)."""
    status, correct, _, score = _status(result)
    found = outcome_of(status, correct, score)
    if found in _EXCLUDED:
        return None
    if score is not None:
        return float(score)
    return float(found is Outcome.CORRECT)


def count(results: Iterable[SampleResult | Mapping[str, Any]]) -> Counts:
    """n, correct, invalid, truncated, errors, graded, ungraded and the score sum of a set
    of results, by the one rule."""
    n = correct = invalid = truncated = errors = graded = ungraded = rated = 0
    score_sum = 0.0
    for result in results:
        status, right, cut, score = _status(result)
        found = outcome_of(status, right, score)
        if found is Outcome.ERROR:
            errors += 1
            continue
        if found is Outcome.UNGRADED:
            ungraded += 1
            continue
        n += 1
        truncated += int(cut)
        invalid += found is Outcome.INVALID
        correct += found is Outcome.CORRECT
        rated += found is not Outcome.GRADED
        if score is not None:
            graded += 1
            score_sum += float(score)
        else:
            score_sum += float(found is Outcome.CORRECT)
    return Counts(n, correct, invalid, truncated, errors, graded, ungraded, rated, score_sum)
