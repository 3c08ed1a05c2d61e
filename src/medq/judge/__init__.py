"""LLM judges that fail closed: a backend, a versioned prompt file and an output schema.

A judge is the run's model for the role ``judge`` (more judges, a jury: ``judge_2``,
``judge_3`` …), reached by a task's grading stage as ``model.role("judge",
default_self=False)``, so every judge call goes through the run's call store: cached,
resumable, and replayed by ``medq rescore`` with no calls. The prompt files live in
``medq/prompts`` and their hashes are part of the run's identity; a changed prompt is a
new run.

- `ask_judge`: one verdict, validated against its pydantic schema, at most two re-asks
  quoting the validation error, then *ungraded* (never a default verdict).
- `judge_one` / `judge_many`: every judge of the jury, every vote stored, a majority of
  the whole jury decides (`decide`).
- `jury_agreement`: Cohen's kappa per pair, Krippendorff's alpha, disagreement rate.
- `judge_summary` / `ungraded_failure`: the ``judges`` entry of a summary and the
  ``--max-ungraded`` check.
"""

from medq.judge.agreement import cohen_kappa, jury_agreement, krippendorff_alpha
from medq.judge.ask import (
    JUDGE_SEED,
    MAX_REASKS,
    JudgeReply,
    VerdictError,
    ask_judge,
    parse_verdict,
)
from medq.judge.cost import JudgeCost, estimate
from medq.judge.jury import (
    JUDGE_ROLE,
    decide,
    judge_many,
    judge_one,
    judge_role,
    judge_roles,
    jury,
)
from medq.judge.record import Decision, Grading, Vote, grading_of
from medq.judge.schema import ChoiceVerdict, GradeVerdict, RubricVerdict, Verdict
from medq.judge.summary import judge_summary, ungraded_failure

__all__ = [
    "JUDGE_ROLE",
    "JUDGE_SEED",
    "MAX_REASKS",
    "ChoiceVerdict",
    "Decision",
    "GradeVerdict",
    "Grading",
    "JudgeCost",
    "JudgeReply",
    "RubricVerdict",
    "Verdict",
    "VerdictError",
    "Vote",
    "ask_judge",
    "cohen_kappa",
    "decide",
    "estimate",
    "grading_of",
    "judge_many",
    "judge_one",
    "judge_role",
    "judge_roles",
    "judge_summary",
    "jury",
    "jury_agreement",
    "krippendorff_alpha",
    "parse_verdict",
    "ungraded_failure",
]
