"""The Hub path of each loader, with the download replaced by local files (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

import medq.hub
from medq.hub import HubFile
from medq.tasks import load_task


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> list[HubFile]:
    asked: list[HubFile] = []

    def download(file: HubFile) -> Path:
        asked.append(file)
        return files[file.filename]

    monkeypatch.setattr(medq.hub, "download", download)
    monkeypatch.setattr("medq.tasks._io.download", download)
    return asked


def test_medqa_from_the_hub(monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    release = shared_data / "medqa_usmle" / "US" / "4_options" / "phrases_no_exclude_test.jsonl"
    asked = _serve(monkeypatch, {"phrases_no_exclude_test.jsonl": release})
    task = load_task("medqa")
    assert len(task) == 1273
    assert (
        task.source == "hub:GBaker/MedQA-USMLE-4-options@0fb93dd23a7339b6dcd27e241cb9b5eca62d4d18"
    )
    assert [f.repo_id for f in asked] == ["GBaker/MedQA-USMLE-4-options"]
    assert len(asked[0].revision) == 40


def test_pubmedqa_and_medmcqa_from_the_hub(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    _serve(
        monkeypatch,
        {
            "test_set.json": shared_data / "pubmedqa" / "test_set.json",
            "dev.json": shared_data / "mirage" / "rawdata" / "medmcqa" / "data" / "dev.json",
        },
    )
    assert len(load_task("pubmedqa")) == 500
    assert load_task("pubmedqa_noctx").source.startswith("hub:tan9/pubmedQA@")
    assert len(load_task("medmcqa")) == 4183


def test_mmlu_from_hub_parquet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "mmlu-test.parquet"
    table = pa.table(
        {
            "question": ["Q1?", "Q2?"],
            "subject": ["anatomy", "anatomy"],
            "choices": [["a", "b", "c", "d"], ["e", "f", "g", "h"]],
            "answer": [2, 0],
        }
    )
    pq.write_table(table, path)
    asked = _serve(monkeypatch, {"anatomy/mmlu-test.parquet": path})
    task = load_task("mmlu_anatomy")
    assert [(q.id, q.stem, q.gold, q.options["A"]) for q in task.questions] == [
        ("anatomy-000", "Q1?", "C", "a"),
        ("anatomy-001", "Q2?", "A", "e"),
    ]
    assert asked[0].repo_id == "cais/mmlu" and task.source.startswith("hub:cais/mmlu@")
