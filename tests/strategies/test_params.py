"""Strategy parameters are checked against the factory's typed signature before any call."""

from __future__ import annotations

import pytest

from medq.registry import strategies
from medq.strategies._shared.params import parameters
from medq.strategies._shared.spec import StrategySpecError
from medq.strategies.base import build_strategy, normalize


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("self_consistency:n=abc", "n='abc' must be int (>= 1)"),
        ("self_consistency:n=2.5", "n=2.5 must be int"),
        ("self_consistency:n=0", "n=0 must be >= 1"),
        ("few_shot:k=abc", "k='abc' must be int (>= 0)"),
        ("self_consistency(n=2", "expected ')'"),
        ("self_consistency:temperature=hot", "temperature='hot' must be float"),
        ("self_consistency:temperature=-3", "temperature=-3 must be >= 0"),
        ("cot:max_tokens=-5", "max_tokens=-5 must be >= 1"),
        ("cot:max_tokens=true", "max_tokens=True must be int"),
        ("cot:nope=1", "has no parameter(s) ['nope']"),
        ("no_such_strategy", "unknown strategy"),
        ("self_consistency(base=nope())", "unknown strategy 'nope'"),
        ("self_consistency(base=cot(k=3))", "strategy 'cot' has no parameter(s) ['k']"),
    ],
)
def test_bad_parameters_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(StrategySpecError) as info:
        build_strategy(spec, seed=0)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_values_are_converted_to_their_declared_type() -> None:
    spec = normalize("self_consistency:n=3,temperature=1", seed=7)
    assert spec.params["temperature"] == 1.0 and isinstance(spec.params["temperature"], float)
    assert spec.params["seed"] == 7 and spec.params["base"].params["seed"] == 7


def test_every_strategy_documents_its_parameters() -> None:
    for name in strategies.names():
        for param in parameters(strategies.get(name)):
            assert param.type != "any", (name, param.name)
            assert param.help, (name, param.name)
