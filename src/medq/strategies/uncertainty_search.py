"""Uncertainty-guided search: retrieve only when sampled answers disagree.

Saab et al., "Capabilities of Gemini Models in Medicine" (Med-Gemini, 2024), section on
uncertainty-guided search. Each round samples `n` reasoning paths (chain of thought at
`temperature`); when the entropy of their answer distribution is at most `threshold`
bits the majority answer stands. Otherwise the model writes up to `queries` search
queries from the conflicting attempts, their results join the context, and the next
round samples again with them, for at most `rounds` rounds; the last round's majority
is the answer. Med-Gemini searched the web; here the search is any medq retriever.

Entropy is over the valid answers' shares (invalid samples are left out of it, but count
against the confidence). With n = 5, a 4-1 split is 0.72 bits and a 3-2 split 0.97 bits,
so the default threshold of 0.5 bits searches on any disagreement.

Calls per item: n per round, plus one query-writing call between rounds: n when the first
round agrees, at most rounds x n + rounds - 1.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from medq.models.base import Model
from medq.prompts import question_fields, render
from medq.registry import strategies
from medq.retrieval import Passage, Retriever
from medq.retrieval.context import documents_block, fit_to_budget, passage_record
from medq.strategies._shared.answers import answer_from
from medq.strategies._shared.fanout import answer_by_vote, gather_or_cancel
from medq.strategies._shared.messages import generation_request
from medq.strategies._shared.params import Count, MaxTokens, Size, Temperature
from medq.strategies._shared.retrieval import resolve_retriever, retrieve
from medq.strategies._shared.verdicts import parse_queries
from medq.strategies.base import Strategy
from medq.types import Answer, Message, Question

CALLS_PER_ITEM = "n × rounds + rounds − 1 (at most)"
PROMPTS = ("uncertainty_search_answer", "uncertainty_search_queries")
ACCEPTS = ("choice",)


def answer_entropy(choices: Sequence[str | None]) -> float:
    """Shannon entropy in bits of the valid choices' distribution (0 when none is valid).

    Example:
        >>> round(answer_entropy(["A", "A", "A", "A", "B"]), 2)
        0.72
    """
    counts = Counter(c for c in choices if c is not None)
    total = sum(counts.values())
    return -sum(c / total * math.log2(c / total) for c in counts.values()) if total else 0.0


async def _sample(model: Model, question: Question, messages: tuple[Message, ...], *,
                  seed: int, max_tokens: int | None, temperature: float,
                  sample_index: int) -> Answer:
    request = generation_request(messages, seed=seed, max_tokens=max_tokens,
                                 temperature=temperature, sample_index=sample_index)
    return answer_from(await model.complete(request), question)


@strategies.register(prompts=PROMPTS, calls_per_item=CALLS_PER_ITEM, accepts=ACCEPTS)
def uncertainty_search(
    *,
    corpus: str | None = None,
    retriever: str | Retriever = "bm25",
    n: Count = 5,
    temperature: Temperature = 0.7,
    threshold: float = 0.5,
    rounds: Count = 4,
    queries: Count = 3,
    k: Size = 4,
    rrf_k: Count = 60,
    budget: Count = 6000,
    seed: int = 0,
    max_tokens: MaxTokens = None,
) -> Strategy:
    """Sample `n` answers; search and resample while their entropy exceeds `threshold`.

    Args:
        corpus: stored corpus name(s), joined with ``+``.
        retriever: ``bm25``, ``dense:MODEL``, several joined with ``+``, or a Retriever.
        n: reasoning paths sampled per round.
        temperature: sampling temperature of the reasoning paths.
        threshold: entropy (bits) above which the round is uncertain.
        rounds: rounds of sampling at most (searches happen between them).
        queries: search queries written per search.
        k: snippets retrieved per query.
        rrf_k: the RRF constant when fusing.
        budget: prompt tokens the accumulated documents may take.
        seed: sent with every call (samples differ by sample index).
        max_tokens: completion limit of every call.
    """
    search = resolve_retriever(corpus, retriever, rrf_k, "uncertainty_search")

    async def solve(question: Question, model: Model) -> Answer:
        fields = question_fields(question)
        stem = fields["context"] + fields["question"]
        found: list[Passage] = []
        history = []
        seconds = 0.0
        answers: list[Answer] = []
        for round_no in range(rounds):
            shown = fit_to_budget(found, budget)
            documents = (f"Here are the relevant documents:\n{documents_block(shown)}\n\n"
                         if shown else "")
            user = render("uncertainty_search_answer", documents=documents, question=stem,
                          options=fields["options"], letters=fields["letters"])
            messages = (Message("user", user),)

            answers = list(await gather_or_cancel(*(
                _sample(model, question, messages, seed=seed, max_tokens=max_tokens,
                        temperature=temperature, sample_index=round_no * n + i)
                for i in range(n))))
            entropy = answer_entropy([a.choice for a in answers])
            record = {"round": round_no, "votes": [a.choice for a in answers],
                      "entropy": round(entropy, 4), "cited": [p.id for p in shown]}
            history.append(record)
            if entropy <= threshold or round_no == rounds - 1:
                break
            attempts = "\n".join(
                f"Attempt {i + 1} answered {a.choice or 'nothing valid'}: "
                f"{a.text.strip()[-600:]}" for i, a in enumerate(answers))
            ask = render("uncertainty_search_queries", question=stem,
                         options=fields["options"], attempts=attempts,
                         n_queries=str(queries))
            reply = await model.complete(generation_request(
                (Message("user", ask),), seed=seed, max_tokens=max_tokens))
            asked = parse_queries(reply.generations[0].text, queries)
            record["queries"] = asked
            have = {(p.corpus, p.id) for p in found}
            for query in asked:
                passages, spent = await retrieve(search, query, k)
                seconds += spent
                for p in passages:
                    if (p.corpus, p.id) not in have:
                        have.add((p.corpus, p.id))
                        found.append(p)
            record["retrieved"] = [passage_record(p) for p in found]
        cited = history[-1]["cited"]
        return answer_by_vote(answers, list(question.options), rounds=history,
                              searched=len(history) > 1, cited=cited,
                              retrieval_ms=round(1000 * seconds, 3))

    return solve
