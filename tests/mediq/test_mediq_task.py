"""The MediQ tasks: the full releases, the bundled sample, and malformed records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from medq.interactive.case import case_of
from medq.strategies._shared.spec import StrategySpecError
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task
from medq.tasks._io import PACKAGE_DATA


def test_full_releases_load_every_record(shared_data: Path) -> None:
    dev = load_task("imedqa", shared_data / "mediq")
    craft = load_task("icraftmd", shared_data / "mediq" / "all_craft_md.jsonl")
    assert (len(dev), len(craft)) == (1272, 140)
    first = dev.questions[0]
    assert first.id == "0" and first.gold == "C" and first.options["C"] == "Ceftriaxone"
    case = case_of(first)
    assert case.initial == ("A 21-year-old sexually active male complains of fever, pain "
                            "during urination, and inflammation and pain in the right knee.")
    assert len(case.sentences) == 3 and first.context == case.paragraph
    assert case.facts is not None and case.facts[0] == "Patient is a 21-year-old male."
    assert first.metadata["specialty"] == "Urology"
    # Every fact of the release is kept, only its list numbering dropped.
    raw = [json.loads(line) for line in
           (shared_data / "mediq" / "all_dev_good.jsonl").read_text().splitlines()]
    assert sum(len(r["facts"]) for r in raw) == sum(len(case_of(q).facts or ())
                                                   for q in dev.questions)
    assert all(not f[0].isdigit() or ". " not in f[:4] for q in dev.questions
               for f in case_of(q).facts or ())
    # Three dev records have no context: they start with no information at all.
    empty = [q for q in dev.questions if not case_of(q).sentences]
    assert [q.id for q in empty] == ["224", "298", "779"]
    assert all(case_of(q).initial == "" and q.context is None for q in empty)


def test_initial_info_field_wins_and_string_context_is_split(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    rows = [
        {"id": 7, "question": "Diagnosis?", "context": ["First.", "Second."],
         "initial_info": "A man comes in.", "options": {"A": "x", "B": "y"},
         "answer_idx": "B"},
        {"id": 8, "question": "Diagnosis?", "context": "She is 30. She has a rash. It itches",
         "options": {"A": "x", "B": "y"}, "answer_idx": "A"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    task = load_task("imedqa", path)
    first, second = (case_of(q) for q in task.questions)
    assert first.initial == "A man comes in." and first.facts is None
    assert second.sentences == ("She is 30.", "She has a rash.", "It itches")
    assert second.initial == "She is 30."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"context": 3}, r"line 1: field 'context' must be a list of strings, not int"),
        ({"facts": "one"}, r"line 1: field 'facts' must be a list, not str"),
        ({"answer_idx": "E"}, r"line 1: field 'answer_idx' is 'E', not one of A, B, C, D"),
        ({"id": None}, r"line 1: field 'id' must be an integer or a string"),
    ],
)
def test_malformed_records_name_file_line_and_field(
    shared_data: Path, tmp_path: Path, change: dict, message: str
) -> None:
    lines = (shared_data / "mediq" / "all_dev_good.jsonl").read_text().splitlines()
    record = json.loads(lines[0])
    record.update(change)
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(TaskDataError, match=r"bad\.jsonl, " + message):
        load_task("imedqa", path)


def test_without_data_the_error_says_how_to_point_at_it() -> None:
    with pytest.raises(DatasetUnavailableError, match="--data PATH"):
        load_task("icraftmd")


def test_other_items_are_not_interactive_cases() -> None:
    with pytest.raises(StrategySpecError, match="imedqa and icraftmd"):
        case_of(load_task("medqa", sample=True).questions[0])


def test_samples_are_reproducible(shared_data: Path, tmp_path: Path) -> None:
    path = Path(__file__).with_name("build_mediq_sample.py")
    spec = importlib.util.spec_from_file_location("build_mediq_sample", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_mediq_sample", module)
    spec.loader.exec_module(module)
    for built in module.build(shared_data, tmp_path):
        shipped = PACKAGE_DATA / built.relative_to(tmp_path)
        assert built.read_bytes() == shipped.read_bytes()
    dev, craft = load_task("imedqa", sample=True), load_task("icraftmd", sample=True)
    assert (len(dev), len(craft)) == (20, 20) and dev.source == "bundled sample"
