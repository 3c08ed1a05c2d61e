"""How much a jury's judges agree: Cohen's kappa per pair, Krippendorff's alpha, and the
disagreement rate, over the criteria they graded.

Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
Psychological Measurement 20(1). Krippendorff, K. (2011). Computing Krippendorff's
alpha-reliability (nominal level), computed with the ``krippendorff`` package, which takes
missing verdicts (a judge that gave none) as missing values rather than as a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from medq.judge.record import Grading


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same units.

    None when it is undefined: no units, or chance agreement of 1 (both raters gave one
    and the same label to every unit).

    Example:
        >>> cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"])
        0.5
    """
    if len(a) != len(b):
        raise ValueError("cohen_kappa: the two raters must label the same units")
    if not a:
        return None
    import numpy as np  # here, not at the top: `medq show` imports this module, not numpy

    labels = sorted(set(a) | set(b))
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for x, y in zip(a, b, strict=True):
        table[index[x], index[y]] += 1
    # In counts (n² times the proportions), so agreement and chance are exact integers.
    n = len(a)
    observed = int(np.trace(table)) * n
    chance = int(table.sum(axis=1) @ table.sum(axis=0))
    if chance == n * n:
        return None
    return (observed - chance) / (n * n - chance)


def krippendorff_alpha(units: Sequence[Sequence[str | None]]) -> float | None:
    """Krippendorff's alpha (nominal) of a units × raters table; None marks a missing
    label. None when undefined (fewer than two pairable labels, or a single label).

    Example:
        >>> krippendorff_alpha([["a", "a"], ["b", "a"], ["a", "a"], [None, "b"]])
        0.0
    """
    import krippendorff
    import numpy as np

    labels = sorted({label for unit in units for label in unit if label is not None})
    pairable = sum(1 for unit in units if sum(label is not None for label in unit) >= 2)
    if len(labels) < 2 or pairable == 0:
        return None
    code = {label: float(i) for i, label in enumerate(labels)}
    data = np.array([[np.nan if label is None else code[label] for label in unit]
                     for unit in units]).T
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def jury_agreement(gradings: Iterable[Grading]) -> dict[str, Any]:
    """Agreement of a jury over every criterion of `gradings`.

    Keys: ``units`` (criteria graded), ``kappa`` (``"judge vs judge_2"`` -> Cohen's kappa
    over the criteria both gave a verdict on, with ``n``), ``alpha`` (Krippendorff's alpha
    over all criteria, missing verdicts as missing), ``disagreement_rate`` (criteria with
    two or more verdicts that are not all the same, over such criteria) and
    ``comparable`` (how many criteria had two or more verdicts).
    """
    judges: tuple[str, ...] = ()
    units: list[list[str | None]] = []
    for grading in gradings:
        judges = judges or grading.judges
        for decision in grading.decisions:
            by_judge = {v.judge: v.label for v in decision.votes}
            units.append([by_judge.get(judge) for judge in judges])
    kappas: dict[str, dict[str, Any]] = {}
    for i, j in combinations(range(len(judges)), 2):
        pairs = [(str(u[i]), str(u[j])) for u in units
                 if u[i] is not None and u[j] is not None]
        kappas[f"{judges[i]} vs {judges[j]}"] = {
            "kappa": cohen_kappa([p[0] for p in pairs], [p[1] for p in pairs]),
            "n": len(pairs),
        }
    multi = [u for u in units if sum(label is not None for label in u) >= 2]
    split = sum(len({label for label in u if label is not None}) > 1 for u in multi)
    return {
        "units": len(units),
        "kappa": kappas,
        "alpha": krippendorff_alpha(units),
        "disagreement_rate": split / len(multi) if multi else None,
        "comparable": len(multi),
    }
