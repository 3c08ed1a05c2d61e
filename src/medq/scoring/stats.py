"""Per-run statistics beyond the headline accuracy: bootstrap intervals, subgroup breakdowns,
aggregates across tasks, and clustered standard errors.

Every function takes plain inputs (lists of store rows, arrays of 0/1 outcomes, run
summaries from `medq.scoring.metrics.summarize`) and an explicit seed where randomness is
involved. The accuracy convention is the one in `medq.scoring.metrics`: an invalid answer
counts as wrong, an error (the model call failed) is excluded and counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medq.scoring.metrics import wilson_interval

if TYPE_CHECKING:  # numpy is imported where it is used: `medq show` has no need of it
    import numpy as np

NO_GROUP = "(none)"
Z95 = 1.959963984540054


def bootstrap_ci(
    correct: Sequence[int] | np.ndarray,
    *,
    seed: int,
    n_resamples: int = 10_000,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the accuracy of 0/1 outcomes.

    Resampling n items with replacement from k correct ones gives k* ~ Binomial(n, k/n)
    correct, so the resampled accuracies are drawn as binomial counts: exactly the
    item-resampling bootstrap, with one vectorised draw instead of an n_resamples × n
    index matrix.

    Args:
        correct: one 0/1 outcome per item (invalid = 0; errors left out beforehand).
        seed: seed of the numpy PCG64 generator.
        n_resamples: bootstrap resamples.
        level: coverage of the interval.

    Example:
        >>> bootstrap_ci([1, 1, 0, 1], seed=0)
        (0.25, 1.0)
    """
    import numpy as np

    values = np.asarray(correct, dtype=float)
    if values.size and not np.isin(values, (0.0, 1.0)).all():
        raise ValueError("bootstrap_ci takes 0/1 outcomes")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    n = int(values.size)
    if n == 0:
        return 0.0, 1.0  # no data: the whole range, as wilson_interval does
    rng = np.random.Generator(np.random.PCG64(seed))
    accuracies = rng.binomial(n, values.sum() / n, size=n_resamples) / n
    tail = (1 - level) / 2
    low, high = np.quantile(accuracies, [tail, 1 - tail])
    return float(low), float(high)


def outcomes(samples: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """item_id -> 1 (correct) or 0 (wrong or invalid) for every item that is not an error."""
    from medq.results import hit

    found = {s["item_id"]: hit(s) for s in samples}
    return {item: h for item, h in found.items() if h is not None}


@dataclass(frozen=True)
class GroupStats:
    """Accuracy of one subgroup (e.g. one specialty) with its 95% Wilson interval.

    `n` counts scored items (errors and ungraded items excluded); `accuracy` and the
    interval are None when n is 0, or when the items have a judge's rubric score and no
    right/wrong verdict (then `score` is their mean score).
    """

    group: str
    n: int
    correct: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    invalid: int
    truncated: int
    errors: int
    score: float | None = None  # mean judged item score, unclipped (judged runs only)
    ungraded: int = 0


def _group_key(value: Any) -> str:
    if value is None or value == "" or value == [] or value == ():
        return NO_GROUP
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


EXTRACTION = "extraction"
"""The pseudo-field of `breakdown` that groups items by how their answer was read."""


def extraction_key(sample: Mapping[str, Any]) -> str:
    """How an item's answer was read: the extractor's rule (``json``, ``answer_line`` …),
    ``invalid:<reason>`` (``no_answer``, ``conflict``, ``retracted`` …), or ``error``."""
    if sample["status"] == "error":
        return "error"
    details = sample["details"]
    if sample["status"] == "invalid":
        return f"invalid:{details.get('invalid_reason') or 'unknown'}"
    return str(details.get("method") or "(unknown)")


def breakdown(samples: Iterable[Mapping[str, Any]], field: str) -> list[GroupStats]:
    """Accuracy per value of the metadata `field` (subject, specialty, exam_step, ...).

    Items without the field go to the group "(none)". Groups are sorted by name.

    Example:
        >>> [g.group for g in breakdown(store.samples(run_id), "exam_step")]
        ['step1', 'step2&3']
    """
    return breakdowns(samples, (field,))[field]


def breakdowns(samples: Iterable[Mapping[str, Any]], fields: Sequence[str], *,
               min_groups: int = 0) -> dict[str, list[GroupStats]]:
    """`breakdown` of each of `fields`, each sample's metadata read once; a field with fewer
    than `min_groups` groups other than "(none)" is left out (and never counted).

    Example:
        >>> sorted(breakdowns(store.samples(run_id), ["exam_step", "subject"], min_groups=2))
        ['exam_step']
    """
    from medq.results import count

    rows = list(samples)
    metadata = [s["details"].get("metadata", {}) for s in rows]
    members: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for f in fields:
        if f == EXTRACTION:
            keys = [extraction_key(s) for s in rows]
        else:
            values = [m.get(f) for m in metadata]
            if min_groups and all(v is None for v in values):
                continue  # the field is absent: one group, "(none)"
            keys = [_group_key(v) for v in values]
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for key, s in zip(keys, rows, strict=True):
            groups.setdefault(key, []).append(s)
        members[f] = groups
    out: dict[str, list[GroupStats]] = {}
    for f in fields:
        if f not in members or sum(key != NO_GROUP for key in members[f]) < min_groups:
            continue
        stats = []
        for key in sorted(members[f]):
            c = count(members[f][key])
            low, high = wilson_interval(c.correct, c.n)
            stats.append(
                GroupStats(
                    group=key,
                    n=c.n,
                    correct=c.correct,
                    accuracy=c.accuracy,
                    ci_low=low if c.accuracy is not None else None,
                    ci_high=high if c.accuracy is not None else None,
                    invalid=c.invalid,
                    truncated=c.truncated,
                    errors=c.errors,
                    score=c.mean_score,
                    ungraded=c.ungraded,
                )
            )
        out[f] = stats
    return out


def _estimate(accuracy: float, variance: float) -> dict[str, float]:
    se = math.sqrt(variance)
    return {
        "accuracy": accuracy,
        "ci_low": max(0.0, accuracy - Z95 * se),
        "ci_high": min(1.0, accuracy + Z95 * se),
        "se": se,
    }


def aggregate(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One number for a group of task runs (e.g. the five MIRAGE sets), three ways.

    - ``micro``: pooled accuracy, all scored items together (sum correct / sum n), with a
      Wilson interval.
    - ``macro``: the unweighted mean of the task accuracies, as MIRAGE reports its
      average; each task counts the same whatever its size.
    - ``weighted``: the mean of task accuracies weighted by each task's size, counted as
      the items attempted (n + errors). Weighting by scored n would equal ``micro``
      exactly, so the two differ only when some items ended in error.

    The macro and weighted intervals use the delta method: tasks are independent, so
    Var(sum w_t p_t) = sum w_t^2 p_t (1 - p_t) / n_t, and the interval is the estimate
    ± 1.96 SE, clipped to [0, 1]. In the variance each p_t is the Agresti–Coull estimate
    (correct + 1.92) / (n + 3.84), so a task at 0% or 100% does not claim zero variance.

    Tasks with no scored item (all errors) have no accuracy: they are left out of every
    estimate and listed in ``empty_tasks``.

    Args:
        summaries: run summaries from `medq.scoring.metrics.summarize` (keys used:
            task, n, correct, errors).

    Returns:
        dict with n_tasks, n, correct, errors, empty_tasks, and micro / macro / weighted,
        each a dict of accuracy, ci_low, ci_high (and se for macro and weighted).
    """
    scored = [s for s in summaries if s["n"]]
    empty = [str(s["task"]) for s in summaries if not s["n"]]
    n = sum(int(s["n"]) for s in scored)
    correct = sum(int(s["correct"]) for s in scored)
    result: dict[str, Any] = {
        "n_tasks": len(scored),
        "n": n,
        "correct": correct,
        "errors": sum(int(s["errors"]) for s in summaries),
        "empty_tasks": empty,
        "micro": None,
        "macro": None,
        "weighted": None,
    }
    if not scored:
        return result
    import numpy as np

    low, high = wilson_interval(correct, n)
    result["micro"] = {"accuracy": correct / n, "ci_low": low, "ci_high": high}
    sizes = np.array([s["n"] for s in scored], dtype=float)
    accuracies = np.array([s["correct"] for s in scored], dtype=float) / sizes
    smoothed = (np.array([s["correct"] for s in scored]) + Z95**2 / 2) / (sizes + Z95**2)
    task_variance = smoothed * (1 - smoothed) / sizes
    attempted = np.array([s["n"] + s["errors"] for s in scored], dtype=float)
    for name, weights in (
        ("macro", np.full(len(scored), 1 / len(scored))),
        ("weighted", attempted / attempted.sum()),
    ):
        result[name] = _estimate(
            float(weights @ accuracies), float((weights**2) @ task_variance)
        )
    return result


def clustered_se(values: Sequence[float] | np.ndarray, clusters: Sequence[Any]) -> float:
    """Cluster-robust standard error of the mean of `values` (Miller 2024, eq. 4).

    Use it when an item contributes several samples (e.g. 5 sampled answers per
    question): samples of one item are correlated, so the naive SE is too small.

        SE^2 = s^2 / n + (1 / n^2) * sum_c sum_{i != j in c} (x_i - mean)(x_j - mean)

    with s^2 the sample variance (n - 1 denominator). With one sample per cluster it is
    the ordinary standard error of the mean.

    Reference: Evan Miller, "Adding Error Bars to Evals: A Statistical Approach to
    Language Model Evaluations", arXiv:2411.00640 (2024).

    Example:
        >>> clustered_se([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"])
        0.2527625...
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(clusters) != x.size:
        raise ValueError("values and clusters must be equally long 1-D sequences")
    n = x.size
    if n < 2:
        raise ValueError("a standard error needs at least two values")
    residuals = x - x.mean()
    _, cluster_index = np.unique(np.asarray(clusters, dtype=object).astype(str),
                                 return_inverse=True)
    cluster_sums = np.bincount(cluster_index, weights=residuals)
    squares = float(residuals @ residuals)
    # sum over clusters of (sum e)^2 = sum e^2 + the cross terms i != j within clusters
    cross = float(cluster_sums @ cluster_sums) - squares
    variance = squares / (n - 1) / n + cross / n**2
    return math.sqrt(max(variance, 0.0))
