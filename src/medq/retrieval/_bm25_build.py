"""The out-of-core BM25 build: peak memory bounded by a budget at any corpus size.

Writes exactly the arrays `BM25Index.build` would hold (the same `save` layout, byte for
byte), in two passes over disk:

1. The corpus streams in batches; each batch's (term, document, term frequency) triples
   are buffered and, whenever the buffer would push the build past its budget, sorted by
   term (stable: documents stay ascending) and spilled as one *run* (10 bytes a posting),
   with each run's distinct terms and where they start. Document lengths and document
   frequencies stay in memory (4 bytes a document, 8 a term).
2. The term IDs are cut into ranges whose postings fit the budget. For each range, every
   run's slice of it is read with plain file reads (no memory map, so the pages do not
   count against the process), concatenated in run order (= document order), stably
   sorted by term and turned into BM25 impacts; sparse terms are appended to
   ``indices.npy`` / ``data.npy``, common terms are written as dense rows in place.

The vocabulary (its words, as Python strings) is the one part that grows with the corpus
rather than with the budget: about 80 bytes a distinct term, counted against the budget.

`build_sharded` runs pass 1 in parallel, one shard of consecutive documents per worker of
an executor (`medq.sweep`: a local process pool or Ray), each shard with its own
vocabulary and a share of the budget. Shards start on batch boundaries, so each batch's
new words are the ones the serial build would meet in it; replaying the shards'
vocabularies batch by batch assigns every word the term ID the serial build gives it. Each
shard's runs are then renumbered to those IDs and pass 2 merges them in shard order, so
the index is byte-identical to the serial build's.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from medq._atomic import atomic_dir
from medq.retrieval.tokenize import Tokenizer, Vocabulary

# Bytes of working memory per posting: buffered triples (10) plus the sort's index and
# gathered copies in pass 1; read slices, sort order and impacts in pass 2.
_PASS1_BYTES, _PASS2_BYTES = 40, 48
_TERM_BYTES = 80  # a vocabulary entry: key, ID, df, idf and the word itself


@dataclass
class BuildStats:
    """How an out-of-core build went: spilled runs, term ranges merged, postings."""

    runs: int = 0
    ranges: int = 0
    postings: int = 0
    budget_bytes: int = 0
    run_postings: list[int] = field(default_factory=list)
    shard_cpu_seconds: list[float] = field(default_factory=list)  # pass 1, per shard


def _write_header(f: IO[bytes], dtype: Any, shape: tuple[int, ...]) -> int:
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
            "shape": shape})
    return f.tell()


def _read(path: Path, dtype: Any, start: int, count: int, header: int) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    with open(path, "rb") as f:
        f.seek(header + start * item)
        return np.fromfile(f, dtype=dtype, count=count)


class _Run:
    """One spilled run: terms (int32), docs (int32), tf (uint16), sorted by term."""

    def __init__(self, folder: Path, number: int, terms: np.ndarray, docs: np.ndarray,
                 tf: np.ndarray) -> None:
        order = np.argsort(terms, kind="stable")
        terms, docs, tf = terms[order], docs[order], tf[order]
        del order
        self.base = folder / f"run{number:05d}"
        self.n = len(terms)
        for name, array in (("docs", docs), ("tf", tf)):
            with open(f"{self.base}.{name}", "wb") as f:
                f.write(np.ascontiguousarray(array).data)
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]]) if self.n else terms
        # Distinct terms and where each starts: enough to find any term range's slice.
        np.save(f"{self.base}.terms.npy", terms[starts].astype(np.int32))
        np.save(f"{self.base}.starts.npy", np.r_[starts, self.n].astype(np.int64))

    @classmethod
    def open(cls, base: str) -> _Run:
        """A run already on disk at `base`."""
        run = cls.__new__(cls)
        run.base = Path(base)
        run.n = int(np.load(f"{base}.starts.npy")[-1])
        return run

    def renumber(self, ids: np.ndarray, doc_offset: int) -> _Run:
        """This run with term t as ``ids[t]`` and documents shifted by `doc_offset`,
        re-sorted by the new IDs (written over this run's files)."""
        terms = np.load(f"{self.base}.terms.npy")
        starts = np.load(f"{self.base}.starts.npy")
        docs, tf = self.slice(0, self.n)
        new_terms = np.repeat(ids[terms], np.diff(starts)).astype(np.int32)
        return _Run(self.base.parent, int(self.base.name[3:]), new_terms,
                    (docs + doc_offset).astype(np.int32), tf)

    def offsets(self, bounds: np.ndarray) -> np.ndarray:
        """Posting offsets of the term-range bounds `bounds` in this run."""
        terms = np.load(f"{self.base}.terms.npy")
        starts = np.load(f"{self.base}.starts.npy")
        return starts[np.searchsorted(terms, bounds)]

    def slice(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        n = end - start
        return (_read(Path(f"{self.base}.docs"), np.int32, start, n, 0),
                _read(Path(f"{self.base}.tf"), np.uint16, start, n, 0))


@dataclass
class _Spilled:
    """What pass 1 leaves: the runs, document lengths, document frequencies, and the
    vocabulary's size after each batch (where each batch's new words end)."""

    runs: list[_Run]
    doc_lens: np.ndarray
    df: np.ndarray
    n_docs: int
    batch_ends: list[int]


def _spill(texts: Iterable[str], spill: Path, vocab: Vocabulary, tokenizer: Tokenizer, *,
           budget: int, batch_size: int, first_run: int = 0,
           progress: Callable[[int], None] | None = None) -> _Spilled:
    """Pass 1: tokenise `texts` in batches into runs spilled under `spill`."""
    from medq.retrieval.bm25 import _batch_postings, _batches

    runs: list[_Run] = []
    buffered: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_buffered = 0
    doc_lens: list[np.ndarray] = []
    batch_ends: list[int] = []
    df = np.zeros(0, dtype=np.int64)
    n_docs = 0

    def flush() -> None:
        nonlocal buffered, n_buffered
        if not n_buffered:
            return
        terms = np.concatenate([t for t, _, _ in buffered])
        docs = np.concatenate([d for _, d, _ in buffered])
        tf = np.concatenate([f for _, _, f in buffered])
        buffered, n_buffered = [], 0
        runs.append(_Run(spill, first_run + len(runs), terms, docs, tf))

    for batch in _batches(texts, batch_size):
        terms, docs, tf, lengths = _batch_postings(tokenizer, vocab, batch)
        batch_ends.append(len(vocab))
        docs = (docs + n_docs).astype(np.int32)
        doc_lens.append(lengths)
        if len(df) < len(vocab):
            df = np.concatenate([df, np.zeros(len(vocab) - len(df), dtype=np.int64)])
        df += np.bincount(terms, minlength=len(df))
        n_docs += len(batch)
        fixed = len(vocab) * _TERM_BYTES + n_docs * 8
        if n_buffered and fixed + (n_buffered + len(terms)) * _PASS1_BYTES > budget:
            flush()
        buffered.append((terms.astype(np.int32), docs, tf))
        n_buffered += len(terms)
        if progress is not None:
            progress(n_docs)
    flush()
    if len(df) < len(vocab):
        df = np.concatenate([df, np.zeros(len(vocab) - len(df), dtype=np.int64)])
    dl = np.concatenate(doc_lens) if doc_lens else np.zeros(0, dtype=np.int32)
    return _Spilled(runs, dl, df, n_docs, batch_ends)


def build_on_disk(
    texts: Iterable[str],
    directory: str | os.PathLike[str],
    *,
    memory_gb: float = 8.0,
    tokenizer: Tokenizer | None = None,
    k1: float = 1.5,
    b: float = 0.75,
    batch_size: int = 8192,
    progress: Callable[[int], None] | None = None,
    dense_fraction: float = 0.0625,
    dense_min_docs: int = 1024,
    info: dict | None = None,
) -> BuildStats:
    """Build the BM25 index of `texts` into `directory` (replaced atomically) with at
    most about `memory_gb` of working memory; see the module docstring and
    `BM25Index.build` for the other arguments. Returns how the build went."""
    tokenizer = tokenizer or Tokenizer()
    budget = int(memory_gb * 1e9)
    stats = BuildStats(budget_bytes=budget)
    vocab = Vocabulary.new(tokenizer)
    with atomic_dir(Path(directory)) as tmp:
        spill = tmp / "_runs"
        spill.mkdir()
        cpu = time.process_time()
        spilled = _spill(texts, spill, vocab, tokenizer, budget=budget, batch_size=batch_size,
                         progress=progress)
        stats.shard_cpu_seconds.append(time.process_time() - cpu)
        _write_index(tmp, spilled, vocab, tokenizer, stats, k1=k1, b=b,
                     dense_fraction=dense_fraction, dense_min_docs=dense_min_docs, info=info)
        shutil.rmtree(spill)
    return stats


@dataclass(frozen=True)
class _Shard:
    """One shard of pass 1: documents ``[start, end)`` of the corpus at `corpus`."""

    corpus: str
    start: int
    end: int
    spill: str
    budget: int
    tokenizer: Tokenizer
    batch_size: int


def _spill_shard(shard: _Shard, limiter: Any) -> dict[str, Any]:
    """Pass 1 over one shard, with its own vocabulary; what the merge needs is saved
    beside its runs (the words in ID order and where each batch's new words end)."""
    from medq.retrieval.corpora import Corpus

    corpus = Corpus(Path(shard.corpus))
    texts = (corpus.snippet(r).text() for r in range(shard.start, shard.end))
    cpu = time.process_time()
    folder = Path(shard.spill)
    folder.mkdir(parents=True)
    vocab = Vocabulary.new(shard.tokenizer)
    try:
        spilled = _spill(texts, folder, vocab, shard.tokenizer, budget=shard.budget,
                         batch_size=shard.batch_size)
    finally:
        corpus.close()
    keys_by_id = np.empty(len(vocab), dtype=np.uint64)
    keys_by_id[vocab.ids] = vocab.keys
    np.save(folder / "keys.npy", keys_by_id)
    np.save(folder / "df.npy", spilled.df)
    np.save(folder / "doc_lens.npy", spilled.doc_lens)
    np.save(folder / "batch_ends.npy", np.asarray(spilled.batch_ends, dtype=np.int64))
    (folder / "words.json").write_text(json.dumps(vocab.words, ensure_ascii=False))
    return {"runs": [str(r.base) for r in spilled.runs], "n_docs": spilled.n_docs,
            "postings": [r.n for r in spilled.runs], "cpu_seconds": time.process_time() - cpu}


def build_sharded(
    corpus_path: str | os.PathLike[str],
    n_docs: int,
    directory: str | os.PathLike[str],
    executor: Any,
    *,
    shards: int,
    memory_gb: float = 8.0,
    tokenizer: Tokenizer | None = None,
    k1: float = 1.5,
    b: float = 0.75,
    batch_size: int = 8192,
    dense_fraction: float = 0.0625,
    dense_min_docs: int = 1024,
    info: dict | None = None,
) -> BuildStats:
    """`build_on_disk` of the stored corpus at `corpus_path` (`n_docs` snippets) with pass 1
    run as `shards` shards on `executor` (`medq.sweep.Executor`), each worker with
    ``memory_gb / shards``; the index is byte-identical to `build_on_disk`'s."""
    tokenizer = tokenizer or Tokenizer()
    budget = int(memory_gb * 1e9)
    stats = BuildStats(budget_bytes=budget)
    # Shards start on batch boundaries: each batch is the serial build's batch.
    per_shard = -(-max(n_docs, 1) // (shards * batch_size)) * batch_size
    bounds = [(a, min(a + per_shard, n_docs)) for a in range(0, n_docs, per_shard)]
    with atomic_dir(Path(directory)) as tmp:
        spill = tmp / "_runs"
        spill.mkdir()
        items = [_Shard(str(corpus_path), a, z, str(spill / f"shard{k:05d}"),
                        budget // len(bounds), tokenizer, batch_size)
                 for k, (a, z) in enumerate(bounds)]
        done = executor.map(_spill_shard, items)
        vocab = Vocabulary.new(tokenizer)
        df = np.zeros(0, dtype=np.int64)
        doc_lens: list[np.ndarray] = []
        runs: list[_Run] = []
        for shard, out in zip(items, done, strict=True):
            folder = Path(shard.spill)
            keys = np.load(folder / "keys.npy")
            words = json.loads((folder / "words.json").read_text())
            ids = np.arange(len(keys), dtype=np.int32)  # stop words keep theirs
            begin = vocab.n_stop
            for end in np.load(folder / "batch_ends.npy").tolist():
                if end > begin:
                    ids[begin:end] = vocab.extend(keys[begin:end], words[begin:end])
                begin = end
            local_df = np.load(folder / "df.npy")
            if len(df) < len(vocab):
                df = np.concatenate([df, np.zeros(len(vocab) - len(df), dtype=np.int64)])
            df[ids[:len(local_df)]] += local_df
            doc_lens.append(np.load(folder / "doc_lens.npy"))
            # Here, not on the workers: one more pass over the postings costs less than
            # starting the workers again (measured: 3 s against 10 s at 250k snippets).
            runs.extend(_Run.open(base).renumber(ids, shard.start) for base in out["runs"])
            stats.run_postings.extend(out["postings"])
            stats.shard_cpu_seconds.append(out["cpu_seconds"])
        dl = np.concatenate(doc_lens) if doc_lens else np.zeros(0, dtype=np.int32)
        spilled = _Spilled(runs, dl, df, n_docs, [])
        _write_index(tmp, spilled, vocab, tokenizer, stats, k1=k1, b=b,
                     dense_fraction=dense_fraction, dense_min_docs=dense_min_docs, info=info)
        shutil.rmtree(spill)
    return stats


def _write_index(tmp: Path, spilled: _Spilled, vocab: Vocabulary, tokenizer: Tokenizer,
                 stats: BuildStats, *, k1: float, b: float, dense_fraction: float,
                 dense_min_docs: int, info: dict | None) -> None:
    """Pass 2: merge the runs by term range into the index files in `tmp`."""
    from medq.retrieval.bm25 import FORMAT_VERSION

    budget = stats.budget_bytes
    runs, n_docs = spilled.runs, spilled.n_docs
    if not stats.run_postings:
        stats.run_postings = [r.n for r in runs]
    stats.runs = len(runs)
    df = spilled.df
    dl = spilled.doc_lens
    avg = float(dl.mean()) if n_docs and dl.sum() else 1.0
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = (k1 * (1 - b + b * dl / avg)).astype(np.float32)
    del dl
    cutoff = max(dense_fraction * n_docs, dense_min_docs, 1)
    dense_terms = np.flatnonzero(df >= cutoff)
    dense_terms = dense_terms[np.argsort(df[dense_terms], kind="stable")].astype(np.int32)
    slot = np.full(len(df), -1, dtype=np.int64)
    slot[dense_terms] = np.arange(len(dense_terms))
    sparse_df = np.where(slot < 0, df, 0)
    indptr = np.zeros(len(df) + 1, dtype=np.int64)
    np.cumsum(sparse_df, out=indptr[1:])
    nnz = int(indptr[-1])
    stats.postings = int(df.sum())
    # Term ranges: consecutive IDs whose postings fit what the budget leaves.
    fixed = len(vocab) * _TERM_BYTES + n_docs * 12
    per_range = max((budget - fixed) // _PASS2_BYTES, 1 << 16)
    cum = np.cumsum(df)
    bounds = [0]
    while bounds[-1] < len(df):
        done = cum[bounds[-1] - 1] if bounds[-1] else 0
        nxt = int(np.searchsorted(cum, done + per_range, side="right"))
        bounds.append(min(max(nxt, bounds[-1] + 1), len(df)))
    bounds_arr = np.asarray(bounds, dtype=np.int64)
    stats.ranges = len(bounds) - 1
    offsets = np.stack([r.offsets(bounds_arr) for r in runs]) if runs else None
    with open(tmp / "indices.npy", "wb") as fi, open(tmp / "data.npy", "wb") as fd, \
            open(tmp / "dense.npy", "wb") as fx:
        _write_header(fi, np.int32, (nnz,))
        _write_header(fd, np.float32, (nnz,))
        # Every dense row is written below (a dense term has postings in one range).
        dense_at = _write_header(fx, np.float32, (len(dense_terms), n_docs))
        for r in range(len(bounds) - 1):
            lo, hi = bounds[r], bounds[r + 1]
            parts_t, parts_d, parts_f = [], [], []
            for i, run in enumerate(runs):
                assert offsets is not None
                s, e = int(offsets[i, r]), int(offsets[i, r + 1])
                if e <= s:
                    continue
                run_terms = np.load(f"{run.base}.terms.npy")
                run_starts = np.load(f"{run.base}.starts.npy")
                a, z = np.searchsorted(run_terms, [lo, hi])
                docs, tf = run.slice(s, e)
                parts_t.append(np.repeat(run_terms[a:z], np.diff(run_starts[a:z + 1])))
                parts_d.append(docs)
                parts_f.append(tf)
            if not parts_t:
                continue
            terms = np.concatenate(parts_t)
            docs = np.concatenate(parts_d)
            tf = np.concatenate(parts_f)
            del parts_t, parts_d, parts_f
            order = np.argsort(terms, kind="stable")
            terms, docs, tf = terms[order], docs[order], tf[order]
            del order
            tf32 = tf.astype(np.float32)
            impact = idf[terms] * tf32 / (tf32 + norm[docs])
            to_dense = slot[terms] >= 0
            if to_dense.any():
                row = np.empty(n_docs, dtype=np.float32)
                d_terms, d_docs, d_impact = terms[to_dense], docs[to_dense], impact[to_dense]
                # Sorted by term: each dense term's postings are one contiguous block.
                cuts = np.flatnonzero(np.r_[True, d_terms[1:] != d_terms[:-1], True])
                for s, e in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
                    row.fill(0.0)
                    row[d_docs[s:e]] = d_impact[s:e]
                    fx.seek(dense_at + 4 * int(slot[d_terms[s]]) * n_docs)
                    fx.write(row.data)
                keep = ~to_dense
                docs, impact = docs[keep], impact[keep]
            fi.write(np.ascontiguousarray(docs, dtype=np.int32).data)
            fd.write(np.ascontiguousarray(impact, dtype=np.float32).data)
    np.save(tmp / "indptr.npy", indptr)
    np.save(tmp / "dense_terms.npy", dense_terms)
    np.save(tmp / "vocab_keys.npy", vocab.keys)
    np.save(tmp / "vocab_ids.npy", vocab.ids)
    (tmp / "vocab.json").write_text(json.dumps(vocab.words, ensure_ascii=False))
    meta = {
        "format": "medq-bm25", "version": FORMAT_VERSION, "k1": k1, "b": b,
        "n_docs": n_docs, "avg_doc_len": avg, "n_stop": vocab.n_stop,
        "n_terms": len(vocab), "tokenizer": tokenizer.config(), "info": info or {},
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
