"""self_consistency: n samples of a base strategy at temperature T, majority vote."""

from __future__ import annotations

from pathlib import Path

import pytest

from medq.models.base import ModelError
from medq.run_settings import RunFailedError, RunSettings
from medq.runner import EvalSpec, evaluate_async
from medq.store import Store
from medq.strategies._shared.sampling import SamplingModel
from medq.strategies._shared.spec import StrategySpec
from medq.strategies.base import build_strategy
from medq.strategies.self_consistency import self_consistency
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question, Status

QUESTION = Question("q1", "Which drug?", {"A": "aspirin", "B": "heparin", "C": "warfarin"}, "B")


def by_sample(*replies: str):  # noqa: ANN201
    def respond(request: GenerationRequest) -> str:
        return replies[request.sample_index % len(replies)]

    return respond


async def test_n_samples_at_temperature_with_distinct_indices_and_seeds() -> None:
    model = ScriptedModel(by_sample("Answer: B", "Answer: B", "Answer: C", "Answer: B", "x"))
    answer = await self_consistency(n=5, temperature=0.7, seed=3)(QUESTION, model)
    assert len(model.calls) == 5
    assert {c.temperature for c in model.calls} == {0.7}
    assert sorted(c.sample_index for c in model.calls) == [0, 1, 2, 3, 4]
    # One seed; the distinct sample indices become distinct server seeds in the backend.
    assert {c.seed for c in model.calls} == {3}
    assert "step by step" in model.calls[0].messages[-1].content  # the default base: cot
    assert (answer.choice, answer.status, answer.confidence) == ("B", Status.OK, 0.6)
    assert answer.details["votes"] == {"B": 3, "C": 1}
    assert answer.details["invalid_samples"] == 1
    assert answer.details["choices"] == ["B", "B", "C", "B", None]


async def test_tie_goes_to_the_earliest_option_letter() -> None:
    model = ScriptedModel(by_sample("Answer: C", "Answer: A", "Answer: C", "Answer: A"))
    answer = await self_consistency(n=4)(QUESTION, model)
    assert (answer.choice, answer.confidence) == ("A", 0.5)
    assert answer.text == "Answer: A"


async def test_no_valid_sample_is_invalid() -> None:
    answer = await self_consistency(n=3)(QUESTION, ScriptedModel(lambda r: "no idea"))
    assert (answer.status, answer.choice, answer.confidence) == (Status.INVALID, None, None)
    assert answer.details["invalid_samples"] == 3


async def test_a_failed_sample_makes_the_item_an_error(tmp_path: Path) -> None:
    def respond(request: GenerationRequest) -> str:
        if request.sample_index == 2:
            raise ModelError("boom")
        return "Answer: B"

    with pytest.raises(ModelError):
        await self_consistency(n=4)(QUESTION, ScriptedModel(respond))
    store = Store(tmp_path / "s.sqlite")
    spec = EvalSpec(task="medqa", model="scripted/test", sample=True, limit=2,
                    strategy="self_consistency:n=4")
    with pytest.raises(RunFailedError, match="all 2 items failed: boom") as failed:
        await evaluate_async(spec, store=store, model=ScriptedModel(respond), progress=False,
                             settings=RunSettings(max_error_rate=1.0))
    store.close()
    assert (failed.value.summary["errors"], failed.value.summary["n"]) == (2, 0)


async def test_nested_base_spec_is_sampled() -> None:
    spec = StrategySpec.parse("self_consistency(n=3,temperature=0.5,base=direct(max_tokens=5))")
    model = ScriptedModel(lambda r: "B")
    answer = await build_strategy(spec, seed=0)(QUESTION, model)
    assert len(model.calls) == 3 and {c.max_tokens for c in model.calls} == {5}
    assert {c.temperature for c in model.calls} == {0.5}
    assert answer.details["base"] == "direct:max_tokens=5,seed=0"  # normalised: defaults filled


async def test_wrapping_a_multi_call_base_keeps_every_call_distinct() -> None:
    seen = ScriptedModel(lambda r: "A")
    for i in range(2):  # two samples of a base that numbers its own three calls 0, 1, 2
        view = SamplingModel(seen, i, 2, 0.9)
        for j in range(3):
            await view.complete(GenerationRequest((), sample_index=j, seed=1))
    assert [c.sample_index for c in seen.calls] == [0, 2, 4, 1, 3, 5]
    assert [c.seed for c in seen.calls] == [1] * 6


async def test_samples_reach_the_server_with_distinct_seeds() -> None:
    """vLLM returns one text for one (prompt, seed): the wire seeds must differ."""
    from medq.models.openai_compat import OpenAICompatModel
    from medq.testing.openai_server import FakeOpenAIServer

    async with FakeOpenAIServer() as server:
        model = OpenAICompatModel("fake", base_url=server.base_url)
        try:
            await self_consistency(n=4, temperature=0.7, seed=3)(QUESTION, model)
        finally:
            await model.aclose()
        assert sorted(body["seed"] for body in server.bodies) == [3, 4, 5, 6]
