"""Every task against the real releases in ../shared/data: sizes, golds, and MIRAGE agreement."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from medq.tasks import load_task
from medq.tasks.mmlu_medical import SUBJECTS
from medq.tasks.pubmedqa import official_test_ids
from medq.types import Question


def _core(q: Question) -> tuple:
    return (q.id, q.stem, dict(q.options), q.gold, q.context)


@cache
def _read_mirage(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def mirage(shared_data: Path) -> dict:
    return _read_mirage(shared_data / "mirage" / "benchmark.json")


def _same_as_mirage(questions: tuple[Question, ...], section: dict) -> None:
    assert [q.id for q in questions] == list(section)
    for q in questions:
        item = section[q.id]
        assert (q.stem, dict(q.options), q.gold) == (
            item["question"],
            item["options"],
            item["answer"],
        ), q.id


def test_medqa_four_options(shared_data: Path, mirage: dict) -> None:
    task = load_task("medqa", shared_data / "medqa_usmle")
    assert (task.name, task.split, len(task)) == ("medqa", "test", 1273)
    assert task.source.endswith("US/4_options/phrases_no_exclude_test.jsonl")
    assert Counter(q.gold for q in task.questions) == {"A": 353, "B": 309, "C": 346, "D": 265}
    assert Counter(q.metadata["exam_step"] for q in task.questions) == {
        "step1": 679,
        "step2&3": 594,
    }
    assert task.questions[0].id == "0000" and task.questions[-1].id == "1272"
    assert all(len(q.options) == 4 for q in task.questions)
    assert task.questions[0].metadata["language"] == "en"
    _same_as_mirage(task.questions, mirage["medqa"])


def test_medqa_five_options(shared_data: Path) -> None:
    task = load_task("medqa_5opt", shared_data / "medqa_usmle")
    four = load_task("medqa", shared_data / "medqa_usmle")
    assert len(task) == 1273
    assert all(len(q.options) == 5 for q in task.questions)
    assert Counter(q.gold for q in task.questions) == {
        "A": 273,
        "B": 277,
        "C": 252,
        "D": 269,
        "E": 202,
    }
    # Same line, same question, same correct answer text in both versions.
    for q5, q4 in zip(task.questions, four.questions, strict=True):
        assert (q5.id, q5.stem) == (q4.id, q4.stem)
        assert q5.options[q5.gold] == q4.options[q4.gold]


def test_medmcqa(shared_data: Path, mirage: dict) -> None:
    task = load_task("medmcqa", shared_data / "mirage" / "rawdata" / "medmcqa" / "data")
    assert (task.split, len(task)) == ("dev", 4183)
    assert Counter(q.gold for q in task.questions) == {"A": 1348, "B": 1085, "C": 925, "D": 825}
    first = task.questions[0]
    assert first.id == "45258d3d-b974-44dd-a161-c3fccbdadd88"
    assert first.metadata["subject"] == "Physiology" and first.metadata["topic"] is None
    assert len({q.metadata["subject"] for q in task.questions}) == 21
    _same_as_mirage(task.questions, mirage["medmcqa"])


@pytest.mark.parametrize("name", ["pubmedqa", "pubmedqa_noctx"])
@pytest.mark.parametrize("source", ["test_set.json", "ori_pqal.json", "."])
def test_pubmedqa_official_split(shared_data: Path, mirage: dict, name: str, source: str) -> None:
    task = load_task(name, shared_data / "pubmedqa" / source)
    ids = [q.id for q in task.questions]
    assert ids == list(official_test_ids())
    truth = json.loads((shared_data / "pubmedqa" / "test_ground_truth.json").read_text())
    assert ids == list(truth)
    assert {q.id: q.options[q.gold] for q in task.questions} == truth
    assert Counter(truth.values()) == {"yes": 276, "no": 169, "maybe": 55}
    assert all(dict(q.options) == {"A": "yes", "B": "no", "C": "maybe"} for q in task.questions)
    if name == "pubmedqa":
        assert all(q.context for q in task.questions)
    else:
        assert all(q.context is None for q in task.questions)
    _same_as_mirage(task.questions, mirage["pubmedqa"])


def test_pubmedqa_split_is_not_positional(shared_data: Path) -> None:
    """Guard: the test split is the shipped ID list, not a slice of ori_pqal.json."""
    ori = json.loads((shared_data / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    ordered = list(ori)
    assert len(ordered) == 1000
    ids = set(official_test_ids())
    assert len(ids) == 500
    assert ids != set(ordered[:500]) and ids != set(ordered[500:])
    assert ids <= set(ordered)


def test_mmlu_medical(shared_data: Path, mirage: dict) -> None:
    folder = shared_data / "mirage" / "rawdata" / "mmlu" / "data"
    task = load_task("mmlu_medical", folder)
    assert len(task) == 1089 == sum(SUBJECTS.values())
    assert Counter(q.gold for q in task.questions) == {"A": 235, "B": 254, "C": 248, "D": 352}
    assert Counter(q.metadata["subject"] for q in task.questions) == SUBJECTS
    _same_as_mirage(task.questions, mirage["mmlu"])


@pytest.mark.parametrize("subject", list(SUBJECTS))
def test_mmlu_subjects(shared_data: Path, mirage: dict, subject: str) -> None:
    folder = shared_data / "mirage" / "rawdata" / "mmlu" / "data" / "test"
    task = load_task(f"mmlu_{subject}", folder)
    assert len(task) == SUBJECTS[subject]
    assert task.questions[0].id == f"{subject}-000"
    single = load_task(f"mmlu_{subject}", folder / f"{subject}_test.csv")
    assert single.questions == task.questions
    via_mirage = load_task(f"mmlu_{subject}", shared_data / "mirage" / "benchmark.json")
    assert [_core(q) for q in via_mirage.questions] == [_core(q) for q in task.questions]


def test_bioasq_yn(shared_data: Path, mirage: dict) -> None:
    task = load_task("bioasq_yn", shared_data / "mirage")
    assert len(task) == 618
    assert Counter(q.gold for q in task.questions) == {"A": 395, "B": 223}
    assert all(dict(q.options) == {"A": "yes", "B": "no"} for q in task.questions)
    assert task.questions[0].metadata["pmids"] == ("34687634",)
    _same_as_mirage(task.questions, mirage["bioasq"])


@pytest.mark.parametrize(
    ("name", "release"),
    [
        ("medqa", "medqa_usmle"),
        ("medmcqa", "mirage/rawdata/medmcqa/data/dev.json"),
        ("pubmedqa_noctx", "pubmedqa/test_set.json"),
        ("mmlu_medical", "mirage/rawdata/mmlu/data/test"),
    ],
)
def test_benchmark_json_gives_the_same_questions(
    shared_data: Path, name: str, release: str
) -> None:
    original = load_task(name, shared_data / release)
    via_mirage = load_task(name, shared_data / "mirage" / "benchmark.json")
    assert via_mirage.source.endswith("benchmark.json")
    assert [_core(q) for q in via_mirage.questions] == [_core(q) for q in original.questions]
    for a, b in zip(via_mirage.questions, original.questions, strict=True):
        assert dict(a.metadata).items() <= dict(b.metadata).items()


def _line_count(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


@pytest.mark.parametrize(
    ("source", "folder", "n_test", "n_hard"),
    [
        ("afrimedqa", "afrimedqa", 174, 32),
        ("medbullets", "medbullets", 308, 89),
        ("medmcqa", "medmcqa", 2816, 100),
        ("medqa", "medqa", 1273, 100),
        ("medqa_5options", "medqa_5options", 1273, 357),
        ("mmlu", "mmlu", 1089, 73),
        ("mmlu_pro", "mmlu-pro", 818, 100),
        ("pubmedqa", "pubmedqa", 500, 100),
    ],
)
def test_medagentsbench(
    shared_data: Path, source: str, folder: str, n_test: int, n_hard: int
) -> None:
    data = shared_data / "medagentsbench" / "data"
    full = load_task(f"medagentsbench_{source}", data)
    hard = load_task(f"medagentsbench_{source}_hard", data)
    assert (len(full), len(hard)) == (n_test, n_hard)
    assert len(full) == _line_count(data / folder / "test.jsonl")
    assert len(hard) == _line_count(data / folder / "test_hard.jsonl")
    assert (full.split, hard.split) == ("test", "test_hard")
    assert len({q.id for q in full.questions}) == n_test
    full_ids = {q.id for q in full.questions}
    assert {q.id for q in hard.questions} <= full_ids
    assert all(q.metadata["difficulty"] == "hard" for q in hard.questions)
    by_id = {q.id: q for q in full.questions}
    for q in hard.questions:
        assert _core(q)[1:4] == _core(by_id[q.id])[1:4]


def test_medagentsbench_medqa_matches_medqa(shared_data: Path) -> None:
    mab = load_task("medagentsbench_medqa", shared_data / "medagentsbench" / "data")
    medqa = load_task("medqa", shared_data / "medqa_usmle")
    assert [(int(q.id), q.stem, q.gold) for q in mab.questions] == [
        (int(q.id), q.stem, q.gold) for q in medqa.questions
    ]
    five = load_task("medagentsbench_medqa_5options", shared_data / "medagentsbench" / "data")
    medqa5 = load_task("medqa_5opt", shared_data / "medqa_usmle")
    assert [int(q.id) for q in five.questions] == [int(q.id) for q in medqa5.questions]
