"""What the report shows of a judged run (a rubric task, an open-ended probe, any task
with a grader), from its summary alone: the score beside its unclipped mean, interval,
graded and ungraded counts; sub-scores by tag; each judge's mean, the jury's agreement,
and each judge's meta-evaluation against physicians, or the plain statement that it has
none. Nothing here computes an accuracy: ungraded items are counted, never scored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medq.report.data import RunReport

SUBSCORE_KEYS = frozenset({"score", "score_unclipped", "n"})
NO_META = "no meta-evaluation for this judge"
NO_JURY_META = "no meta-evaluation for this jury"


def judged_sections(runs: Sequence[RunReport]) -> list[dict[str, Any]]:
    """One entry per judged run, in report order (numbered as in the summary)."""
    out = []
    for number, run in enumerate(runs, start=1):
        s = run.summary
        if "score_unclipped" not in s:
            continue
        judges = s.get("judges") or {}
        out.append({
            "number": number,
            "s": s,
            "criteria": judges.get("criteria"),
            "ungraded_criteria": judges.get("ungraded_criteria"),
            "subscores": subscores(s),
            "judges": judge_rows(judges),
            "agreement": judges.get("agreement"),
            "jury_meta": jury_meta(judges),
            "prompt": judges.get("prompt"),
        })
    return out


def subscores(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows (kind, name, score, unclipped, n) of every task metric shaped as sub-scores
    (tag -> {score, score_unclipped, n}); a tag ``kind:name`` is split at its colon."""
    rows = []
    for value in summary.values():
        if not isinstance(value, Mapping) or not value:
            continue
        if not all(isinstance(v, Mapping) and SUBSCORE_KEYS <= v.keys() for v in value.values()):
            continue
        for tag, v in value.items():
            kind, _, name = str(tag).partition(":")
            rows.append({"kind": kind if name else "", "name": name or kind,
                         "score": v["score"], "unclipped": v["score_unclipped"], "n": v["n"]})
    return rows


def judge_rows(judges: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per judge of the jury, with its meta-evaluation (None: there is none)."""
    return [{"role": role, **entry, "meta": entry.get("meta")}
            for role, entry in (judges.get("per_judge") or {}).items()]


def jury_meta(judges: Mapping[str, Any]) -> dict[str, Any] | None:
    """For a jury of two or more, the jury's own meta-evaluation: ``{"meta": …}`` (None
    inside: there is none); None for a single judge (its row says it)."""
    if len(judges.get("jury") or ()) < 2:
        return None
    return {"meta": judges.get("meta")}
