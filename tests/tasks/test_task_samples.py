"""Bundled samples and the replay file: offline, small, consistent, and reproducible."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from medq.tasks import DatasetUnavailableError, describe_tasks, load_task, task_names
from medq.tasks._io import PACKAGE_DATA

SAMPLE_TASKS = [
    "medqa",
    "medqa_5opt",
    "medmcqa",
    "pubmedqa",
    "pubmedqa_noctx",
    "mmlu_medical",
    "mmlu_anatomy",
    "mmlu_clinical_knowledge",
    "mmlu_college_biology",
    "mmlu_college_medicine",
    "mmlu_medical_genetics",
    "mmlu_professional_medicine",
]
MEDAGENTS = [
    name
    for name in (
        f"medagentsbench_{s}{h}"
        for s in (
            "medbullets",
            "medmcqa",
            "medqa",
            "medqa_5options",
            "mmlu",
            "mmlu_pro",
            "pubmedqa",
        )
        for h in ("", "_hard")
    )
    if name != "medagentsbench_medqa_5options_hard"
]
NO_SAMPLE = [
    "bioasq_yn",
    "medagentsbench_medqa_5options_hard",
    "medagentsbench_afrimedqa",
    "medagentsbench_afrimedqa_hard",
]
REPLAY = PACKAGE_DATA / "replay" / "mirage_gpt-4-32k_cot.jsonl"


def test_registered_names() -> None:
    names = set(task_names())
    builtin = set(SAMPLE_TASKS) | set(MEDAGENTS) | set(NO_SAMPLE)
    assert len(builtin) == 29 and builtin <= names  # other tests may register toy tasks
    rows = {row[0]: row for row in describe_tasks()}
    assert rows["medqa"][1] == "test: 1273 USMLE questions, 4 options"
    assert rows["pubmedqa"][2] == "Jin et al., EMNLP 2019"


@pytest.mark.parametrize("name", SAMPLE_TASKS + MEDAGENTS)
def test_samples_load_offline(name: str) -> None:
    task = load_task(name, sample=True)
    assert task.source == "bundled sample"
    assert 0 < len(task) <= 50
    assert len({q.id for q in task.questions}) == len(task)
    assert task.citation


def test_sample_ids_keep_release_positions() -> None:
    assert [q.id for q in load_task("medqa", sample=True).questions][:2] == ["0000", "0001"]
    anatomy = load_task("mmlu_anatomy", sample=True)
    assert [q.id for q in anatomy.questions] == [f"anatomy-{i:03d}" for i in range(8)]
    medical = load_task("mmlu_medical", sample=True)
    assert len(medical) == 48
    ctx = load_task("pubmedqa", sample=True)
    assert all(q.context for q in ctx.questions)
    assert [q.id for q in ctx.questions] == [
        q.id for q in load_task("pubmedqa_noctx", sample=True).questions
    ]


@pytest.mark.parametrize("name", NO_SAMPLE)
def test_no_sample_is_a_clear_error(name: str) -> None:
    with pytest.raises(DatasetUnavailableError, match="no bundled sample"):
        load_task(name, sample=True)


def test_no_afrimedqa_question_ships(shared_data: Path) -> None:
    """AfriMed-QA is CC BY-NC-SA 4.0: none of its questions may be in the package, under any
    task's sample."""
    source = shared_data / "medagentsbench" / "data" / "afrimedqa" / "test.jsonl"
    if not source.exists():
        pytest.skip(f"{source} not present")
    stems = {json.loads(line)["question"].strip() for line in source.read_text().splitlines()
             if line.strip()}
    shipped = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in PACKAGE_DATA.rglob("*.jsonl"))
    assert stems and not [s for s in stems if s in shipped]


def test_replay_items_exist_in_samples() -> None:
    rows = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]
    assert {row["dataset"] for row in rows} == {
        "medqa",
        "medmcqa",
        "mmlu_medical",
        "pubmedqa_noctx",
    }
    samples = {
        name: {q.id: q for q in load_task(name, sample=True).questions}
        for name in {row["dataset"] for row in rows}
    }
    assert len(rows) == len({(row["dataset"], row["id"]) for row in rows})
    for row in rows:
        question = samples[row["dataset"]][row["id"]]
        assert row["question"] == question.stem
        assert isinstance(row["response"], str) and row["response"].strip()
    assert len(rows) == 198


def test_package_data_is_small() -> None:
    total = sum(p.stat().st_size for p in PACKAGE_DATA.rglob("*") if p.is_file())
    assert total < 2_000_000


def _builder():  # noqa: ANN202 - a module loaded by path
    spec = importlib.util.spec_from_file_location(
        "build_samples", Path(__file__).with_name("build_samples.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_samples", module)
    spec.loader.exec_module(module)
    return module


def test_samples_are_reproducible(shared_data: Path, tmp_path: Path) -> None:
    builder = _builder()
    builder.build_samples(shared_data, tmp_path)
    builder.build_replay(shared_data, tmp_path)
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert built
    for relative in built:
        assert (tmp_path / relative).read_bytes() == (PACKAGE_DATA / relative).read_bytes(), (
            relative
        )
    shipped = {
        p.relative_to(PACKAGE_DATA)
        for p in (PACKAGE_DATA / "samples").rglob("*")
        if p.is_file() and p.name != "README.md"
        # MedCalc-Bench, MEDEC, FrenchMedMCQA, VQA-RAD and MediQ samples have their own
        # builders, checked in their tests.
        and p.relative_to(PACKAGE_DATA / "samples").parts[0] not in {
            "medcalc", "medec", "frenchmedmcqa", "vqa_rad", "mediq"}
    }
    assert shipped == {p for p in built if p.parts[0] == "samples"}
