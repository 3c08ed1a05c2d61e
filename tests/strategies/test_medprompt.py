"""medprompt: self-generated CoT exemplars, kNN selection, choice-shuffle ensemble."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from test_few_shot import STEMS, BagEncoder, write_release

from medq import embeddings
from medq.models.base import ModelError
from medq.runner import EvalSpec, evaluate_async, rescore_async
from medq.store import Store
from medq.strategies.medprompt import CALLS_PER_ITEM, medprompt, shuffled
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question, Status

OPTIONS = {"A": "aspirin", "B": "heparin", "C": "warfarin", "D": "alteplase"}
QUESTION = Question("q1", "Which anticoagulant is given intravenously for a clot?", OPTIONS, "B")
OPTION_LINE = re.compile(r"^([A-Z])\. (.*)$", re.MULTILINE)


def shown(request: GenerationRequest) -> dict[str, str]:
    """The options as shown in the request's last message: letter -> text."""
    return dict(OPTION_LINE.findall(request.messages[-1].content))


def by_text(request: GenerationRequest) -> str:
    """Answers the option whose TEXT is right: heparin for the test item, "cc" in the pool
    (right for even pool items, whose gold is C; wrong for odd ones, whose gold is B)."""
    options = shown(request)
    right = "heparin" if "heparin" in options.values() else "cc"
    letter = next(k for k, v in options.items() if v == right)
    return f"Reasoning about the options.\nAnswer: {letter}"


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return write_release(tmp_path / "medqa")


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> BagEncoder:
    fake = BagEncoder()
    monkeypatch.setitem(embeddings._ENCODERS, ("fake", None), fake)
    return fake


def test_shuffle_keeps_texts_and_maps_letters_back() -> None:
    view, back = shuffled(QUESTION, random.Random(1))
    assert sorted(view.options.values()) == sorted(OPTIONS.values())
    assert all(view.options[s] == OPTIONS[o] for s, o in back.items())
    assert back[view.gold] == "B"


async def test_shuffled_answers_map_back_to_original_letters(
    release: Path, encoder: BagEncoder
) -> None:
    model = ScriptedModel(by_text)
    strategy = medprompt(k=2, pool="medqa_dev", pool_data=str(release), encoder=encoder)
    answer = await strategy(QUESTION, model)
    item_calls = model.calls[len(STEMS):]
    assert len(item_calls) == 5
    assert sorted(c.sample_index for c in item_calls) == [0, 1, 2, 3, 4]
    assert {c.temperature for c in item_calls} == {0.0}
    assert len({tuple(shown(c).values()) for c in item_calls}) > 1  # options really shuffled
    assert (answer.choice, answer.status, answer.confidence) == ("B", Status.OK, 1.0)
    assert answer.details["votes"] == {"B": 5}


async def test_a_position_biased_model_votes_for_what_each_order_put_first(
    release: Path, encoder: BagEncoder
) -> None:
    def always_a(request: GenerationRequest) -> str:
        return "Answer: A"

    model = ScriptedModel(always_a)
    strategy = medprompt(k=2, pool="medqa_dev", pool_data=str(release), encoder=encoder)
    answer = await strategy(QUESTION, model)
    item_calls = sorted(model.calls[len(STEMS):], key=lambda c: c.sample_index)
    original = {text: letter for letter, text in OPTIONS.items()}
    expected = [original[shown(c)["A"]] for c in item_calls]
    assert answer.details["choices"] == expected
    assert [order[0] for order in answer.details["orders"]] == expected
    assert answer.details["exemplars"] == []  # answering "A" never reaches a gold answer


async def test_exemplars_are_accepted_self_generated_cot_most_similar_last(
    release: Path, encoder: BagEncoder
) -> None:
    model = ScriptedModel(by_text)
    strategy = medprompt(k=2, pool="medqa_dev", pool_data=str(release), encoder=encoder)
    question = Question("t", "A woman has polyuria and a thyroid nodule?", OPTIONS, "B")
    answer = await strategy(question, model)
    # Accepted: 0000, 0002, 0004 (the answers reaching gold C); 0002 shares the most words.
    assert answer.details["exemplars"] == ["0004", "0002"]
    messages = model.calls[-1].messages
    assert STEMS[2] in messages[3].content
    assert messages[4].content == "Reasoning about the options.\nAnswer: C"
    assert [len(b) for b in encoder.batches] == [len(STEMS), 1]


async def test_call_structure_through_the_runner(release: Path, encoder: BagEncoder) -> None:
    write_release(release, ["Which anticoagulant is given intravenously?"] * 1
                  + ["Which drug dissolves a clot?"], split="test")
    store = Store(release / "medq.sqlite")
    spec = EvalSpec(task="medqa", model="scripted/test", data=str(release),
                    strategy="medprompt:encoder=fake,shuffles=5")
    model = ScriptedModel(lambda r: "Reasoning.\nAnswer: C")
    result = await evaluate_async(spec, store=store, model=model, progress=False)
    info = store.run(result.run_id)["info"]
    assert info["preparation"]["calls"] == info["preparation"]["new_calls"] == len(STEMS)
    samples = list(store.samples(result.run_id))
    assert [s["calls"] for s in samples] == [5, 5]
    assert len(model.calls) == len(STEMS) + 2 * 5
    assert [len(b) for b in encoder.batches] == [len(STEMS), 1, 1]  # one embedding per item
    assert CALLS_PER_ITEM.startswith("shuffles + 1 embedding")

    # Rescoring re-derives the exemplars from stored calls: no model, no new calls.
    rescored = await rescore_async(result.run_id, store)
    assert rescored.summary["n"] == 2
    store.close()


async def test_a_failed_shuffle_makes_the_item_an_error(
    release: Path, encoder: BagEncoder
) -> None:
    def respond(request: GenerationRequest) -> str:
        if "heparin" in request.messages[-1].content and request.sample_index == 3:
            raise ModelError("boom")
        return by_text(request)

    strategy = medprompt(k=2, pool="medqa_dev", pool_data=str(release), encoder=encoder)
    with pytest.raises(ModelError):
        await strategy(QUESTION, ScriptedModel(respond))


async def test_failed_pool_generations_are_not_exemplars(
    release: Path, encoder: BagEncoder
) -> None:
    def respond(request: GenerationRequest) -> str:
        if STEMS[0] in request.messages[-1].content:
            raise ModelError("boom")
        return by_text(request)

    strategy = medprompt(k=5, pool="medqa_dev", pool_data=str(release), encoder=encoder)
    answer = await strategy(QUESTION, ScriptedModel(respond))
    assert sorted(answer.details["exemplars"]) == ["0002", "0004"]
