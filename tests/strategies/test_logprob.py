"""Log-probability scoring end to end: option log-likelihoods on a tiny local model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from medq.runner import EvalSpec, evaluate
from medq.store import Store

tiny_model = pytest.importorskip("tests.models.tiny_model", reason="needs torch")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model.build_tiny_model(tmp_path_factory.mktemp("tiny-logprob"))


def test_option_loglikelihood_scores_acc_and_acc_norm(tiny_path: Path) -> None:
    spec = EvalSpec(task="medqa", model=f"hf/{tiny_path}", strategy="logprob", sample=True,
                    limit=4)
    with Store() as store:
        result = evaluate(spec, store=store, progress=False)
        rows = list(store.samples(result.run_id))
    summary = result.summary
    assert (summary["n"], summary["invalid"], summary["errors"]) == (4, 0, 0)
    assert "acc_norm" in summary
    for row in rows:
        scores = row["details"]["logprobs"]
        assert set(scores) == {"A", "B", "C", "D"}
        assert row["choice"] == max(scores, key=lambda k: (scores[k], -ord(k)))
        assert math.isclose(sum(row["details"]["probs"].values()), 1.0, rel_tol=1e-9)
        assert row["details"]["acc_norm_choice"] in scores
        assert 0.0 < row["confidence"] <= 1.0
