"""Turning retrieved passages into prompt context: token budgets and citations."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from medq.retrieval.base import Passage

TokenCounter = Callable[[str], int]
_DOC_REF = re.compile(r"Document\s*\[(\d+)\]|\[(\d+)\]")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per 4 characters (OpenAI's rule of thumb for
    English, and about right for medical text under cl100k and Llama tokenizers)."""
    return math.ceil(len(text) / 4)


def format_document(number: int, passage: Passage) -> str:
    """MedRAG's layout: ``Document [n] (Title: ...) content``."""
    return f"Document [{number}] (Title: {passage.title}) {passage.content}"


def fit_to_budget(
    passages: Sequence[Passage], budget: int, *, count: TokenCounter = estimate_tokens
) -> list[Passage]:
    """The best-ranked passages whose formatted documents fit in `budget` tokens.

    Whole passages are kept in rank order and the first that does not fit ends the list, so
    every passage shown is shown in full and can be cited. Only when not even the first
    fits is it cut (to the budget, at a word boundary), so the model always gets something.

    Example:
        >>> p = [Passage("a", "", "x" * 40), Passage("b", "", "y" * 40)]
        >>> [q.id for q in fit_to_budget(p, 20)]
        ['a']
    """
    kept: list[Passage] = []
    used = 0
    for number, passage in enumerate(passages, start=1):
        cost = count(format_document(number, passage)) + 1  # +1: the newline between
        if used + cost > budget:
            break
        kept.append(passage)
        used += cost
    if not kept and passages and budget > 0:
        first = passages[0]
        words = first.content.split(" ")
        while words and count(format_document(1, _with(first, " ".join(words)))) > budget:
            words = words[: max(len(words) * 9 // 10, len(words) - 1)]
        if words:
            kept.append(_with(first, " ".join(words)))
    return kept


def _with(passage: Passage, content: str) -> Passage:
    return Passage(passage.id, passage.title, content, passage.score, passage.corpus,
                   {**passage.metadata, "truncated": True})


def documents_block(passages: Sequence[Passage]) -> str:
    """The numbered documents, one per line, as the prompt shows them."""
    return "\n".join(format_document(n, p) for n, p in enumerate(passages, start=1))


def passage_record(passage: Passage) -> dict[str, Any]:
    """What an answer's details keep of a passage: enough to show it and find it again."""
    return {"id": passage.id, "corpus": passage.corpus, "title": passage.title,
            "score": round(passage.score, 6)}


def referenced(text: str, shown: Sequence[Passage]) -> list[str]:
    """IDs of the shown documents the response refers to as ``Document [n]`` or ``[n]``."""
    ids: list[str] = []
    for match in _DOC_REF.finditer(text):
        n = int(match.group(1) or match.group(2))
        if 1 <= n <= len(shown) and shown[n - 1].id not in ids:
            ids.append(shown[n - 1].id)
    return ids
