"""Multilingual tasks: MedExpQA's parallel languages and cross-lingual pairing, AfriMed-QA's
breakdowns (test data only, never shipped), and the exam loaders on files in their formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.cli import app
from medq.multilingual import cross_lingual
from medq.runner import EvalSpec, evaluate
from medq.store import Store
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task
from medq.tasks._io import PACKAGE_DATA
from medq.tasks.medexpqa import cross_lingual_items
from medq.testing.scripted import ScriptedModel

LANGUAGES = ("en", "es", "fr", "it")


def test_medexpqa_four_languages_are_parallel(shared_data: Path) -> None:
    data = shared_data / "casimedicos_arg"
    tasks = {lang: load_task(f"medexpqa_{lang}", data) for lang in LANGUAGES}
    assert [len(t) for t in tasks.values()] == [117, 117, 117, 116]
    shared = cross_lingual_items(tasks)
    assert len(shared) >= 115
    first = {lang: next(q for q in t.questions if q.id == shared[0])
             for lang, t in tasks.items()}
    assert {q.gold for q in first.values()} == {"D"}
    assert first["fr"].options["A"] == "Syndrome de Wiskott-Aldrich."
    assert first["en"].stem.startswith("2-year-old boy.")
    assert all(q.metadata["language"] == lang for lang, t in tasks.items()
               for q in t.questions)
    # Italian case 84 lists two options only: left out, and named in the task's source.
    assert "casimedicos-test-084" not in {q.id for q in tasks["it"].questions}
    assert "casimedicos-test-084" in tasks["it"].source
    four = [q for q in tasks["en"].questions if len(q.options) == 4]
    assert len(four) == 61 and all("E" not in q.options for q in four)


def test_medexpqa_explained_puts_the_gold_explanation_in_context(shared_data: Path) -> None:
    plain = load_task("medexpqa_es", shared_data / "casimedicos_arg").questions[0]
    explained = load_task("medexpqa_es_explained", shared_data / "casimedicos_arg").questions[0]
    assert plain.context is None and explained.id == plain.id
    assert explained.context and explained.context.startswith("Para contestar correctamente")


def test_medexpqa_offline_names_the_hub_copy_and_data() -> None:
    with pytest.raises(DatasetUnavailableError, match=r"HiTZ/MedExpQA@f88b7c055ac9.*--data"):
        load_task("medexpqa_en")


def test_cross_lingual_pairs_runs_by_item(shared_data: Path) -> None:
    data = str(shared_data / "casimedicos_arg")
    runs = []
    with Store() as store:
        for lang, reply in (("en", "Answer: D"), ("es", "Answer: A")):
            spec = EvalSpec(task=f"medexpqa_{lang}", model="scripted/x", data=data, limit=20)
            result = evaluate(spec, store=store, model=ScriptedModel(lambda r, t=reply: t),
                              progress=False)
            runs.append(result.run_id)
        found = cross_lingual(store, runs)
    assert found.baseline == runs[0] and found.languages[runs[1]] == "es"
    (pair,) = found.comparison.pairs
    assert pair.run_a == runs[1] and pair.n_shared == 20
    gold_d = sum(q.gold == "D" for q in load_task("medexpqa_en", Path(data)).questions[:20])
    gold_a = sum(q.gold == "A" for q in load_task("medexpqa_en", Path(data)).questions[:20])
    assert pair.acc_b == gold_d / 20 and pair.acc_a == gold_a / 20


def test_afrimedqa_country_and_specialty(shared_data: Path) -> None:
    data = shared_data / "afrimedqa_sample"
    task = load_task("afrimedqa", data)
    assert len(task) == 250
    assert {q.metadata["country"] for q in task.questions} == {"NG", "GH", "KE", "MW", "ZA"}
    result = evaluate(EvalSpec(task="afrimedqa", model="scripted/x", data=str(data)),
                      model=ScriptedModel(lambda r: "Answer: B"), progress=False)
    by_country = result.summary["by_country"]
    assert sum(row["n"] for row in by_country.values()) == 250
    assert by_country["NG"]["n"] == 105
    assert by_country["NG"]["correct"] == sum(
        q.gold == "B" for q in task.questions if q.metadata["country"] == "NG")
    assert "obstetrics_and_gynecology" in result.summary["by_specialty"]


def test_afrimedqa_ships_nothing(shared_data: Path) -> None:
    with pytest.raises(DatasetUnavailableError, match="never shipped"):
        load_task("afrimedqa", sample=True)
    records = json.loads((shared_data / "afrimedqa_sample/afrimed_med_en.json").read_text())
    stems = {r["question"].strip()[:80] for r in records}
    for path in PACKAGE_DATA.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            assert not [s for s in stems if s in text], path


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def test_exam_loaders_read_their_declared_formats(tmp_path: Path) -> None:
    healthqa = _write_jsonl(tmp_path / "healthqa.jsonl", [
        {"id": "r1", "question": "Qual?", "options": {"A": "um", "B": "dois", "C": "três"},
         "answer": "B", "specialty": "Oftalmologia", "exam": "Revalida", "year": 2020}])
    (q,) = load_task("healthqa_br", healthqa).questions
    assert (q.gold, q.metadata["language"], q.metadata["specialty"]) == ("B", "pt",
                                                                       "Oftalmologia")
    persian = _write_jsonl(tmp_path / "persian_test.jsonl", [
        {"id": 7, "question": "کدام؟", "options": ["الف", "ب", "ج", "د"], "answer": 3,
         "question_en": "Which?", "options_en": ["a", "b", "c", "d"], "specialty": "Cardio"}])
    fa, en = (load_task(f"persianmedqa_{lang}", persian).questions[0] for lang in ("fa", "en"))
    assert (fa.id, fa.gold, fa.options["C"]) == ("7", "C", "ج")
    assert (en.id, en.gold, en.stem, en.metadata["language"]) == ("7", "C", "Which?", "en")
    cmexam = tmp_path / "test_with_annotations.csv"
    with cmexam.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Question", "Options", "Answer", "Explanation", "Medical Discipline",
                         "Competency", "Difficulty level"])
        writer.writerow(["哪个？", "A 肝硬化\nB 肝炎\nC 胆囊炎", "B", "...", "内科", "诊断", "3"])
        writer.writerow(["多选？", "A 一\nB 二\nC 三", "AB", "...", "内科", "诊断", "3"])
    task = load_task("cmexam", tmp_path)
    assert len(task) == 1 and task.questions[0].options["B"] == "肝炎"
    assert task.questions[0].metadata["specialty"] == "内科"


def test_kormedmcqa_reads_parquet_and_pins_the_doctor_file(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "doctor"
    folder.mkdir()
    table = pa.table({"subject": ["doctor"], "year": [2022], "period": [1], "q_number": [3],
                      "question": ["질문?"], "A": ["가"], "B": ["나"], "C": ["다"], "D": ["라"],
                      "E": ["마"], "answer": [5]})
    pq.write_table(table, folder / "test-00000-of-00001.parquet")
    (q,) = load_task("kormedmcqa_doctor", tmp_path).questions
    assert (q.gold, q.options["E"], q.metadata["year"]) == ("E", "마", 2022)
    with pytest.raises(DatasetUnavailableError, match=r"sean0042/KorMedMCQA@fe998000e976"):
        load_task("kormedmcqa_doctor")
    with pytest.raises(DatasetUnavailableError, match="no pinned Hugging Face Hub copy"):
        load_task("kormedmcqa_nurse")


def test_headqa_reads_the_original_nested_json(tmp_path: Path) -> None:
    document = {"version": "1.0", "language": "es", "exams": {"Cuaderno_2016_1_B": {
        "name": "Cuaderno_2016_1_B", "year": "2016", "category": "biology", "data": [
            {"qid": 1, "qtext": "¿Cuál?", "ra": 3, "image": "",
             "answers": [{"aid": i, "atext": t} for i, t in
                         enumerate(("uno", "dos", "tres", "cuatro"), start=1)]}]}}}
    path = tmp_path / "test_HEAD.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    (q,) = load_task("headqa_es", tmp_path).questions
    assert (q.id, q.gold, q.options["C"], q.metadata["category"]) == (
        "Cuaderno_2016_1_B-1", "C", "tres", "biology")


def test_exam_record_errors_name_the_row_and_field(tmp_path: Path) -> None:
    bad = _write_jsonl(tmp_path / "healthqa.jsonl", [
        {"id": "r1", "question": "Qual?", "options": {"A": "um", "B": "dois"}, "answer": "D"}])
    with pytest.raises(TaskDataError, match=r"healthqa.jsonl, line 1: field 'answer' is 'D'"):
        load_task("healthqa_br", bad)
    missing = _write_jsonl(tmp_path / "x_test.jsonl", [{"id": 1, "options": ["a", "b"],
                                                        "answer": 1}])
    with pytest.raises(TaskDataError, match=r"line 1: field 'question' is missing"):
        load_task("persianmedqa_fa", missing)


def test_tasks_list_shows_languages() -> None:
    out = CliRunner().invoke(app, ["tasks"])
    assert out.exit_code == 0
    rows = {line.split("│")[1].strip(): line.split("│")[4].strip()
            for line in out.stdout.splitlines() if line.count("│") == 5}
    expected = {"frenchmedmcqa": "fr", "medexpqa_es": "es", "medexpqa_it_explained": "it",
                "afrimedqa": "en", "healthqa_br": "pt", "persianmedqa_fa": "fa",
                "persianmedqa_en": "en", "cmexam": "zh", "empec": "zh",
                "kormedmcqa_doctor": "ko", "headqa_es": "es", "headqa_en": "en",
                "medqa": "en"}
    assert {k: rows.get(k) for k in expected} == expected
