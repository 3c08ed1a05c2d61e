"""BM25 side by side: medq's own index vs bm25s vs tantivy, in the same run.

A synthetic corpus of N snippets of 100-150 words drawn from a Zipfian vocabulary (the
head of the distribution is the 33 Lucene stop words, as in English text; the rest are
made-up words), and 1,000 queries of 25-35 words from the same distribution. Every
engine uses the same analysis (lower-case, ``\\b\\w\\w+\\b``, Lucene's English stop
words, no stemming) and retrieves the top 32.

Each engine runs in its own subprocess, so its peak RSS (ru_maxrss) is its own. Build
time includes reading the corpus file and tokenising; query throughput is measured on the
reopened on-disk index.

    .venv/bin/python bench/bench_bm25.py --docs 125000
    .venv/bin/python bench/bench_bm25.py --docs 1250000 --engines medq,bm25s,tantivy
    .venv/bin/python bench/bench_bm25.py --docs 1250000 --engines medq,medq-disk-8,medq-disk-4

``medq-disk-<GB>`` is the out-of-core build (`BM25Index.build_on_disk`) capped at GB.
``medq-shards-<W>-<GB>`` builds from a stored medq corpus (written first, untimed) with W
workers of the local executor sharing a GB cap (`build_bm25(workers=W)`; W = 1 is the
single-process build from the same corpus); the workers' peak RSS is reported apart.

    .venv/bin/python bench/bench_bm25.py --docs 250000 --engines medq-shards-1-2,medq-shards-2-2

Needs bm25s (and numba for its fast backend) and tantivy: ``pip install bm25s numba
tantivy``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / ".work" / "bm25"
K = 32
STOP = (
    "the of and to in a is that for it as was with be by on not this are at or "
    "an but they their these there then such if into no will"
).split()


def _syllables(rng: np.random.Generator, n: int) -> list[str]:
    cons = list("bcdfghjklmnprstvz")
    vows = list("aeiou")
    words: set[str] = set()
    while len(words) < n:
        size = int(rng.integers(2, 5))
        words.add("".join(cons[rng.integers(17)] + vows[rng.integers(5)] for _ in range(size)))
    return sorted(words)


def generate(n_docs: int, n_queries: int, vocab_size: int = 200_000, seed: int = 0) -> Path:
    """Write corpus-N.txt (one snippet per line) and queries.txt; reuse them if present."""
    WORK.mkdir(parents=True, exist_ok=True)
    corpus = WORK / f"corpus-{n_docs}.txt"
    queries = WORK / f"queries-{n_queries}.txt"
    rng = np.random.default_rng(seed)
    words = np.array(STOP + _syllables(rng, vocab_size - len(STOP)), dtype=object)
    # Zipf (s = 1) over ranks: English-like, the stop words are the head.
    p = 1.0 / np.arange(1, vocab_size + 1)
    cdf = np.cumsum(p / p.sum())

    def texts(count: int, low: int, high: int, gen: np.random.Generator) -> list[str]:
        lengths = gen.integers(low, high + 1, size=count)
        ranks = np.searchsorted(cdf, gen.random(int(lengths.sum())))
        ranks = np.minimum(ranks, vocab_size - 1)
        tokens = words[ranks]
        ends = np.cumsum(lengths)
        return [" ".join(tokens[e - n:e]) for e, n in zip(ends, lengths, strict=True)]

    if not corpus.exists():
        gen = np.random.default_rng(seed + 1)
        with open(str(corpus) + ".tmp", "w") as f:
            for start in range(0, n_docs, 50_000):
                f.write("\n".join(texts(min(50_000, n_docs - start), 100, 150, gen)) + "\n")
        os.replace(str(corpus) + ".tmp", corpus)
    if not queries.exists():
        queries.write_text("\n".join(texts(n_queries, 25, 35, np.random.default_rng(seed + 2))))
    return corpus


def _lines(path: Path):
    with open(path) as f:
        for line in f:
            yield line.rstrip("\n")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def run_engine(engine: str, corpus: Path, queries_path: Path, threads: int) -> dict:
    """Build, save, reopen and query one engine; runs inside its own process."""
    out = WORK / f"index-{engine}-{corpus.stem}"
    shutil.rmtree(out, ignore_errors=True)
    queries = queries_path.read_text().splitlines()
    result: dict = {"engine": engine}
    t0 = time.perf_counter()
    if engine.startswith("medq-shards"):
        from medq.retrieval import write_corpus
        from medq.retrieval.bm25 import BM25Index, build_bm25
        from medq.retrieval.corpora import Snippet

        workers, gb = engine.split("-")[2:]
        os.environ["MEDQ_HOME"] = str(WORK / "home")
        stored = write_corpus(corpus.stem, (Snippet(str(i), "", t) for i, t in
                                            enumerate(_lines(corpus))), replace=True)
        t0 = time.perf_counter()
        built = build_bm25(stored, memory_gb=float(gb), workers=int(workers))
        result["build_s"] = time.perf_counter() - t0
        result["build_rss_mb"] = _rss_mb()
        result["workers_peak_rss_mb"] = (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        result["runs"], result["ranges"] = built.build_stats.runs, built.build_stats.ranges
        result["pass1_cpu_s"] = [round(c, 1) for c in built.build_stats.shard_cpu_seconds]
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(stored.index_dir("bm25"), out)
        index = BM25Index.load(out)
        index.top_k_many(queries[:20], K)
        t1 = time.perf_counter()
        hits = index.top_k_many(queries, K, threads=threads)
        result["query_s"] = time.perf_counter() - t1
        rows = [h.rows.tolist() for h in hits]
    elif engine == "medq" or engine.startswith("medq-disk"):
        from medq.retrieval.bm25 import BM25Index

        if engine == "medq":
            BM25Index.build(_lines(corpus)).save(out)
        else:  # medq-disk-<GB>: the out-of-core build under a memory cap
            gb = float(engine.rsplit("-", 1)[1])
            stats = BM25Index.build_on_disk(_lines(corpus), out, memory_gb=gb).build_stats
            result["runs"], result["ranges"] = stats.runs, stats.ranges
        result["build_s"] = time.perf_counter() - t0
        result["build_rss_mb"] = _rss_mb()
        index = BM25Index.load(out)
        index.top_k_many(queries[:20], K)
        t1 = time.perf_counter()
        hits = index.top_k_many(queries, K, threads=threads)
        result["query_s"] = time.perf_counter() - t1
        rows = [h.rows.tolist() for h in hits]
    elif engine.startswith("bm25s"):
        import bm25s

        backend = "numba" if engine == "bm25s-numba" else "numpy"
        texts = list(_lines(corpus))
        tokens = bm25s.tokenize(texts, stopwords="en", show_progress=False)
        del texts
        model = bm25s.BM25(backend=backend)
        model.index(tokens, show_progress=False)
        model.save(out)
        result["build_s"] = time.perf_counter() - t0
        result["build_rss_mb"] = _rss_mb()
        del model, tokens
        model = bm25s.BM25.load(out, mmap=False)
        model.backend = backend
        warm = bm25s.tokenize(queries[:20], stopwords="en", show_progress=False,
                              return_ids=False)
        model.retrieve(warm, k=K, show_progress=False, n_threads=threads,
                       backend_selection=backend)  # numba compiles on the first call
        t1 = time.perf_counter()
        # Tokenising the queries is part of answering them, as it is for the others.
        qtok = bm25s.tokenize(queries, stopwords="en", show_progress=False,
                              return_ids=False)
        docs, _ = model.retrieve(qtok, k=K, show_progress=False, n_threads=threads,
                                 backend_selection=backend)
        result["query_s"] = time.perf_counter() - t1
        rows = docs.tolist()
    elif engine == "tantivy":
        import tantivy

        from medq.retrieval.tokenize import ENGLISH_STOPWORDS

        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(r"\w\w+"))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.custom_stopword(list(ENGLISH_STOPWORDS)))
            .build()
        )
        schema = (
            tantivy.SchemaBuilder()
            .add_text_field("body", stored=False, tokenizer_name="medq")
            .add_integer_field("row", stored=True)
            .build()
        )
        out.mkdir(parents=True)
        index = tantivy.Index(schema, path=str(out))
        index.register_tokenizer("medq", analyzer)
        writer = index.writer(heap_size=256_000_000, num_threads=threads)
        for i, text in enumerate(_lines(corpus)):
            writer.add_document(tantivy.Document(body=text, row=i))
        writer.commit()
        writer.wait_merging_threads()
        result["build_s"] = time.perf_counter() - t0
        result["build_rss_mb"] = _rss_mb()
        index = tantivy.Index.open(str(out))
        index.register_tokenizer("medq", analyzer)
        index.reload()
        searcher = index.searcher()
        for q in queries[:20]:
            searcher.search(index.parse_query(q, ["body"]), K)
        t1 = time.perf_counter()
        addresses = [searcher.search(index.parse_query(q, ["body"]), K).hits for q in queries]
        result["query_s"] = time.perf_counter() - t1
        # Untimed: a hit's address is (segment, doc); its row is a stored field.
        rows = [[searcher.doc(addr)["row"][0] for _, addr in hits] for hits in addresses]
    else:
        raise SystemExit(f"unknown engine {engine}")
    result["peak_rss_mb"] = _rss_mb()
    result["disk_mb"] = _du_mb(out)
    result["qps"] = len(queries) / result["query_s"]
    np.save(WORK / f"rows-{engine}-{corpus.stem}.npy",
            np.array([r + [-1] * (K - len(r)) for r in rows], dtype=np.int64))
    return result


def medrag_latency(corpus: Path, queries_path: Path, n: int = 300) -> dict:
    """Retrieval time the medrag strategy adds per question (k = 32) over this corpus,
    stored as a medq corpus; the model is scripted, so only retrieval is timed."""
    import asyncio
    import tempfile

    from medq.retrieval import BM25Retriever, Snippet, write_corpus
    from medq.strategies.medrag import medrag
    from medq.testing.scripted import ScriptedModel
    from medq.types import Question

    with tempfile.TemporaryDirectory() as home:
        os.environ["MEDQ_HOME"] = home
        stored = write_corpus("synthetic", (Snippet(f"s{i}", "", text)
                                            for i, text in enumerate(_lines(corpus))))
        t0 = time.perf_counter()
        retriever = BM25Retriever(stored)
        build_s = time.perf_counter() - t0
        strategy = medrag(retriever=retriever)
        model = ScriptedModel(lambda r: '{"answer_choice": "A"}')
        questions = [Question(str(i), q, {"A": "yes", "B": "no"}, "A")
                     for i, q in enumerate(queries_path.read_text().splitlines()[:n])]

        async def run() -> list[float]:
            return [(await strategy(q, model)).details["retrieval_ms"] for q in questions]

        ms = np.array(asyncio.run(run()))
    return {"index_build_s": build_s, "mean_ms": float(ms.mean()),
            "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max())}


def _overlap(a: str, b: str, stem: str) -> float | None:
    pa, pb = WORK / f"rows-{a}-{stem}.npy", WORK / f"rows-{b}-{stem}.npy"
    if not (pa.exists() and pb.exists()):
        return None
    x, y = np.load(pa), np.load(pb)
    return float(np.mean([len(set(r) & set(s)) / K for r, s in zip(x, y, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=125_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--engines", default="medq,bm25s-numba,bm25s,tantivy")
    parser.add_argument("--threads", default="1")
    parser.add_argument("--medrag", action="store_true",
                        help="also time the medrag strategy's retrieval per question")
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        queries = WORK / f"queries-{args.queries}.txt"
        result = run_engine(args.engine, Path(args.corpus), queries, int(args.threads))
        print(json.dumps(result))
        return
    t0 = time.perf_counter()
    corpus = generate(args.docs, args.queries)
    print(f"corpus: {args.docs} snippets ({corpus.stat().st_size / 2**20:.0f} MB) "
          f"in {time.perf_counter() - t0:.0f} s; {os.cpu_count()} CPUs", flush=True)
    rows = []
    for threads in args.threads.split(","):
        for engine in args.engines.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--engine", engine, "--corpus", str(corpus),
                 "--queries", str(args.queries), "--threads", threads],
                capture_output=True, text=True,
            )
            if proc.returncode != 0:
                print(f"{engine}: failed\n{proc.stderr[-2000:]}", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["threads"] = int(threads)
            rows.append(r)
            print(json.dumps(r), flush=True)
    print(f"\n| engine | threads | build s | peak RSS MB | disk MB | queries/s | "
          f"top-{K} overlap with bm25s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ov = _overlap(r["engine"], "bm25s-numba", corpus.stem) or _overlap(
            r["engine"], "bm25s", corpus.stem)
        print(f"| {r['engine']} | {r['threads']} | {r['build_s']:.1f} | {r['peak_rss_mb']:.0f} "
              f"| {r['disk_mb']:.0f} | {r['qps']:.0f} | "
              f"{'—' if ov is None else f'{100 * ov:.1f}%'} |")
    if args.medrag:
        print("\nmedrag retrieval per question (k = 32):",
              json.dumps(medrag_latency(corpus, WORK / f"queries-{args.queries}.txt")))


if __name__ == "__main__":
    main()
