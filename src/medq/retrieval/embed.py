"""The corpus embedding job: one file of vectors per shard of rows, idempotent by its names.

A stored corpus's rows are cut into shards (consecutive row ranges). Shard ``[a, b)`` is
encoded into ``indexes/embeddings/rows-<a>-<b>.<key>.npy``, where `key` hashes the encoder
(`medq.embeddings.ResolvedEncoder.key`: weights, pooling, normalisation, maximum length)
and how a snippet becomes text (``title. content``). Each file is written to a temporary
name and renamed when whole, and a shard whose file exists is skipped: running the job
again (after a kill, with more workers, on the other executor) encodes only the missing
shards, and another encoder (or setting) writes new files beside the old ones.
Ray Data's writers are not used for this: re-run into the same folder they add files
(measured 34 -> 68 -> 102) instead of skipping what is there.

Where the shards run:

- in this process (``executor=None``), with any `Encoder` object;
- ``local``: a spawned process pool (`medq.sweep.LocalExecutor`), each worker loading the
  encoder once and using ``CPUs / workers`` torch threads (one worker: this process);
- ``ray``: Ray Data, a dataset of the missing shards mapped (``map_batches``) over a pool of
  encoder actors, one model load per actor and ``gpus_per_worker`` GPUs each; on a
  loopback Ray started for the call, or a cluster (``address``) whose workers see the
  corpus and the weights at the same paths (a shared file system).

When every shard is there, a manifest ``<key>.json`` (the encoder, the corpus fingerprint,
rows, dimension and shard files) is written: the faiss build (`medq.retrieval.faiss_build`)
reads it.

Example:
    >>> spec = EncoderSpec("ncbi/MedCPT-Article-Encoder", pooling="cls", max_length=512)
    >>> report = embed_corpus(open_corpus("pubmed"), spec, shards=240, executor="ray")
    >>> report.vectors.files()[0].name
    'rows-000000000-000099584.3f0c6b1a9d2e4c7b.npy'
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medq._atomic import atomic_path, atomic_write_text, find_leftovers, remove_leftovers
from medq._extras import require_extra
from medq.embeddings import Encoder, EncoderSpec, ResolvedEncoder, SentenceTransformerEncoder
from medq.retrieval.base import RetrievalError
from medq.retrieval.corpora import Corpus
from medq.store import content_hash

__all__ = ["DOCUMENT_TEXT", "EmbedReport", "EmbeddingSet", "embed_corpus", "shard_ranges"]

DOCUMENT_TEXT = "title. content"  # how a snippet is embedded; part of every file's key
DEFAULT_SHARD_ROWS = 100_000


def document_text(title: str, content: str) -> str:
    """The text a snippet is embedded as (`DOCUMENT_TEXT`)."""
    return f"{title}. {content}" if title else content


def shard_ranges(n: int, *, shards: int | None = None,
                 shard_rows: int | None = None) -> list[tuple[int, int]]:
    """Consecutive row ranges tiling ``[0, n)``: `shards` of them (as equal as can be), or
    of `shard_rows` rows each (the last one shorter); by default of 100,000 rows."""
    if shards is not None and shard_rows is not None:
        raise ValueError("give shards or shard_rows, not both")
    if shards is not None:
        if shards < 1:
            raise ValueError(f"--shards must be at least 1, not {shards}")
        shard_rows = math.ceil(n / min(shards, max(n, 1)))
    rows = shard_rows or DEFAULT_SHARD_ROWS
    if rows < 1:
        raise ValueError(f"shard rows must be at least 1, not {rows}")
    return [(a, min(a + rows, n)) for a in range(0, n, rows)]


def shard_file(start: int, end: int, key: str) -> str:
    """The file name of shard ``[start, end)`` under the vectors key `key`."""
    return f"rows-{start:09d}-{end:09d}.{key}.npy"


@dataclass(frozen=True)
class EmbeddingSet:
    """A complete set of shard files: every row of a corpus under one key (a manifest)."""

    folder: Path
    key: str
    n: int
    dim: int
    shards: tuple[tuple[int, int], ...]
    encoder: dict[str, Any]
    corpus_fingerprint: str

    def files(self) -> list[Path]:
        """The shard files, in row order."""
        return [self.folder / shard_file(a, b, self.key) for a, b in self.shards]

    @classmethod
    def load(cls, folder: Path, key: str) -> EmbeddingSet:
        """The manifest of `key` in `folder` (RetrievalError if the job never finished)."""
        path = folder / f"{key}.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RetrievalError(f"no finished embedding job {key} in {folder}; run "
                                 "`medq index embed` first") from None
        return cls(folder, raw["key"], raw["n"], raw["dim"],
                   tuple((a, b) for a, b in raw["shards"]), raw["encoder"],
                   raw["corpus_fingerprint"])


@dataclass(frozen=True)
class EmbedReport:
    """How a job went: the shards it encoded (each with its wall and CPU seconds, as its
    worker measured them) and how many were already there."""

    vectors: EmbeddingSet
    encoded: list[tuple[int, int]] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    shard_seconds: list[float] = field(default_factory=list)
    shard_cpu_seconds: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _ShardTask:
    """One shard to encode: the corpus folder, its rows and the file to write."""

    corpus: str
    start: int
    end: int
    path: str


@dataclass(frozen=True)
class _EncoderSetup:
    encoder: ResolvedEncoder
    batch_size: int
    device: str | None
    threads: int | None


def vectors_key(encoder: Encoder | ResolvedEncoder) -> tuple[str, dict[str, Any]]:
    """(key, description) of the vectors `encoder` gives to snippets.

    An encoder with an `EncoderSpec` is keyed by its resolved weights and settings; any other
    `Encoder` by its `name` alone (so its name must change whenever its vectors do)."""
    if isinstance(encoder, ResolvedEncoder):
        described: dict[str, Any] = {**asdict(encoder.spec), "weights": encoder.weights}
        encoder_key = encoder.key
    elif isinstance(spec := getattr(encoder, "spec", None), EncoderSpec):
        return vectors_key(spec.resolved())
    else:
        described = {"name": encoder.name}
        encoder_key = content_hash(described)[:16]
    key = content_hash({"encoder": encoder_key, "text": DOCUMENT_TEXT})[:16]
    return key, {**described, "encoder_key": encoder_key, "text": DOCUMENT_TEXT}


def _shard_texts(corpus: Corpus, start: int, end: int) -> list[str]:
    return [document_text(s.title, s.content) for s in map(corpus.snippet, range(start, end))]


def _encode_shard(task: _ShardTask, encoder: Encoder) -> dict[str, Any]:
    began, cpu = time.perf_counter(), time.process_time()
    corpus = Corpus(Path(task.corpus))
    try:
        texts = _shard_texts(corpus, task.start, task.end)
    finally:
        corpus.close()
    vectors = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise RetrievalError(f"{encoder.name} gave {vectors.shape} vectors for "
                             f"{len(texts)} texts")
    with atomic_path(Path(task.path)) as tmp, open(tmp, "wb") as f:
        np.save(f, vectors)
    return {"start": task.start, "end": task.end, "dim": int(vectors.shape[1]),
            "seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu}


_WORKER_ENCODERS: dict[str, SentenceTransformerEncoder] = {}


def _worker_encoder(setup: _EncoderSetup) -> SentenceTransformerEncoder:
    """One encoder per worker process, loaded on its first shard."""
    name = content_hash([setup.encoder.key, setup.batch_size, setup.device])
    if name not in _WORKER_ENCODERS:
        if setup.threads:
            import torch

            torch.set_num_threads(setup.threads)
        _WORKER_ENCODERS[name] = setup.encoder.encoder(device=setup.device,
                                                       batch_size=setup.batch_size)
    return _WORKER_ENCODERS[name]


def _local_job(item: tuple[_ShardTask, _EncoderSetup], limiter: Any) -> dict[str, Any]:
    task, setup = item
    return _encode_shard(task, _worker_encoder(setup))


class _ShardEncoderActor:
    """A Ray Data actor: loads the encoder once, then encodes whole shards, one per row."""

    def __init__(self, setup: _EncoderSetup) -> None:
        self.encoder = _worker_encoder(setup)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done = [_encode_shard(_ShardTask(str(c), int(a), int(b), str(p)), self.encoder)
                for c, a, b, p in zip(batch["corpus"], batch["start"], batch["end"],
                                      batch["path"], strict=True)]
        return {k: np.asarray([d[k] for d in done])
                for k in ("start", "end", "dim", "seconds", "cpu_seconds")}


def _run_on_ray(tasks: Sequence[_ShardTask], setup: _EncoderSetup, *, address: str | None,
                workers: int | None, cpus_per_worker: float,
                gpus_per_worker: float) -> list[dict[str, Any]]:
    from medq.sweep.executors import ray_session

    with ray_session(address) as ray, warnings.catch_warnings():
        # Ray 2.60's own DataContext() sets a deprecated field of itself (a warning that is
        # Ray's, not ours: the Ray version is pinned).
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
        ray_data = require_extra("ray.data", "the ray executor (--executor ray)")
        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        if workers is None:
            cpus = ray.cluster_resources().get("CPU", 1)
            workers = max(1, int(cpus // max(cpus_per_worker, 1e-9)))
        workers = min(workers, len(tasks))
        setup = _EncoderSetup(setup.encoder, setup.batch_size, setup.device,
                              setup.threads or max(1, int(cpus_per_worker)))
        dataset = ray_data.from_items([asdict(t) for t in tasks],
                                      override_num_blocks=len(tasks))
        mapped = dataset.map_batches(
            _ShardEncoderActor, fn_constructor_kwargs={"setup": setup}, batch_size=1,
            compute=ray_data.ActorPoolStrategy(size=workers), num_cpus=cpus_per_worker,
            **({"num_gpus": gpus_per_worker} if gpus_per_worker else {}))
        rows = mapped.take_all()
    return [{k: v.item() if hasattr(v, "item") else v for k, v in row.items()} for row in rows]


def _present(path: Path, rows: int) -> bool:
    """Whether the shard file is there (and has the rows its name says)."""
    if not path.is_file():
        return False
    found = np.load(path, mmap_mode="r").shape
    if len(found) != 2 or found[0] != rows:
        raise RetrievalError(f"{path}: holds {found} vectors, its name says {rows} rows; "
                             "delete it and run the job again")
    return True


def _dim(path: Path) -> int:
    return int(np.load(path, mmap_mode="r").shape[1])


def embed_corpus(
    corpus: Corpus,
    encoder: EncoderSpec | ResolvedEncoder | Encoder,
    *,
    shards: int | None = None,
    shard_rows: int | None = None,
    executor: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    batch_size: int = 64,
    device: str | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> EmbedReport:
    """Encode every snippet of `corpus` into one file per shard (see the module docstring).

    Args:
        corpus: the stored corpus.
        encoder: an `EncoderSpec` (any executor) or an `Encoder` object (in this process).
        shards, shard_rows: how the rows are cut (`shard_ranges`); the same cut finds the
            same files.
        executor: None (this process), ``local`` or ``ray``.
        workers: processes (``local``) or encoder actors (``ray``); default: the CPUs.
        address: a Ray cluster to join (``ray`` only); None starts a loopback one.
        batch_size: texts per forward pass.
        device: torch device of the encoder (``cuda``, ``cpu``); None lets it choose.
        cpus_per_worker, gpus_per_worker: what each Ray actor asks for.
        progress: called with (rows done, rows) after each shard (in this process only).

    Returns:
        The `EmbedReport`; ``report.vectors`` is the finished set the faiss build reads.
    """
    began = time.perf_counter()
    if executor not in (None, "local", "ray"):
        raise ValueError(f"--executor must be local or ray, not {executor!r}")
    if address is not None and executor != "ray":
        raise ValueError("--address is for --executor ray")
    if isinstance(encoder, EncoderSpec):
        encoder = encoder.resolved()
    elif executor is not None and isinstance(spec := getattr(encoder, "spec", None),
                                             EncoderSpec):
        encoder = spec.resolved()
    key, described = vectors_key(encoder)
    folder = corpus.index_dir("embeddings")
    folder.mkdir(parents=True, exist_ok=True)
    remove_leftovers(find_leftovers(folder))  # temporaries of killed jobs
    n = len(corpus)
    ranges = shard_ranges(n, shards=shards, shard_rows=shard_rows)
    todo = [_ShardTask(str(corpus.path), a, b, str(folder / shard_file(a, b, key)))
            for a, b in ranges if not _present(folder / shard_file(a, b, key), b - a)]
    done_rows = n - sum(t.end - t.start for t in todo)
    results: list[dict[str, Any]] = []
    cpus = os.cpu_count() or 1
    count = min(workers or cpus, len(todo))
    if todo and (executor is None or (executor == "local" and count == 1)):
        # One local worker is this process: spawning it would only add its start-up.
        local = encoder.encoder(device=device, batch_size=batch_size) if isinstance(
            encoder, ResolvedEncoder) else encoder
        for task in todo:
            results.append(_encode_shard(task, local))
            done_rows += task.end - task.start
            if progress is not None:
                progress(done_rows, n)
    elif todo:
        if not isinstance(encoder, ResolvedEncoder):
            raise RetrievalError(f"--executor {executor} needs an encoder spec (a model name "
                                 "or folder), not an Encoder object")
        if executor == "local":
            from medq.sweep.executors import LocalExecutor

            setup = _EncoderSetup(encoder, batch_size, device, max(1, cpus // count))
            results = LocalExecutor(count).map(_local_job, [(t, setup) for t in todo])
        else:
            setup = _EncoderSetup(encoder, batch_size, device, None)
            results = _run_on_ray(todo, setup, address=address, workers=workers,
                                  cpus_per_worker=cpus_per_worker,
                                  gpus_per_worker=gpus_per_worker)
    elif progress is not None:
        progress(n, n)
    files = [folder / shard_file(a, b, key) for a, b in ranges]
    for (a, b), path in zip(ranges, files, strict=True):
        if not _present(path, b - a):
            raise RetrievalError(f"the embedding job ended without {path}")
    dims = {_dim(files[0])} | {r["dim"] for r in results}
    if len(dims) != 1:
        raise RetrievalError(f"shards of {key} have vectors of different sizes: {sorted(dims)}")
    vectors = EmbeddingSet(folder, key, n, dims.pop(), tuple(ranges), described,
                           corpus.fingerprint)
    manifest = {"key": key, "n": n, "dim": vectors.dim, "shards": [list(r) for r in ranges],
                "encoder": described, "corpus_fingerprint": corpus.fingerprint}
    atomic_write_text(folder / f"{key}.json", json.dumps(manifest, indent=2))
    done = sorted(results, key=lambda r: r["start"])
    return EmbedReport(vectors, [(r["start"], r["end"]) for r in done], len(ranges) - len(todo),
                       time.perf_counter() - began, [r["seconds"] for r in done],
                       [r["cpu_seconds"] for r in done])
