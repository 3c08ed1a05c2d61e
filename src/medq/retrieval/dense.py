"""Dense retrieval: any sentence-transformers encoder, vectors in faiss.

Encoders come from `medq.embeddings` (unit vectors, so inner product = cosine). A model
may be asymmetric, with one encoder for queries and another for documents, as MedCPT is
(Jin et al., "MedCPT", Bioinformatics 2023): ``medcpt`` names that pair, and
``QUERY_MODEL|DOC_MODEL`` any other. Documents are embedded as ``title. content``.

Embeddings are computed by the corpus embedding job (`medq.retrieval.embed`: one file per
shard of `chunk_size` snippets, named by the encoder's key, skipped when present), so an
interrupted build resumes where it stopped, on this process, a process pool or Ray
(``medq index embed``). The vectors then go into a faiss index built from the shard files
(`medq.retrieval.faiss_build`, ``medq index build-faiss``): exact inner product
(``IndexFlatIP``) up to `flat_max` snippets, HNSW above it, or IVF (optionally
product-quantised) when asked. The index records the encoders, so the retriever encodes
queries exactly as the index was built to expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from medq._extras import require_extra
from medq.embeddings import (
    DEFAULT_ENCODER,
    Encoder,
    EncoderSpec,
    SentenceTransformerEncoder,
    get_encoder,
)
from medq.retrieval.base import Passage, RetrievalError
from medq.retrieval.corpora import Corpus
from medq.retrieval.embed import embed_corpus
from medq.retrieval.faiss_build import FORMAT_VERSION, build_faiss

MEDCPT = ("ncbi/MedCPT-Query-Encoder", "ncbi/MedCPT-Article-Encoder")


class ClsPoolingEncoder(SentenceTransformerEncoder):
    """A plain transformers encoder whose vector is the [CLS] token (MedCPT's pooling),
    of at most 512 tokens."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("pooling", "cls")
        kwargs.setdefault("max_length", 512)
        super().__init__(name, **kwargs)


@dataclass(frozen=True)
class DualEncoder:
    """A query encoder and a document encoder (the same one for symmetric models)."""

    query: Encoder
    document: Encoder

    @property
    def name(self) -> str:
        if self.query.name == self.document.name:
            return self.query.name
        return f"{self.query.name}|{self.document.name}"

    @property
    def slug(self) -> str:
        """A folder-safe name for this encoder's index."""
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", self.name.replace("|", "+"))[:120]


def load_encoder(spec: str | Encoder | DualEncoder = DEFAULT_ENCODER, *,
                 max_length: int | None = None, pooling: str | None = None,
                 revision: str | None = None) -> DualEncoder:
    """``'all-MiniLM-L6-v2'``, a local path, ``'medcpt'``, or ``'QUERY|DOCUMENT'``.

    `max_length`, `pooling` and `revision` (see `EncoderSpec`) override the document
    encoder's settings, and the query encoder's too when the two are one model."""
    pair = _pair(spec)
    overrides: dict[str, Any] = {
        k: v for k, v in (("max_length", max_length), ("pooling", pooling),
                          ("revision", revision)) if v is not None}
    if not overrides:
        return pair
    document_spec = getattr(pair.document, "spec", None)
    if not isinstance(document_spec, EncoderSpec):
        raise ValueError("--max-length, --pooling and --revision need a model name or folder")
    document = SentenceTransformerEncoder.from_spec(replace(document_spec, **overrides))
    return DualEncoder(document if pair.query is pair.document else pair.query, document)


def _pair(spec: str | Encoder | DualEncoder) -> DualEncoder:
    if isinstance(spec, DualEncoder):
        return spec
    if not isinstance(spec, str):
        return DualEncoder(spec, spec)
    if spec.lower() == "medcpt":
        return DualEncoder(ClsPoolingEncoder(MEDCPT[0]), ClsPoolingEncoder(MEDCPT[1]))
    if "|" in spec:
        query, document = spec.split("|", 1)
        return DualEncoder(get_encoder(_full(query)), get_encoder(_full(document)))
    encoder = get_encoder(_full(spec))
    return DualEncoder(encoder, encoder)


def _full(name: str) -> str:
    # "all-MiniLM-L6-v2" is short for the sentence-transformers organisation's model.
    if "/" not in name and not Path(name).exists():
        return f"sentence-transformers/{name}"
    return name


def _spec_of(encoder: Encoder) -> dict[str, Any] | None:
    spec = getattr(encoder, "spec", None)
    return asdict(spec) if isinstance(spec, EncoderSpec) else None


def encoder_meta(encoder: DualEncoder) -> dict[str, Any]:
    """What a dense index records about its encoders: the name, and each side's
    `EncoderSpec` where it has one (queries are encoded from the recorded spec)."""
    return {"encoder": encoder.name, "query_spec": _spec_of(encoder.query),
            "document_spec": _spec_of(encoder.document)}


class DenseIndex:
    """Unit vectors of a corpus's snippets in a faiss index; rows are corpus rows."""

    def __init__(self, index: Any, meta: dict[str, Any]) -> None:
        self.index = index
        self.meta = meta

    @classmethod
    def build(
        cls,
        corpus: Corpus,
        encoder: DualEncoder,
        *,
        chunk_size: int = 4096,
        flat_max: int = 200_000,
        progress: Callable[[int, int], None] | None = None,
    ) -> DenseIndex:
        """Embed every snippet in this process (resuming from saved shards of `chunk_size`
        rows, `medq.retrieval.embed`) and build the faiss index (flat up to `flat_max`
        snippets, HNSW above); for a process pool or Ray, use `embed_corpus` and
        `build_faiss` (``medq index embed``, ``medq index build-faiss``).

        Args:
            corpus: the stored corpus.
            encoder: the document side embeds the snippets.
            chunk_size: snippets per saved shard of embeddings.
            flat_max: corpora up to this size get an exact index, larger ones HNSW.
            progress: called with (snippets embedded, total) after each shard.
        """
        require_extra("faiss", "dense retrieval")
        report = embed_corpus(corpus, encoder.document, shard_rows=chunk_size,
                              progress=progress)
        directory = corpus.index_dir(f"dense-{encoder.slug}")
        build_faiss(report.vectors, directory, kind="auto", flat_max=flat_max,
                    meta=encoder_meta(encoder))
        return cls.load(directory)

    @classmethod
    def load(cls, directory: Path) -> DenseIndex:
        faiss = require_extra("faiss", "dense retrieval")
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except FileNotFoundError:
            raise RetrievalError(f"no dense index at {directory}") from None
        if meta.get("version") != FORMAT_VERSION:
            raise RetrievalError(f"{directory}: dense index of another version; rebuild it")
        return cls(faiss.read_index(str(directory / "index.faiss")), meta)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the `k` nearest snippets of each query vector."""
        if self.meta["kind"] == "hnsw":
            self.index.hnsw.efSearch = max(128, 2 * k)
        elif self.meta["kind"] == "ivf":
            self.index.nprobe = self.meta["nprobe"]
        k = min(k, self.meta["n"])
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)


class DenseRetriever:
    """Dense retrieval over a stored corpus whose index was built with `DenseIndex.build`
    (``medq index build CORPUS --retriever dense:MODEL``)."""

    def __init__(self, corpus: Corpus, encoder: str | DualEncoder = DEFAULT_ENCODER) -> None:
        self.corpus = corpus
        self.encoder = load_encoder(encoder)
        directory = corpus.index_dir(f"dense-{self.encoder.slug}")
        if not (directory / "meta.json").exists():
            raise RetrievalError(
                f"corpus {corpus.name!r} has no dense index for {self.encoder.name}; run "
                f"`medq index build {corpus.name} --retriever dense:{self.encoder.name}`"
            )
        self.index = DenseIndex.load(directory)
        if self.index.meta.get("corpus_fingerprint") != corpus.fingerprint:
            raise RetrievalError(
                f"the dense index of corpus {corpus.name!r} is older than the corpus; rebuild"
            )
        query_spec = self.index.meta.get("query_spec")
        if isinstance(encoder, str) and query_spec and query_spec != _spec_of(
                self.encoder.query):
            # The index says how its queries are encoded (pooling, length, weights).
            query = SentenceTransformerEncoder.from_spec(EncoderSpec(**query_spec))
            self.encoder = DualEncoder(query, self.encoder.document)
        self.name = f"dense:{self.encoder.name}@{corpus.name}"

    def search(self, query: str, k: int) -> list[Passage]:
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        if not queries:
            return []
        vectors = self.encoder.query.encode(list(queries))
        scores, rows = self.index.search(vectors, k)
        out = []
        for row_list, score_list in zip(rows.tolist(), scores.tolist(), strict=True):
            kept = [(r, s) for r, s in zip(row_list, score_list, strict=True) if r >= 0]
            out.append(self.corpus.passages([r for r, _ in kept], [s for _, s in kept]))
        return out
