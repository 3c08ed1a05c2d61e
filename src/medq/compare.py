"""Paired comparison of runs on the same items: McNemar exact test, paired bootstrap, Holm.

Two runs are compared on the items both answered (paired by item ID); items that ended in
error in either run are left out and counted. For each pair the exact McNemar test gives
a p-value, a paired bootstrap gives an interval for the accuracy difference, and the Holm
step-down correction adjusts the p-values across all pairs compared together. The
verdict follows Jeong et al. 2024: run A *wins* over run B when the Holm-adjusted p-value
is at most alpha and A is more accurate, *loses* when it is at most alpha and A is less
accurate, and *ties* otherwise.

Reference: Daniel P. Jeong, Saurabh Garg, Zachary C. Lipton, Michael Oberst, "Medical
Adaptation of Large Language and Vision-Language Models: Are We Making Progress?",
EMNLP 2024.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medq.store import Store


@dataclass(frozen=True)
class PairComparison:
    """Run A against run B on their shared, error-free items.

    Attributes:
        run_a, run_b: the run IDs; `diff` is A minus B, and the verdict is A's.
        n_shared: items paired and compared (in both runs, an error in neither).
        unshared: items in only one of the two runs.
        excluded_errors: shared items left out because either run had an error on them.
        acc_a, acc_b: accuracies on the n_shared items (invalid counts as wrong).
        diff: acc_a - acc_b.
        diff_ci_low, diff_ci_high: percentile paired-bootstrap interval of `diff`.
        a_only_correct, b_only_correct: the discordant pairs McNemar tests.
        p_value: exact McNemar p-value (two-sided binomial test on the discordant pairs).
        p_holm: p_value after Holm's correction over all pairs of the comparison.
        verdict: "win", "tie" or "loss" for run A.

    Accuracies, interval and p-values are None when n_shared is 0 (nothing to test; such
    a pair is not counted in Holm's family either).
    """

    run_a: str
    run_b: str
    n_shared: int
    unshared: int
    excluded_errors: int
    acc_a: float | None
    acc_b: float | None
    diff: float | None
    diff_ci_low: float | None
    diff_ci_high: float | None
    a_only_correct: int
    b_only_correct: int
    p_value: float | None
    p_holm: float | None
    verdict: str


@dataclass(frozen=True)
class Comparison:
    """The result of `compare_runs`: every pair, with the settings that produced it.

    `labels` gives each run's "task · model · strategy", in the order of `runs`.
    """

    runs: tuple[str, ...]
    pairs: tuple[PairComparison, ...]
    seed: int
    n_resamples: int
    alpha: float = 0.05
    baseline: str | None = None
    labels: tuple[str, ...] = ()


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of a_only ~ Bin(a_only + b_only, 1/2).

    p = min(1, 2 * P(X <= min(a_only, b_only))), computed with exact integers (math.comb
    terms summed as Python ints), so it neither overflows nor loses precision for large
    tables. No discordant pairs gives p = 1.

    Example:
        >>> mcnemar_exact(1, 6)
        0.125
    """
    if a_only < 0 or b_only < 0:
        raise ValueError("counts must be non-negative")
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = 0
    term = 1  # comb(n, 0), then comb(n, i) by the recurrence, all exact integers
    for i in range(k + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    return min(1.0, (2 * tail) / (1 << n))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order.

    The i-th smallest p (1-based) is multiplied by (m - i + 1); the adjusted values are
    then made non-decreasing in that order and capped at 1. Reject where adjusted <= alpha.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def paired_bootstrap(
    a_only: int, b_only: int, both: int, neither: int, *, seed: int, n_resamples: int,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of acc_a - acc_b by resampling paired items with replacement.

    The difference depends on a resample only through how many of its items fall in each
    cell of the 2x2 table, and those counts are Multinomial(n, cell shares). Drawing them
    directly is the item-resampling bootstrap exactly, in O(n_resamples) instead of an
    n_resamples × n index matrix.
    """
    n = a_only + b_only + both + neither
    if n == 0:
        raise ValueError("no paired items to resample")
    rng = np.random.Generator(np.random.PCG64(seed))
    cells = rng.multinomial(n, np.array([a_only, b_only, both, neither]) / n, size=n_resamples)
    diffs = (cells[:, 0] - cells[:, 1]) / n
    tail = (1 - level) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return float(low), float(high)


# A run's outcome per item of the comparison's item list (`_Outcomes.hits`).
_ABSENT, _ERROR = -1, -2


@dataclass(frozen=True)
class _Outcomes:
    """One run aligned to the comparison's item list: per item its hit (1 or 0, by the one
    rule), `_ERROR` (not scored: an error, ungraded, or a score with no verdict) or
    `_ABSENT`, and its gold answer as a code (-1 where absent)."""

    hits: np.ndarray
    gold: np.ndarray


def _align(runs: Sequence[Iterable[Mapping[str, Any]]]) -> tuple[list[str], list[_Outcomes]]:
    """Every run's outcomes over one item list (the union of their items), so that each
    pair is counted with array operations rather than a loop over its items."""
    from medq.results import hit

    items: dict[str, int] = {}
    golds: dict[str, int] = {}
    rows = []
    for samples in runs:
        found = []
        for s in samples:
            h = hit(s)
            found.append((items.setdefault(s["item_id"], len(items)),
                          _ERROR if h is None else h, golds.setdefault(s["gold"], len(golds))))
        rows.append(found)
    aligned = []
    for found in rows:
        hits = np.full(len(items), _ABSENT, dtype=np.int8)
        gold = np.full(len(items), -1, dtype=np.int64)
        if found:
            index, outcome, code = (np.array(column) for column in zip(*found, strict=True))
            hits[index], gold[index] = outcome, code
        aligned.append(_Outcomes(hits, gold))
    return list(items), aligned


def _pair(
    names: tuple[str, str],
    runs: tuple[_Outcomes, _Outcomes],
    items: Sequence[str],
    *,
    seed: int,
    n_resamples: int,
) -> PairComparison:
    a, b = runs
    in_a, in_b = a.hits != _ABSENT, b.hits != _ABSENT
    shared = in_a & in_b
    mismatched = sorted(items[int(i)] for i in np.flatnonzero(shared & (a.gold != b.gold)))
    if mismatched:
        raise ValueError(
            f"runs {names[0]} and {names[1]} disagree on the gold answer of "
            f"{len(mismatched)} shared items (e.g. {', '.join(mismatched[:3])}): "
            "they are not the same questions"
        )
    paired = shared & (a.hits >= 0) & (b.hits >= 0)
    hit_a, hit_b = paired & (a.hits == 1), paired & (b.hits == 1)
    a_only = int(np.count_nonzero(hit_a & ~hit_b))
    b_only = int(np.count_nonzero(hit_b & ~hit_a))
    both = int(np.count_nonzero(hit_a & hit_b))
    n = int(np.count_nonzero(paired))
    neither = n - a_only - b_only - both
    untested = PairComparison(
        run_a=names[0], run_b=names[1], n_shared=n,
        unshared=int(np.count_nonzero(in_a ^ in_b)),
        excluded_errors=int(np.count_nonzero(shared)) - n, acc_a=None, acc_b=None, diff=None,
        diff_ci_low=None, diff_ci_high=None, a_only_correct=a_only, b_only_correct=b_only,
        p_value=None, p_holm=None, verdict="tie",
    )
    if n == 0:
        return untested
    low, high = paired_bootstrap(a_only, b_only, both, neither, seed=seed,
                                 n_resamples=n_resamples)
    return dataclasses.replace(
        untested,
        acc_a=(a_only + both) / n,
        acc_b=(b_only + both) / n,
        diff=(a_only - b_only) / n,
        diff_ci_low=low,
        diff_ci_high=high,
        p_value=mcnemar_exact(a_only, b_only),
    )


def compare_runs(
    store: Store,
    runs: Sequence[str],
    *,
    baseline: str | None = None,
    seed: int = 0,
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    samples: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Comparison:
    """Compare runs pairwise on shared items, with Holm's correction across all pairs.

    Every pair of `runs` is compared (in the given order, A before B), or, with
    `baseline`, each run against the baseline (A = the run, B = the baseline; the baseline
    need not be listed in `runs`). Run IDs may be unique prefixes or 'last'.

    Every pair's bootstrap starts from the same seed, so a pair's interval does not depend
    on which other runs are compared alongside it. `samples` (run ID -> sample rows) spares
    re-reading runs the caller has already loaded.

    Example:
        >>> c = compare_runs(Store(), ["medqa-direct-1a2b", "medqa-cot-3c4d"])
        >>> c.pairs[0].diff, c.pairs[0].p_holm, c.pairs[0].verdict
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    ids = [store.resolve_run_id(r) for r in runs]
    base = store.resolve_run_id(baseline) if baseline is not None else None
    if base is not None and base not in ids:
        ids.insert(0, base)
    if len(set(ids)) != len(ids):
        raise ValueError(f"a run is listed twice: {', '.join(ids)}")
    if len(ids) < 2:
        raise ValueError("compare needs at least two runs (or one run and --baseline)")
    loaded = samples or {}
    items, aligned = _align(
        [loaded[run_id] if run_id in loaded else store.samples(run_id) for run_id in ids])
    data = dict(zip(ids, aligned, strict=True))
    if base is None:
        names = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    else:
        names = [(a, base) for a in ids if a != base]
    pairs = [
        _pair(pair, (data[pair[0]], data[pair[1]]), items, seed=seed, n_resamples=n_resamples)
        for pair in names
    ]
    tested = {i: p.p_value for i, p in enumerate(pairs) if p.p_value is not None}
    adjusted = holm(list(tested.values()))
    for i, p_holm in zip(tested, adjusted, strict=True):
        pair = pairs[i]
        significant = p_holm <= alpha and pair.diff != 0
        verdict = "tie"
        if significant:
            verdict = "win" if pair.diff is not None and pair.diff > 0 else "loss"
        pairs[i] = dataclasses.replace(pair, p_holm=p_holm, verdict=verdict)
    labels = []
    for run_id in ids:
        row = store.run(run_id)
        labels.append(f"{row['task']} · {row['model']} · {row['strategy']}")
    return Comparison(
        runs=tuple(ids),
        pairs=tuple(pairs),
        seed=seed,
        n_resamples=n_resamples,
        alpha=alpha,
        baseline=base,
        labels=tuple(labels),
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


COLUMNS = ("A", "B", "n", "unshared", "errors excl.", "acc A %", "acc B %", "A−B (pp)",
           "95% CI (pp)", "A only", "B only", "p (McNemar)", "p (Holm)", "verdict")


def _rows(comparison: Comparison) -> list[list[str]]:
    return [
        [
            p.run_a, p.run_b, str(p.n_shared), str(p.unshared), str(p.excluded_errors),
            _pct(p.acc_a), _pct(p.acc_b), _pp(p.diff),
            "—" if p.diff_ci_low is None else f"{_pp(p.diff_ci_low)} to {_pp(p.diff_ci_high)}",
            str(p.a_only_correct), str(p.b_only_correct), _p(p.p_value), _p(p.p_holm),
            p.verdict,
        ]
        for p in comparison.pairs
    ]


def _method(comparison: Comparison) -> str:
    versus = f"each run vs {comparison.baseline}" if comparison.baseline else "all pairs"
    return (
        f"Paired on shared items ({versus}); McNemar exact test, Holm-adjusted over "
        f"{sum(p.p_value is not None for p in comparison.pairs)} comparisons at "
        f"alpha = {comparison.alpha}; 95% paired bootstrap interval "
        f"({comparison.n_resamples:,} resamples, seed {comparison.seed}). "
        "Verdict is A's: win / tie / loss (Jeong et al. 2024)."
    )


def render_comparison(comparison: Comparison, fmt: str = "text") -> str:
    """The comparison as `text` (a table), `json`, or `markdown`."""
    if fmt == "json":
        return json.dumps(dataclasses.asdict(comparison), indent=2, ensure_ascii=False)
    legend = [f"{run_id}: {label}" for run_id, label in
              zip(comparison.runs, comparison.labels, strict=False)]
    if fmt == "markdown":
        lines = [
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "|".join("---" if c in {"A", "B", "verdict"} else "--:" for c in COLUMNS) + "|",
            *("| " + " | ".join(row) + " |" for row in _rows(comparison)),
            "",
            _method(comparison),
            "",
            *(f"- {line}" for line in legend),
        ]
        return "\n".join(lines)
    if fmt == "text":
        from rich.console import Console
        from rich.table import Table

        table = Table(title="Paired comparison")
        for column in COLUMNS:
            table.add_column(column, justify="left" if column in {"A", "B", "verdict"}
                             else "right")
        for row in _rows(comparison):
            table.add_row(*row)
        buffer = io.StringIO()
        console = Console(file=buffer, width=240, color_system=None, soft_wrap=False)
        console.print(table)
        return buffer.getvalue() + "\n".join([_method(comparison), *legend])
    raise ValueError(f"format must be text, json or markdown, not {fmt!r}")

