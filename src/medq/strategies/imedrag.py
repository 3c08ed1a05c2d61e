"""i-MedRAG: rounds of follow-up queries, each answered from retrieved snippets.

Xiong, Jin, Wang, Zhang, Lu & Zhang, "Improving Retrieval-Augmented Generation in
Medicine with Iterative Follow-up Questions" (i-MedRAG, PSB 2025; arXiv 2408.00727).
Defaults follow the paper's main setting: 4 rounds of 3 queries. Each round, the model
writes follow-up queries given the question and what it has learned so far; each query is
answered by a MedRAG call (retrieve `k` snippets for the query, answer it from them); the
accumulated query-answer pairs then feed one final JSON answer (MedRAG's format).

Calls per item: rounds x (1 + queries) + 1 = 17 by default (fewer when a round yields
fewer queries). A round whose reply holds no query ends the rounds early.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from medq.models.base import Model
from medq.prompts import question_fields, render, template
from medq.registry import strategies
from medq.retrieval import Passage, Retriever
from medq.retrieval.context import documents_block, fit_to_budget, passage_record
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import gather_or_cancel
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import Count, MaxTokens, Size
from medq.strategies._shared.retrieval import resolve_retriever, retrieve
from medq.strategies._shared.verdicts import parse_queries
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = "rounds × (1 + queries) + 1"
PROMPTS = ("medrag_system", "imedrag_queries", "imedrag_answer_query", "imedrag_final")
ACCEPTS = ("choice",)


def _history(pairs: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"Query: {q}\nAnswer: {a}" for q, a in pairs)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def imedrag(
    *,
    corpus: str | None = None,
    retriever: str | Retriever = "bm25",
    rounds: Count = 4,
    queries: Count = 3,
    k: Size = 32,
    rrf_k: Count = 60,
    budget: Count = 6000,
    seed: int = 0,
    max_tokens: MaxTokens = None,
) -> Strategy:
    """Ask `queries` follow-up queries per round for `rounds` rounds, then answer.

    Args:
        corpus: stored corpus name(s), joined with ``+``.
        retriever: ``bm25``, ``dense:MODEL``, several joined with ``+``, or a Retriever.
        rounds: rounds of follow-up queries.
        queries: follow-up queries per round.
        k: snippets retrieved per follow-up query.
        rrf_k: the RRF constant when fusing.
        budget: prompt tokens the documents of one query may take.
        seed: sent with every request.
        max_tokens: completion limit of every call.
    """
    search = resolve_retriever(corpus, retriever, rrf_k, "imedrag")
    system = Message("system", template("medrag_system").strip())

    async def answer_query(query: str, model: Model) -> tuple[str, list[Passage], float]:
        passages, seconds = await retrieve(search, query, k)
        shown = fit_to_budget(passages, budget)
        user = render("imedrag_answer_query", documents=documents_block(shown), query=query)
        request = generation_request((Message("user", user),), seed=seed,
                                     max_tokens=max_tokens)
        completion = await model.complete(request)
        return completion.generations[0].text.strip(), shown, seconds

    async def solve(question: Question, model: Model) -> Answer:
        fields = question_fields(question)
        stem = fields["context"] + fields["question"]
        pairs: list[tuple[str, str]] = []
        log: list[dict[str, Any]] = []
        cited: list[str] = []
        seconds = 0.0
        for _ in range(rounds):
            history = f"\nWhat you have found so far:\n{_history(pairs)}\n" if pairs else ""
            user = render("imedrag_queries", question=stem, options=fields["options"],
                          history=history, n_queries=str(queries))
            reply = await model.complete(generation_request(
                (Message("user", user),), seed=seed, max_tokens=max_tokens))
            asked = parse_queries(reply.generations[0].text, queries)
            if not asked:
                break
            results = await gather_or_cancel(*(answer_query(q, model) for q in asked))
            for query, (text, shown, spent) in zip(asked, results, strict=True):
                pairs.append((query, text))
                cited.extend(p.id for p in shown if p.id not in cited)
                seconds += spent
                log.append({"query": query, "answer": text,
                            "retrieved": [passage_record(p) for p in shown]})
        user = render("imedrag_final", history=_history(pairs) or "(nothing)", question=stem,
                      options=fields["options"])
        completion = await model.complete(generation_request(
            (system, Message("user", user)), seed=seed, max_tokens=max_tokens))
        answer = answer_from(completion, question)
        details = {**answer.details, "follow_ups": log, "cited": cited,
                   "retrieval_ms": round(1000 * seconds, 3)}
        return replace(answer, details=details)

    return solve
