"""The sharded BM25 build: pass 1 in parallel on an executor, one vocabulary per shard,
merged into the very bytes the single-process out-of-core build writes."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.retrieval.test_bm25_out_of_core import _snippets

from medq.retrieval import open_corpus, write_corpus
from medq.retrieval._bm25_build import build_sharded
from medq.retrieval.bm25 import BM25Index, build_bm25
from medq.retrieval.corpora import Snippet
from medq.sweep import LocalExecutor


class InProcess:
    """An executor that calls the job here, in order (the merge logic without processes)."""

    def map(self, job, items, **_):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN003, ANN201
        return [job(item, None) for item in items]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture
def corpus_path() -> Path:
    texts = _snippets(20_000, seed=3)
    corpus = write_corpus("c", (Snippet(f"d{i}", f"t{i % 5}x" if i % 2 else "", t)
                                for i, t in enumerate(texts)))
    return corpus.path


def test_shards_in_parallel_give_the_serial_build_byte_for_byte(
    corpus_path: Path, tmp_path: Path
) -> None:
    corpus = open_corpus("c")
    # A 3 MB cap: every batch of 1,000 snippets spills its own run, pass 2 merges in
    # several term ranges, and words first met in a later shard get later IDs.
    serial = BM25Index.build_on_disk(corpus.texts(), tmp_path / "serial", memory_gb=0.003,
                                     batch_size=1000)
    assert serial.build_stats.runs >= 20 and serial.build_stats.ranges >= 4
    expected = _files(tmp_path / "serial")
    stats = build_sharded(corpus_path, len(corpus), tmp_path / "pool", LocalExecutor(2),
                          shards=3, memory_gb=0.003, batch_size=1000)
    assert stats.runs >= 20 and stats.ranges >= 4
    assert _files(tmp_path / "pool") == expected
    # Shards that do not divide the batches evenly, and more of them than workers.
    build_sharded(corpus_path, len(corpus), tmp_path / "seven", InProcess(), shards=7,
                  memory_gb=0.003, batch_size=1000)
    assert _files(tmp_path / "seven") == expected
    # Under the default cap each shard is one run, and the index is still the same.
    uncapped = build_sharded(corpus_path, len(corpus), tmp_path / "uncapped", InProcess(),
                             shards=2, batch_size=1000)
    assert uncapped.runs == 2
    assert _files(tmp_path / "uncapped") == expected


def test_build_bm25_with_workers(corpus_path: Path) -> None:
    corpus = open_corpus("c")
    serial = build_bm25(corpus, batch_size=1000)
    expected = _files(corpus.index_dir("bm25"))
    parallel = build_bm25(corpus, workers=2, batch_size=1000)
    assert _files(corpus.index_dir("bm25")) == expected
    assert parallel.top_k("w3x w7x", 5).rows.tolist() == serial.top_k("w3x w7x", 5).rows.tolist()
    with pytest.raises(ValueError, match="--executor must be"):
        build_bm25(corpus, executor="spark", workers=2)


def test_index_build_command_with_workers(corpus_path: Path) -> None:
    from typer.testing import CliRunner

    from medq.cli import app

    runner = CliRunner()
    built = runner.invoke(app, ["index", "build", "c", "--workers", "2", "--memory-gb", "0.5"])
    assert built.exit_code == 0, built.output
    assert "bm25 index of c (20000 snippets)" in built.output
    wrong = runner.invoke(app, ["index", "build", "c", "--workers", "2", "--address", "auto"])
    assert wrong.exit_code == 2 and "--address is for --executor ray" in wrong.output
