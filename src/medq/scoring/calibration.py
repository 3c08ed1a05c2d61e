"""Calibration of a run's confidences: ECE, Brier score, reliability data, selective prediction.

A confidence is the probability (or vote share) a strategy gives to the option it chose:
the letter probability of log-likelihood scoring, or the share of votes in
self-consistency. Items without one (strategies that give none, invalid answers) are left
out and counted, never imputed.

References: Guo et al. 2017, "On Calibration of Modern Neural Networks" (ECE, reliability
diagrams); Nixon et al. 2019, "Measuring Calibration in Deep Learning" (adaptive,
equal-mass bins); Geifman & El-Yaniv 2017/2018 (risk–coverage curve and its area, AURC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability diagram; mean_confidence and accuracy are None when empty."""

    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    """How well a run's confidences match its accuracy.

    Attributes:
        n: items with a confidence (the ones measured).
        excluded: items without a confidence, left out of every number here.
        ece: expected calibration error over `bins` (equal width): the count-weighted
            mean of |accuracy - mean confidence| per bin.
        ece_adaptive: the same over `adaptive_bins` (equal mass).
        mce: maximum calibration error, the largest gap over non-empty equal-width bins.
        brier: top-label Brier score, mean (confidence - correct)^2 of the chosen option
            only (not the multi-class Brier score over all options).
        bins: equal-width bins [k/B, (k+1)/B), the last one closed; empty bins included.
        adaptive_bins: about n/B items each; tied confidences always share a bin.
        coverage: (coverage, accuracy) of answering only the most confident items, one
            point per distinct confidence, from the most confident down to coverage 1.
        aurc: area under the risk–coverage curve (risk = 1 - accuracy), averaged over
            coverages k/n, k = 1..n; lower is better.
    """

    n: int
    excluded: int
    ece: float
    ece_adaptive: float
    mce: float
    brier: float
    bins: tuple[Bin, ...]
    adaptive_bins: tuple[Bin, ...]
    coverage: tuple[tuple[float, float], ...]
    aurc: float


def _bins(conf: np.ndarray, correct: np.ndarray, index: np.ndarray, edges: list[tuple[float, float]]
          ) -> tuple[Bin, ...]:
    count = np.bincount(index, minlength=len(edges))
    conf_sum = np.bincount(index, weights=conf, minlength=len(edges))
    correct_sum = np.bincount(index, weights=correct, minlength=len(edges))
    return tuple(
        Bin(
            lower=lower,
            upper=upper,
            count=int(c),
            mean_confidence=float(cs / c) if c else None,
            accuracy=float(ks / c) if c else None,
        )
        for (lower, upper), c, cs, ks in zip(edges, count, conf_sum, correct_sum, strict=True)
    )


def _ece(bins: tuple[Bin, ...], n: int) -> float:
    return sum(
        b.count / n * abs(b.accuracy - b.mean_confidence)
        for b in bins
        if b.accuracy is not None and b.mean_confidence is not None
    )


def _selective(conf: np.ndarray, correct: np.ndarray
               ) -> tuple[tuple[tuple[float, float], ...], float]:
    """Accuracy-vs-coverage points and AURC, most confident first.

    Items with equal confidence cannot be ordered, so each tie group enters at once (one
    point per group), and within a group the AURC uses the expected number of errors when
    the tied items are taken in random order. The result never depends on input order.
    """
    n = conf.size
    order = np.argsort(-conf, kind="stable")
    c, y = conf[order], correct[order]
    ends = np.flatnonzero(np.r_[c[1:] != c[:-1], True]) + 1  # items covered after each group
    starts = np.r_[0, ends[:-1]]
    correct_at_end = np.cumsum(y)[ends - 1]
    errors_at_end = ends - correct_at_end
    errors_before = np.r_[0, errors_at_end[:-1]]
    sizes = ends - starts
    error_rate = (errors_at_end - errors_before) / sizes
    group = np.repeat(np.arange(ends.size), sizes)
    k = np.arange(1, n + 1)
    expected_errors = errors_before[group] + (k - starts[group]) * error_rate[group]
    aurc = float(np.mean(expected_errors / k))
    points = tuple(
        (float(e / n), float(a / e)) for e, a in zip(ends, correct_at_end, strict=True)
    )
    return points, aurc


def calibration(
    confidences: Sequence[float | None] | np.ndarray,
    correct: Sequence[int | bool] | np.ndarray,
    n_bins: int = 10,
) -> Calibration | None:
    """Calibration of per-item confidences against per-item correctness.

    Args:
        confidences: confidence of the chosen option per item, None where there is none.
        correct: 1/True when the item was answered correctly (invalid answers are 0).
        n_bins: bins for both ECE variants.

    Returns:
        A Calibration, or None when no item has a confidence.

    Example:
        >>> calibration([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]).ece
        0.4
    """
    if len(confidences) != len(correct):
        raise ValueError("confidences and correct must be equally long")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    present = [i for i, c in enumerate(confidences) if c is not None and c == c]
    excluded = len(confidences) - len(present)
    if not present:
        return None
    conf = np.array([confidences[i] for i in present], dtype=float)
    if (conf < -1e-9).any() or (conf > 1 + 1e-9).any():
        raise ValueError("confidences must lie in [0, 1]")
    conf = np.clip(conf, 0.0, 1.0)  # tolerate float noise like 1.0000000000000002
    hits = np.array([int(bool(correct[i])) for i in present], dtype=float)
    n = conf.size

    width_index = np.minimum(np.floor(conf * n_bins).astype(int), n_bins - 1)
    width_edges = [(k / n_bins, (k + 1) / n_bins) for k in range(n_bins)]
    bins = _bins(conf, hits, width_index, width_edges)

    # Equal mass: split the sorted items into n_bins runs, but give every item the bin
    # of the first item with the same confidence, so ties are never split.
    order = np.argsort(conf, kind="stable")
    sorted_conf = conf[order]
    first_of_tie = np.searchsorted(sorted_conf, sorted_conf, side="left")
    mass_index = np.empty(n, dtype=int)
    mass_index[order] = first_of_tie * n_bins // n
    used = np.unique(mass_index)
    remap = np.searchsorted(used, mass_index)
    mass_edges = [
        (float(conf[mass_index == b].min()), float(conf[mass_index == b].max())) for b in used
    ]
    adaptive_bins = _bins(conf, hits, remap, mass_edges)

    gaps = [abs(b.accuracy - b.mean_confidence) for b in bins
            if b.accuracy is not None and b.mean_confidence is not None]
    coverage, aurc = _selective(conf, hits)
    return Calibration(
        n=n,
        excluded=excluded,
        ece=float(_ece(bins, n)),
        ece_adaptive=float(_ece(adaptive_bins, n)),
        mce=float(max(gaps)),
        brier=float(np.mean((conf - hits) ** 2)),
        bins=bins,
        adaptive_bins=adaptive_bins,
        coverage=coverage,
        aurc=aurc,
    )


def run_calibration(samples: Iterable[Mapping[str, Any]], n_bins: int = 10) -> Calibration | None:
    """`calibration` of a run's stored samples (errors left out; invalid counts as wrong).

    Example:
        >>> run_calibration(store.samples(run_id))
    """
    from medq.results import hit

    rows = [(s["confidence"], hit(s)) for s in samples]
    scored = [(c, h) for c, h in rows if h is not None]
    return calibration([c for c, _ in scored], [h for _, h in scored], n_bins=n_bins)
