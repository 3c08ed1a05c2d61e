"""BM25 over numpy arrays: a streaming build, an index on disk that opens memory-mapped.

Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond" (2009);
scored as Lucene does (``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, no ``k1 + 1``
factor), which is also bm25s's default, so the two give the same scores.

Why our own: measured here (bench/bench_bm25.py, BENCHMARKS.md) it builds several times
faster than bm25s with a fraction of its memory and answers queries faster than tantivy
and bm25s (numba or not): a query only touches its terms' postings (and the dense rows of
its common terms), accumulated in one reused float32 array. With numba installed (the
`rag` extra) the postings are scattered by a compiled loop; without it by ``np.add.at``
(about twice the per-element cost); the scores are identical either way.

The index is a term-major sparse matrix (CSC with terms as columns): ``indptr`` (int64,
one entry per term + 1), ``indices`` (int32 document rows, ascending within a term) and
``data`` (float32, the precomputed BM25 impact of the term in that document). Building
streams the corpus in batches, so the texts are never all in memory at once.

The most common terms (in at least ``dense_fraction`` of the documents, 1/16 by default)
are stored instead as dense float32 rows of ``dense`` (one row per such term, in ascending
document frequency; ``dense_terms`` holds their term IDs): one vectorised add of a dense row
costs a fraction of ``np.add.at`` over the same term's postings (measured: BENCHMARKS.md).
A query scatters its other terms in ID order, then adds its dense rows in row order;
`score` sums in the same order, so the two agree to the bit.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medq._atomic import atomic_dir
from medq.retrieval.base import Passage, RetrievalError
from medq.retrieval.corpora import Corpus
from medq.retrieval.tokenize import TOKENIZER_VERSION, Tokenizer, Vocabulary

FORMAT_VERSION = 2
_ARRAYS = ("indptr", "indices", "data", "dense", "dense_terms")


@dataclass(frozen=True)
class Hits:
    """The top results of one query: corpus row numbers and their scores, best first."""

    rows: np.ndarray
    scores: np.ndarray


def _batch_postings(
    tokenizer: Tokenizer, vocab: Vocabulary, batch: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One batch's postings: term IDs, batch-local documents (ascending within a term),
    term frequencies, and each document's length in indexed words."""
    tokens = tokenizer.tokens(batch)
    n = len(tokens.keys)
    order = np.argsort(tokens.keys, kind="stable")  # stable: documents stay ascending
    keys, docs = tokens.keys[order], tokens.doc[order]
    new_term = np.empty(n, dtype=bool)
    new_term[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=new_term[1:])
    new_pair = new_term.copy()
    new_pair[1:] |= docs[1:] != docs[:-1]
    pair_at = np.flatnonzero(new_pair)
    term_at = np.flatnonzero(new_term)
    ids = vocab.add(keys[term_at], tokens, order[term_at])
    pairs_per_term = np.diff(np.r_[np.flatnonzero(new_term[pair_at]), len(pair_at)])
    terms = np.repeat(ids, pairs_per_term)
    tf = np.diff(np.r_[pair_at, n])
    docs = docs[pair_at]
    keep = terms >= vocab.n_stop
    terms, docs, tf = terms[keep], docs[keep], tf[keep]
    lengths = np.bincount(docs, weights=tf, minlength=len(batch)).astype(np.int32)
    # BM25 saturates long before 65535 repeats, so the clip changes no ranking.
    return terms, docs, np.minimum(tf, 65535).astype(np.uint16), lengths


def _batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while batch := list(itertools.islice(it, size)):
        yield batch


class BM25Index:
    """A BM25 index over a sequence of texts; rows are positions in that sequence.

    Example:
        >>> index = BM25Index.build(["fever and cough", "chest pain"])
        >>> index.top_k("cough", 1).rows.tolist()
        [0]
    """

    def __init__(
        self,
        *,
        indptr: np.ndarray,
        indices: np.ndarray,
        data: np.ndarray,
        dense: np.ndarray | None = None,
        dense_terms: np.ndarray | None = None,
        vocab: Vocabulary,
        tokenizer: Tokenizer,
        k1: float,
        b: float,
        n_docs: int,
        avg_doc_len: float,
    ) -> None:
        self.indptr = indptr
        self.indices = indices
        self.data = data
        n_docs_ = int(n_docs)
        self.dense = np.zeros((0, n_docs_), np.float32) if dense is None else dense
        self.dense_terms = (np.zeros(0, np.int32) if dense_terms is None
                            else np.asarray(dense_terms, np.int32))
        # Term ID -> its row of `dense` (-1: the term is stored as postings).
        self._slot = np.full(len(indptr) - 1, -1, dtype=np.int64)
        self._slot[self.dense_terms] = np.arange(len(self.dense_terms))
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.k1 = k1
        self.b = b
        self.n_docs = n_docs
        self.avg_doc_len = avg_doc_len
        self.info: dict = {}
        self.build_stats: Any = None
        self._local = threading.local()

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        tokenizer: Tokenizer | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        batch_size: int = 8192,
        progress: Callable[[int], None] | None = None,
        dense_fraction: float = 0.0625,
        dense_min_docs: int = 1024,
    ) -> BM25Index:
        """Index `texts` (any iterable, read once, in batches of `batch_size`).

        Args:
            texts: the documents; row i of the index is the i-th text.
            tokenizer: word splitting and stop words (default: bm25s-compatible).
            k1, b: BM25's term-frequency saturation and length normalisation.
            batch_size: documents tokenised at a time (bounds the memory of the build).
            progress: called with the number of documents done after each batch.
            dense_fraction, dense_min_docs: terms in at least this fraction of the
                documents, and in at least `dense_min_docs` of them, are stored as dense
                rows (at most 8x the bytes of their postings at the default 1/16).
        """
        tokenizer = tokenizer or Tokenizer()
        vocab = Vocabulary.new(tokenizer)
        pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        doc_lens: list[np.ndarray] = []
        df = np.zeros(0, dtype=np.int64)
        n_docs = 0
        # Pass 1: per batch, (term, document, term frequency) triples grouped by term.
        for batch in _batches(texts, batch_size):
            terms, docs, tf, lengths = _batch_postings(tokenizer, vocab, batch)
            docs = (docs + n_docs).astype(np.int32)
            doc_lens.append(lengths)
            pairs.append((terms, docs, tf))
            if len(df) < len(vocab):
                df = np.concatenate([df, np.zeros(len(vocab) - len(df), dtype=np.int64)])
            df += np.bincount(terms, minlength=len(df))
            n_docs += len(batch)
            if progress is not None:
                progress(n_docs)
        dl = np.concatenate(doc_lens) if doc_lens else np.zeros(0, dtype=np.int32)
        avg = float(dl.mean()) if n_docs and dl.sum() else 1.0
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = (k1 * (1 - b + b * dl / avg)).astype(np.float32)
        del dl
        cutoff = max(dense_fraction * n_docs, dense_min_docs, 1)
        # Dense rows in ascending df order (roughly descending impact): the order in which
        # a document's dense contributions are summed.
        dense_terms = np.flatnonzero(df >= cutoff)
        dense_terms = dense_terms[np.argsort(df[dense_terms], kind="stable")].astype(np.int32)
        slot = np.full(len(df), -1, dtype=np.int64)
        slot[dense_terms] = np.arange(len(dense_terms))
        dense = np.zeros((len(dense_terms), n_docs), dtype=np.float32)
        sparse_df = np.where(slot < 0, df, 0)
        indptr = np.zeros(len(df) + 1, dtype=np.int64)
        np.cumsum(sparse_df, out=indptr[1:])
        nnz = int(indptr[-1])
        indices = np.empty(nnz, dtype=np.int32)
        data = np.empty(nnz, dtype=np.float32)
        fill = indptr[:-1].copy()
        # Pass 2: scatter each batch's triples to their term's next free slots; batches come
        # in document order, so every posting list ends up sorted by document.
        while pairs:
            terms, docs, tf = pairs.pop(0)
            if len(dense_terms):
                slots = slot[terms]
                to_dense = slots >= 0
                if to_dense.any():
                    d_docs, d_tf = docs[to_dense], tf[to_dense].astype(np.float32)
                    d_terms = terms[to_dense]
                    dense[slots[to_dense], d_docs] = (
                        idf[d_terms] * d_tf / (d_tf + norm[d_docs]))
                    keep = ~to_dense
                    terms, docs, tf = terms[keep], docs[keep], tf[keep]
            n = len(terms)
            if n == 0:
                continue
            starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
            counts = np.diff(np.r_[starts, n])
            rank = np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
            dest = fill[terms] + rank
            tf32 = tf.astype(np.float32)
            indices[dest] = docs
            data[dest] = idf[terms] * tf32 / (tf32 + norm[docs])
            fill[terms[starts]] += counts
        return cls(
            indptr=indptr, indices=indices, data=data, dense=dense, dense_terms=dense_terms,
            vocab=vocab, tokenizer=tokenizer, k1=k1, b=b, n_docs=n_docs,
            avg_doc_len=avg,
        )

    @classmethod
    def build_on_disk(
        cls, texts: Iterable[str], directory: str | os.PathLike[str], *,
        memory_gb: float = 8.0, info: dict | None = None, **params: Any,
    ) -> BM25Index:
        """Build the index of `texts` straight into `directory` with at most about
        `memory_gb` of working memory, at any corpus size (sorted runs of postings spilled
        to disk and merged by term range: `medq.retrieval._bm25_build`), and open it
        memory-mapped. The arrays are those `build` gives, so are the scores and top k.
        `params` are `build`'s; ``index.build_stats`` says how many runs were spilled.
        """
        from medq.retrieval._bm25_build import build_on_disk

        stats = build_on_disk(texts, directory, memory_gb=memory_gb, info=info, **params)
        index = cls.load(directory)
        index.build_stats = stats
        return index

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str], *, info: dict | None = None) -> Path:
        """Write the index to `directory` (replaced atomically if it exists); `info` is
        stored with it (a corpus fingerprint, say) and comes back as ``index.info``."""
        target = Path(directory)
        with atomic_dir(target) as tmp:
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(self, name)))
            np.save(tmp / "vocab_keys.npy", self.vocab.keys)
            np.save(tmp / "vocab_ids.npy", self.vocab.ids)
            (tmp / "vocab.json").write_text(json.dumps(self.vocab.words, ensure_ascii=False))
            meta = {
                "format": "medq-bm25", "version": FORMAT_VERSION, "k1": self.k1, "b": self.b,
                "n_docs": self.n_docs, "avg_doc_len": self.avg_doc_len,
                "n_stop": self.vocab.n_stop, "n_terms": len(self.vocab),
                "tokenizer": self.tokenizer.config(), "info": info or self.info,
            }
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str], *, mmap: bool = True) -> BM25Index:
        """Open a saved index; with `mmap` the postings stay on disk until touched."""
        path = Path(directory)
        try:
            meta = json.loads((path / "meta.json").read_text())
        except FileNotFoundError:
            raise RetrievalError(f"no BM25 index at {path}") from None
        if meta.get("format") != "medq-bm25" or meta.get("version") != FORMAT_VERSION:
            raise RetrievalError(f"{path} is not a medq BM25 index of version {FORMAT_VERSION}")
        arrays = {
            name: np.asarray(np.load(path / f"{name}.npy", mmap_mode="r" if mmap else None))
            for name in _ARRAYS
        }
        tok = meta["tokenizer"]
        if tok.get("version") != TOKENIZER_VERSION:
            raise RetrievalError(f"{path} was built with another tokenizer; rebuild it")
        # The words themselves are only for people (vocab.json); search needs the keys.
        vocab = Vocabulary(
            np.load(path / "vocab_keys.npy"), np.load(path / "vocab_ids.npy"), [],
            meta["n_stop"],
        )
        index = cls(
            **arrays,
            vocab=vocab,
            tokenizer=Tokenizer(tuple(tok["stopwords"]), tok["lowercase"]),
            k1=meta["k1"], b=meta["b"], n_docs=meta["n_docs"], avg_doc_len=meta["avg_doc_len"],
        )
        index.info = meta.get("info") or {}
        return index

    # -- searching ------------------------------------------------------------------------

    def query_terms(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The query's indexed term IDs and how often each occurs in the query."""
        return self._query_terms(self.vocab.lookup(self.tokenizer.tokens([query]).keys))

    def _query_terms(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = ids[ids >= self.vocab.n_stop]
        if ids.size == 0:
            return ids, np.zeros(0, dtype=np.float32)
        terms, counts = np.unique(ids, return_counts=True)
        return terms, counts.astype(np.float32)

    def score(self, query: str) -> np.ndarray:
        """BM25 scores of every document for `query` (dense; for checks and small corpora).

        Summed in float32 in the same order as `top_k` sums them, so the two agree exactly.
        """
        out = np.zeros(self.n_docs, dtype=np.float32)
        terms, weights = self.query_terms(query)
        slots = self._slot[terms]
        for t, w in zip(terms[slots < 0], weights[slots < 0], strict=True):
            s, e = self.indptr[t], self.indptr[t + 1]
            out[self.indices[s:e]] += self.data[s:e] * w
        order = np.argsort(slots[slots >= 0])
        for d, w in zip(slots[slots >= 0][order], weights[slots >= 0][order], strict=True):
            out += self.dense[d] * w
        return out

    def top_k(self, query: str, k: int) -> Hits:
        """The `k` best rows for `query`; ties go to the lower row. Rows scoring 0 are left out."""
        terms, weights = self.query_terms(query)
        return self._top_k(terms, weights, k)

    def top_k_many(self, queries: Sequence[str], k: int, *, threads: int = 1) -> list[Hits]:
        """`top_k` for each query; with `threads` > 1 queries run in parallel (numpy
        releases the GIL in the scatter, gather and partition steps)."""
        if not queries:
            return []
        tokens = self.tokenizer.tokens(queries)
        ids = self.vocab.lookup(tokens.keys)
        # Every query's distinct terms and their counts at once (np.unique per query costs
        # more than some queries take to answer).
        keep = ids >= self.vocab.n_stop
        n_terms = np.int64(len(self.indptr) - 1)
        pairs = np.sort(tokens.doc[keep] * n_terms + ids[keep])
        first = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]) if pairs.size else pairs
        counts = np.diff(np.r_[first, len(pairs)]).astype(np.float32)
        query, term = np.divmod(pairs[first], n_terms)
        bounds = np.searchsorted(query, np.arange(len(queries) + 1)).tolist()
        per_query = [(term[s:e], counts[s:e]) for s, e in itertools.pairwise(bounds)]
        if threads <= 1 or len(queries) < 2:
            return [self._top_k(t, w, k) for t, w in per_query]

        def top_k(terms_weights: tuple[np.ndarray, np.ndarray]) -> Hits:
            return self._top_k(*terms_weights, k)

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(top_k, per_query, chunksize=16))

    def _buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """This thread's score accumulator (all zeros between queries) and a mask buffer."""
        acc = getattr(self._local, "acc", None)
        if acc is None or len(acc) != self.n_docs:
            acc = self._local.acc = np.zeros(self.n_docs, dtype=np.float32)
            self._local.mask = np.empty(self.n_docs, dtype=bool)
        return acc, self._local.mask

    def _top_k(self, terms: np.ndarray, weights: np.ndarray, k: int) -> Hits:
        empty = Hits(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if k <= 0 or terms.size == 0:
            return empty
        acc, mask = self._buffers()
        slots = self._slot[terms]
        sparse = slots < 0
        dense_slots, dense_w = slots[~sparse], weights[~sparse]
        if dense_slots.size:
            order = np.argsort(dense_slots)
            dense_slots, dense_w = dense_slots[order].tolist(), dense_w[order].tolist()
            terms, weights = terms[sparse], weights[sparse]
        else:
            dense_slots = dense_w = []
        indices, data = self.indices, self.data
        parts = []
        done = 0
        starts, ends = self.indptr[terms], self.indptr[terms + 1]
        kernel = _compiled_scatter()
        if kernel is not None:
            kernel(acc, indices, data, starts, ends, weights.astype(np.float32))
        # Sparse terms in ID order: rows are distinct within a term; without the compiled
        # kernel, ufunc.at is numpy's fastest scatter-add.
        for s, e, w in zip(starts.tolist(), ends.tolist(), weights.tolist(), strict=True):
            if e > s:
                rows = indices[s:e]
                if kernel is None:
                    np.add.at(acc, rows, data[s:e] if w == 1.0 else data[s:e] * np.float32(w))
                parts.append(rows)
                done += e - s
        if dense_slots:
            # Then the common terms, whole rows at a time.
            tmp = None
            for d, w in zip(dense_slots, dense_w, strict=True):
                if w == 1.0:
                    np.add(acc, self.dense[d], out=acc)
                else:
                    if tmp is None:
                        tmp = np.empty(self.n_docs, dtype=np.float32)
                    np.multiply(self.dense[d], np.float32(w), out=tmp)
                    np.add(acc, tmp, out=acc)
            rows = _top_positive(acc, k, mask)
            scores = acc[rows]
            acc.fill(0.0)
        elif not parts:
            return empty
        elif 4 * done > self.n_docs:
            # Most rows were touched: select straight from the dense scores.
            rows = _top_positive(acc, k, mask)
            scores = acc[rows]
            acc.fill(0.0)
        else:
            # Few were: look only at the touched rows. A row occurs at most once per term,
            # so the best k * len(parts) entries hold the best k distinct rows.
            cand = parts[0] if len(parts) == 1 else np.concatenate(parts)
            values = acc[cand]
            acc[cand] = 0.0
            best = _top_positive(values, k * len(parts))
            rows, first = np.unique(cand[best], return_index=True)
            scores = values[best][first]
        order = np.lexsort((rows, -scores))[:k]
        return Hits(rows[order].astype(np.int64), scores[order])


_KERNEL: list[Callable[..., None] | None] = []


def _compiled_scatter() -> Callable[..., None] | None:
    """The numba scatter kernel when numba is installed (and MEDQ_BM25_NUMPY is unset)."""
    if not _KERNEL:
        kernel: Callable[..., None] | None = None
        if not os.environ.get("MEDQ_BM25_NUMPY"):
            try:
                from medq.retrieval._bm25_kernel import scatter
            except ImportError:
                pass
            else:
                kernel = scatter
        _KERNEL.append(kernel)
    return _KERNEL[0]


def _sample_threshold(values: np.ndarray, k: int) -> float | None:
    """A positive value that about a few times k of `values` reach, from a strided sample
    (not guaranteed: check the count), or None."""
    n = len(values)
    if n <= 64 * k:
        return None
    step = n // (32 * k)
    sample = values[::step]
    j = min(len(sample), 2 * -(-k // step) + 2)
    # Sorting beats np.partition here: the sample is mostly zeros, and numpy's selection
    # slows down several-fold on repeated values.
    threshold = float(np.sort(sample)[len(sample) - j])
    return threshold if threshold > 0 else None


def _top_positive(values: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the `k` largest positive values (unordered; more than k when values tie
    with the k-th), in O(len(values)). `mask`: an optional bool buffer at least as long.

    A threshold from a strided sample cuts the values down to a few times k before the
    partition, which is several times faster than partitioning everything; when the
    sample is unlucky (fewer than k values pass), every positive value is kept instead.
    """
    n = len(values)
    idx = None
    threshold = _sample_threshold(values, k)
    if threshold is not None:
        if mask is None:
            idx = np.flatnonzero(values >= np.float32(threshold))
        else:
            np.greater_equal(values, np.float32(threshold), out=mask[:n])
            idx = np.flatnonzero(mask[:n])
        if len(idx) < k:
            idx = None
    if idx is None:
        idx = np.flatnonzero(values > 0)
        if 64 * k < len(idx) < n:  # sparse scores: sample among the positive ones
            return idx[_top_positive(values[idx], k)]
    if len(idx) > k:
        v = values[idx]
        kth = np.sort(v)[len(v) - k]
        idx = idx[v >= kth]  # ties at the k-th value all stay: the caller decides
    return idx


def build_bm25(
    corpus: Corpus, *, progress: Callable[[int], None] | None = None,
    memory_gb: float = 8.0, executor: str = "local", workers: int | None = 1,
    address: str | None = None, **params: Any,
) -> BM25Index:
    """Build and save the BM25 index of `corpus` (``indexes/bm25``) out of core, with at
    most about `memory_gb` of working memory (`BM25Index.build_on_disk`).

    With more than one worker (or ``executor="ray"``) the corpus is cut into one shard
    per worker whose postings are spilled in parallel on that executor (`medq.sweep`),
    then merged into the same bytes the single-process build writes
    (`medq.retrieval._bm25_build.build_sharded`); `memory_gb` is shared by the workers.
    """
    info = {"corpus_fingerprint": corpus.fingerprint}
    if executor == "local" and workers == 1 and address is None:
        return BM25Index.build_on_disk(
            corpus.texts(), corpus.index_dir("bm25"), memory_gb=memory_gb, progress=progress,
            info=info, **params)
    from medq.retrieval._bm25_build import build_sharded
    from medq.sweep.executors import executor_for

    chosen = executor_for(executor, address=address, workers=workers)
    shards = workers or os.cpu_count() or 1
    directory = corpus.index_dir("bm25")
    stats = build_sharded(corpus.path, len(corpus), directory, chosen, shards=shards,
                          memory_gb=memory_gb, info=info, **params)
    if progress is not None:
        progress(len(corpus))
    index = BM25Index.load(directory)
    index.build_stats = stats
    return index


class BM25Retriever:
    """BM25 over a stored corpus: ``BM25Retriever(open_corpus("glianorex")).search(q, 8)``.

    Opens the saved index (memory-mapped); builds and saves it first when there is none,
    when the corpus was re-added since, or when it was saved in an older format.
    """

    def __init__(self, corpus: Corpus, index: BM25Index | None = None) -> None:
        self.corpus = corpus
        if index is None:
            path = corpus.index_dir("bm25")
            try:
                index = BM25Index.load(path) if (path / "meta.json").exists() else None
            except RetrievalError:  # an index of an older format: rebuilt below
                index = None
            if index is None or index.info.get("corpus_fingerprint") != corpus.fingerprint:
                index = build_bm25(corpus)
        self.index = index
        self.name = f"bm25@{corpus.name}"

    def search(self, query: str, k: int) -> list[Passage]:
        hits = self.index.top_k(query, k)
        return self.corpus.passages(hits.rows.tolist(), hits.scores.tolist())

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        return [self.corpus.passages(h.rows.tolist(), h.scores.tolist())
                for h in self.index.top_k_many(queries, k)]
