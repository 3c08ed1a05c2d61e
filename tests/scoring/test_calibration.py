"""Calibration: ECE, adaptive ECE, Brier, reliability bins, selective prediction, AURC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from medq.scoring.calibration import Bin, calibration, run_calibration

CONF = [0.1, 0.2, 0.3, 0.4]
HITS = [0, 0, 1, 1]


def test_tiny_example_by_hand() -> None:
    result = calibration(CONF, HITS)
    assert result is not None
    # Ten bins: each item alone in bins 1..4; gaps 0.1, 0.2, 0.7, 0.6 -> ECE 1.6 / 4.
    assert result.ece == pytest.approx(0.4)
    assert result.mce == pytest.approx(0.7)
    # (0.01 + 0.04 + 0.49 + 0.36) / 4
    assert result.brier == pytest.approx(0.225)
    assert [b.count for b in result.bins] == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert result.bins[3] == Bin(0.3, 0.4, 1, 0.3, 1.0)
    assert result.bins[0] == Bin(0.0, 0.1, 0, None, None)
    assert (result.n, result.excluded) == (4, 0)


def test_adaptive_and_two_equal_width_bins_by_hand() -> None:
    result = calibration(CONF, HITS, n_bins=2)
    assert result is not None
    # Equal width: all four in [0, 0.5): confidence 0.25, accuracy 0.5.
    assert result.ece == pytest.approx(0.25)
    # Equal mass: {0.1, 0.2} (conf 0.15, acc 0) and {0.3, 0.4} (conf 0.35, acc 1).
    assert result.ece_adaptive == pytest.approx(0.5 * 0.15 + 0.5 * 0.65)
    assert [(b.lower, b.upper, b.count) for b in result.adaptive_bins] == [
        (0.1, 0.2, 2), (0.3, 0.4, 2)
    ]


def test_adaptive_bins_never_split_ties() -> None:
    result = calibration([0.2, 0.2, 0.2, 0.8], [1, 0, 0, 1], n_bins=2)
    assert result is not None
    assert [b.count for b in result.adaptive_bins] == [3, 1]
    # (3/4)|1/3 - 0.2| + (1/4)|1 - 0.8|
    assert result.ece_adaptive == pytest.approx(0.75 * (1 / 3 - 0.2) + 0.25 * 0.2)


def test_bin_edges_confidence_one_and_float_boundaries() -> None:
    result = calibration([1.0, 0.3, 0.7], [1, 1, 0])
    assert result is not None
    assert result.bins[9].count == 1 and result.bins[3].count == 1 and result.bins[7].count == 1


def test_selective_prediction_and_aurc_by_hand() -> None:
    result = calibration(CONF, HITS)
    assert result is not None
    # Most confident first: 0.4 (right), 0.3 (right), 0.2 (wrong), 0.1 (wrong).
    assert result.coverage == ((0.25, 1.0), (0.5, 1.0), (0.75, 2 / 3), (1.0, 0.5))
    # risk at coverage k/4: 0, 0, 1/3, 1/2
    assert result.aurc == pytest.approx((0 + 0 + 1 / 3 + 1 / 2) / 4)


def test_ties_enter_together_and_order_does_not_matter() -> None:
    conf = [0.9, 0.5, 0.5, 0.5, 0.5]
    hits = [1, 1, 0, 1, 0]
    expected = calibration(conf, hits)
    assert expected is not None
    assert expected.coverage == ((0.2, 1.0), (1.0, 0.6))
    # Within the tie the expected risk at k = 2..5 is (k - 1) * 0.5 / k errors per item.
    assert expected.aurc == pytest.approx((0 + 0.5 / 2 + 1 / 3 + 1.5 / 4 + 2 / 5) / 5)
    for perm in itertools.permutations(range(5)):
        again = calibration([conf[i] for i in perm], [hits[i] for i in perm])
        assert again == expected


def test_all_tied_aurc_is_the_error_rate() -> None:
    result = calibration([0.5] * 4, [1, 0, 1, 0])
    assert result is not None
    assert result.aurc == pytest.approx(0.5)
    assert result.coverage == ((1.0, 0.5),)


def test_missing_confidences_are_excluded_and_counted() -> None:
    result = calibration([None, 0.8, float("nan"), 0.6], [1, 1, 0, 0])
    assert result is not None
    assert (result.n, result.excluded) == (2, 2)
    assert result.brier == pytest.approx((0.2**2 + 0.6**2) / 2)
    assert calibration([None, None], [1, 0]) is None
    assert calibration([], []) is None


def test_validation() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibration([1.5], [1])
    with pytest.raises(ValueError, match="equally long"):
        calibration([0.5], [1, 0])
    assert calibration([1.0000000000000002], [1]) is not None  # float noise is tolerated


def test_perfectly_calibrated_large_sample_has_small_ece() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.25, 1.0, 20_000)
    hits = (rng.random(20_000) < conf).astype(int)
    result = calibration(conf, hits)
    assert result is not None
    assert result.ece < 0.02 and result.ece_adaptive < 0.02
    # A confidence that ranks well gives a lower AURC than a random ranking.
    shuffled = calibration(rng.permutation(conf), hits)
    assert shuffled is not None and result.aurc < shuffled.aurc


def test_run_calibration_from_store_rows() -> None:
    samples = [
        {"status": "ok", "correct": 1, "confidence": 0.9},
        {"status": "ok", "correct": 0, "confidence": 0.6},
        {"status": "invalid", "correct": None, "confidence": 0.4},
        {"status": "ok", "correct": 1, "confidence": None},
        {"status": "error", "correct": None, "confidence": None},
    ]
    result = run_calibration(samples)
    assert result is not None
    assert (result.n, result.excluded) == (3, 1)
    assert result.brier == pytest.approx((0.1**2 + 0.6**2 + 0.4**2) / 3)
