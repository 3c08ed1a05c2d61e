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

from dataclasses import replace

from medq.models.base import Model
from medq.registry import strategies
from medq.retrieval import Retriever
from medq.retrieval.context import fit_to_budget
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.messages import generation_request, medrag_messages
from medq.strategies._shared.params import Count, MaxTokens, Size
from medq.strategies._shared.retrieval import rag_details, resolve_retriever, retrieve
from medq.strategies.base import Strategy
from medq.types import Answer, Question

CALLS_PER_ITEM = 1
PROMPTS = ("medrag_system", "medrag")
ACCEPTS = ("choice",)


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
        retrieved, seconds = await retrieve(search, query, k, item=question.id)
        shown = fit_to_budget(retrieved, budget)
        request = generation_request(medrag_messages(question, shown), seed=seed,
                                     max_tokens=max_tokens)
        completion = await model.complete(request)
        answer = answer_from(completion, question)
        details = {**answer.details,
                   **rag_details(retrieved, shown, completion.generations[0].text, seconds)}
        return replace(answer, details=details)

    return solve
