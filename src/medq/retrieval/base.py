"""The Retriever protocol and the Passage it returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable


class RetrievalError(ValueError):
    """A corpus or index that does not exist, cannot be read, or does not match."""


@dataclass(frozen=True)
class Passage:
    """One retrieved snippet.

    Attributes:
        id: the snippet's ID in its corpus (MedRAG's ``id``; ``source#position`` for chunks).
        title: the document title.
        content: the snippet text.
        score: the retriever's score (BM25, cosine, or fused RRF score); higher is better.
        corpus: the corpus it came from.
        metadata: anything else the snippet carried (source file, character offsets, ...).
    """

    id: str
    title: str
    content: str
    score: float = 0.0
    corpus: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __hash__(self) -> int:
        return hash((self.corpus, self.id))


@runtime_checkable
class Retriever(Protocol):
    """Finds the `k` best passages for a query: ``retriever.search("query", 10)``."""

    def search(self, query: str, k: int) -> list[Passage]: ...


def search_many(retriever: Retriever, queries: Sequence[str], k: int) -> list[list[Passage]]:
    """Batched search: the retriever's own `search_many` when it has one, else a loop."""
    batched = getattr(retriever, "search_many", None)
    if batched is not None:
        return list(batched(queries, k))
    return [retriever.search(q, k) for q in queries]
