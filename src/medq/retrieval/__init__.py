"""Retrieval over medical corpora: corpora, BM25, dense retrieval, reciprocal rank fusion.

Example:
    >>> from medq.retrieval import add_corpus, open_retriever
    >>> add_corpus("glianorex", "../shared/data/glianorex_books")
    >>> retriever = open_retriever("glianorex", "bm25")
    >>> [p.id for p in retriever.search("What does the Glianorex regulate?", 3)]

Heavy dependencies (faiss, sentence-transformers) are imported only by dense retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence

from medq.retrieval.base import Passage, RetrievalError, Retriever, search_many
from medq.retrieval.bm25 import BM25Index, BM25Retriever, build_bm25
from medq.retrieval.corpora import (
    Corpus,
    Snippet,
    add_corpus,
    chunk_text,
    list_corpora,
    open_corpus,
    read_snippets,
    write_corpus,
)
from medq.retrieval.fusion import DEFAULT_RRF_K, FusedRetriever, reciprocal_rank_fusion

__all__ = [
    "DEFAULT_RRF_K",
    "BM25Index",
    "BM25Retriever",
    "Corpus",
    "FusedRetriever",
    "Passage",
    "RetrievalError",
    "Retriever",
    "Snippet",
    "add_corpus",
    "build_bm25",
    "chunk_text",
    "list_corpora",
    "open_corpus",
    "open_retriever",
    "read_snippets",
    "reciprocal_rank_fusion",
    "search_many",
    "write_corpus",
]


def _split(value: str | Sequence[str]) -> list[str]:
    parts = value.split("+") if isinstance(value, str) else list(value)
    return [p.strip() for p in parts if p.strip()]


def open_retriever(
    corpus: str | Sequence[str], retriever: str | Sequence[str] = "bm25", *,
    rrf_k: int = DEFAULT_RRF_K,
) -> Retriever:
    """A retriever over one or more stored corpora.

    Args:
        corpus: a corpus name, or several joined with ``+`` (``"textbooks+pubmed"``).
        retriever: ``bm25``, ``dense`` (MiniLM), ``dense:MODEL`` (``dense:medcpt``,
            ``dense:QUERY|DOC``), or several joined with ``+``.
        rrf_k: the RRF constant when more than one (retriever, corpus) pair is fused.
    """
    from medq.retrieval.corpora import open_corpus as _open

    corpora = [_open(name) for name in _split(corpus)]
    kinds = _split(retriever)
    if not corpora or not kinds:
        raise RetrievalError("need at least one corpus and one retriever")
    pairs: list[Retriever] = []
    for kind in kinds:
        name, _, model = kind.partition(":")
        for c in corpora:
            if name == "bm25" and not model:
                pairs.append(BM25Retriever(c))
            elif name == "dense":
                from medq.retrieval.dense import DenseRetriever

                pairs.append(DenseRetriever(c, model) if model else DenseRetriever(c))
            else:
                raise RetrievalError(
                    f"unknown retriever {kind!r}: use bm25, dense or dense:MODEL"
                )
    return pairs[0] if len(pairs) == 1 else FusedRetriever(pairs, rrf_k=rrf_k)
