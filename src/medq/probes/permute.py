"""Option-order permutations: is the answer the model's knowledge, or the letter's position?

Zheng, C., Zhou, H., Meng, F., Zhou, J., & Huang, M. (2024). Large Language Models Are Not
Robust Multiple Choice Selectors. ICLR 2024 (PriDe: recall per gold position and its
standard deviation, RStd; moving every gold answer to one position).
Liu, Y., Duan, H., et al. (2024). MMBench: Is Your Multi-modal Model an All-around Player?
ECCV 2024 (CircularEval: an item counts only if it is answered correctly under every
cyclic shift of its options).

Modes: ``cyclic`` (all n shifts, the first being the original order), ``random`` (k
distinct seeded orders), ``gold_at`` (the gold swapped into one position, the other
options in place; items already there are unchanged), ``reverse``.
"""

from __future__ import annotations

from typing import Any, Literal

from medq.probes.base import ProbeSpecError, Skipped, Transform, Variant, probes, relabel
from medq.seeds import item_rng
from medq.strategies._shared.params import Count
from medq.types import LETTERS, Question

Mode = Literal["cyclic", "random", "gold_at", "reverse"]


def _canonical(name: str, given: dict[str, Any], filled: dict[str, Any]) -> dict[str, Any]:
    """``gold_at=X`` alone means mode gold_at; parameters a mode ignores are dropped."""
    if "gold_at" in given and "mode" not in given:
        filled["mode"] = "gold_at"
    mode = filled["mode"]
    if mode == "gold_at":
        letter = filled.get("gold_at")
        if not isinstance(letter, str) or len(letter) != 1 or letter not in LETTERS:
            raise ProbeSpecError(f"probe {name!r}: mode=gold_at needs gold_at=<LETTER>, "
                                 f"e.g. permute:gold_at=D")
    elif "gold_at" in given:
        raise ProbeSpecError(f"probe {name!r}: gold_at is for mode=gold_at, not mode={mode}")
    if "k" in given and mode != "random":
        raise ProbeSpecError(f"probe {name!r}: k is for mode=random, not mode={mode}")
    out = {"mode": mode}
    if mode == "random":
        out["k"] = filled["k"]
    if mode == "gold_at":
        out["gold_at"] = filled["gold_at"]
    return out


@probes.register(canonical=_canonical)
def permute(
    mode: Mode = "cyclic", k: Count = 3, gold_at: str | None = None, *, seed: int = 0
) -> Transform:
    """Present the options in other orders; the gold follows its option.

    Args:
        mode: cyclic (every shift), random (k seeded orders), gold_at, or reverse.
        k: mode=random: how many distinct orders per item.
        gold_at: mode=gold_at: the letter every gold answer is moved to (A, B, ...).
        seed: the run's seed (random orders are drawn per item).
    """

    def transform(question: Question) -> list[Variant]:
        letters = list(question.options)
        n = len(letters)
        if mode == "cyclic":
            orders = [(f"shift{s}", letters[s:] + letters[:s]) for s in range(n)]
        elif mode == "reverse":
            orders = [("reverse", letters[::-1])]
        elif mode == "gold_at":
            assert gold_at is not None
            target = LETTERS.index(gold_at)
            if target >= n:
                raise Skipped(f"fewer than {target + 1} options")
            order = list(letters)
            at = order.index(question.gold)
            order[at], order[target] = order[target], order[at]
            orders = [(f"gold{gold_at}", order)]
        else:
            orders = [(f"rand{j}", order) for j, order in enumerate(_distinct(question, k,
                                                                             seed))]
        return [Variant(tag, *relabel(question, order)) for tag, order in orders]

    return transform


def _distinct(question: Question, k: int, seed: int) -> list[list[str]]:
    """k distinct seeded orders of the item's options."""
    letters = list(question.options)
    possible = 1
    for i in range(2, len(letters) + 1):
        possible *= i
    if k > possible:
        raise ProbeSpecError(f"probe 'permute': k={k} exceeds the {possible} orders of the "
                             f"{len(letters)} options of item {question.id!r}")
    rng = item_rng(seed, question.id, "permute")
    seen: set[tuple[str, ...]] = set()
    out: list[list[str]] = []
    while len(out) < k:
        order = list(letters)
        rng.shuffle(order)
        if tuple(order) not in seen:
            seen.add(tuple(order))
            out.append(order)
    return out
