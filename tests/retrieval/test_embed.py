"""The corpus embedding job: one file per shard named by the encoder key, idempotent, and
the faiss indexes built from the files, searched through the retrievers MedRAG uses.

The encoder is a tiny random BERT with a sentence-transformers config, built in a fixture
(no download); the job runs in this process and in a spawned local process pool.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("sentence_transformers")

from tests.models.tiny_model import build_tiny_encoder, medical_sentences  # noqa: E402

from medq.embeddings import EncoderSpec, SentenceTransformerEncoder  # noqa: E402
from medq.retrieval import RetrievalError, open_corpus, open_retriever, write_corpus  # noqa: E402
from medq.retrieval.corpora import Snippet  # noqa: E402
from medq.retrieval.dense import DenseIndex, DualEncoder, encoder_meta  # noqa: E402
from medq.retrieval.embed import EmbeddingSet, embed_corpus, shard_ranges  # noqa: E402
from medq.retrieval.faiss_build import build_faiss, default_nlist  # noqa: E402

N = 120


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-bert") / "enc")


def _corpus(n: int = N) -> None:
    texts = medical_sentences(n, seed=7)
    write_corpus("c", (Snippet(f"s{i}", f"title {i % 7}" if i % 3 else "", f"{t} (#{i})")
                       for i, t in enumerate(texts)))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("rows-*.npy"))}


def test_shard_ranges_tile_the_rows() -> None:
    assert shard_ranges(10, shards=3) == [(0, 4), (4, 8), (8, 10)]
    assert shard_ranges(10, shard_rows=5) == [(0, 5), (5, 10)]
    assert shard_ranges(3, shards=8) == [(0, 1), (1, 2), (2, 3)]
    with pytest.raises(ValueError, match="--shards"):
        shard_ranges(3, shards=0)


def test_job_run_twice_gives_the_same_files_and_bitwise_vectors(tiny_encoder: Path) -> None:
    _corpus()
    spec = EncoderSpec(str(tiny_encoder))
    corpus = open_corpus("c")
    first = embed_corpus(corpus, spec, shards=4, executor="local", workers=2, batch_size=16)
    folder = corpus.index_dir("embeddings")
    files = _files(folder)
    key = first.vectors.key
    assert sorted(files) == [f"rows-{a:09d}-{b:09d}.{key}.npy"
                             for a, b in [(0, 30), (30, 60), (60, 90), (90, 120)]]
    assert first.encoded == [(0, 30), (30, 60), (60, 90), (90, 120)] and first.skipped == 0
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("rows-*")}
    again = embed_corpus(corpus, spec, shards=4, executor="local", workers=2, batch_size=16)
    assert again.encoded == [] and again.skipped == 4  # all present: nothing encoded
    assert {p.name: p.stat().st_mtime_ns for p in folder.glob("rows-*")} == stamps
    for path in folder.glob("rows-*"):
        path.unlink()
    # From scratch again, and in this process instead of the pool: the same bytes.
    embed_corpus(corpus, spec, shards=4, batch_size=16)
    assert _files(folder) == files
    vectors = np.concatenate([np.load(p) for p in first.vectors.files()])
    assert vectors.shape == (N, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1)
    # What the job wrote is what the encoder gives one snippet at a time (title. content).
    s = corpus.snippet(31)
    alone = SentenceTransformerEncoder(str(tiny_encoder)).encode([f"{s.title}. {s.content}"])
    np.testing.assert_allclose(vectors[31], alone[0], atol=1e-5)


def test_killed_job_completes_only_the_missing_shards(tiny_encoder: Path) -> None:
    _corpus()
    spec = EncoderSpec(str(tiny_encoder))
    corpus = open_corpus("c")
    whole = embed_corpus(corpus, spec, shards=4)
    folder = corpus.index_dir("embeddings")
    files = _files(folder)
    key = whole.vectors.key
    # The state a kill leaves: a shard missing, its half-written temporary (of a process
    # that is gone), a stray temporary beside a finished shard, and no manifest.
    missing = folder / f"rows-000000030-000000060.{key}.npy"
    missing.unlink()
    (folder / f"{key}.json").unlink()
    stray = [folder / f".{missing.name}.999999999-1.medq-tmp",
             folder / f".rows-000000060-000000090.{key}.npy.999999998-3.medq-tmp"]
    for path in stray:
        path.write_bytes(b"\x93NUMPY half")
    with pytest.raises(RetrievalError, match="no finished embedding job"):
        EmbeddingSet.load(folder, key)
    kept = {p.name: p.stat().st_ino for p in folder.glob("rows-*")}
    report = embed_corpus(corpus, spec, shards=4)
    assert report.encoded == [(30, 60)] and report.skipped == 3
    assert _files(folder) == files
    assert not any(p.exists() for p in stray)
    assert {p.name: p.stat().st_ino for p in folder.glob("rows-*") if p.name in kept} == kept
    assert EmbeddingSet.load(folder, key).shards == ((0, 30), (30, 60), (60, 90), (90, 120))
    # A file that is not what its name says is refused, not taken for whole.
    np.save(folder / f"rows-000000000-000000030.{key}.npy", np.zeros((3, 32), np.float32))
    with pytest.raises(RetrievalError, match="its name says 30 rows"):
        embed_corpus(corpus, spec, shards=4)


def test_another_encoder_key_writes_new_files(tiny_encoder: Path, tmp_path: Path) -> None:
    _corpus(40)
    corpus = open_corpus("c")
    folder = corpus.index_dir("embeddings")
    base = EncoderSpec(str(tiny_encoder))
    keys = {}
    for name, spec in [("base", base), ("length", EncoderSpec(str(tiny_encoder), max_length=8)),
                       ("cls", EncoderSpec(str(tiny_encoder), pooling="cls")),
                       ("raw", EncoderSpec(str(tiny_encoder), normalize=False))]:
        keys[name] = embed_corpus(corpus, spec, shards=2).vectors.key
    assert len(set(keys.values())) == 4
    assert len(list(folder.glob("rows-*.npy"))) == 8  # two shards under each key
    vectors = {k: np.load(EmbeddingSet.load(folder, key).files()[0]) for k, key in keys.items()}
    assert not np.array_equal(vectors["base"], vectors["length"])
    assert not np.array_equal(vectors["base"], vectors["cls"])
    # The same weights in another folder are the same encoder; changed weights are not.
    copy = shutil.copytree(tiny_encoder, tmp_path / "copy")
    assert EncoderSpec(str(copy)).key() == base.key()
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    assert EncoderSpec(str(copy)).key() != base.key()
    with pytest.raises(ValueError, match="pooling"):
        EncoderSpec("x", pooling="first")


def _best_scores(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return -np.sort(-(queries @ vectors.T), axis=1)[:, :k]


def test_faiss_indexes_from_shards_match_exact_search(tiny_encoder: Path) -> None:
    _corpus(300)
    corpus = open_corpus("c")
    report = embed_corpus(corpus, EncoderSpec(str(tiny_encoder)), shards=3)
    vectors = np.concatenate([np.load(p) for p in report.vectors.files()])
    queries = vectors[[5, 150, 299]] + 0.01
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = _best_scores(vectors, queries, 5)
    out = corpus.index_dir("test")
    # Batches of 7 cross every shard boundary: labels must still be corpus rows.
    flat = build_faiss(report.vectors, out / "flat", kind="flat", add_batch=7)
    assert flat["kind"] == "flat" and flat["n"] == 300
    scores, rows = DenseIndex.load(out / "flat").search(queries, 5)
    assert rows[:, 0].tolist() == [5, 150, 299]
    np.testing.assert_allclose(scores, exact, atol=1e-5)  # exact search
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ vectors.T, rows, 1),
                               atol=1e-5)  # and each label is the row of its vector
    # IVF searching every list is exact too; trained on a sample of 200 of the 300 rows.
    meta = build_faiss(report.vectors, out / "ivf", kind="ivf", nlist=4, nprobe=4,
                       train_size=200, add_batch=50)
    assert (meta["nlist"], meta["nprobe"], meta["train_size"]) == (4, 4, 200)
    ivf_scores, ivf_rows = DenseIndex.load(out / "ivf").search(queries, 5)
    assert ivf_rows[:, 0].tolist() == [5, 150, 299]
    np.testing.assert_allclose(ivf_scores, exact, atol=1e-5)  # near-ties may swap rows
    pq = build_faiss(report.vectors, out / "ivfpq", kind="ivf", nlist=2, pq=8)
    assert pq["pq"] == 8
    assert DenseIndex.load(out / "ivfpq").search(queries, 1)[1].shape == (3, 1)
    hnsw = build_faiss(report.vectors, out / "hnsw", kind="hnsw", hnsw_m=16, add_batch=64)
    assert hnsw["kind"] == "hnsw"
    assert DenseIndex.load(out / "hnsw").search(queries, 1)[1][:, 0].tolist() == [5, 150, 299]
    assert build_faiss(report.vectors, out / "auto", flat_max=100)["kind"] == "hnsw"
    with pytest.raises(ValueError, match="--pq 5 must divide"):
        build_faiss(report.vectors, out / "bad", kind="ivf", pq=5)
    assert default_nlist(23_900_000) == 16384 and default_nlist(10) == 1


def test_medrag_retriever_uses_the_built_index(tiny_encoder: Path) -> None:
    _corpus()
    corpus = open_corpus("c")
    spec = EncoderSpec(str(tiny_encoder), max_length=64)
    report = embed_corpus(corpus, spec, shards=2)
    encoder = SentenceTransformerEncoder.from_spec(spec)
    dual = DualEncoder(encoder, encoder)
    build_faiss(report.vectors, corpus.index_dir(f"dense-{dual.slug}"), kind="ivf", nlist=3,
                nprobe=3, meta=encoder_meta(dual))
    retriever = open_retriever("c", f"dense:{tiny_encoder}")
    # Queries are encoded as the index recorded (max_length 64), not with the defaults.
    assert retriever.encoder.query.spec == spec  # type: ignore[attr-defined]
    s = corpus.snippet(43)
    found = retriever.search(f"{s.title}. {s.content}", 3)
    assert found[0].id == "s43" and found[0].corpus == "c"
    assert found[0].score == pytest.approx(1.0, abs=1e-4)


def test_index_embed_and_build_faiss_commands(tiny_encoder: Path) -> None:
    from typer.testing import CliRunner

    from medq.cli import app

    runner = CliRunner()
    _corpus(90)
    enc = str(tiny_encoder)
    embedded = runner.invoke(app, ["index", "embed", "c", "--encoder", enc, "--shards", "3",
                                   "--workers", "1", "--max-length", "48"])
    assert embedded.exit_code == 0, embedded.output
    assert "3 shards embedded, 0 already there, of 3 (90 snippets x 32)" in embedded.output
    again = runner.invoke(app, ["index", "embed", "c", "--encoder", enc, "--shards", "3",
                                "--max-length", "48"])
    assert "0 shards embedded, 3 already there" in again.output
    # Without --max-length 48 it is another encoder, whose job never ran.
    other = runner.invoke(app, ["index", "build-faiss", "c", "--encoder", enc])
    assert other.exit_code == 2 and "no finished embedding job" in other.output
    built = runner.invoke(app, ["index", "build-faiss", "c", "--encoder", enc, "--kind", "ivf",
                                "--nlist", "2", "--max-length", "48"])
    assert built.exit_code == 0, built.output
    assert "ivf index of c (90 vectors x 32)" in built.output
    s = open_corpus("c").snippet(10)
    found = runner.invoke(app, ["search", "c", f"{s.title}. {s.content}", "-k", "1",
                                "--retriever", f"dense:{enc}", "--format", "json"])
    assert found.exit_code == 0, found.output
    assert '"id": "s10"' in found.output
    for args, message in [
        (["index", "embed", "c", "--encoder", enc, "--executor", "spark"], "--executor must"),
        (["index", "embed", "c", "--encoder", enc, "--address", "auto"], "--address is for"),
        (["index", "embed", "c", "--encoder", enc, "--pooling", "first"], "pooling must"),
        (["index", "build-faiss", "c", "--encoder", enc, "--kind", "lsh"], "--kind must"),
        (["index", "build-faiss", "c", "--encoder", enc, "--max-length", "48", "--kind", "ivf",
          "--pq", "5"], "--pq 5 must divide"),
        (["index", "embed", "nope", "--encoder", enc], "unknown corpus"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
