"""The metrics of an interactive run, from the dialogues stored with its answers.

Li et al., NeurIPS 2024 (MediQ) report accuracy, the timeout rate and the number of turns;
medq adds the patient's refusals, calls and tokens per item and per role, and accuracy as
a function of the turn. Every number is computed from the stored details of the answers
(`medq.scoring.mediq`), by medq's one accuracy rule (`medq.results`): items whose calls
failed are left out, an unreadable answer is a miss. (The release's ``evaluate.py``
per-question scores are random placeholders and are not ported.)

- ``turns_mean``, ``turns_median``: questions asked per item (the release counts one turn
  more, the final answer);
- ``timeout_rate``: items whose answer was forced by ``max_questions``;
- ``patient_refusals``, ``patient_refusal_rate``: refusal sentences, and their share of
  the patient's replies;
- ``conditions``: accuracy per condition (``full``, ``initial``, ``interactive``);
- ``accuracy_by_stop_turn``: accuracy of the items that stopped after t questions;
- ``accuracy_by_turn``: accuracy if every dialogue were cut after t questions (the
  expert's intermediate choice then; its final answer where it had stopped before), for
  runs that asked for intermediate choices;
- ``calls_by_role``, ``tokens_per_item``: the cost per item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from statistics import fmean, median
from typing import Any

from medq.results import count, hit
from medq.scoring.metrics import wilson_interval

Sample = Mapping[str, Any]


def _consultations(samples: Sequence[Sample]) -> list[Sample]:
    """The scored items that went through a dialogue."""
    return [s for s in samples if hit(s) is not None
            and s["details"].get("condition") == "interactive" and "turns" in s["details"]]


def _rate(correct: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(correct, n)
    return {"n": n, "correct": correct, "accuracy": correct / n if n else None,
            "ci_low": low if n else None, "ci_high": high if n else None}


def turns_mean(samples: Sequence[Sample]) -> float | None:
    """Mean number of questions asked per item."""
    turns = [s["details"]["turns"] for s in _consultations(samples)]
    return fmean(turns) if turns else None


def turns_median(samples: Sequence[Sample]) -> float | None:
    """Median number of questions asked per item."""
    turns = [s["details"]["turns"] for s in _consultations(samples)]
    return float(median(turns)) if turns else None


def timeout_rate(samples: Sequence[Sample]) -> float | None:
    """Share of items whose answer was forced after ``max_questions`` questions."""
    found = _consultations(samples)
    return sum(bool(s["details"]["timeout"]) for s in found) / len(found) if found else None


def patient_refusals(samples: Sequence[Sample]) -> int | None:
    """Refusal sentences the patient said, over all items."""
    found = _consultations(samples)
    return sum(s["details"]["patient_refusals"] for s in found) if found else None


def patient_refusal_rate(samples: Sequence[Sample]) -> float | None:
    """Share of the patient's replies that were the refusal sentence."""
    found = _consultations(samples)
    replies = sum(s["details"]["turns"] for s in found)
    return sum(s["details"]["patient_refusals"] for s in found) / replies if replies else None


def conditions(samples: Sequence[Sample]) -> dict[str, dict[str, Any]] | None:
    """Accuracy (with its Wilson interval) per condition the items were answered under."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        condition = s["details"].get("condition")
        if isinstance(condition, str):
            groups.setdefault(condition, []).append(s)
    out = {}
    for name in sorted(groups):
        counted = count(groups[name])
        out[name] = {**_rate(counted.correct, counted.n), "errors": counted.errors}
    return out or None


def accuracy_by_stop_turn(samples: Sequence[Sample]) -> list[dict[str, Any]] | None:
    """Per number of questions t at which the expert stopped: n, accuracy, timeouts."""
    groups: dict[int, list[Sample]] = {}
    for s in _consultations(samples):
        groups.setdefault(s["details"]["turns"], []).append(s)
    return [{"turn": t, **_rate(sum(hit(s) or 0 for s in group), len(group)),
             "timeouts": sum(bool(s["details"]["timeout"]) for s in group)}
            for t, group in sorted(groups.items())] or None


def accuracy_by_turn(samples: Sequence[Sample]) -> list[dict[str, Any]] | None:
    """Accuracy if every dialogue were cut after t questions, t = 0 .. the longest."""
    found = [s for s in _consultations(samples) if s["details"].get("intermediate")]
    if not found:
        return None
    out = []
    for t in range(max(s["details"]["turns"] for s in found) + 1):
        correct = 0
        for s in found:
            if t >= s["details"]["turns"]:
                correct += hit(s) or 0
            else:
                correct += int(s["details"]["intermediate_choices"][t] == s["gold"])
        asking = sum(s["details"]["turns"] > t for s in found)
        out.append({"turn": t, **_rate(correct, len(found)), "still_asking": asking})
    return out


def calls_by_role(samples: Sequence[Sample]) -> dict[str, float] | None:
    """Mean calls per item of the expert and of the patient."""
    found = _consultations(samples)
    if not found:
        return None
    return {role: fmean(s["details"]["calls_by_role"][role] for s in found)
            for role in ("expert", "patient")}


def tokens_per_item(samples: Sequence[Sample]) -> dict[str, float] | None:
    """Mean prompt and completion tokens per item (errors included: they cost too)."""
    rows = list(samples)
    if not rows:
        return None
    return {"prompt": fmean(s["prompt_tokens"] for s in rows),
            "completion": fmean(s["completion_tokens"] for s in rows)}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _curve(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['turn']}: {_pct(r['accuracy'])} (n={r['n']})" for r in rows)


def _conditions_lines(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [f"condition {name}: {_pct(r['accuracy'])} ({r['correct']}/{r['n']}; 95% CI "
            f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])})"
            + (f"  {r['run_id']}" if "run_id" in r else "") for name, r in rows.items()]


METRICS: tuple[tuple[str, Callable[[list[Any]], Any], Callable[[Any], list[str]]], ...] = (
    ("turns_mean", turns_mean, lambda v: [f"turns: {v:.2f} questions per item (mean)"]),
    ("turns_median", turns_median, lambda v: [f"turns: {v:g} (median)"]),
    ("timeout_rate", timeout_rate, lambda v: [f"timeout rate: {_pct(v)}"]),
    ("patient_refusals", patient_refusals, lambda v: [f"patient refusals: {v}"]),
    ("patient_refusal_rate", patient_refusal_rate,
     lambda v: [f"patient refusal rate: {_pct(v)} of replies"]),
    ("conditions", conditions, _conditions_lines),
    ("accuracy_by_stop_turn", accuracy_by_stop_turn,
     lambda v: [f"accuracy by the turn the expert stopped: {_curve(v)}"]),
    ("accuracy_by_turn", accuracy_by_turn,
     lambda v: [f"accuracy with the dialogue cut after t questions: {_curve(v)}"]),
    ("calls_by_role", calls_by_role,
     lambda v: [f"calls per item: expert {v['expert']:.1f}, patient {v['patient']:.1f}"]),
    ("tokens_per_item", tokens_per_item,
     lambda v: [f"tokens per item: prompt {v['prompt']:.0f}, completion {v['completion']:.0f}"]),
)
"""The metrics the MediQ tasks declare (`medq.tasks.base.TaskSpec.metrics`), each with the
lines `medq show` prints for it."""
