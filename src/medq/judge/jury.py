"""A jury: one or more judges per criterion, every vote kept, a majority decides.

The judges are the run's models for the roles ``judge``, ``judge_2``, ``judge_3`` …
(``EvalSpec(roles={"judge": ModelRef(...), "judge_2": ...})``; ``--judge`` repeated on the
command line). The rule: a criterion is decided when more than half of the *whole* jury
gives the same label; a judge with no valid verdict abstains, and abstentions can never
make up a majority. So one judge decides alone, two must agree, and three need two
matching votes. Anything else leaves the criterion ungraded, with the reason recorded.

MedHELM's LLM jury (Bedi et al. 2025) averages three judges; medq keeps every vote so
agreement can be measured (`medq.judge.agreement`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from medq.judge.ask import JudgeReply, ask_judge
from medq.judge.record import Decision, Vote
from medq.judge.schema import Verdict
from medq.models.base import Model

JUDGE_ROLE = "judge"
_EXTRA_JUDGE = re.compile(r"judge_(\d+)")


def judge_role(index: int) -> str:
    """The role of the jury's `index`-th judge (0-based): ``judge``, ``judge_2`` …"""
    return JUDGE_ROLE if index == 0 else f"{JUDGE_ROLE}_{index + 1}"


def jury(model: Any) -> list[tuple[str, Model]]:
    """The run's judges, in order, from an item's model (`medq.calls.ItemModel`).

    Raises:
        LookupError: the run has no model for the role ``judge``.
    """
    first = model.role(JUDGE_ROLE, default_self=False)
    extra = sorted(
        (int(found.group(1)), name)
        for name in getattr(model, "roles", ())
        if (found := _EXTRA_JUDGE.fullmatch(name))
    )
    return [(JUDGE_ROLE, first),
            *((name, model.role(name, default_self=False)) for _, name in extra)]


def decide(labels: Sequence[str | None]) -> tuple[str | None, str | None]:
    """The jury's label and, when there is none, why (see the module's rule).

    Example:
        >>> decide(["met", None, "met"])
        ('met', None)
        >>> decide(["met", None, "not_met"])
        (None, 'no majority of the 3 judges: met 1, not_met 1, no verdict 1')
    """
    counts = Counter(label for label in labels if label is not None)
    if not counts:
        return None, f"no valid verdict from {_judges(len(labels))}"
    label, top = counts.most_common(1)[0]
    if 2 * top > len(labels):
        return label, None
    parts = [f"{name} {n}" for name, n in sorted(counts.items())]
    if None in labels:
        parts.append(f"no verdict {labels.count(None)}")
    return None, f"no majority of the {len(labels)} judges: {', '.join(parts)}"


def _judges(n: int) -> str:
    return "the judge" if n == 1 else f"any of the {n} judges"


def vote_of(judge: str, reply: JudgeReply) -> Vote:
    """The stored vote for one judge's reply."""
    verdict = reply.verdict
    return Vote(
        judge=judge,
        label=None if verdict is None else verdict.label,
        attempts=reply.attempts,
        error=reply.error,
        model=reply.model,
        explanation="" if verdict is None else verdict.explanation,
    )


async def judge_one(
    judges: Sequence[tuple[str, Model]],
    prompt: str,
    fields: Mapping[str, str],
    schema: type[Verdict],
    *,
    context: Mapping[str, Any] | None = None,
    points: float | None = None,
) -> Decision:
    """Every judge's verdict on one question, and the jury's decision."""
    from medq.strategies._shared.fanout import gather_or_cancel

    replies = await gather_or_cancel(*(
        ask_judge(judge, prompt, fields, schema, context=context) for _, judge in judges
    ))
    votes = tuple(vote_of(name, reply) for (name, _), reply in zip(judges, replies, strict=True))
    label, why = decide([v.label for v in votes])
    return Decision(label=label, votes=votes, ungraded=why, points=points)


async def judge_many(
    judges: Sequence[tuple[str, Model]],
    prompt: str,
    questions: Sequence[Mapping[str, str]],
    schema: type[Verdict],
    *,
    points: Sequence[float | None] | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[Decision]:
    """`judge_one` for each of `questions` (e.g. a rubric's criteria), concurrently; the
    run's one concurrency window bounds the calls in flight."""
    from medq.strategies._shared.fanout import gather_or_cancel

    weights = list(points) if points is not None else [None] * len(questions)
    return await gather_or_cancel(*(
        judge_one(judges, prompt, fields, schema, context=context, points=weight)
        for fields, weight in zip(questions, weights, strict=True)
    ))


def judge_roles(
    models: Sequence[str], *, base_url: str | None = None, api_key_env: str | None = None
) -> dict[str, Any]:
    """The run's roles for a jury of `models` (``--judge`` repeated): ``judge``,
    ``judge_2`` … as `medq.runner.ModelRef`s sharing `base_url` and `api_key_env` (None:
    the evaluated model's)."""
    from medq.runner import ModelRef

    return {judge_role(i): ModelRef(name, base_url=base_url, api_key_env=api_key_env)
            for i, name in enumerate(models)}
