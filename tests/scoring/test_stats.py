"""Per-run statistics against hand-computed values and scipy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from medq.scoring.metrics import wilson_interval
from medq.scoring.stats import (
    GroupStats,
    aggregate,
    bootstrap_ci,
    breakdown,
    breakdowns,
    clustered_se,
    outcomes,
)


def row(item_id: str, status: str = "ok", correct: int | None = 1, **metadata: Any) -> dict:
    return {
        "item_id": item_id,
        "status": status,
        "correct": correct if status == "ok" else None,
        "truncated": 0,
        "details": {"metadata": metadata},
    }


# --- Wilson (metrics.wilson_interval, reused here) -----------------------------------------


def test_wilson_by_hand() -> None:
    # p = 0.8, z^2 = 3.8415: centre = (0.8 + 0.19207) / 1.38415 = 0.71683,
    # half = 1.96 * sqrt(0.016 + 0.0096037) / 1.38415 = 0.22667
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.49016, abs=1e-5)
    assert high == pytest.approx(0.94332, abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (8, 10), (10, 10), (473, 1273)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    expected = scipy_stats.binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-9)


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_is_seeded_and_deterministic() -> None:
    correct = [1] * 701 + [0] * 298
    assert bootstrap_ci(correct, seed=3) == bootstrap_ci(correct, seed=3)
    assert bootstrap_ci(correct, seed=3) != bootstrap_ci(correct, seed=4)


def test_bootstrap_agrees_with_scipy_percentile_bootstrap() -> None:
    rng = np.random.default_rng(0)
    correct = (rng.random(400) < 0.62).astype(int)
    ours = bootstrap_ci(correct, seed=1, n_resamples=20_000)
    theirs = scipy_stats.bootstrap(
        (correct,), np.mean, n_resamples=20_000, method="percentile", random_state=2
    ).confidence_interval
    # Two Monte Carlo estimates of the same quantiles: equal up to resampling noise.
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.006)
    # ... and close to Wilson at this size.
    assert ours == pytest.approx(wilson_interval(int(correct.sum()), 400), abs=0.01)


def test_bootstrap_small_sample_guards() -> None:
    assert bootstrap_ci([], seed=0) == (0.0, 1.0)
    assert bootstrap_ci([1, 1, 1], seed=0) == (1.0, 1.0)
    with pytest.raises(ValueError, match="0/1"):
        bootstrap_ci([0.5, 1], seed=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1, 0], seed=0, level=95)


def test_bootstrap_level() -> None:
    correct = [1] * 50 + [0] * 50
    low90, high90 = bootstrap_ci(correct, seed=0, level=0.90)
    low99, high99 = bootstrap_ci(correct, seed=0, level=0.99)
    assert low99 < low90 < 0.5 < high90 < high99


# --- outcomes and breakdowns -----------------------------------------------------------------


def test_outcomes_invalid_is_wrong_and_errors_are_left_out() -> None:
    samples = [row("a"), row("b", correct=0), row("c", "invalid"), row("d", "error")]
    assert outcomes(samples) == {"a": 1, "b": 0, "c": 0}


def test_breakdown_by_metadata_field() -> None:
    samples = [
        row("1", specialty="cardiology"),
        row("2", correct=0, specialty="cardiology"),
        row("3", "invalid", specialty="cardiology"),
        row("4", "error", specialty="cardiology"),
        row("5", specialty="neurology"),
        row("6"),
        row("7", correct=0, specialty=None),
    ]
    samples[0]["truncated"] = 1
    groups = breakdown(samples, "specialty")
    assert [g.group for g in groups] == ["(none)", "cardiology", "neurology"]
    none, cardio, neuro = groups
    low, high = wilson_interval(1, 3)
    assert cardio == GroupStats("cardiology", 3, 1, 1 / 3, low, high, 1, 1, 1)
    assert (none.n, none.correct, none.accuracy) == (2, 1, 0.5)
    assert (neuro.n, neuro.correct, neuro.errors) == (1, 1, 0)


def test_breakdowns_of_several_fields_in_one_pass() -> None:
    samples = [row("1", specialty="cardio", step="1"), row("2", correct=0, specialty="neuro"),
               row("3", "invalid", specialty="cardio", step="1"), row("4", "error")]
    for s in samples:
        s["details"]["method"] = "json"
    samples[2]["details"]["invalid_reason"] = "no_answer"
    found = breakdowns(iter(samples), ["specialty", "step", "extraction"])
    assert found == {f: breakdown(samples, f) for f in ("specialty", "step", "extraction")}
    assert [g.group for g in found["extraction"]] == ["error", "invalid:no_answer", "json"]
    # One named group (plus "(none)") is not a breakdown: left out, never counted.
    assert list(breakdowns(samples, ["specialty", "step", "extraction"], min_groups=2)) == [
        "specialty", "extraction"]


def test_breakdown_group_of_only_errors_has_no_accuracy() -> None:
    (group,) = breakdown([row("1", "error", subject="x")], "subject")
    assert (group.n, group.errors, group.accuracy, group.ci_low) == (0, 1, None, None)


# --- aggregates ---------------------------------------------------------------------------


def test_aggregate_micro_macro_weighted_by_hand() -> None:
    summaries = [
        {"task": "t1", "n": 100, "correct": 80, "errors": 0},
        {"task": "t2", "n": 50, "correct": 20, "errors": 10},
        {"task": "t3", "n": 0, "correct": 0, "errors": 5},
    ]
    result = aggregate(summaries)
    counts = (result["n_tasks"], result["n"], result["correct"], result["errors"])
    assert counts == (2, 150, 100, 15)
    assert result["empty_tasks"] == ["t3"]
    micro = result["micro"]
    assert micro["accuracy"] == pytest.approx(100 / 150)
    assert (micro["ci_low"], micro["ci_high"]) == wilson_interval(100, 150)
    # macro: (0.8 + 0.4) / 2. Agresti–Coull p~: 81.92073 / 103.84146 = 0.788902 and
    # 21.92073 / 53.84146 = 0.407135; var = (0.0016654 + 0.0048276) / 4 -> SE 0.040289.
    macro = result["macro"]
    assert macro["accuracy"] == pytest.approx(0.6)
    assert macro["se"] == pytest.approx(0.040289, abs=1e-6)
    assert macro["ci_low"] == pytest.approx(0.6 - 1.959964 * 0.040289, abs=1e-5)
    # weighted by items attempted (100 and 60): (80 + 0.4 * 60) / 160 = 0.65;
    # var = 0.625^2 * 0.0016654 + 0.375^2 * 0.0048276 -> SE 0.036461.
    weighted = result["weighted"]
    assert weighted["accuracy"] == pytest.approx(0.65)
    assert weighted["se"] == pytest.approx(0.036461, abs=1e-6)


def test_aggregate_without_errors_weighted_equals_micro() -> None:
    summaries = [{"task": "a", "n": 30, "correct": 10, "errors": 0},
                 {"task": "b", "n": 90, "correct": 81, "errors": 0}]
    result = aggregate(summaries)
    assert result["weighted"]["accuracy"] == pytest.approx(result["micro"]["accuracy"])
    assert result["macro"]["accuracy"] == pytest.approx((1 / 3 + 0.9) / 2)


def test_aggregate_perfect_task_still_has_variance() -> None:
    result = aggregate([{"task": "a", "n": 10, "correct": 10, "errors": 0}])
    assert result["macro"]["se"] > 0
    assert result["macro"]["ci_high"] == 1.0 and result["macro"]["ci_low"] < 1.0


def test_aggregate_of_nothing() -> None:
    result = aggregate([])
    assert result["micro"] is None and result["macro"] is None and result["n"] == 0


# --- clustered standard errors -----------------------------------------------------------------


def test_clustered_se_by_hand() -> None:
    # mean 0.5, residuals ±0.5; sum e^2 = 1.5, s^2 = 0.3, s^2/n = 0.05;
    # within-cluster cross terms: a: 2(.25), b: 2(.25), c: 2(-.25) -> 0.5, / 36 = 0.013889
    se = clustered_se([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"])
    assert se == pytest.approx(math.sqrt(0.05 + 0.5 / 36))


def test_clustered_se_with_singletons_is_the_ordinary_se() -> None:
    values = np.random.default_rng(0).random(50)
    expected = scipy_stats.sem(values)
    assert clustered_se(values, list(range(50))) == pytest.approx(expected)


def test_clustered_se_grows_when_samples_of_an_item_agree() -> None:
    rng = np.random.default_rng(1)
    per_item = (rng.random(100) < 0.6).astype(float)
    values = np.repeat(per_item, 5)  # five identical samples per item
    clusters = np.repeat(np.arange(100), 5)
    naive = scipy_stats.sem(values)
    clustered = clustered_se(values, clusters)
    assert clustered > 2 * naive
    # Identical samples carry one item's information: about the SE of the 100 item means.
    assert clustered == pytest.approx(scipy_stats.sem(per_item), rel=0.02)


def test_clustered_se_guards() -> None:
    with pytest.raises(ValueError, match="two values"):
        clustered_se([1.0], ["a"])
    with pytest.raises(ValueError, match="equally long"):
        clustered_se([1.0, 0.0], ["a"])
