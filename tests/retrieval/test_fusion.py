"""Reciprocal rank fusion arithmetic and token-budget fitting, by hand."""

from __future__ import annotations

import pytest

from medq.retrieval import FusedRetriever, Passage, reciprocal_rank_fusion
from medq.retrieval.context import (
    documents_block,
    estimate_tokens,
    fit_to_budget,
    format_document,
    referenced,
)


def P(id: str, corpus: str = "c", content: str = "x") -> Passage:  # noqa: N802
    return Passage(id, "", content, 0.0, corpus)


def test_rrf_scores_are_sums_of_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([[P("a"), P("b"), P("c")], [P("c"), P("a")]], rrf_k=60)
    scores = {p.id: p.score for p in fused}
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["b"] == pytest.approx(1 / 62)
    assert [p.id for p in fused] == ["a", "c", "b"]


def test_rrf_constant_and_limit_and_corpus_identity() -> None:
    fused = reciprocal_rank_fusion([[P("a", "x")], [P("a", "y")]], rrf_k=1, limit=1)
    assert len(fused) == 1 and fused[0].score == pytest.approx(0.5)  # distinct passages
    ties = reciprocal_rank_fusion([[P("a")], [P("b")]])
    assert [p.id for p in ties] == ["a", "b"]  # equal scores keep first appearance


class Listed:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def search(self, query: str, k: int) -> list[Passage]:
        return [P(i) for i in self.ids[:k]]


def test_fused_retriever_asks_each_retriever_for_depth() -> None:
    fused = FusedRetriever([Listed(["a", "b", "c"]), Listed(["c", "d"])], depth=2)
    assert [p.id for p in fused.search("q", 3)] == ["a", "c", "b"]


def test_budget_keeps_whole_passages_in_rank_order() -> None:
    passages = [P("a", content="w " * 40), P("b", content="w " * 40), P("c", content="w")]
    one = estimate_tokens(format_document(1, passages[0])) + 1
    two = one + estimate_tokens(format_document(2, passages[1])) + 1
    assert [p.id for p in fit_to_budget(passages, one)] == ["a"]
    assert [p.id for p in fit_to_budget(passages, two - 1)] == ["a"]  # 'c' would fit: no skip
    assert [p.id for p in fit_to_budget(passages, two)] == ["a", "b"]
    assert fit_to_budget([], 10) == []


def test_budget_cuts_the_first_passage_only_when_nothing_fits() -> None:
    long = P("a", content=" ".join(f"word{i}" for i in range(500)))
    kept = fit_to_budget([long], 50)
    assert [p.id for p in kept] == ["a"] and kept[0].metadata["truncated"]
    assert estimate_tokens(format_document(1, kept[0])) <= 50
    assert fit_to_budget([long], 50, count=lambda text: len(text.split()))[0].content


def test_documents_block_and_references() -> None:
    shown = [P("a"), P("b")]
    assert documents_block(shown) == "Document [1] (Title: ) x\nDocument [2] (Title: ) x"
    assert referenced("As Document [2] and [1] say; [9] is not shown", shown) == ["b", "a"]
