"""BM25: hand-computed scores, exact top-k on both code paths, persistence, tokenisation."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from medq.retrieval.bm25 import BM25Index
from medq.retrieval.tokenize import ENGLISH_STOPWORDS, Tokenizer

DOCS = ["fever and cough", "cough cough cough", "chest pain", "fever with chest pain"]


def test_scores_match_the_lucene_formula_by_hand() -> None:
    index = BM25Index.build(DOCS, k1=1.5, b=0.75)
    # Indexed lengths (stop words 'and', 'with' removed): 2, 3, 2, 3; average 2.5.
    n, avg = 4, 2.5

    def term(tf: int, df: int, dl: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avg))

    scores = index.score("cough fever")
    expected = [term(1, 2, 2) + term(1, 2, 2), term(3, 2, 3), 0.0, term(1, 2, 3)]
    assert scores == pytest.approx(expected, rel=1e-6)
    hits = index.top_k("cough fever", 10)
    assert hits.rows.tolist() == [0, 1, 3]  # the row scoring 0 is left out
    assert hits.scores == pytest.approx(sorted(expected, reverse=True)[:3], rel=1e-6)


def test_repeated_query_words_count_once_each_time() -> None:
    index = BM25Index.build(DOCS)
    assert index.score("pain pain") == pytest.approx(2 * index.score("pain"))


def test_unknown_and_stop_words_and_empty_queries_find_nothing() -> None:
    index = BM25Index.build(DOCS)
    for query in ("", "the and of", "zebra"):
        assert index.top_k(query, 5).rows.tolist() == []
    assert index.top_k("cough", 0).rows.tolist() == []


def _random_corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(300)])
    p = 1 / np.arange(1, 301)
    return [" ".join(rng.choice(words, size=rng.integers(5, 30), p=p / p.sum()))
            for _ in range(n)]


@pytest.mark.parametrize("query", ["w1 w5 w40 w200", "w250", "w0 w1 w2 w3 w4 w5 w6"])
def test_top_k_equals_brute_force_on_both_paths(query: str) -> None:
    # Few touched rows take the sparse path; common words touch most rows (dense path).
    index = BM25Index.build(_random_corpus(3000), batch_size=256)
    dense = index.score(query)
    order = np.lexsort((np.arange(len(dense)), -dense))
    expected = [int(r) for r in order[:20] if dense[r] > 0]
    hits = index.top_k(query, 20)
    assert hits.rows.tolist() == expected
    assert hits.scores == pytest.approx(dense[expected], rel=1e-6)


def test_batch_size_does_not_change_the_index() -> None:
    corpus = _random_corpus(500)
    a, b = BM25Index.build(corpus, batch_size=7), BM25Index.build(corpus, batch_size=10_000)
    assert a.indices.size == b.indices.size
    for query in ("w0", "w1 w2 w3", "w77 w150 w299"):
        assert np.allclose(a.score(query), b.score(query))


def test_saved_index_reopens_memory_mapped_with_the_same_results(tmp_path: Path) -> None:
    corpus = _random_corpus(1000)
    built = BM25Index.build(corpus)
    built.save(tmp_path / "idx", info={"corpus": "x"})
    opened = BM25Index.load(tmp_path / "idx")
    assert isinstance(opened.indices.base, np.memmap) or opened.indices.base is not None
    assert opened.info == {"corpus": "x"}
    queries = ["w3 w17 w99", "w0", "nothing here", "W3 w17!"]
    for q, many in zip(queries, opened.top_k_many(queries, 10), strict=True):
        before, after = built.top_k(q, 10), opened.top_k(q, 10)
        assert before.rows.tolist() == after.rows.tolist() == many.rows.tolist()
        assert np.allclose(before.scores, after.scores)


def test_load_rejects_a_folder_without_an_index(tmp_path: Path) -> None:
    from medq.retrieval import RetrievalError

    with pytest.raises(RetrievalError, match="no BM25 index"):
        BM25Index.load(tmp_path)


def test_tokenizer_matches_the_bm25s_regex_on_ascii() -> None:
    text = ("A 45-year-old man's IL-6 level was 3.5 pg/mL; the_snake_case x y2 "
            "HbA1c, CD4+ T-cells (n=12) vs. 1,000 controls.")
    stop = set(ENGLISH_STOPWORDS)
    expected = [w for w in re.findall(r"(?u)\b\w\w+\b", text.lower()) if w not in stop]
    assert Tokenizer().words(text) == expected


def test_tokenizer_splits_on_unicode_punctuation_and_keeps_accented_words() -> None:
    words = Tokenizer().words("Le cœur—et l’âme… 5 µg/mL × 2 ²")
    assert words == ["le", "cœur", "et", "âme", "µg", "ml"]
    long = "pseudohypoparathyroidism electroencephalography"
    assert Tokenizer().words(long.upper()) == long.split()


@pytest.mark.parametrize("query", ["w0 w1 w40 w200", "w0 w0 w1 w250", "w250", "w0 w1 w2 w3 w4 w5"])
def test_dense_rows_for_common_terms_give_the_brute_force_top_k(query: str) -> None:
    # Common terms stored as dense rows; "w0 w0" also exercises a repeated dense term.
    corpus = _random_corpus(3000)
    index = BM25Index.build(corpus, dense_fraction=0.05, dense_min_docs=1)
    plain = BM25Index.build(corpus, dense_fraction=2.0)
    assert len(index.dense_terms) > 0 and len(plain.dense_terms) == 0
    assert index.indices.size < plain.indices.size
    dense = index.score(query)
    assert np.allclose(dense, plain.score(query), rtol=1e-6)
    order = np.lexsort((np.arange(len(dense)), -dense))
    expected = [int(r) for r in order[:20] if dense[r] > 0]
    for hits in (index.top_k(query, 20), index.top_k_many([query, "w7"], 20)[0]):
        assert hits.rows.tolist() == expected
        assert hits.scores.tolist() == dense[expected].tolist()  # the same float32 sums


def test_dense_rows_survive_save_and_load(tmp_path: Path) -> None:
    corpus = _random_corpus(1000)
    built = BM25Index.build(corpus, dense_fraction=0.1, dense_min_docs=1)
    built.save(tmp_path / "idx")
    opened = BM25Index.load(tmp_path / "idx")
    assert opened.dense_terms.tolist() == built.dense_terms.tolist()
    for q in ("w0 w3 w17", "w1", "w250 w0"):
        assert opened.top_k(q, 10).rows.tolist() == built.top_k(q, 10).rows.tolist()
        assert np.array_equal(opened.score(q), built.score(q))


def test_an_index_of_an_older_format_is_refused(tmp_path: Path) -> None:
    import json

    from medq.retrieval import RetrievalError

    BM25Index.build(DOCS).save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    meta["version"] = 1
    (tmp_path / "idx" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(RetrievalError, match="version"):
        BM25Index.load(tmp_path / "idx")


def test_compiled_kernel_and_numpy_give_identical_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The optional numba scatter must not change a single score or tie order."""
    pytest.importorskip("numba")
    from medq.retrieval import bm25

    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(300)]
    zipf = 1 / np.arange(1, 301)
    zipf /= zipf.sum()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(5, 40)), p=zipf))
             for _ in range(3000)]
    index = bm25.BM25Index.build(texts, dense_fraction=1 / 16, dense_min_docs=64)
    queries = [" ".join(rng.choice(words, size=12, p=zipf)) for _ in range(40)]
    monkeypatch.setattr(bm25, "_KERNEL", [])
    compiled = index.top_k_many(queries, 10)
    assert bm25._compiled_scatter() is not None
    monkeypatch.setattr(bm25, "_KERNEL", [None])
    plain = index.top_k_many(queries, 10)
    for a, b in zip(compiled, plain, strict=True):
        assert a.rows.tolist() == b.rows.tolist()
        assert a.scores.tobytes() == b.scores.tobytes()
