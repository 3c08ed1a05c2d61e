"""Fan-out and voting: medq's one majority rule and a gather that cancels siblings on a failure.

Tie-break rule of `majority_vote`: among the choices tied for the most votes, the one that
comes first in `order` wins (with ``order = question.options`` that is the earliest option
letter). It is deterministic and does not depend on the order the votes arrived in.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from medq.types import (
    Answer,
)

T = TypeVar("T")


def majority_vote(
    choices: Sequence[str | None], order: Sequence[str]
) -> tuple[str | None, float, dict[str, int]]:
    """Plurality vote over extracted choices; `None` (invalid) votes count for no one.

    Args:
        choices: one extracted option letter per sample, None where nothing was extracted.
        order: the option letters in presentation order; ties go to the earliest of them.

    Returns:
        ``(winner, share, counts)``: the winning letter (None when no sample gave a valid
        choice), its share of *all* samples, invalid ones included (so the share is an
        honest confidence), and the vote count per letter in `order` (letters with no votes
        left out).

    Example:
        >>> majority_vote(["B", "A", None, "B", "A"], "ABCD")
        ('A', 0.4, {'A': 2, 'B': 2})
    """
    rank = {letter: i for i, letter in enumerate(order)}
    tally = Counter(c for c in choices if c is not None)
    unknown = set(tally) - rank.keys()
    if unknown:
        raise ValueError(f"votes for {sorted(unknown)} are not among the options {list(order)}")
    counts = {letter: tally[letter] for letter in order if tally[letter]}
    if not counts:
        return None, 0.0, counts
    winner = min(counts, key=lambda letter: (-counts[letter], rank[letter]))
    return winner, counts[winner] / len(choices), counts


def answer_by_vote(answers: Sequence[Answer], order: Sequence[str], **details: Any) -> Answer:
    """One Answer from many sampled ones, by `majority_vote`; the share is the confidence.

    The text is that of the first sample that voted for the winner; `truncated` is true
    when any sample was truncated. Extra keyword arguments go into `details`, beside the
    samples' ``choices`` and ``invalid_samples``. The answer's reading is a vote over the
    samples' readings, so a rescore re-reads every sample and votes again.
    """
    from medq.scoring.readings import vote

    return vote(answers, order, **details)


async def gather_or_cancel(*aws: Awaitable[T]) -> list[T]:
    """`asyncio.gather`, except that the first failure cancels the other sub-calls.

    The failure (e.g. a ModelError) propagates unchanged, so the runner records the item
    as an error; no sub-call result is ever voted on after a sibling failed.
    """
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
