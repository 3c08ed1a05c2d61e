"""Retrieval jobs on a loopback Ray: the embedding job under Ray Data (an encoder actor
pool) writes the files this process writes, byte for byte, and a re-run encodes nothing;
the sharded BM25 build on Ray tasks writes the serial build's bytes.

Skipped without the `ray` extra; Ray starts once (~10 s) on 127.0.0.1 only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sentence_transformers")
ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from tests.models.tiny_model import build_tiny_encoder, medical_sentences  # noqa: E402

from medq.embeddings import EncoderSpec  # noqa: E402
from medq.retrieval import open_corpus, write_corpus  # noqa: E402
from medq.retrieval.bm25 import build_bm25  # noqa: E402
from medq.retrieval.corpora import Snippet  # noqa: E402
from medq.retrieval.embed import embed_corpus  # noqa: E402
from medq.sweep.executors import RAY_LOOPBACK_ENV  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    for key, value in RAY_LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_data_job_writes_the_files_this_process_writes(
    tmp_path: Path, local_ray: None
) -> None:
    encoder = build_tiny_encoder(tmp_path / "enc")
    write_corpus("c", (Snippet(f"s{i}", "", t) for i, t in enumerate(medical_sentences(60))))
    corpus = open_corpus("c")
    spec = EncoderSpec(str(encoder))
    folder = corpus.index_dir("embeddings")
    here = embed_corpus(corpus, spec, shards=3, batch_size=8)
    expected = {p.name: p.read_bytes() for p in here.vectors.files()}
    for path in here.vectors.files()[1:]:
        path.unlink()  # two of three shards to do: one per actor
    on_ray = embed_corpus(corpus, spec, shards=3, batch_size=8, executor="ray", workers=2)
    assert on_ray.encoded == [(20, 40), (40, 60)] and on_ray.skipped == 1
    assert {p.name: p.read_bytes() for p in on_ray.vectors.files()} == expected
    again = embed_corpus(corpus, spec, shards=3, executor="ray", workers=2)
    assert again.encoded == [] and again.skipped == 3
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*expected, f"{here.vectors.key}.json"])  # no duplicates, no temporaries


def test_bm25_shards_on_ray_give_the_serial_index(local_ray: None) -> None:
    texts = medical_sentences(3000, seed=5)
    write_corpus("c", (Snippet(f"s{i}", "", f"{t} w{i % 97}x") for i, t in enumerate(texts)))
    corpus = open_corpus("c")
    build_bm25(corpus, batch_size=256, memory_gb=0.001)
    folder = corpus.index_dir("bm25")
    expected = {p.name: p.read_bytes() for p in folder.iterdir()}
    index = build_bm25(corpus, executor="ray", workers=2, batch_size=256, memory_gb=0.001)
    assert index.build_stats.runs > 2
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == expected
