"""MedRAG corpora from the Hub: the real download path, offline error, commit recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.retrieval import open_corpus
from medq.retrieval.base import RetrievalError
from medq.retrieval.hub_corpora import add_medrag_corpus

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_offline_download_says_how_to_add_a_local_copy() -> None:
    with pytest.raises(RetrievalError, match=r"medq corpus add NAME PATH/chunk"):
        add_medrag_corpus("tb", "textbooks")


def test_snapshot_is_stored_with_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = tmp_path / "datasets--MedRAG--textbooks" / "snapshots" / COMMIT
    (snapshot / "chunk").mkdir(parents=True)
    rows = [{"id": f"Anatomy_Gray_{i}", "title": "Anatomy_Gray",
             "content": f"The facial nerve, paragraph {i}.", "contents": "ignored"}
            for i in range(3)]
    (snapshot / "chunk" / "Anatomy_Gray.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    seen = {}

    def fake_snapshot_download(**kwargs: object) -> str:
        seen.update(kwargs)
        return str(snapshot)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    result = CliRunner().invoke(app, ["corpus", "add", "tb", "--hub", "textbooks"])
    assert result.exit_code == 0, result.output
    assert seen["repo_id"] == "MedRAG/textbooks" and seen["repo_type"] == "dataset"
    assert seen["allow_patterns"] == ["chunk/*.jsonl"]
    corpus = open_corpus("tb")
    assert len(corpus) == 3
    assert json.loads((corpus.path / "corpus.json").read_text())["source"] == (
        f"hub:MedRAG/textbooks@{COMMIT}")


def test_cli_needs_path_or_hub() -> None:
    result = CliRunner().invoke(app, ["corpus", "add", "tb"])
    assert result.exit_code == 2 and "PATH or --hub" in result.stderr
