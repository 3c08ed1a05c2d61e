"""Dense retrieval: any sentence-transformers encoder, vectors in faiss.

Encoders come from `medq.embeddings` (unit vectors, so inner product = cosine). A model
may be asymmetric, with one encoder for queries and another for documents, as MedCPT is
(Jin et al., "MedCPT", Bioinformatics 2023): ``medcpt`` names that pair, and
``QUERY_MODEL|DOC_MODEL`` any other. Documents are embedded as ``title. content``.

Embeddings are computed in chunks of `chunk_size` snippets, each saved as it finishes
(``embeddings/00000.npy``, ...), so an interrupted build resumes where it stopped. The
vectors then go into a faiss index: exact inner product (``IndexFlatIP``) up to
`flat_max` snippets, HNSW above it (an approximate index whose memory and latency stay
reasonable at PubMed scale; ``efSearch`` trades recall for speed).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medq._atomic import atomic_path, atomic_write_text
from medq._extras import require_extra
from medq.embeddings import DEFAULT_ENCODER, Encoder, SentenceTransformerEncoder, get_encoder
from medq.retrieval.base import Passage, RetrievalError
from medq.retrieval.corpora import Corpus

FORMAT_VERSION = 1
MEDCPT = ("ncbi/MedCPT-Query-Encoder", "ncbi/MedCPT-Article-Encoder")


class ClsPoolingEncoder(SentenceTransformerEncoder):
    """A plain transformers encoder whose vector is the [CLS] token (MedCPT's pooling)."""

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                st = require_extra("sentence_transformers", "dense retrieval")
                SentenceTransformer, models = st.SentenceTransformer, st.models
                body = models.Transformer(self.name, max_seq_length=512)
                pool = models.Pooling(body.get_word_embedding_dimension(), pooling_mode="cls")
                self._model = SentenceTransformer(modules=[body, pool], device=self.device)
            return self._model


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


def load_encoder(spec: str | Encoder | DualEncoder = DEFAULT_ENCODER) -> DualEncoder:
    """``'all-MiniLM-L6-v2'``, a local path, ``'medcpt'``, or ``'QUERY|DOCUMENT'``."""
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


def _document_text(title: str, content: str) -> str:
    return f"{title}. {content}" if title else content


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
        """Embed every snippet (resuming from saved chunks) and build the faiss index.

        Args:
            corpus: the stored corpus.
            encoder: the document side embeds the snippets.
            chunk_size: snippets per saved chunk of embeddings.
            flat_max: corpora up to this size get an exact index, larger ones HNSW.
            progress: called with (snippets embedded, total) after each chunk.
        """
        faiss = require_extra("faiss", "dense retrieval")
        directory = corpus.index_dir(f"dense-{encoder.slug}")
        chunks = directory / "embeddings"
        chunks.mkdir(parents=True, exist_ok=True)
        stamp = {"encoder": encoder.name, "corpus_fingerprint": corpus.fingerprint,
                 "chunk_size": chunk_size}
        stamp_path = directory / "build.json"
        if not stamp_path.exists() or json.loads(stamp_path.read_text()) != stamp:
            shutil.rmtree(chunks)  # another corpus or encoder: nothing to resume
            chunks.mkdir(parents=True)
            atomic_write_text(stamp_path, json.dumps(stamp))
        n = len(corpus)
        parts = []
        for number, start in enumerate(range(0, n, chunk_size)):
            path = chunks / f"{number:05d}.npy"
            rows = range(start, min(start + chunk_size, n))
            if path.exists():
                vectors = np.load(path)
            else:
                texts = [_document_text(s.title, s.content)
                         for s in (corpus.snippet(r) for r in rows)]
                vectors = np.asarray(encoder.document.encode(texts), dtype=np.float32)
                with atomic_path(path) as tmp, open(tmp, "wb") as f:
                    np.save(f, vectors)
            parts.append(vectors)
            if progress is not None:
                progress(rows.stop, n)
        matrix = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        dim = matrix.shape[1]
        if n <= flat_max:
            index = faiss.IndexFlatIP(dim)
            kind = "flat"
        else:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 200
            kind = "hnsw"
        index.add(matrix)
        meta = {"format": "medq-dense", "version": FORMAT_VERSION, "kind": kind, "dim": dim,
                "n": n, **stamp}
        # meta.json marks a complete index: it goes first and comes back last, so a build
        # killed in between leaves no index rather than a mismatched one.
        (directory / "meta.json").unlink(missing_ok=True)
        with atomic_path(directory / "index.faiss") as tmp:
            faiss.write_index(index, str(tmp))
        atomic_write_text(directory / "meta.json", json.dumps(meta, indent=2))
        return cls(index, meta)

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
