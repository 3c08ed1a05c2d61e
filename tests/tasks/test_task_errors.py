"""Malformed files and unavailable data fail with one clear message naming where and what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medq.registry import UnknownNameError
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task

GOOD_MEDQA = {
    "question": "Which nerve?",
    "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
    "answer_idx": "B",
    "meta_info": "step1",
}


def _jsonl(path: Path, records: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    task = load_task("medqa", _jsonl(tmp_path / "test.jsonl", [GOOD_MEDQA, GOOD_MEDQA]))
    assert [q.id for q in task.questions] == ["0000", "0001"]
    assert task.questions[0].metadata["exam_step"] == "step1"
    assert task.source == str(tmp_path / "test.jsonl")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", r"line 3: not valid JSON"),
        (
            {k: v for k, v in GOOD_MEDQA.items() if k != "options"},
            r"line 3: field 'options' is missing",
        ),
        ({**GOOD_MEDQA, "options": {}}, r"line 3: field 'options' is empty"),
        (
            {**GOOD_MEDQA, "answer_idx": "E"},
            r"line 3: field 'answer_idx' is 'E', not one of A, B, C, D",
        ),
        ({**GOOD_MEDQA, "question": 7}, r"line 3: field 'question' must be a string, not int"),
        ([1, 2], r"line 3: expected a JSON object"),
    ],
)
def test_malformed_medqa_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _jsonl(tmp_path / "test.jsonl", [GOOD_MEDQA, "", bad])
    with pytest.raises(TaskDataError, match=message) as info:
        load_task("medqa", path)
    assert str(info.value).startswith(str(path))


def test_wrong_option_count_is_reported(tmp_path: Path) -> None:
    five = {**GOOD_MEDQA, "options": {**GOOD_MEDQA["options"], "E": "e"}}
    path = _jsonl(tmp_path / "test.jsonl", [five])
    with pytest.raises(TaskDataError, match="has 5 options; task 'medqa' expects 4"):
        load_task("medqa", path)


def test_malformed_medmcqa(tmp_path: Path) -> None:
    good = {
        "id": "x1",
        "question": "q",
        "opa": "a",
        "opb": "b",
        "opc": "c",
        "opd": "d",
        "cop": 2,
        "subject_name": "Anatomy",
        "topic_name": None,
    }
    path = _jsonl(tmp_path / "dev.json", [good, {**good, "cop": 5}])
    with pytest.raises(TaskDataError, match=r"dev.json, line 2: field 'cop' is 5"):
        load_task("medmcqa", path)
    path = _jsonl(tmp_path / "dev.json", [{k: v for k, v in good.items() if k != "opc"}])
    with pytest.raises(TaskDataError, match=r"line 1: field 'opc' is missing"):
        load_task("medmcqa", path)
    task = load_task("medmcqa", _jsonl(tmp_path / "dev.json", [good]))
    assert task.questions[0].gold == "B" and task.questions[0].metadata["subject"] == "Anatomy"


def test_malformed_mmlu_csv(tmp_path: Path) -> None:
    path = tmp_path / "anatomy_test.csv"
    path.write_text('"Multi\nline?",a,b,c,d,A\nShort row,a,b\n', encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"anatomy_test.csv, line 3: field 'C' is missing"):
        load_task("mmlu_anatomy", path)
    path.write_text("Q?,a,b,c,d,F\n", encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"line 1: field 'answer' is 'F'"):
        load_task("mmlu_anatomy", path)


def test_malformed_pubmedqa(tmp_path: Path, shared_data: Path) -> None:
    ori = json.loads((shared_data / "pubmedqa" / "test_set.json").read_text(encoding="utf-8"))
    pmid = next(iter(ori))
    ori[pmid]["final_decision"] = "perhaps"
    path = tmp_path / "test_set.json"
    path.write_text(json.dumps(ori), encoding="utf-8")
    with pytest.raises(TaskDataError, match=rf"item '{pmid}': field 'final_decision'"):
        load_task("pubmedqa", path)
    del ori[pmid]
    path.write_text(json.dumps(ori), encoding="utf-8")
    with pytest.raises(TaskDataError, match="1 of the 500 official test PMIDs are missing"):
        load_task("pubmedqa", path)


def test_pubmedqa_with_context_refuses_benchmark_json(shared_data: Path) -> None:
    with pytest.raises(TaskDataError, match="no abstracts"):
        load_task("pubmedqa", shared_data / "mirage" / "benchmark.json")


def test_medagentsbench_without_realidx(tmp_path: Path) -> None:
    record = {"question": "q", "options": {"A": "a", "B": "b"}, "answer_idx": "A"}
    path = _jsonl(tmp_path / "test_hard.jsonl", [record])
    with pytest.raises(TaskDataError, match=r"line 1: field 'realidx' is missing"):
        load_task("medagentsbench_medqa_5options_hard", path)


@pytest.mark.parametrize(
    ("name", "expects"),
    [
        ("medqa", "phrases_no_exclude_test.jsonl"),
        ("medmcqa", "dev.json"),
        ("pubmedqa", "test_set.json or ori_pqal.json"),
        ("pubmedqa_noctx", "benchmark.json"),
        ("mmlu_medical", "_test.csv"),
        ("mmlu_anatomy", "_test.csv"),
    ],
)
def test_offline_hub_load_is_one_clear_sentence(name: str, expects: str) -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        load_task(name)
    message = str(info.value)
    assert f"Task {name!r}" in message and "--data PATH" in message and expects in message
    assert "Hugging Face Hub" in message and message.count(". ") == 0 and message.endswith(".")


@pytest.mark.parametrize("name", ["medqa_5opt", "bioasq_yn", "medagentsbench_medbullets"])
def test_tasks_without_hub_copy_ask_for_data(name: str) -> None:
    expected = r"no pinned Hugging Face Hub copy; pass --data PATH"
    with pytest.raises(DatasetUnavailableError, match=expected):
        load_task(name)


def test_missing_data_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        load_task("medqa", tmp_path / "nowhere")
    with pytest.raises(DatasetUnavailableError, match="holds no file task 'medmcqa' can read"):
        load_task("medmcqa", tmp_path)


def test_unknown_task() -> None:
    with pytest.raises(UnknownNameError, match="unknown task 'medqa_typo'"):
        load_task("medqa_typo")


def test_hub_cache_lives_under_medq_home(medq_home: Path) -> None:
    from medq.hub import cache_dir, hub_offline

    assert cache_dir() == medq_home / "cache"
    assert hub_offline()
