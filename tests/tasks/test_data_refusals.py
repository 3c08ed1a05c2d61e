"""Data that cannot be scored right is refused at load, in one line naming the file, the
line (or item) and the field: empty stems and options, keys given twice, golds the task's
own scorer cannot accept, empty and non-UTF-8 files, broken corpus lines."""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path

import pytest
from tests.fault_helpers import invoke, one_error_line

from medq.tasks import TaskDataError, load_task
from medq.tasks._io import SAMPLES, TaskDataWarning
from medq.testing.openai_server import FakeOpenAIServer

GOOD = {"question": "Which nerve?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
        "answer_idx": "B"}


def _lines(path: Path, *records: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records), encoding="utf-8")
    return path


def _eval_refuses(task: str, data: Path, *fragments: str) -> None:
    """`medq eval` on `data` exits 2 with one line and sends nothing to the server."""
    with FakeOpenAIServer() as server:
        code, _, err = invoke("eval", "--task", task, "--data", str(data), "--model",
                              "openai/fake", "--base-url", server.base_url)
        assert server.count == 0
    assert code == 2, err
    one_error_line(err, str(data), *fragments)


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({**GOOD, "options": {**GOOD["options"], "C": "  "}}, "line 2: option 'C' has no text"),
        ({**GOOD, "question": ""}, "line 2: field 'question' is empty"),
        ({**GOOD, "question": " \n "}, "line 2: field 'question' is empty"),
        ('{"question": "Q?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, '
         '"answer_idx": "A", "answer_idx": "C"}', "line 2: key 'answer_idx' appears twice"),
        ('{"question": "Q?", "options": {"A": "a", "A": "b", "C": "c", "D": "d"}, '
         '"answer_idx": "A"}', "line 2: key 'A' appears twice in object 'options'"),
    ],
)
def test_medqa_line_that_cannot_be_scored(tmp_path: Path, bad: object, says: str) -> None:
    path = _lines(tmp_path / "test.jsonl", GOOD, bad)
    with pytest.raises(TaskDataError, match=says):
        load_task("medqa", path)
    _eval_refuses("medqa", path, says)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_data_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "test.jsonl"
    path.write_bytes(content)
    _eval_refuses("medqa", path, "the file is empty")


def test_a_file_with_no_items(tmp_path: Path) -> None:
    path = tmp_path / "benchmark.json"
    path.write_text('{"medmcqa": {}}', encoding="utf-8")
    _eval_refuses("medmcqa", path, "task 'medmcqa' has no items to evaluate")


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = _lines(tmp_path / "test.jsonl", GOOD, GOOD)
    path.write_bytes(path.read_bytes() + json.dumps(GOOD).replace("Which", "Wh\xefch")
                     .encode("latin-1") + b"\n")
    _eval_refuses("medqa", path, "line 3", "not UTF-8 text (byte 0xef)")


def test_mirage_duplicate_keys(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "mirage" / "benchmark.json").read_text(encoding="utf-8")
    first = text.index('"answer": ')
    inner = tmp_path / "inner" / "benchmark.json"
    inner.parent.mkdir()
    inner.write_text(text[:first] + '"answer": "D", ' + text[first:], encoding="utf-8")
    section = next(iter(json.loads(text)))
    _eval_refuses("medqa", inner, "key 'answer' appears twice in object", f"{section}/")
    # The same item ID twice in a section: two different questions under one ID.
    item = text.index("{", text.index(f'"{section}"') + len(section) + 2)
    key_start = text.index('"', item)
    key = text[key_start:text.index('"', key_start + 1) + 1]
    twice = tmp_path / "twice" / "benchmark.json"
    twice.parent.mkdir()
    twice.write_text(text[:item + 1] + f'{key}: {{"question": "x", "options": {{"A": "a"}}, '
                     f'"answer": "A"}}, ' + text[item + 1:], encoding="utf-8")
    _eval_refuses("medqa", twice, f"key {key.strip(chr(34))!r} appears twice in object "
                                  f"{section!r}")


def test_pubmedqa_duplicate_keys(tmp_path: Path) -> None:
    text = (SAMPLES / "pubmedqa" / "test_set.json").read_text(encoding="utf-8")
    at = text.index('"final_decision": ')
    path = tmp_path / "test_set.json"
    path.write_text(text[:at] + '"final_decision": "no", ' + text[at:], encoding="utf-8")
    with pytest.raises(TaskDataError, match="key 'final_decision' appears twice in object"):
        load_task("pubmedqa", path)


def _medcalc(tmp_path: Path, edits: dict[int, dict[str, str]]) -> Path:
    rows = list(csv.DictReader(io.StringIO(
        (SAMPLES / "medcalc" / "test_data.csv").read_text(encoding="utf-8"))))
    for i, edit in edits.items():
        rows[i].update(edit)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "test_data.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _decimal_rows(path: Path) -> list[int]:
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    return [i for i, r in enumerate(rows) if r["Output Type"] == "decimal"]


def _swap(row: dict[str, str]) -> dict[str, str]:
    return {"Lower Limit": row["Upper Limit"], "Upper Limit": row["Lower Limit"]}


def test_medcalc_rows_whose_gold_cannot_score_are_skipped_and_counted(tmp_path: Path) -> None:
    sample = SAMPLES / "medcalc" / "test_data.csv"
    rows = list(csv.DictReader(io.StringIO(sample.read_text(encoding="utf-8"))))
    decimal = _decimal_rows(sample)
    path = _medcalc(tmp_path, {decimal[0]: _swap(rows[decimal[0]])})
    with pytest.warns(TaskDataWarning, match=r"skipped 1 of 50 rows .*line \d+: the limits "
                                             r"are swapped.*scoring the other 49"):
        task = load_task("medcalc", path)
    assert len(task) == 49 and rows[decimal[0]]["Row Number"] not in {q.id for q in task.questions}

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        code, _, err = invoke("eval", "--task", "medcalc", "--data", str(path), "--model",
                              "scripted/first", "--limit", "1")
    assert "warning: " in err and "skipped 1 of 50 rows" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ("swap", "the limits are swapped"),
        ({"Ground Truth Answer": "about five"}, "field 'Ground Truth Answer' 'about five' is "
                                                 "not a number"),
        ({"Ground Truth Answer": "1e9"}, "lies outside its own limits"),
        ({"Lower Limit": "low"}, "a limit must be numeric"),
    ],
)
def test_medcalc_file_with_many_unscorable_rows_is_refused(
    tmp_path: Path, edit: object, says: str
) -> None:
    sample = SAMPLES / "medcalc" / "test_data.csv"
    rows = list(csv.DictReader(io.StringIO(sample.read_text(encoding="utf-8"))))
    bad = _decimal_rows(sample)[:3]  # 3 of 50 rows: more than 5%, a mangled file
    path = _medcalc(tmp_path, {i: _swap(rows[i]) if edit == "swap" else edit for i in bad})
    with pytest.raises(TaskDataError, match=r"3 of 50 rows have a gold answer") as info:
        load_task("medcalc", path)
    assert says in str(info.value) and "refusing the file" in str(info.value)
    _eval_refuses("medcalc", path, "3 of 50 rows", says)


def test_official_medcalc_test_set_loads_whole(shared_data: Path) -> None:
    parquet = shared_data / "medcalc_bench" / "test-00000-of-00001.parquet"
    with warnings.catch_warnings():
        warnings.simplefilter("error", TaskDataWarning)
        task = load_task("medcalc", parquet)
    assert len(task) == 1047


def test_broken_corpus_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    good = [json.dumps({"id": str(i), "content": f"text {i}"}) for i in range(6)]
    for bad, says in (('{"id": "7", "content": "cut', "line 7: not valid JSON"),
                      ('{"id": "7", "title": "t"}', "line 7: field 'content'"),
                      ('{"id": "7", "content": "a", "content": "b"}',
                       "line 7: key 'content' appears twice"),
                      ("[1, 2]", "line 7: expected a JSON object")):
        path.write_text("\n".join([*good, bad]) + "\n", encoding="utf-8")
        code, _, err = invoke("corpus", "add", "c", str(path))
        assert code == 2, err
        one_error_line(err, f"{path}, {says}")
    path.write_bytes("\n".join(good).encode() + b"\n{\"id\": \"7\", \"content\": \"\xff\"}\n")
    code, _, err = invoke("corpus", "add", "c", str(path))
    assert code == 2
    one_error_line(err, f"{path}, line 7: not UTF-8 text (byte 0xff)")
    text = tmp_path / "notes.md"
    text.write_bytes(b"# Title\nline two\n\xfe\n")
    code, _, err = invoke("corpus", "add", "d", str(text))
    assert code == 2
    one_error_line(err, f"{text}, line 3: not UTF-8 text (byte 0xfe)")


def test_imported_predictions_with_a_key_twice(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text('{"id": "0000", "choice": "A"}\n'
                    '{"id": "0001", "choice": "A", "choice": "B"}\n', encoding="utf-8")
    code, _, err = invoke("import", str(path), "--task", "medqa", "--sample", "--model", "m")
    assert code == 2, err
    one_error_line(err, f"{path}, line 2: key 'choice' appears twice")
