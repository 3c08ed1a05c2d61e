"""The out-of-core BM25 build: the in-memory build's arrays and top k, under a memory cap
small enough to force spilled runs and several merge ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medq.retrieval.bm25 import _ARRAYS, BM25Index


def _snippets(n: int, seed: int = 0) -> list[str]:
    """Zipfian made-up words with English stop words at the head, as in bench_bm25."""
    rng = np.random.default_rng(seed)
    stop = "the of and to in is that for it as was with be by on not this are".split()
    words = np.array(stop + [f"w{i}x" for i in range(30_000)], dtype=object)
    p = 1.0 / np.arange(1, len(words) + 1)
    cdf = np.cumsum(p / p.sum())
    lengths = rng.integers(20, 60, size=n)
    tokens = words[np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum()))),
                              len(words) - 1)]
    ends = np.cumsum(lengths)
    return [" ".join(tokens[e - k:e]) for e, k in zip(ends, lengths, strict=True)]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _snippets(100_000)


def test_capped_build_spills_and_matches_the_in_memory_build(
    corpus: list[str], tmp_path: Path
) -> None:
    memory = BM25Index.build(corpus)
    disk = BM25Index.build_on_disk(iter(corpus), tmp_path / "bm25", memory_gb=0.03)
    stats = disk.build_stats
    assert stats.runs >= 4 and stats.ranges >= 4, stats
    assert len(disk.dense_terms) > 0  # common terms went to dense rows as well
    for name in _ARRAYS:
        assert np.array_equal(getattr(disk, name), getattr(memory, name)), name
    assert (disk.n_docs, disk.avg_doc_len) == (memory.n_docs, memory.avg_doc_len)
    queries = _snippets(300, seed=1)
    for a, b in zip(memory.top_k_many(queries, 10), disk.top_k_many(queries, 10), strict=True):
        assert a.rows.tolist() == b.rows.tolist()
        assert a.scores.tolist() == b.scores.tolist()
    assert not (tmp_path / "bm25" / "_runs").exists()


def test_uncapped_build_is_one_run_and_the_same_index(tmp_path: Path) -> None:
    texts = _snippets(2_000, seed=2)
    disk = BM25Index.build_on_disk(texts, tmp_path / "bm25", memory_gb=8)
    assert (disk.build_stats.runs, disk.build_stats.ranges) == (1, 1)
    memory = BM25Index.build(texts)
    assert all(np.array_equal(getattr(disk, n), getattr(memory, n)) for n in _ARRAYS)
    assert disk.top_k("w3x w10x the", 5).rows.tolist() == \
        memory.top_k("w3x w10x the", 5).rows.tolist()


def test_empty_corpus_builds_an_empty_index(tmp_path: Path) -> None:
    index = BM25Index.build_on_disk([], tmp_path / "bm25")
    assert index.n_docs == 0 and index.top_k("anything", 3).rows.tolist() == []
