"""Loading MedCalc-Bench: the v1.0 parquet and CSV, the bundled sample, clear data errors."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

import pytest

import medq.hub
from medq.hub import HubFile
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task
from medq.tasks._io import PACKAGE_DATA

SAMPLE = PACKAGE_DATA / "samples" / "medcalc" / "test_data.csv"


def test_v10_parquet(shared_data: Path) -> None:
    task = load_task("medcalc", shared_data / "medcalc_bench")
    assert len(task) == 1047
    assert len({q.metadata["calculator_id"] for q in task.questions}) == 55
    first = task.questions[0]
    assert (first.id, first.gold, dict(first.options)) == ("1", "25.238", {})
    assert first.context and first.context.startswith("An 87-year-old man")
    assert first.stem.startswith("What is the patient's Creatinine Clearance")
    assert first.metadata["category"] == first.metadata["subject"] == "lab"
    assert (first.metadata["lower_limit"], first.metadata["upper_limit"]) == ("23.9761", "26.4999")
    assert "Relevant Entities" not in first.metadata
    # Every ground truth is correct under its own row's rule (and parses).
    assert all(task.scorer(q, q.gold) for q in task.questions)
    formats = {q.metadata["answer_format"] for q in task.questions}
    assert formats == {"decimal", "integer", "date", "weeks_days"}


def test_sample_is_a_csv_of_the_release(shared_data: Path) -> None:
    full = {q.id: q for q in load_task("medcalc", shared_data / "medcalc_bench").questions}
    sample = load_task("medcalc", sample=True)
    assert len(sample) == 50 and sample.source == "bundled sample"
    assert sample.scorer is not None
    assert {q.metadata["category"] for q in sample.questions} == {
        "lab", "risk", "physical", "severity", "diagnosis", "date", "dosage"}
    for q in sample.questions:
        assert q == full[q.id] and q.metadata == full[q.id].metadata


def test_sample_is_reproducible(shared_data: Path, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = Path(__file__).with_name("build_medcalc_sample.py")
    spec = importlib.util.spec_from_file_location("build_medcalc_sample", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_medcalc_sample", module)
    spec.loader.exec_module(module)
    built = module.build(shared_data, tmp_path)
    assert built.read_bytes() == SAMPLE.read_bytes()


def test_offline_without_data_says_use_data() -> None:
    with pytest.raises(DatasetUnavailableError) as v10:
        load_task("medcalc")
    with pytest.raises(DatasetUnavailableError) as v12:
        load_task("medcalc_v1.2")  # HF_HUB_OFFLINE=1 and an empty cache (conftest)
    for error in (v10.value, v12.value):
        message = str(error)
        assert "--data PATH" in message and message.count(". ") == 0 and "\n" not in message


def test_v10_from_the_hub_at_its_pinned_revision(
    monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    asked: list[HubFile] = []

    def download(file: HubFile) -> Path:
        asked.append(file)
        return shared_data / "medcalc_bench" / "test-00000-of-00001.parquet"

    monkeypatch.setattr("medq.tasks._io.download", download)
    task = load_task("medcalc")
    assert len(task) == 1047
    assert (asked[0].repo_id, asked[0].filename) == (
        "ncbi/MedCalc-Bench-v1.0", "data/test-00000-of-00001.parquet")
    assert task.source == "hub:ncbi/MedCalc-Bench-v1.0@7b0afa2294114be4782883fa1b24e4f167d38a81"


def test_v12_from_the_hub_at_a_pinned_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[HubFile] = []

    def download(file: HubFile) -> Path:
        asked.append(file)
        return SAMPLE  # a CSV in the same columns stands in for the Hub file

    monkeypatch.setattr(medq.hub, "download", download)
    monkeypatch.setattr("medq.tasks._io.download", download)
    task = load_task("medcalc_v1.2")
    assert len(task) == 50 and task.source.startswith("hub:ncbi/MedCalc-Bench-v1.2@")
    assert len(asked[0].revision) == 40
    assert task.questions[0].metadata["source"] == "MedCalc-Bench v1.2"


def _csv(tmp_path: Path, edit: dict[str, str]) -> Path:
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_text(encoding="utf-8"), newline="")))
    rows[1].update(edit)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows[:3])
    path = tmp_path / "test_data.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"Ground Truth Answer": ""}, "field 'Ground Truth Answer' is missing"),
        ({"Output Type": "percent"}, "field 'Output Type' is 'percent'"),
        ({"Lower Limit": "low"}, "a limit"),
        ({"Row Number": "1"}, "Row Number 1 appears twice"),
    ],
)
def test_malformed_rows_name_file_line_field(
    tmp_path: Path, edit: dict[str, str], message: str
) -> None:
    path = _csv(tmp_path, edit)
    with pytest.raises(TaskDataError, match="line") as error:
        load_task("medcalc", path)
    assert str(path) in str(error.value) and message in str(error.value)
