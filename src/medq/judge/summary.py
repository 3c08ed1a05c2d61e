"""A judged run's judges: per-judge verdict counts and means, and the jury's agreement.

Read from the grading records stored with each result (`medq.judge.record`); used by
`medq.scoring.metrics.summarize` for every judged run, whatever the task.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from medq.judge.agreement import jury_agreement
from medq.judge.record import Grading, grading_of

RULE = "a label needs more than half of the whole jury; a judge with no valid verdict abstains"


def gradings(samples: Iterable[Mapping[str, Any]]) -> list[Grading]:
    """The grading records of the results that have one (errors have none)."""
    found = []
    for sample in samples:
        if sample["status"] == "error":
            continue
        grading = grading_of(sample["details"])
        if grading is not None:
            found.append(grading)
    return found


def judge_summary(
    samples: Iterable[Mapping[str, Any]],
    roles: Mapping[str, Mapping[str, Any]],
    prompts: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """The ``judges`` entry of a judged run's summary, or None when nothing was judged.

    Keys: ``jury`` (roles in order), ``rule``, ``criteria`` (decisions made or not),
    ``ungraded_criteria``, ``per_judge`` (per role: configured ``model``,
    ``reported_models`` its server named, ``verdicts``, ``invalid`` (no valid verdict
    after the re-asks), ``reasks``, ``mean_score`` (the mean item score by that judge's
    verdicts alone, unclipped, over ``scored_items``)), for a jury of two or more,
    ``agreement`` (`medq.judge.agreement.jury_agreement`), and ``meta`` when ``medq judge
    meta`` has measured this jury under this prompt (`prompts`: the run's prompt hashes).
    """
    records = gradings(samples)
    if not records:
        return None
    jury = records[0].judges
    per_judge: dict[str, dict[str, Any]] = {}
    for judge in jury:
        votes = [v for g in records for d in g.decisions for v in d.votes if v.judge == judge]
        scores = [float(score) for g in records
                  if (score := g.judge_scores.get(judge)) is not None]
        per_judge[judge] = {
            "model": (roles.get(judge) or {}).get("model"),
            "reported_models": sorted({v.model for v in votes if v.model}),
            "verdicts": len(votes),
            "invalid": sum(v.label is None for v in votes),
            "reasks": sum(v.attempts - 1 for v in votes),
            "mean_score": sum(scores) / len(scores) if scores else None,
            "scored_items": len(scores),
        }
    out: dict[str, Any] = {
        "jury": list(jury),
        "rule": RULE,
        "criteria": sum(len(g.decisions) for g in records),
        "ungraded_criteria": sum(g.ungraded for g in records),
        "per_judge": per_judge,
    }
    if len(jury) > 1:
        out["agreement"] = jury_agreement(records)
    meta = _meta(records[0].prompt, [per_judge[j]["model"] for j in jury], prompts or {})
    if meta is not None:
        out["meta"] = meta
    return out


def _meta(prompt: str, models: list[Any], prompts: Mapping[str, str]) -> dict[str, Any] | None:
    from medq.judge.meta import saved_meta

    if prompt not in prompts or None in models:
        return None
    saved = saved_meta(models, prompts[prompt])
    if saved is None:
        return None
    overall = saved["overall"]
    return {"macro_f1": overall["macro_f1"], "kappa": overall["kappa"],
            "pairs": overall["pairs"], "judged": saved["judged"],
            "ungraded": saved["ungraded"], "source": saved.get("source", "")}


def ungraded_failure(summary: Mapping[str, Any], max_ungraded: float) -> str | None:
    """Why a judged run fails its ``--max-ungraded`` threshold, or None when it passes:
    more than `max_ungraded` of its items, or of its criteria, were left ungraded."""
    problems = []
    rate = summary.get("ungraded_rate")
    if rate is not None and rate > max_ungraded:
        problems.append(f"{summary['ungraded']} of {summary['ungraded'] + summary['n']} items "
                        f"({100 * rate:.1f}%) are ungraded")
    judges = summary.get("judges") or {}
    criteria, left = judges.get("criteria") or 0, judges.get("ungraded_criteria") or 0
    if criteria and left / criteria > max_ungraded:
        problems.append(f"{left} of {criteria} criteria ({100 * left / criteria:.1f}%) are "
                        f"ungraded")
    if not problems:
        return None
    return (f"{' and '.join(problems)}, over --max-ungraded {100 * max_ungraded:g}%: the judge "
            f"gave no valid verdict, or the jury no majority (see `medq show "
            f"{summary['run_id']} --format json`, judges)")
