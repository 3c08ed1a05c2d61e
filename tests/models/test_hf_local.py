"""The hf/ backend against a tiny random Llama built in a fixture (no network, no weights)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from medq.models import load_model  # noqa: E402
from medq.models.base import Model, ModelError, UnsupportedCapabilityError  # noqa: E402
from medq.models.hf_local import HFLocalModel, hf, plain_prompt  # noqa: E402
from medq.registry import models  # noqa: E402
from medq.types import (  # noqa: E402
    Capability,
    GenerationRequest,
    LoglikelihoodRequest,
    Message,
)

sys.path.insert(0, str(Path(__file__).parent))
from tiny_model import build_tiny_model  # noqa: E402

SYSTEM = Message("system", "You are a careful physician.")
STEMS = [
    "A 34-year-old woman presents with fever and productive cough.",
    "A 67-year-old man complains of crushing chest pain radiating to the jaw.",
    "A 5-year-old boy develops a maculopapular rash.",
    "A pregnant woman is brought in with jaundice and right upper quadrant pain.",
    "A 67-year-old man develops sudden unilateral weakness.",
]
OPTIONS = ("Myocardial infarction", "Measles", "A", "Start intravenous antibiotics")


def chat(stem: str) -> tuple[Message, ...]:
    return (SYSTEM, Message("user", f"{stem} Which of the following is the most likely diagnosis?"))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> HFLocalModel:
    return HFLocalModel(str(tiny_dir), device="cpu", batch_size=8, max_tokens_default=16)


def naive_greedy(model: HFLocalModel, messages: tuple[Message, ...], steps: int) -> list[int]:
    """Reference decoding: full forward + argmax, no cache, no batching."""
    ids = model.prompt_ids(messages)
    out: list[int] = []
    with torch.inference_mode():
        for _ in range(steps):
            logits = model.model(input_ids=torch.tensor([ids + out])).logits
            out.append(int(logits[0, -1].argmax()))
    return out


def naive_loglikelihood(model: HFLocalModel, context: list[int], option: list[int]) -> float:
    """Reference scoring: one full forward over context + option, per option."""
    with torch.inference_mode():
        logits = model.model(input_ids=torch.tensor([context + option])).logits[0]
    logprobs = logits.float().log_softmax(-1)
    start = len(context)
    return sum(float(logprobs[start + t - 1, tok]) for t, tok in enumerate(option))


# -- identity and registration ---------------------------------------------------------


def test_identity_capabilities_and_registry(tiny: HFLocalModel, tiny_dir: Path) -> None:
    assert isinstance(tiny, Model)
    assert tiny.name == f"hf/{tiny_dir}"
    assert tiny.endpoint == str(tiny_dir)
    assert tiny.capabilities == frozenset({Capability.GENERATE, Capability.LOGLIKELIHOOD})
    assert models.get("hf") is hf
    loaded = load_model(f"hf/{tiny_dir}", batch_size=2, device="cpu")
    assert isinstance(loaded, HFLocalModel)
    assert loaded.name == tiny.name and loaded.batch_size == 2


def test_module_import_does_not_import_torch() -> None:
    code = "import sys, medq.models.hf_local; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


# -- prompts ----------------------------------------------------------------------------


def test_prompt_uses_chat_template_with_generation_prompt(tiny: HFLocalModel) -> None:
    text = tiny.tokenizer.decode(tiny.prompt_ids(chat(STEMS[0])))
    assert text.startswith("<s><|system|>\nYou are a careful physician.\n<|user|>\n")
    assert text.endswith("<|assistant|>\n")
    prefill = tiny.prompt_ids((*chat(STEMS[0]), Message("assistant", "The answer is")))
    assert tiny.tokenizer.decode(prefill).endswith("<|assistant|>\nThe answer is")


def test_plain_template_without_chat_template(tiny_dir: Path) -> None:
    model = HFLocalModel(str(tiny_dir), device="cpu")
    model.tokenizer.chat_template = None
    messages = chat(STEMS[0])
    assert plain_prompt(messages) == (
        f"System: You are a careful physician.\nUser: {messages[1].content}\nAssistant:"
    )
    assert model.tokenizer.decode(model.prompt_ids(messages)) == plain_prompt(messages)
    completion = asyncio.run(model.complete(GenerationRequest(messages=messages, max_tokens=3)))
    assert completion.completion_tokens == 3
    request = LoglikelihoodRequest(context=messages, continuations=("Measles",))
    (score,) = asyncio.run(model.loglikelihoods(request))
    option = model.tokenizer.encode(" Measles")  # "Assistant:" + " Measles"
    expected = naive_loglikelihood(model, model.prompt_ids(messages), option)
    assert score.logprob == pytest.approx(expected, abs=1e-4)


# -- generation -------------------------------------------------------------------------


async def test_greedy_generation_matches_naive_decoding(tiny: HFLocalModel) -> None:
    completion = await tiny.complete(GenerationRequest(messages=chat(STEMS[0]), max_tokens=8))
    expected = naive_greedy(tiny, chat(STEMS[0]), 8)
    (generation,) = completion.generations
    assert generation.text == tiny.tokenizer.decode(expected, skip_special_tokens=True)
    assert generation.finish_reason == "length" and generation.truncated
    assert completion.prompt_tokens == len(tiny.prompt_ids(chat(STEMS[0])))
    assert completion.completion_tokens == 8
    assert completion.model == tiny.name


async def test_max_tokens_default_applies(tiny: HFLocalModel) -> None:
    completion = await tiny.complete(GenerationRequest(messages=chat(STEMS[1])))
    assert completion.completion_tokens == tiny.max_tokens_default == 16


async def test_batched_greedy_equals_unbatched(
    tiny: HFLocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = [
        GenerationRequest(messages=chat(stem), max_tokens=4 + i) for i, stem in enumerate(STEMS)
    ]
    alone = [await tiny.complete(r) for r in requests]

    calls = []
    generate = tiny.model.generate

    def counting_generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["input_ids"].shape)
        return generate(*args, **kwargs)

    monkeypatch.setattr(tiny.model, "generate", counting_generate)
    together = await asyncio.gather(*(tiny.complete(r) for r in requests))
    assert calls == [
        torch.Size([len(STEMS), max(len(tiny.prompt_ids(r.messages)) for r in requests)])
    ]
    assert together == alone
    assert [c.completion_tokens for c in together] == [4, 5, 6, 7, 8]


async def test_batches_are_capped_at_batch_size(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = HFLocalModel(str(tiny_dir), device="cpu", batch_size=2)
    sizes = []
    generate = model.model.generate

    def counting_generate(*args: Any, **kwargs: Any) -> Any:
        sizes.append(kwargs["input_ids"].shape[0])
        return generate(*args, **kwargs)

    monkeypatch.setattr(model.model, "generate", counting_generate)
    requests = [GenerationRequest(messages=chat(s), max_tokens=2) for s in STEMS]
    await asyncio.gather(*(model.complete(r) for r in requests))
    assert sizes == [2, 2, 1]


async def test_greedy_n_repeats_the_one_answer(tiny: HFLocalModel) -> None:
    completion = await tiny.complete(GenerationRequest(messages=chat(STEMS[0]), n=3, max_tokens=5))
    assert len(completion.generations) == 3
    assert len({g.text for g in completion.generations}) == 1
    assert completion.completion_tokens == 15


async def test_seeded_sampling_is_reproducible_and_batch_independent(tiny: HFLocalModel) -> None:
    def sampled(seed: int, sample_index: int = 0) -> GenerationRequest:
        return GenerationRequest(
            messages=chat(STEMS[2]),
            n=3,
            temperature=1.0,
            seed=seed,
            sample_index=sample_index,
            max_tokens=12,
        )

    first = await tiny.complete(sampled(7))
    assert len(first.generations) == 3
    assert len({g.text for g in first.generations}) == 3  # the n samples differ
    again, _ = await asyncio.gather(
        tiny.complete(sampled(7)),
        tiny.complete(GenerationRequest(messages=chat(STEMS[3]), max_tokens=3)),
    )
    assert again == first
    assert (await tiny.complete(sampled(8))).generations != first.generations
    assert (await tiny.complete(sampled(7, sample_index=1))).generations != first.generations


async def test_stop_strings_cut_the_text(tiny: HFLocalModel) -> None:
    messages = chat(STEMS[4])
    full = (await tiny.complete(GenerationRequest(messages=messages, max_tokens=30))).generations[0]
    # A stop string taken from the middle of the greedy text: generation must end there.
    start = next(i for i in range(6, len(full.text) - 2) if full.text[i : i + 2].isascii())
    stop = full.text[start : start + 2]
    cut = full.text.index(stop)
    completion = await tiny.complete(
        GenerationRequest(messages=messages, max_tokens=30, stop=("never-appears", stop))
    )
    (generation,) = completion.generations
    assert generation.text == full.text[:cut]
    assert generation.finish_reason == "stop"
    assert completion.completion_tokens < 30

    missing = await tiny.complete(GenerationRequest(messages=messages, max_tokens=5, stop=("§§",)))
    assert missing.generations[0].finish_reason == "length"


async def test_eos_ends_generation_with_stop(
    tiny: HFLocalModel, tiny_dir: Path, tmp_path: Path
) -> None:
    messages = chat(STEMS[0])
    tokens = naive_greedy(tiny, messages, 6)
    position = 3
    while tokens[position] in tokens[:position]:
        position += 1
    # A checkpoint whose generation_config lists a second EOS id (as Llama 3 does).
    model_dir = tmp_path / "two-eos"
    shutil.copytree(tiny_dir, model_dir)
    config = json.loads((model_dir / "generation_config.json").read_text())
    config["eos_token_id"] = [config["eos_token_id"], tokens[position]]
    (model_dir / "generation_config.json").write_text(json.dumps(config))
    model = HFLocalModel(str(model_dir), device="cpu")
    completion = await model.complete(GenerationRequest(messages=messages, max_tokens=10))
    (generation,) = completion.generations
    assert generation.finish_reason == "stop" and not generation.truncated
    assert generation.text == model.tokenizer.decode(tokens[:position], skip_special_tokens=True)
    assert completion.completion_tokens == position


async def test_invalid_n_is_rejected(tiny: HFLocalModel) -> None:
    with pytest.raises(ValueError, match="n must be"):
        await tiny.complete(GenerationRequest(messages=chat(STEMS[0]), n=0))


async def test_generation_logprobs_are_refused_not_dropped(tiny: HFLocalModel) -> None:
    with pytest.raises(UnsupportedCapabilityError, match="loglikelihoods"):
        await tiny.complete(GenerationRequest(messages=chat(STEMS[0]), logprobs=True))


async def test_closed_model_refuses_calls(tiny_dir: Path) -> None:
    model = HFLocalModel(str(tiny_dir), device="cpu")
    await model.aclose()
    with pytest.raises(ModelError, match="closed"):
        await model.complete(GenerationRequest(messages=chat(STEMS[0])))


# -- option log-likelihood scoring ------------------------------------------------------


async def test_loglikelihoods_equal_naive_per_option_forward(tiny: HFLocalModel) -> None:
    for stem in STEMS:
        request = LoglikelihoodRequest(context=chat(stem), continuations=OPTIONS)
        scores = await tiny.loglikelihoods(request)
        context = tiny.prompt_ids(request.context)
        assert len(scores) == len(OPTIONS)
        for option, score in zip(OPTIONS, scores, strict=True):
            tokens = tiny.continuation_ids(option, tiny.render(request.context))
            assert score.n_tokens == len(tokens)
            assert score.logprob == pytest.approx(
                naive_loglikelihood(tiny, context, tokens), abs=1e-4
            )


async def test_concurrent_scoring_equals_sequential(tiny: HFLocalModel) -> None:
    requests = [LoglikelihoodRequest(context=chat(s), continuations=OPTIONS) for s in STEMS]
    alone = [await tiny.loglikelihoods(r) for r in requests]
    together = await asyncio.gather(*(tiny.loglikelihoods(r) for r in requests))
    assert together == alone


async def test_context_is_computed_once_per_question(
    tiny: HFLocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes: list[tuple[int, int]] = []
    forward = tiny.model.forward

    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny.model, "forward", counting_forward)
    for stem in STEMS[:3]:
        shapes.clear()
        await tiny.loglikelihoods(LoglikelihoodRequest(context=chat(stem), continuations=OPTIONS))
        context_len = len(tiny.prompt_ids(chat(stem)))
        rendered = tiny.render(chat(stem))
        longest = max(len(tiny.continuation_ids(o, rendered)) for o in OPTIONS)
        # One pass over the context, one batched pass over the 4 options' remaining tokens.
        assert shapes == [(1, context_len), (len(OPTIONS), longest - 1)]

    shapes.clear()
    await tiny.loglikelihoods(LoglikelihoodRequest(context=chat(STEMS[0]), continuations=("A",)))
    assert len(shapes) == 1  # single-token options are scored from the context pass alone


async def test_acc_norm_inputs_and_delimiter(tiny: HFLocalModel, tiny_dir: Path) -> None:
    options = ("Measles", "\nMeasles", "A")
    scores = await tiny.loglikelihoods(
        LoglikelihoodRequest(context=chat(STEMS[2]), continuations=options)
    )
    assert [s.n_chars for s in scores] == [len(o) for o in options]  # as given, no delimiter
    assert [s.n_tokens for s in scores] == [
        len(tiny.tokenizer.encode(o, add_special_tokens=False)) for o in options
    ]
    assert all(s.logprob < 0 for s in scores)
    # The chat template's assistant header ends in a newline: no delimiter (lm-eval's
    # chat-template target_delimiter ""); after "Assistant:" a space, as lm-eval's " ".
    encode = tiny.tokenizer.encode
    assert tiny.render(chat(STEMS[2])).endswith("\n")
    assert tiny.continuation_ids("Measles", "<|assistant|>\n") == encode("Measles")
    assert tiny.continuation_ids("Measles", "Assistant:") == encode(" Measles")
    assert tiny.continuation_ids(" Measles", "Assistant:") == encode(" Measles")
    assert tiny.continuation_ids("\nMeasles", "Assistant:") == encode("\nMeasles")
    spaced = HFLocalModel(str(tiny_dir), device="cpu", continuation_delimiter=" ")
    assert spaced.continuation_ids("Measles", "<|assistant|>\n") == encode(" Measles")


async def test_is_greedy_flags_the_argmax_continuation(
    tiny: HFLocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Random weights rarely emit text that re-tokenises to the same ids, so the greedy
    # continuation is given as token ids through continuation_ids.
    greedy = naive_greedy(tiny, chat(STEMS[1]), 3)
    encode = tiny.continuation_ids
    monkeypatch.setattr(
        tiny, "continuation_ids", lambda c, ctx: greedy if c == "<greedy>" else encode(c, ctx)
    )
    scores = await tiny.loglikelihoods(
        LoglikelihoodRequest(context=chat(STEMS[1]), continuations=("<greedy>", "Measles"))
    )
    assert scores[0].is_greedy and scores[0].n_tokens == 3
    assert not scores[1].is_greedy


async def test_no_continuations_scores_nothing(tiny: HFLocalModel) -> None:
    assert (
        await tiny.loglikelihoods(LoglikelihoodRequest(context=chat(STEMS[0]), continuations=()))
        == []
    )


async def test_generation_and_scoring_share_the_worker(tiny: HFLocalModel) -> None:
    scoring = LoglikelihoodRequest(context=chat(STEMS[0]), continuations=OPTIONS)
    generation = GenerationRequest(messages=chat(STEMS[0]), max_tokens=4)
    expected = (await tiny.loglikelihoods(scoring), await tiny.complete(generation))
    together = await asyncio.gather(
        tiny.loglikelihoods(scoring), tiny.complete(generation), tiny.loglikelihoods(scoring)
    )
    assert (together[0], together[1]) == expected and together[2] == expected[0]


async def test_backend_failure_reaches_every_caller_as_model_error(
    tiny: HFLocalModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(tiny.model, "generate", broken)
    requests = [GenerationRequest(messages=chat(s), max_tokens=2) for s in STEMS[:2]]
    results = await asyncio.gather(*(tiny.complete(r) for r in requests), return_exceptions=True)
    assert all(isinstance(r, ModelError) and "out of memory" in str(r) for r in results)
    monkeypatch.undo()
    assert (await tiny.complete(requests[0])).completion_tokens == 2  # the worker recovers
