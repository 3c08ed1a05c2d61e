"""permute: position bias shows up in position recall and CircularEval, knowledge does not."""

from __future__ import annotations

import re

import pytest
from tests.probes.toy import N_TOY

from medq.probes import probe_metrics, render_robustness, robustness
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest


def run(store: Store, model: ScriptedModel, *probes: str) -> str:
    spec = EvalSpec(task="probe_toy", model="scripted/x", probes=probes)
    return evaluate(spec, store=store, model=model, progress=False).run_id


def by_text(prefix: str):
    """Answers the letter of the option whose text starts with `prefix`, wherever it is."""

    def respond(request: GenerationRequest) -> str:
        for letter, text in re.findall(r"^([A-E])\. (.*)$", request.messages[-1].content, re.M):
            if text.startswith(prefix):
                return f"Answer: {letter}"
        return "no idea"

    return respond


def test_always_b_is_all_position(store: Store) -> None:
    model = ScriptedModel(lambda r: "Answer: B")
    clean, cyclic = run(store, model), run(store, model, "permute")
    m = probe_metrics(store.samples(cyclic))
    assert m.position_recall == {"A": 0.0, "B": 1.0, "C": 0.0, "D": 0.0}
    assert m.position_n == {k: N_TOY for k in "ABCD"}
    assert m.consistent_accuracy == 0.0 and m.accuracy == 0.25
    assert m.flip_rate == 1.0  # "B" is a different original option under each shift
    assert m.rstd == pytest.approx(0.4330127, abs=1e-6)  # pstdev(0, 1, 0, 0)
    result = robustness(store, clean, [cyclic], n_resamples=2000)
    (row,) = result.rows
    # Clean: right on the 5 items with gold B; under every shift: right on none.
    assert (row.n_paired, row.clean_accuracy, row.paired_accuracy) == (N_TOY, 0.25, 0.0)
    assert row.delta == -0.25 and row.delta_ci_high < 0
    assert row.p_value == pytest.approx(2 * 0.5 ** 5)  # 5 discordant pairs, all one way


def test_an_answer_keyed_on_text_never_flips(store: Store) -> None:
    model = ScriptedModel(by_text("c-option"))
    clean = run(store, model)
    cyclic, reverse = run(store, model, "permute"), run(store, model, "permute:mode=reverse")
    m = probe_metrics(store.samples(cyclic))
    assert m.flip_rate == 0.0
    assert m.position_recall == {k: 0.25 for k in "ABCD"} and m.rstd == 0.0
    assert m.consistent_accuracy == 0.25
    result = robustness(store, clean, [cyclic, reverse], n_resamples=500)
    assert [r.delta for r in result.rows] == [0.0, 0.0]
    assert [r.p_value for r in result.rows] == [1.0, 1.0]
    text = render_robustness(result)
    assert "permute:mode=cyclic" in text and "permute:mode=reverse" in text
    assert "recall by gold position, permute:mode=cyclic: A 25.0 (n=20)" in text


def test_gold_at_d_for_a_model_that_prefers_d(store: Store) -> None:
    model = ScriptedModel(lambda r: "Answer: D")
    clean, moved = run(store, model), run(store, model, "permute:gold_at=D")
    result = robustness(store, clean, [moved], n_resamples=500)
    (row,) = result.rows
    assert row.paired_accuracy == 1.0 and row.clean_accuracy == 0.25 and row.verdict == "win"
    assert row.metrics.position_recall == {"D": 1.0} and row.metrics.rstd is None


def test_an_unreadable_answer_is_a_miss_and_a_flip(store: Store) -> None:
    # Answers only when the original option A is presented at A (shift 0); else nothing.
    def respond(request: GenerationRequest) -> str:
        first = re.search(r"^A\. (.*)$", request.messages[-1].content, re.M)
        return "Answer: A" if first and first.group(1).startswith("a-") else "Hmm."

    model = ScriptedModel(respond)
    m = probe_metrics(store.samples(run(store, model, "permute")))
    assert m.accuracy == pytest.approx(5 / 80)  # gold A items, in their own order only
    assert m.flip_rate == 1.0 and m.consistent_accuracy == 0.0
