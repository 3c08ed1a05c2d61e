"""MedRAG: retrieve snippets for the question, answer in JSON with the snippets as context.

Xiong, Jin, Lu & Zhang, "Benchmarking Retrieval-Augmented Generation for Medicine"
(MIRAGE / MedRAG, Findings of ACL 2024). As in MedRAG: k = 32 snippets retrieved for the
question alone (options excluded: MIRAGE found that best), shown as ``Document [n]
(Title: ...) ...`` under MedRAG's system prompt, answered as JSON with
``step_by_step_thinking`` and ``answer_choice``. Unlike MedRAG, which cuts the joined
snippets at the context limit mid-snippet, medq keeps whole snippets in rank order up to
a token budget, so every snippet shown can be cited; the IDs shown (and those the
reasoning names as ``Document [n]``) are kept in the answer's details.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import Any

from medq.models.base import Model
from medq.prompts import question_fields, render, template
from medq.registry import strategies
from medq.retrieval import Passage, Retriever, open_retriever
from medq.retrieval.context import documents_block, fit_to_budget, passage_record, referenced
from medq.strategies._params import Count, MaxTokens, Size
from medq.strategies.base import Strategy, answer_from, generation_request
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = 1
PROMPTS = ("medrag_system", "medrag")
ACCEPTS = ("choice",)


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


def medrag_messages(question: Question, shown: list[Passage]) -> tuple[Message, ...]:
    """MedRAG's two messages for `question` with `shown` as its documents."""
    fields = question_fields(question)
    user = render("medrag", documents=documents_block(shown),
                  question=fields["context"] + fields["question"], options=fields["options"])
    return (Message("system", template("medrag_system").strip()), Message("user", user))


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


_QUERY_LINE = re.compile(r"^\s*(?:[-*]\s*)?(?:\**query\s*\d*\**\s*[:.)-]|\d+[.)])\s*(.+?)\s*$",
                         re.I | re.M)


def parse_queries(text: str, limit: int) -> list[str]:
    """Up to `limit` distinct search queries from ``Query 1: ...`` (or ``1. ...``) lines."""
    queries: list[str] = []
    for match in _QUERY_LINE.finditer(text):
        query = match.group(1).strip().strip('"*').strip()
        if query and query not in queries:
            queries.append(query)
    return queries[:limit]


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def medrag(
    *,
    corpus: str | None = None,
    retriever: str | Retriever = "bm25",
    k: Size = 32,
    rrf_k: Count = 60,
    query_options: bool = False,
    budget: Count = 6000,
    seed: int = 0,
    max_tokens: MaxTokens = None,
) -> Strategy:
    """Retrieve `k` snippets, keep those that fit `budget` tokens, answer in JSON.

    Args:
        corpus: stored corpus name(s), joined with ``+`` (``medq corpus list``).
        retriever: ``bm25``, ``dense:MODEL``, several joined with ``+`` (fused with RRF),
            or a Retriever object.
        k: snippets retrieved (MedRAG: 32).
        rrf_k: the RRF constant when fusing.
        query_options: add the options' text to the search query (MIRAGE: off).
        budget: prompt tokens the documents may take (estimated as characters / 4).
        seed: sent with the request for servers that honour it.
        max_tokens: completion limit (server default when None).
    """
    search = resolve_retriever(corpus, retriever, rrf_k, "medrag")

    async def solve(question: Question, model: Model) -> Answer:
        query = question.stem
        if query_options and question.options:
            query += "\n" + "\n".join(question.options.values())
        retrieved, seconds = await retrieve(search, query, k)
        shown = fit_to_budget(retrieved, budget)
        request = generation_request(medrag_messages(question, shown), seed=seed,
                                     max_tokens=max_tokens)
        completion = await model.complete(request)
        answer = answer_from(completion, question)
        details = {**answer.details,
                   **rag_details(retrieved, shown, completion.generations[0].text, seconds)}
        return replace(answer, details=details)

    return solve
