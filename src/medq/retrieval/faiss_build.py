"""A faiss index from the embedding job's shard files, streamed: flat, IVF or HNSW.

Jégou, Douze & Schmid, "Product Quantization for Nearest Neighbor Search" (TPAMI 2011) for
IVF and IVF-PQ; Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
search using Hierarchical Navigable Small World graphs" (TPAMI 2018) for HNSW; faiss:
Douze et al., "The Faiss library" (2024).

The vectors are never all in memory at once on their way in: an IVF index is trained on a
sample of rows (drawn with a seed, gathered shard by shard), and every index is filled
shard by shard in batches of `add_batch` rows read straight from the files. What the index
itself holds is another matter: flat and HNSW keep every vector (4 bytes a dimension), IVF
with ``pq=M`` keeps M bytes a vector (``IVF…,PQ64`` is 64 bytes; 23.9 M × 768 floats is
73 GB, their PQ64 codes 1.5 GB). Labels are corpus rows, so a hit maps to its snippet
through the corpus (`Corpus.snippet(row)`).

The index and its ``meta.json`` (kind, rows, dimension, the corpus fingerprint, the vectors
key and the encoders) are written into a fresh folder swapped in whole: a killed build
leaves the old index or none.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from medq._atomic import atomic_dir
from medq._extras import require_extra
from medq.retrieval.base import RetrievalError
from medq.retrieval.embed import EmbeddingSet

__all__ = ["FORMAT_VERSION", "KINDS", "build_faiss", "default_nlist"]

FORMAT_VERSION = 1
KINDS = ("auto", "flat", "ivf", "hnsw")
_MIN_PER_CENTROID = 39  # faiss's k-means warns below this many training points a centroid


def default_nlist(n: int) -> int:
    """IVF lists for `n` vectors: the power of two nearest 4·√n (faiss's guideline is 4–16
    ·√n), at most one list per 39 vectors."""
    if n < _MIN_PER_CENTROID:
        return 1
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    return max(1, min(nlist, n // _MIN_PER_CENTROID))


def _read_rows(path: Path, start: int, count: int) -> np.ndarray:
    """Rows ``[start, start + count)`` of a saved (n, d) float32 matrix, read with a plain
    file read (not a memory map, so the pages do not stay in this process)."""
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if major == 1
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        dim = shape[1]
        f.seek(f.tell() + start * dim * dtype.itemsize)
        rows = np.fromfile(f, dtype=dtype, count=count * dim)
    return rows.reshape(-1, dim).astype(np.float32, copy=False)


def _sample(vectors: EmbeddingSet, size: int, seed: int) -> np.ndarray:
    """`size` distinct rows drawn with `seed`, gathered shard by shard."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(vectors.n, size=size, replace=False))
    parts = []
    for (a, b), path in zip(vectors.shards, vectors.files(), strict=True):
        mine = rows[(rows >= a) & (rows < b)] - a
        if mine.size:
            matrix = np.load(path, mmap_mode="r")
            parts.append(np.asarray(matrix[mine], dtype=np.float32))
    return np.ascontiguousarray(np.concatenate(parts))


def build_faiss(
    vectors: EmbeddingSet,
    directory: Path,
    *,
    kind: str = "auto",
    flat_max: int = 200_000,
    nlist: int | None = None,
    nprobe: int | None = None,
    pq: int = 0,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    train_size: int | None = None,
    add_batch: int = 65_536,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the faiss index of a finished embedding job into `directory`.

    Args:
        vectors: the job's shard files (`EmbeddingSet.load`, or ``report.vectors``).
        directory: the index folder (replaced whole).
        kind: ``flat`` (exact), ``ivf``, ``hnsw``, or ``auto``: flat up to `flat_max` rows,
            HNSW above.
        nlist, nprobe: IVF lists, and lists searched per query (default: `default_nlist`,
            and min(nlist, 64)).
        pq: IVF only: bytes of a product-quantised code per vector (0: full vectors); must
            divide the dimension.
        hnsw_m, ef_construction: HNSW's links per node and build-time beam.
        train_size: IVF training rows (default: 64 per list, at least 39 and at most all).
        add_batch: rows read and added at a time.
        seed: the draw of the training sample.
        meta: more fields for ``meta.json`` (the encoders, say).

    Returns:
        The ``meta.json`` written.
    """
    faiss = require_extra("faiss", "dense retrieval")
    if kind not in KINDS:
        raise ValueError(f"--kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "auto":
        kind = "flat" if vectors.n <= flat_max else "hnsw"
    n, dim = vectors.n, vectors.dim
    params: dict[str, Any] = {}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        params = {"hnsw_m": hnsw_m, "ef_construction": ef_construction}
    else:
        nlist = nlist or default_nlist(n)
        if not 1 <= nlist <= n:
            raise ValueError(f"--nlist must be between 1 and the {n} rows, not {nlist}")
        if pq and dim % pq:
            raise ValueError(f"--pq {pq} must divide the dimension {dim}")
        quantizer = faiss.IndexFlatIP(dim)
        index = (faiss.IndexIVFPQ(quantizer, dim, nlist, pq, 8, faiss.METRIC_INNER_PRODUCT)
                 if pq else faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT))
        size = min(n, train_size or max(64 * nlist, _MIN_PER_CENTROID * nlist, 256 if pq else 0))
        index.cp.seed = seed
        index.train(_sample(vectors, size, seed))
        nprobe = min(nprobe or 64, nlist)
        index.nprobe = nprobe
        params = {"nlist": nlist, "nprobe": nprobe, "pq": pq, "train_size": size,
                  "seed": seed}
    for (a, b), path in zip(vectors.shards, vectors.files(), strict=True):
        for start in range(0, b - a, add_batch):
            batch = _read_rows(path, start, min(add_batch, b - a - start))
            if kind == "ivf":
                index.add_with_ids(batch, np.arange(a + start, a + start + len(batch),
                                                    dtype=np.int64))
            else:
                if index.ntotal != a + start:  # sequential labels are the corpus rows
                    raise RetrievalError(f"{path}: rows out of order at {a + start}")
                index.add(batch)
    if index.ntotal != n:
        raise RetrievalError(f"the index holds {index.ntotal} vectors, the corpus {n} rows")
    written = {
        "format": "medq-dense", "version": FORMAT_VERSION, "kind": kind, "dim": dim, "n": n,
        "corpus_fingerprint": vectors.corpus_fingerprint, "vectors_key": vectors.key,
        "shards": len(vectors.shards), **params, **(meta or {}),
    }
    with atomic_dir(directory) as tmp:
        faiss.write_index(index, str(tmp / "index.faiss"))
        (tmp / "meta.json").write_text(json.dumps(written, indent=2))
    return written
