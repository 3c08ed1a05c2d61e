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

Names are imported on first use, so reading a judged summary (`medq.judge.summary`) never
loads numpy, which only the agreement statistics need.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "JUDGE_ROLE": "medq.judge.jury",
    "JUDGE_SEED": "medq.judge.ask",
    "MAX_REASKS": "medq.judge.ask",
    "ChoiceVerdict": "medq.judge.schema",
    "Decision": "medq.judge.record",
    "GradeVerdict": "medq.judge.schema",
    "Grading": "medq.judge.record",
    "JudgeCost": "medq.judge.cost",
    "JudgeReply": "medq.judge.ask",
    "RubricVerdict": "medq.judge.schema",
    "Verdict": "medq.judge.schema",
    "VerdictError": "medq.judge.ask",
    "Vote": "medq.judge.record",
    "ask_judge": "medq.judge.ask",
    "cohen_kappa": "medq.judge.agreement",
    "decide": "medq.judge.jury",
    "estimate": "medq.judge.cost",
    "grading_of": "medq.judge.record",
    "judge_many": "medq.judge.jury",
    "judge_one": "medq.judge.jury",
    "judge_role": "medq.judge.jury",
    "judge_roles": "medq.judge.jury",
    "judge_summary": "medq.judge.summary",
    "jury": "medq.judge.jury",
    "jury_agreement": "medq.judge.agreement",
    "krippendorff_alpha": "medq.judge.agreement",
    "parse_verdict": "medq.judge.ask",
    "ungraded_failure": "medq.judge.summary",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'medq.judge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
