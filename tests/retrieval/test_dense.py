"""Dense retrieval with a deterministic stand-in encoder: build, resume, search, fuse."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")

from medq.retrieval import RetrievalError, add_corpus, open_corpus, open_retriever  # noqa: E402
from medq.retrieval.dense import DenseIndex, DenseRetriever, DualEncoder, load_encoder  # noqa: E402


class HashingEncoder:
    """Bag of hashed words, unit length: texts sharing words are near each other."""

    def __init__(self, name: str = "hashing", dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(".", " ").split():
                out[i, zlib.crc32(word.encode()) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _corpus(tmp_path: Path, n: int = 50) -> None:
    lines = [f'{{"id": "d{i}", "title": "", "content": "topic{i} shared words here"}}'
             for i in range(n)]
    (tmp_path / "c.jsonl").write_text("\n".join(lines))
    add_corpus("c", tmp_path / "c.jsonl")


def test_build_search_and_resume_from_saved_chunks(tmp_path: Path) -> None:
    _corpus(tmp_path)
    encoder = HashingEncoder()
    dual = DualEncoder(encoder, encoder)
    DenseIndex.build(open_corpus("c"), dual, chunk_size=16)
    assert encoder.calls == [16, 16, 16, 2]
    shards = sorted((open_corpus("c").index_dir("embeddings")).glob("rows-*.npy"))
    assert [p.name.split(".")[0] for p in shards] == [
        "rows-000000000-000000016", "rows-000000016-000000032", "rows-000000032-000000048",
        "rows-000000048-000000050"]
    shards[1].unlink()  # as if the build had been killed there
    encoder.calls.clear()
    DenseIndex.build(open_corpus("c"), dual, chunk_size=16)
    assert encoder.calls == [16]  # only the missing chunk is embedded again
    retriever = DenseRetriever(open_corpus("c"), dual)
    top = retriever.search("topic7", 3)
    assert top[0].id == "d7" and top[0].corpus == "c"
    assert top[0].score == pytest.approx(float(np.dot(*encoder.encode(
        ["topic7", "topic7 shared words here"]))), rel=1e-5)


def test_hnsw_above_flat_max_finds_the_same_best_match(tmp_path: Path) -> None:
    lines = [f'{{"id": "d{i}", "content": "w{i} w{i + 1} w{i + 2} w{i * 7 % 13}"}}'
             for i in range(300)]
    (tmp_path / "c.jsonl").write_text("\n".join(lines))
    add_corpus("c", tmp_path / "c.jsonl")
    encoder = HashingEncoder(dim=4096)
    index = DenseIndex.build(open_corpus("c"), DualEncoder(encoder, encoder), flat_max=10)
    assert index.meta["kind"] == "hnsw"
    scores, rows = index.search(encoder.encode([f"w123 w124 w125 w{123 * 7 % 13}"]), 1)
    assert rows.tolist() == [[123]] and scores[0, 0] == pytest.approx(1.0, rel=1e-5)


def test_asymmetric_encoders_and_missing_or_stale_indexes(tmp_path: Path) -> None:
    _corpus(tmp_path)
    query, document = HashingEncoder("q"), HashingEncoder("d")
    dual = DualEncoder(query, document)
    assert dual.name == "q|d" and dual.slug == "q+d"
    with pytest.raises(RetrievalError, match="no dense index"):
        DenseRetriever(open_corpus("c"), dual)
    DenseIndex.build(open_corpus("c"), dual)
    DenseRetriever(open_corpus("c"), dual).search("topic1", 2)
    assert query.calls == [1] and document.calls == [50]
    add_corpus("c", tmp_path / "c.jsonl", replace=True)
    with pytest.raises(RetrievalError, match="no dense index|older"):
        DenseRetriever(open_corpus("c"), dual)


def test_encoder_specs() -> None:
    medcpt = load_encoder("medcpt")
    assert medcpt.query.name.endswith("Query-Encoder")
    assert medcpt.document.name.endswith("Article-Encoder")
    assert load_encoder("all-MiniLM-L6-v2").name == "sentence-transformers/all-MiniLM-L6-v2"
    pair = load_encoder("a/q|b/d")
    assert (pair.query.name, pair.document.name) == ("a/q", "b/d")


def test_open_retriever_fuses_retrievers_and_corpora(tmp_path: Path) -> None:
    _corpus(tmp_path, 10)
    (tmp_path / "o.jsonl").write_text('{"id": "o1", "title": "", "content": "topic3 other"}')
    add_corpus("o", tmp_path / "o.jsonl")
    fused = open_retriever("c+o", "bm25")
    found = fused.search("topic3", 5)
    assert {(p.corpus, p.id) for p in found[:2]} == {("c", "d3"), ("o", "o1")}
    with pytest.raises(RetrievalError, match="unknown retriever"):
        open_retriever("c", "tfidf")
