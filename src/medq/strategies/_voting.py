"""Shared pieces of strategies that fan out and vote: the majority vote, verdict parsing,
a fan-out that cancels the remaining sub-calls when one fails, and multi-stage prompts.

Tie-break rule of `majority_vote`: among the choices tied for the most votes, the one that
comes first in `order` wins (with ``order = question.options`` that is the earliest option
letter). It is deterministic and does not depend on the order the votes arrived in.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from medq.prompts import question_fields, render, template
from medq.types import Answer, Message, Question

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


def parse_verdict(text: str, *, yes: Sequence[str], no: Sequence[str]) -> bool | None:
    """The last stated verdict in `text`: True for a word in `yes`, False for one in `no`.

    A ``Verdict:`` line wins over a bare word; without one, the last whole word from
    either list counts. None when neither appears.

    Example:
        >>> parse_verdict("It could be.\\nVerdict: incorrect", yes=["correct"], no=["incorrect"])
        False
    """
    words = "|".join(re.escape(w) for w in sorted([*yes, *no], key=len, reverse=True))
    labelled = re.findall(rf"verdict\W{{0,3}}\s*\W{{0,2}}({words})\b", text, re.IGNORECASE)
    found = labelled or re.findall(rf"\b({words})\b", text, re.IGNORECASE)
    if not found:
        return None
    return found[-1].lower() in {w.lower() for w in yes}


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


def prompt_messages(question: Question, prompt: str, **extra: str) -> tuple[Message, ...]:
    """System text, then template `prompt` filled with the question fields it names and `extra`.

    Like `medq.strategies.base.chat`, but for the later stages of multi-call strategies,
    whose templates also take earlier outputs (reasoning paths, reports, verdicts) and
    may leave out some question fields (an expert who sees the question without options).
    The system text and each template's fixed instructions come first and are
    byte-identical across items, so server-side prefix caching works.
    """
    text = template(prompt)
    fields = {k: v for k, v in question_fields(question).items() if "{" + k + "}" in text}
    user = Message("user", render(prompt, **fields, **extra))
    return (Message("system", template("system").strip()), user)
