"""The cost guard: how many judge calls a run's grading makes, and roughly how many tokens,
before any call (``medq eval --dry-run``).

HealthBench's 5,000 conversations are ~48,600 criteria, each one grader call per judge.
Tokens are estimated at four characters a token (no tokenizer is assumed), with the
model's replies (not yet written) counted at `RESPONSE_TOKENS` each, repeated in every
criterion's prompt, and `VERDICT_TOKENS` per verdict; re-asks (at most two per verdict)
are not included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medq.types import Question

CHARS_PER_TOKEN = 4
RESPONSE_TOKENS = 500
VERDICT_TOKENS = 60


@dataclass(frozen=True)
class JudgeCost:
    """What grading a set of items would cost.

    Attributes:
        items: items to grade.
        judges: judges in the jury.
        calls: judge calls (prompts × judges), re-asks excluded.
        prompt_tokens: estimated prompt tokens of those calls.
        completion_tokens: estimated verdict tokens.
    """

    items: int
    judges: int
    calls: int
    prompt_tokens: int
    completion_tokens: int

    def describe(self) -> str:
        """One line for the terminal."""
        return (f"judge calls: {self.calls:,} ({self.items:,} items × their criteria × "
                f"{self.judges} judge{'s' if self.judges != 1 else ''}); about "
                f"{self.prompt_tokens:,} prompt and {self.completion_tokens:,} completion "
                f"tokens (4 characters a token, {RESPONSE_TOKENS} tokens a model reply, "
                f"re-asks not counted)")


def estimate(questions: Sequence[Question], grader: Any, judges: int) -> JudgeCost:
    """The judge calls and tokens `grader` (a task's grading stage with a ``plan``) would
    spend on `questions` with a jury of `judges`."""
    calls = chars = 0
    for question in questions:
        prompts = grader.plan(question)
        calls += len(prompts)
        chars += sum(len(p) for p in prompts)
    prompt_tokens = (chars // CHARS_PER_TOKEN + calls * RESPONSE_TOKENS) * judges
    return JudgeCost(len(questions), judges, calls * judges, prompt_tokens,
                     calls * judges * VERDICT_TOKENS)
