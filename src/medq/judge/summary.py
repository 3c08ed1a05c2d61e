"""A judged run's judges: per-judge verdict counts and means, and the jury's agreement.

Read from the grading records stored with each result (`medq.judge.record`); used by
`medq.scoring.metrics.summarize` for every judged run, whatever the task. The judges'
meta-evaluations live in the store, so readers that hold one add them (`attach_meta`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medq.judge.record import Grading

#: `medq.judge.record.GRADING_KEY`, read here without importing pydantic (a test checks).
GRADING_KEY = "grading"

RULE = "a label needs more than half of the whole jury; a judge with no valid verdict abstains"


def gradings(samples: Iterable[Mapping[str, Any]]) -> list[Grading]:
    """The grading records of the results that have one (errors have none)."""
    found = []
    for sample in samples:
        if sample["status"] == "error" or sample["details"].get(GRADING_KEY) is None:
            continue
        from medq.judge.record import grading_of  # pydantic: only for judged results

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

    Keys: ``jury`` (roles in order), ``rule``, ``prompt`` (the judge prompt's name) and
    ``prompt_hash`` (its hash in the run, from `prompts`), ``criteria`` (decisions made or
    not), ``ungraded_criteria``, ``per_judge`` (per role: configured ``model``,
    ``reported_models`` its server named, ``verdicts``, ``invalid`` (no valid verdict
    after the re-asks), ``reasks``, ``mean_score`` (the mean item score by that judge's
    verdicts alone, unclipped, over ``scored_items``)) and, for a jury of two or more,
    ``agreement`` (`medq.judge.agreement.jury_agreement`). `attach_meta` adds the
    judges' meta-evaluations from the store.
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
        "prompt": records[0].prompt,
        "prompt_hash": (prompts or {}).get(records[0].prompt),
        "criteria": sum(len(g.decisions) for g in records),
        "ungraded_criteria": sum(g.ungraded for g in records),
        "per_judge": per_judge,
    }
    if len(jury) > 1:
        from medq.judge.agreement import jury_agreement  # numpy

        out["agreement"] = jury_agreement(records)
    return out


def attach_meta(summary: dict[str, Any], store: Any) -> dict[str, Any]:
    """`summary` with each judge's ``medq judge meta`` result from `store` beside its
    numbers: ``judges.per_judge[role].meta`` for that judge's model alone, and
    ``judges.meta`` for the jury as a whole (the one judge's, for a single judge); each
    None where no meta-evaluation was kept for those models under the run's judge prompt.

    A meta-eval holds for one prompt: a run whose prompt hash is unknown gets None.
    """
    judges = summary.get("judges")
    if not judges:
        return summary
    from medq.judge.meta import saved_meta

    digest = judges.get("prompt_hash")

    def lookup(models: list[Any]) -> dict[str, Any] | None:
        if digest is None or None in models:
            return None
        saved = saved_meta(models, digest, store)
        return None if saved is None else _meta_entry(saved)

    for entry in judges["per_judge"].values():
        entry["meta"] = lookup([entry["model"]])
    models = [judges["per_judge"][j]["model"] for j in judges["jury"]]
    judges["meta"] = lookup(models)
    return summary


def _meta_entry(saved: Mapping[str, Any]) -> dict[str, Any]:
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
