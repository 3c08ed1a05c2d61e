"""The interactive metrics against hand-computed values."""

from __future__ import annotations

from typing import Any

import pytest

from medq.interactive import metrics


def _item(gold: str, final: str | None, turns: int, choices: list[str | None], *,
          refusals: int = 0, timeout: bool = False, condition: str = "interactive",
          intermediate: bool = True) -> dict[str, Any]:
    return {
        "status": "ok" if final else "invalid", "correct": int(final == gold), "gold": gold,
        "truncated": 0, "prompt_tokens": 100, "completion_tokens": 10,
        "details": {"condition": condition, "turns": turns, "timeout": timeout,
                    "patient_refusals": refusals, "intermediate": intermediate,
                    "intermediate_choices": [*choices, final],
                    "calls_by_role": {"expert": 2 + 3 * turns, "patient": turns}},
    }


SAMPLES = [
    _item("C", "C", 0, []),
    _item("C", "B", 2, ["A", "C"], refusals=1),
    _item("D", "D", 3, ["B", None, "D"], refusals=2, timeout=True),
    {"status": "error", "correct": None, "gold": "A", "truncated": 0, "prompt_tokens": 0,
     "completion_tokens": 0, "details": {}},
]


def test_turns_timeouts_and_refusals() -> None:
    assert metrics.turns_mean(SAMPLES) == pytest.approx(5 / 3)
    assert metrics.turns_median(SAMPLES) == 2.0
    assert metrics.timeout_rate(SAMPLES) == pytest.approx(1 / 3)
    assert metrics.patient_refusals(SAMPLES) == 3
    assert metrics.patient_refusal_rate(SAMPLES) == pytest.approx(3 / 5)
    assert metrics.calls_by_role(SAMPLES) == {"expert": pytest.approx(7), "patient":
                                              pytest.approx(5 / 3)}
    assert metrics.tokens_per_item(SAMPLES) == {"prompt": 75.0, "completion": 7.5}


def test_accuracy_by_turn_cuts_each_dialogue_after_t_questions() -> None:
    rows = metrics.accuracy_by_turn(SAMPLES)
    assert [(r["turn"], r["correct"], r["n"], r["still_asking"]) for r in rows] == [
        (0, 1, 3, 2), (1, 2, 3, 2), (2, 2, 3, 1), (3, 2, 3, 0)]
    stopped = metrics.accuracy_by_stop_turn(SAMPLES)
    assert [(r["turn"], r["correct"], r["n"], r["timeouts"]) for r in stopped] == [
        (0, 1, 1, 0), (2, 0, 1, 0), (3, 1, 1, 1)]
    assert stopped[0]["ci_low"] == pytest.approx(0.2065, abs=1e-4)  # Wilson, 1 of 1


def test_without_intermediate_choices_there_is_no_accuracy_by_turn() -> None:
    blind = [_item("C", "C", 2, [None, None], intermediate=False)]
    assert metrics.accuracy_by_turn(blind) is None
    assert metrics.accuracy_by_stop_turn(blind)[0]["accuracy"] == 1.0


def test_conditions_and_reference_runs() -> None:
    reference = [_item("C", "C", 0, [], condition="full"),
                 _item("C", None, 0, [], condition="full")]
    found = metrics.conditions(SAMPLES + reference)
    assert found["full"]["accuracy"] == 0.5 and found["full"]["n"] == 2
    assert found["interactive"]["correct"] == 2 and found["interactive"]["n"] == 3
    assert metrics.turns_mean(reference) is None and metrics.timeout_rate(reference) is None
