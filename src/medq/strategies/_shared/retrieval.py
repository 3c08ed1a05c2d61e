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


# Searches in flight by (retriever, item, query, k): see `retrieve`.
_IN_FLIGHT: dict[tuple[int, str, str, int], asyncio.Future[list[Passage]]] = {}


async def retrieve(retriever: Retriever, query: str, k: int, *,
                   item: str | None = None) -> tuple[list[Passage], float]:
    """Search off the event loop (encoders and big indexes take milliseconds); returns the
    passages and the seconds spent.

    With `item` (the question's ID), the same search asked again for the same item while
    one is in flight waits for that one: the samples of a sampling strategy over a RAG
    base (self-consistency over MedRAG) search once, and, woken together, reach the model
    together, so their calls go out as one request with ``n`` (`medq.coalesce`). Only
    within an item: another item (a served request) never shares a search, so what it
    records of its own retrieval stays its own.
    """
    start = time.perf_counter()
    if item is None:
        passages = await asyncio.to_thread(retriever.search, query, k)
        return passages, time.perf_counter() - start
    key = (id(retriever), item, query, k)
    search = _IN_FLIGHT.get(key)
    if search is None or search.get_loop() is not asyncio.get_running_loop():
        search = asyncio.ensure_future(asyncio.to_thread(retriever.search, query, k))
        _IN_FLIGHT[key] = search
        search.add_done_callback(lambda done: _forget(key, done))
    # Shielded: one sample cancelled must not cancel the search the others wait for.
    passages = await asyncio.shield(search)
    return list(passages), time.perf_counter() - start


def _forget(key: tuple[int, str, str, int], search: asyncio.Future[list[Passage]]) -> None:
    if _IN_FLIGHT.get(key) is search:
        del _IN_FLIGHT[key]


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
