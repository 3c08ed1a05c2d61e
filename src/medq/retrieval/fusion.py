"""Reciprocal rank fusion across retrievers and corpora.

Cormack, Clarke & Büttcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
Rank Learning Methods" (SIGIR 2009); MedRAG (Xiong et al., Findings of ACL 2024) fuses
its retrievers and corpora this way. A passage's fused score is the sum, over the
rankings it appears in, of ``1 / (rrf_k + rank)`` with ranks from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from medq.retrieval.base import Passage, Retriever, search_many

DEFAULT_RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Passage]], *, rrf_k: int = DEFAULT_RRF_K,
    limit: int | None = None,
) -> list[Passage]:
    """Fuse ranked lists; passages are the same when (corpus, id) are.

    Ties in fused score keep the order of first appearance (earlier rankings first).

    Example:
        >>> a, b = Passage("1", "", "x"), Passage("2", "", "y")
        >>> [p.id for p in reciprocal_rank_fusion([[a, b], [b]])]
        ['2', '1']
    """
    scores: dict[tuple[str, str], float] = {}
    first: dict[tuple[str, str], Passage] = {}
    for ranking in rankings:
        for rank, passage in enumerate(ranking, start=1):
            key = (passage.corpus, passage.id)
            scores[key] = scores.get(key, 0.0) + 1.0 / (rrf_k + rank)
            first.setdefault(key, passage)
    order = sorted(scores, key=lambda key: -scores[key])  # stable: first appearance wins
    fused = [replace(first[key], score=scores[key]) for key in order]
    return fused[:limit] if limit is not None else fused


class FusedRetriever:
    """Several retrievers (say BM25 and dense, over several corpora) fused with RRF.

    Args:
        retrievers: each is asked for `depth` passages (default: the k asked for).
        rrf_k: the RRF constant (60, as in Cormack et al.).
        depth: passages taken from each retriever before fusing.
    """

    def __init__(self, retrievers: Sequence[Retriever], *, rrf_k: int = DEFAULT_RRF_K,
                 depth: int | None = None) -> None:
        if not retrievers:
            raise ValueError("FusedRetriever needs at least one retriever")
        self.retrievers = list(retrievers)
        self.rrf_k = rrf_k
        self.depth = depth
        self.name = "rrf(" + ",".join(getattr(r, "name", "?") for r in self.retrievers) + ")"

    def search(self, query: str, k: int) -> list[Passage]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        depth = self.depth or k
        # Encoders and numpy release the GIL, so retrievers run side by side.
        with ThreadPoolExecutor(len(self.retrievers)) as pool:
            per_retriever = list(pool.map(lambda r: search_many(r, queries, depth),
                                          self.retrievers))
        return [
            reciprocal_rank_fusion([results[i] for results in per_retriever],
                                   rrf_k=self.rrf_k, limit=k)
            for i in range(len(queries))
        ]
