"""The evidence behind a served answer: every snippet its strategy retrieved, with its text.

Answers record passages without their text (`medq.retrieval.context.passage_record`). The
server therefore builds each retrieval strategy over its own retriever wrapped in a
`RecordingRetriever` (strategies take a Retriever object in place of a name), which adds
every passage found to the evidence of the request in progress: a context variable, so
concurrent requests never see each other's snippets (`asyncio.to_thread`, which the
strategies search in, carries it along).

Which snippets were shown to the model and which its reasoning names come from the
answer's own details (``retrieved``, ``cited``, ``referenced``), as the strategy recorded
them; a citation is numbered by its rank, the ``Document [n]`` the model saw.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from medq import registry
from medq.retrieval import DEFAULT_RRF_K, Passage, Retriever
from medq.strategies._shared.retrieval import resolve_retriever
from medq.strategies._shared.spec import StrategySpec

__all__ = ["Citation", "RecordingRetriever", "citations", "collecting", "corpora_of",
           "with_recording_retrievers"]

_evidence: ContextVar[dict[tuple[str, str], Passage] | None] = ContextVar(
    "medq_serve_evidence", default=None)
_PMID = re.compile(r"^\d{1,9}$")
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{}/"


class RecordingRetriever:
    """A retriever that also adds what it finds to the current request's evidence."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner

    def _record(self, passages: Sequence[Passage]) -> None:
        sink = _evidence.get()
        if sink is not None:
            for p in passages:
                sink.setdefault((p.corpus, p.id), p)

    def search(self, query: str, k: int) -> list[Passage]:
        found = self.inner.search(query, k)
        self._record(found)
        return found

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        from medq.retrieval import search_many

        found = search_many(self.inner, queries, k)
        for passages in found:
            self._record(passages)
        return found


@contextlib.contextmanager
def collecting() -> Iterator[dict[tuple[str, str], Passage]]:
    """Collect, inside the block, every passage a recording retriever finds (this task and
    the tasks and threads it starts), by (corpus, ID)."""
    sink: dict[tuple[str, str], Passage] = {}
    token = _evidence.set(sink)
    try:
        yield sink
    finally:
        _evidence.reset(token)


def _takes_retriever(name: str) -> bool:
    params = inspect.signature(registry.strategies.get(name)).parameters
    return "retriever" in params and "corpus" in params


def corpora_of(spec: StrategySpec) -> list[str]:
    """Every corpus a (normalised) spec retrieves from, nested strategies included."""
    names: list[str] = []
    for nested in spec.nested():
        corpus = nested.params.get("corpus")
        if isinstance(corpus, str) and _takes_retriever(nested.name):
            names.extend(c.strip() for c in corpus.split("+") if c.strip())
    return list(dict.fromkeys(names))


def with_recording_retrievers(spec: StrategySpec,
                              opened: list[RecordingRetriever] | None = None) -> StrategySpec:
    """`spec` with each retrieval strategy's retriever opened now and wrapped in a
    `RecordingRetriever` (so a missing corpus or index fails at start-up, not on the
    first question); each one opened is appended to `opened`."""
    opened = opened if opened is not None else []
    params: dict[str, Any] = {}
    for key, value in spec.params.items():
        params[key] = with_recording_retrievers(value, opened) \
            if isinstance(value, StrategySpec) else value
    if _takes_retriever(spec.name) and isinstance(params.get("retriever"), str):
        inner = resolve_retriever(params.get("corpus"), params["retriever"],
                                  int(params.get("rrf_k") or DEFAULT_RRF_K), spec.name)
        params["retriever"] = RecordingRetriever(inner)
        opened.append(params["retriever"])
    return StrategySpec(spec.name, params)


@dataclass(frozen=True)
class Citation:
    """One snippet behind an answer.

    Attributes:
        n: its number in the reply's ``[n]`` markers: its rank among those retrieved.
        id, corpus, title: the snippet as its corpus names it.
        source: the document it came from (its file, for chunked text), else the corpus.
        snippet: its text, as retrieved.
        score: the retriever's score.
        shown: the model was shown it (MedRAG's "cited" in the strategy's details).
        cited: the answer's reasoning refers to it (``Document [n]``).
        url: a PubMed link when the snippet carries a PMID.
    """

    n: int
    id: str
    corpus: str
    title: str
    source: str
    snippet: str | None
    score: float | None
    shown: bool
    cited: bool
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.n, "id": self.id, "corpus": self.corpus, "title": self.title,
                "source": self.source, "snippet": self.snippet, "score": self.score,
                "shown": self.shown, "cited": self.cited, "url": self.url}


def _pmid(passage: Passage | None, record: Mapping[str, Any]) -> str | None:
    metadata: Mapping[str, Any] = passage.metadata if passage is not None else {}
    for key in ("pmid", "PMID"):
        value = metadata.get(key, record.get(key))
        if value is not None and _PMID.match(str(value).strip()):
            return str(value).strip()
    return None


def citations(details: Mapping[str, Any], found: Mapping[tuple[str, str], Passage]
              ) -> list[Citation]:
    """The answer's snippets in rank order: those its details record, else everything the
    recording retrievers found (a strategy that keeps no retrieval record)."""
    records = list(details.get("retrieved") or [])
    if not records:
        records = [{"id": p.id, "corpus": p.corpus, "title": p.title, "score": p.score}
                   for p in found.values()]
    shown = {str(i) for i in details.get("cited") or []}
    named = {str(i) for i in details.get("referenced") or []}
    out = []
    for n, record in enumerate(records, start=1):
        ident, corpus = str(record["id"]), str(record.get("corpus") or "")
        passage = found.get((corpus, ident))
        source = str(passage.metadata.get("source") or corpus) if passage else corpus
        pmid = _pmid(passage, record)
        out.append(Citation(
            n, ident, corpus, str(record.get("title") or ""), source,
            passage.content if passage is not None else None, record.get("score"),
            ident in shown, ident in named, PUBMED_URL.format(pmid) if pmid else None))
    return out
