"""Paired comparison: McNemar exact, Holm, paired bootstrap, compare_runs and `medq compare`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from medq.cli import app
from medq.compare import (
    compare_runs,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    render_comparison,
)
from medq.runner import EvalSpec, evaluate
from medq.store import RunNotFoundError, Store
from medq.testing.scripted import ScriptedModel

runner = CliRunner()


def put_run(store: Store, run_id: str, results: dict[str, str], *, gold: str = "A") -> None:
    """A run whose item `i` is 'right', 'wrong', 'invalid' or 'error'."""
    store.create_or_resume_run(run_id, task="toy", model=f"scripted/{run_id}",
                               strategy="direct", spec={}, info={"n_items": len(results)})
    for position, (item_id, outcome) in enumerate(results.items()):
        status = {"right": "ok", "wrong": "ok"}.get(outcome, outcome)
        store.put_sample(run_id, {
            "item_id": item_id, "position": position, "status": status,
            "choice": {"right": gold, "wrong": "B"}.get(outcome), "gold": gold,
            "correct": {"right": 1, "wrong": 0}.get(outcome), "truncated": 0,
            "confidence": None, "reason": None, "response": "", "details": {"metadata": {}},
            "calls": 1, "new_calls": 1, "prompt_tokens": 1, "completion_tokens": 1,
            "call_keys": [],
        })
    store.finish_run(run_id, "finished", 0.0)


def table(a_only: int, b_only: int, both: int, neither: int) -> tuple[dict, dict]:
    """Two runs' outcomes laid out as a 2x2 table, item IDs q0000, q0001, ..."""
    cells = [("right", "wrong")] * a_only + [("wrong", "right")] * b_only
    cells += [("right", "right")] * both + [("wrong", "wrong")] * neither
    ids = [f"q{i:04d}" for i in range(len(cells))]
    return ({i: a for i, (a, _) in zip(ids, cells, strict=True)},
            {i: b for i, (_, b) in zip(ids, cells, strict=True)})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "compare.sqlite") as s:
        yield s


# --- McNemar exact ---------------------------------------------------------------------------


def test_mcnemar_exact_by_hand() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # 0.125
    assert mcnemar_exact(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 2**10)  # 0.109375
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 4) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


@pytest.mark.parametrize(
    ("a_only", "b_only"),
    [(0, 1), (1, 6), (7, 3), (12, 30), (45, 44), (300, 360), (1000, 1100), (0, 1500)],
)
def test_mcnemar_exact_matches_scipy_binomtest(a_only: int, b_only: int) -> None:
    expected = scipy_stats.binomtest(a_only, a_only + b_only, 0.5).pvalue
    assert mcnemar_exact(a_only, b_only) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert mcnemar_exact(b_only, a_only) == mcnemar_exact(a_only, b_only)


# --- Holm ---------------------------------------------------------------------------------


def test_holm_on_a_known_vector() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([0.2]) == [0.2]
    assert holm([]) == []


# --- paired bootstrap -----------------------------------------------------------------------


def test_paired_bootstrap_is_seeded() -> None:
    args = (30, 12, 400, 58)
    first = paired_bootstrap(*args, seed=7, n_resamples=10_000)
    assert first == paired_bootstrap(*args, seed=7, n_resamples=10_000)
    # Quantiles of 10,000 draws sit on the 1/500 lattice; 101 draws show the seed at work.
    assert paired_bootstrap(*args, seed=7, n_resamples=101) != paired_bootstrap(
        *args, seed=8, n_resamples=101
    )


def test_paired_bootstrap_matches_resampling_items_with_scipy() -> None:
    a, b = table(30, 12, 400, 58)
    x = np.array([int(v == "right") for v in a.values()])
    y = np.array([int(v == "right") for v in b.values()])
    ours = paired_bootstrap(30, 12, 400, 58, seed=0, n_resamples=20_000)
    theirs = scipy_stats.bootstrap(
        (x, y), lambda u, v, axis=-1: u.mean(axis=axis) - v.mean(axis=axis),
        paired=True, vectorized=True, n_resamples=20_000, method="percentile", random_state=1,
    ).confidence_interval
    # Same bootstrap distribution, independent Monte Carlo draws.
    assert ours == pytest.approx((theirs.low, theirs.high), abs=0.003)
    assert ours[0] < 18 / 500 < ours[1]


# --- compare_runs on a store ----------------------------------------------------------------


def test_pair_counts_unshared_and_errors(store: Store) -> None:
    a, b = table(a_only=20, b_only=5, both=60, neither=15)
    a["only-in-a"] = "right"
    b["only-in-b-1"] = b["only-in-b-2"] = "wrong"
    a["q0000"], b["q0099"] = "error", "error"  # q0000 was a_only, q0099 neither
    a["q0098"] = "invalid"  # neither: invalid counts as wrong
    put_run(store, "run-a", a)
    put_run(store, "run-b", b)
    (pair,) = compare_runs(store, ["run-a", "run-b"]).pairs
    assert (pair.run_a, pair.run_b) == ("run-a", "run-b")
    assert (pair.n_shared, pair.unshared, pair.excluded_errors) == (98, 3, 2)
    assert (pair.a_only_correct, pair.b_only_correct) == (19, 5)
    assert pair.acc_a == pytest.approx(79 / 98)
    assert pair.acc_b == pytest.approx(65 / 98)
    assert pair.diff == pytest.approx(14 / 98)
    assert pair.p_value == pytest.approx(scipy_stats.binomtest(5, 24).pvalue)
    assert pair.p_holm == pair.p_value  # one comparison: Holm changes nothing
    assert pair.diff_ci_low < pair.diff < pair.diff_ci_high
    assert pair.verdict == "win"


def test_holm_across_pairs_and_verdicts(store: Store) -> None:
    # B beats A clearly; C is A plus noise on a few items (no real difference).
    ids = [f"q{i:04d}" for i in range(200)]
    a = {i: "right" if k < 100 else "wrong" for k, i in enumerate(ids)}
    b = {i: "right" if k < 160 else "wrong" for k, i in enumerate(ids)}
    c = dict(a)
    c["q0000"], c["q0150"], c["q0151"] = "wrong", "right", "right"
    for name, results in (("A", a), ("B", b), ("C", c)):
        put_run(store, name, results)
    result = compare_runs(store, ["A", "B", "C"], seed=3)
    by_pair = {(p.run_a, p.run_b): p for p in result.pairs}
    assert list(by_pair) == [("A", "B"), ("A", "C"), ("B", "C")]
    raw = [p.p_value for p in result.pairs]
    assert [p.p_holm for p in result.pairs] == pytest.approx(holm(raw))
    assert by_pair["A", "B"].verdict == "loss"
    assert by_pair["A", "C"].verdict == "tie"
    assert by_pair["B", "C"].verdict == "win"
    assert by_pair["A", "C"].p_value == pytest.approx(mcnemar_exact(1, 2))
    assert result.seed == 3 and result.n_resamples == 10_000 and result.baseline is None


def test_baseline_mode_and_prefixes(store: Store) -> None:
    a, b = table(10, 2, 30, 8)
    put_run(store, "medqa-direct-1111", a)
    put_run(store, "medqa-cot-2222", b)
    put_run(store, "medqa-sc-3333", b)
    result = compare_runs(store, ["medqa-cot", "medqa-sc"], baseline="medqa-direct")
    assert result.runs == ("medqa-direct-1111", "medqa-cot-2222", "medqa-sc-3333")
    assert [(p.run_a, p.run_b) for p in result.pairs] == [
        ("medqa-cot-2222", "medqa-direct-1111"), ("medqa-sc-3333", "medqa-direct-1111"),
    ]
    assert all(p.diff == pytest.approx(-8 / 50) for p in result.pairs)
    # The baseline may also be listed among the runs.
    listed = compare_runs(store, ["medqa-direct", "medqa-cot"], baseline="medqa-direct")
    assert [(p.run_a, p.run_b) for p in listed.pairs] == [
        ("medqa-cot-2222", "medqa-direct-1111")
    ]


def test_pair_interval_does_not_depend_on_other_runs(store: Store) -> None:
    a, b = table(25, 10, 300, 65)
    put_run(store, "A", a)
    put_run(store, "B", b)
    put_run(store, "C", b)
    alone = compare_runs(store, ["A", "B"], seed=11).pairs[0]
    together = compare_runs(store, ["A", "B", "C"], seed=11).pairs[0]
    assert (alone.diff_ci_low, alone.diff_ci_high) == (together.diff_ci_low,
                                                        together.diff_ci_high)
    assert alone.p_value == together.p_value and alone.p_holm <= together.p_holm


def test_no_shared_items_is_an_untested_tie(store: Store) -> None:
    put_run(store, "A", {"x": "right"})
    put_run(store, "B", {"y": "right"})
    put_run(store, "C", {"x": "wrong", "y": "wrong"})
    result = compare_runs(store, ["A", "B", "C"])
    ab = result.pairs[0]
    assert (ab.n_shared, ab.unshared, ab.p_value, ab.diff, ab.verdict) == (0, 2, None, None, "tie")
    # Only the two pairs with data form Holm's family.
    assert result.pairs[1].p_holm == pytest.approx(min(1.0, 2 * result.pairs[1].p_value))


def test_errors_and_bad_input(store: Store) -> None:
    put_run(store, "A", {"x": "right"})
    put_run(store, "B", {"x": "right"}, gold="C")
    with pytest.raises(ValueError, match="gold"):
        compare_runs(store, ["A", "B"])
    with pytest.raises(ValueError, match="at least two"):
        compare_runs(store, ["A"])
    with pytest.raises(ValueError, match="twice"):
        compare_runs(store, ["A", "A"])
    with pytest.raises(RunNotFoundError):
        compare_runs(store, ["A", "nope"])


def test_render_formats(store: Store) -> None:
    a, b = table(20, 5, 60, 15)
    put_run(store, "run-a", a)
    put_run(store, "run-b", b)
    result = compare_runs(store, ["run-a", "run-b"])
    data = json.loads(render_comparison(result, "json"))
    assert data["pairs"][0]["verdict"] == "win" and data["seed"] == 0
    markdown = render_comparison(result, "markdown")
    assert markdown.splitlines()[0].startswith("| A | B | n |")
    assert "| run-a | run-b | 100 | 0 | 0 | 80.0 | 65.0 | +15.0 |" in markdown
    text = render_comparison(result, "text")
    assert "run-a" in text and "win" in text and "Holm" in text
    with pytest.raises(ValueError, match="format"):
        render_comparison(result, "html")


def test_compare_scripted_runs_on_the_bundled_sample(tmp_path: Path) -> None:
    with Store(tmp_path / "e2e.sqlite") as store:
        runs = []
        for letter in "AB":
            model = ScriptedModel(lambda request, letter=letter: f"The answer is ({letter}).",
                                  name=f"scripted/{letter}")
            spec = EvalSpec(task="medqa", sample=True, model=f"scripted/{letter}")
            runs.append(evaluate(spec, store=store, model=model, progress=False))
        (pair,) = compare_runs(store, [r.run_id for r in runs]).pairs
        summary_a, summary_b = runs[0].summary, runs[1].summary
        assert pair.n_shared == summary_a["n"] == summary_b["n"]
        assert pair.acc_a == pytest.approx(summary_a["accuracy"])
        assert pair.acc_b == pytest.approx(summary_b["accuracy"])
        # Always-A and always-B are never both right: every correct item is discordant.
        assert pair.a_only_correct == summary_a["correct"]
        assert pair.b_only_correct == summary_b["correct"]


# --- the CLI ----------------------------------------------------------------------------


def test_cli_compare(medq_home: Path) -> None:
    with Store() as store:
        a, b = table(20, 5, 60, 15)
        put_run(store, "toy-direct-aaaa", a)
        put_run(store, "toy-cot-bbbb", b)
    result = runner.invoke(app, ["compare", "toy-direct", "toy-cot", "--format", "json",
                                 "--seed", "5", "--resamples", "2000"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["seed"], data["n_resamples"]) == (5, 2000)
    assert data["pairs"][0]["a_only_correct"] == 20
    text = runner.invoke(app, ["compare", "toy-cot", "--baseline", "toy-direct"])
    assert text.exit_code == 0, text.output
    assert "toy-cot-bbbb" in text.stdout and "loss" in text.stdout
    markdown = runner.invoke(app, ["compare", "toy-cot", "toy-direct", "--format", "markdown"])
    assert markdown.exit_code == 0 and markdown.stdout.startswith("| A | B |")


def test_cli_compare_explains_errors(medq_home: Path) -> None:
    with Store() as store:
        put_run(store, "toy-direct-aaaa", {"x": "right"})
    missing = runner.invoke(app, ["compare", "toy-direct", "nope"])
    assert missing.exit_code == 2 and "no run matches" in missing.stderr
    alone = runner.invoke(app, ["compare", "toy-direct"])
    assert alone.exit_code == 2 and "at least two" in alone.stderr
    bad = runner.invoke(app, ["compare", "toy-direct", "x", "--format", "html"])
    assert bad.exit_code == 2 and "--format" in bad.stderr
