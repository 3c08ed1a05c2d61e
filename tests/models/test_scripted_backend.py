"""`scripted/<rule>` is a backend like any other: usable from the CLI and run files."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.models import load_model
from medq.runner import EvalSpec, evaluate
from medq.store import Store


def test_rules_answer_as_documented() -> None:
    for name, expected in [("answer:C", "C"), ("first", "A")]:
        result = evaluate(EvalSpec("medqa", f"scripted/{name}", "direct", sample=True, limit=3),
                          progress=False)
        with Store() as store:
            assert {s.choice for s in store.samples(result.run_id)} == {expected}


def test_random_is_reproducible_and_varies_by_sample() -> None:
    spec = EvalSpec("medqa", "scripted/random", "self_consistency:n=4", sample=True, limit=5)
    first = evaluate(spec, progress=False)
    with Store() as store:
        votes = [s.details["choices"] for s in store.samples(first.run_id)]
    assert any(len(set(v)) > 1 for v in votes)
    again = evaluate(spec, progress=False)
    assert again.new_calls == 0 and again.summary["accuracy"] == first.summary["accuracy"]


def test_unknown_rule_is_one_line() -> None:
    with pytest.raises(ValueError, match="is not one of"):
        load_model("scripted/bogus")
    out = CliRunner().invoke(app, ["eval", "--task", "medqa", "--sample",
                                   "--model", "scripted/bogus"])
    assert out.exit_code == 2 and "is not one of" in out.stderr
