"""Agreement statistics against values worked out by hand."""

from __future__ import annotations

import pytest

from medq.judge import cohen_kappa, decide, krippendorff_alpha


def test_cohen_kappa_by_hand() -> None:
    # p_o = 4/6; marginals c 3/3, p 1/2, i 2/1 of 6: p_e = (9 + 2 + 2) / 36; kappa = 11/23.
    a = ["c", "c", "p", "i", "i", "c"]
    b = ["c", "p", "p", "i", "c", "c"]
    assert cohen_kappa(a, b) == pytest.approx(11 / 23)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(["y", "n"], ["n", "y"]) == pytest.approx(-1.0)


def test_cohen_kappa_is_undefined_not_guessed() -> None:
    assert cohen_kappa([], []) is None
    assert cohen_kappa(["y", "y"], ["y", "y"]) is None  # chance agreement 1: 0/0
    with pytest.raises(ValueError):
        cohen_kappa(["y"], ["y", "n"])


def test_krippendorff_alpha_by_hand() -> None:
    # Coincidences: o_aa 1, o_ab 2, o_ba 2, o_bb 3 (n 8; n_a 3, n_b 5);
    # D_o = 4/8, D_e = 2·3·5 / (8·7) = 30/56; alpha = 1 - (1/2) / (30/56) = 1/15.
    units = [["a", "a", "b"], ["b", "b", "b"], ["a", "b", None]]
    assert krippendorff_alpha(units) == pytest.approx(1 / 15)
    assert krippendorff_alpha([["a", "a"], ["b", "b"], [None, "a"]]) == pytest.approx(1.0)
    assert krippendorff_alpha([["a", None], [None, "b"]]) is None  # nothing pairable
    assert krippendorff_alpha([["a", "a"], ["a", "a"]]) is None  # one label: undefined


def test_a_majority_of_the_whole_jury_decides() -> None:
    assert decide(["met"]) == ("met", None)
    assert decide(["met", "met", None]) == ("met", None)
    assert decide([None])[0] is None and "no valid verdict" in decide([None])[1]
    label, why = decide(["met", None, None])  # one valid vote of three is no majority
    assert label is None and "no majority of the 3 judges" in why
    assert decide(["met", "not_met"])[0] is None
