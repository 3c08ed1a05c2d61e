"""Retrieval for the RAG strategies: resolving corpus and retriever names, timing a search,
and the retrieved / shown / cited record kept with each answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from medq.retrieval import Passage, Retriever, open_retriever
from medq.retrieval.context import passage_record, referenced


def resolve_retriever(
    corpus: str | None, retriever: str | Retriever, rrf_k: int, strategy: str
) -> Retriever:
    """`retriever` itself when it is one; else the named retriever over `corpus`."""
    if not isinstance(retriever, str):
        return retriever
    if not corpus:
        raise ValueError(f"{strategy} needs a corpus: --strategy '{strategy}:corpus=NAME' "
                         "(see `medq corpus list`)")
    return open_retriever(corpus, retriever, rrf_k=rrf_k)


async def retrieve(retriever: Retriever, query: str, k: int) -> tuple[list[Passage], float]:
    """Search off the event loop (encoders and big indexes take milliseconds); returns the
    passages and the seconds spent."""
    start = time.perf_counter()
    passages = await asyncio.to_thread(retriever.search, query, k)
    return passages, time.perf_counter() - start


def rag_details(retrieved: list[Passage], shown: list[Passage], text: str,
                seconds: float) -> dict[str, Any]:
    """What a RAG answer records: every snippet retrieved, which were shown (cited), and
    which the reasoning names."""
    return {
        "retrieved": [passage_record(p) for p in retrieved],
        "cited": [p.id for p in shown],
        "referenced": referenced(text, shown),
        "retrieval_ms": round(1000 * seconds, 3),
    }
