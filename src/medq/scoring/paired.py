"""Paired sets: the pair, not the question, is the unit (MediConfusion, ProbMed).

Sepehri et al., "MediConfusion: Can you trust your AI radiologist? Probing the reliability
of multimodal medical foundation models" (ICLR 2025): two images, one question, two
options, opposite answers. *Set accuracy* is the share of pairs with both questions right;
*confusion* the share of pairs where the model chose the same option for both images
(random guessing: 25% and 50%). Yan et al., "Worse than Random? An Embarrassingly Simple
Probing Evaluation of Large Multimodal Models in Medical VQA" (ProbMed, 2024) pair each
question with an adversarial one about a hallucinated finding; a pair counts only when both
are right.

Items name their pair in ``metadata["pair"]``. Over the pairs none of whose items ended in
error: a pair is right when every item in it is right (an invalid answer is a miss); it is
*confused* when every item has a valid answer and all the answers are the same option. A
pair with an invalid answer is never confused and never right, and is counted
(``pairs_invalid``). Singletons (ProbMed's abnormality questions) are units of one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["METRICS", "pair_metrics"]

_Sample = Mapping[str, Any]


def pair_metrics(samples: Iterable[_Sample]) -> dict[str, Any] | None:
    """set_accuracy and confusion (each with a 95% Wilson interval), pairs, pairs_invalid,
    pairs_excluded (a member ended in error); None when no item names a pair."""
    from medq.results import hit
    from medq.scoring.metrics import wilson_interval

    groups: dict[str, list[_Sample]] = {}
    for s in samples:
        pair = (s["details"].get("metadata") or {}).get("pair")
        if pair is not None:
            groups.setdefault(str(pair), []).append(s)
    if not groups:
        return None
    right = confused = invalid = excluded = n = 0
    for members in groups.values():
        hits = [hit(s) for s in members]
        if any(h is None for h in hits):
            excluded += 1
            continue
        n += 1
        right += all(hits)
        if any(s["status"] == "invalid" for s in members):
            invalid += 1
        elif len(members) > 1 and len({s["choice"] for s in members}) == 1:
            confused += 1
    out: dict[str, Any] = {"pairs": n, "pairs_invalid": invalid, "pairs_excluded": excluded}
    for name, k in (("set_accuracy", right), ("confusion", confused)):
        low, high = wilson_interval(k, n)
        out.update({name: k / n if n else None, f"{name}_ci_low": low if n else None,
                    f"{name}_ci_high": high if n else None})
    return out


def _field(name: str):  # noqa: ANN202 - one key of `pair_metrics` as a task metric
    def metric(samples: list[_Sample]) -> Any:
        found = pair_metrics(samples)
        return None if found is None else found.get(name)

    metric.__name__ = name
    return metric


def _line(label: str, percent: bool):  # noqa: ANN202 - a `medq show` line for one key
    def lines(value: Any) -> list[str]:
        return [f"{label}: {100 * value:.1f}%" if percent else f"{label}: {value}"]

    return lines


def _hidden(value: Any) -> list[str]:
    return []  # the interval bounds: in the JSON, not worth a line each


_LINES = {"set_accuracy": _line("set accuracy (both items of a pair right)", True),
          "confusion": _line("confusion (the same option for both images)", True),
          "pairs": _line("pairs", False), "pairs_invalid": _line("pairs with an invalid "
                                                                  "answer", False),
          "pairs_excluded": _line("pairs left out (a call failed)", False)}
METRICS = tuple((name, _field(name), _LINES.get(name, _hidden)) for name in (
    "set_accuracy", "set_accuracy_ci_low", "set_accuracy_ci_high", "confusion",
    "confusion_ci_low", "confusion_ci_high", "pairs", "pairs_invalid", "pairs_excluded"))
"""The metrics a paired task declares (name, function, `medq show` lines)."""
