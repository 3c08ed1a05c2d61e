"""MEDEC: loading the MS sets, reading predictions, the shared task's metrics by hand,
and medec_json end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medq.calls import ItemTally
from medq.cli import app
from medq.runner import EvalSpec, evaluate, sample_row
from medq.scoring.medec import medec_metrics, read_prediction, rouge1_f
from medq.store import Store
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task
from medq.tasks._io import PACKAGE_DATA
from medq.testing.scripted import ScriptedModel
from medq.types import Answer, GenerationRequest, Question, Status


def test_ms_test_and_validation_counts(shared_data: Path) -> None:
    test = load_task("medec", shared_data / "medec")
    val = load_task("medec_val", shared_data / "medec")
    assert (len(test), len(val)) == (597, 574)  # the test file's 328 empty rows dropped
    assert [q.gold for q in test.questions].count("1") == 311
    first = test.questions[0]
    assert first.id == "ms-test-0" and first.options == {}
    assert first.stem.splitlines()[0].startswith("0 A 29-year-old")
    assert first.metadata["error_sentence_id"] == 10
    assert first.metadata["corrected_sentence"].endswith("Schistosoma mansoni.")
    correct_text = next(q for q in test.questions if q.gold == "0")
    assert correct_text.metadata["error_sentence_id"] == -1
    assert correct_text.metadata["corrected_sentence"] == "NA"


def test_offline_without_data_says_use_data() -> None:
    with pytest.raises(DatasetUnavailableError, match="--data PATH"):
        load_task("medec")


def test_bad_sentence_id_names_file_line_field(tmp_path: Path) -> None:
    sample = PACKAGE_DATA / "samples" / "medec" / (
        "MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv")
    text = sample.read_text(encoding="utf-8")
    header, _, rest = text.partition("\n")
    path = tmp_path / "bad.csv"
    path.write_text(header + "\n" + rest.replace(",1,causalOrganism,10,", ",1,causalOrganism,99,",
                                                 1), encoding="utf-8")
    with pytest.raises(TaskDataError, match=r"bad\.csv, line \d+: field 'Error Sentence ID'"):
        load_task("medec", path)


def test_samples_are_reproducible(shared_data: Path, tmp_path: Path) -> None:
    path = Path(__file__).with_name("build_medec_sample.py")
    spec = importlib.util.spec_from_file_location("build_medec_sample", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_medec_sample", module)
    spec.loader.exec_module(module)
    for built in module.build(shared_data, tmp_path):
        shipped = PACKAGE_DATA / built.relative_to(tmp_path)
        assert built.read_bytes() == shipped.read_bytes()
    assert len(load_task("medec", sample=True)) == len(load_task("medec_val", sample=True)) == 20


@pytest.mark.parametrize(
    ("hypothesis", "reference", "expected"),
    [
        ("Start heparin now.", "Start heparin.", 0.8),  # P 2/3, R 1
        ("start heparin", "Start heparin", 0.5),  # case kept: P 1/2, R 1/2
        ("a a b", "a b", 1.0),  # unigram sets: repeats do not count
        ("Give 1.5 mg.", "Give 1 mg.", 6 / 7),  # "." splits 1.5: {Give, 1, 5, mg}, P 3/4
        ("heparin, now", "heparin now", 0.5),  # the comma stays on the word
        (".", "Start heparin.", 0.0),  # empty hypothesis (the official script would stop)
    ],
)
def test_rouge1_f_by_hand(hypothesis: str, reference: str, expected: float) -> None:
    assert rouge1_f(hypothesis, reference) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize(
    ("text", "flag", "sentence", "correction"),
    [
        ('{"error_flag": 1, "error_sentence_id": 3, "corrected_sentence": "Give  \\"x\\"."}',
         1, 3, 'Give "x".'),
        ('```json\n{"error_flag": "0", "error_sentence_id": 4, "corrected_sentence": "y"}\n```',
         0, -1, "NA"),
        ('{"error_flag": true, "error_sentence_id": "7"}', 1, 7, "NA"),
    ],
)
def test_read_prediction(text: str, flag: int, sentence: int, correction: str) -> None:
    prediction = read_prediction(text)
    assert (prediction.flag, prediction.sentence_id, prediction.correction) == (
        flag, sentence, correction)


@pytest.mark.parametrize(
    "text", ["CORRECT", '{"error_flag": 2}', '{"error_flag": 1, "error_sentence_id": "x"}',
             '{"error_flag": 1}'],
)
def test_unreadable_prediction_is_invalid(text: str) -> None:
    assert read_prediction(text).flag is None


def _item(i: int, flag: str, sentence: int, corrected: str, error_type: str) -> Question:
    meta = {"error_flag": flag, "error_sentence_id": sentence, "corrected_sentence": corrected,
            "error_type": error_type}
    return Question(f"t{i}", "0 text", {}, flag, metadata=meta)


def _row(question: Question, prediction: dict | None, status: Status = Status.OK) -> dict:
    choice = str(prediction["flag"]) if prediction else None
    answer = Answer(choice, status if prediction or status is Status.ERROR else Status.INVALID,
                    details={"medec": prediction} if prediction else {})
    return sample_row(question, 0, answer, ItemTally("run", question.id))


def test_metrics_by_hand() -> None:
    rows = [
        # right flag, right sentence, ROUGE-1 F 0.8
        _row(_item(0, "1", 2, "Start heparin.", "treatment"),
             {"flag": 1, "sentence_id": 2, "correction": "Start heparin now."}),
        # right flag, wrong sentence, correction scored anyway: ROUGE-1 F 1.0
        _row(_item(1, "1", 2, "Start heparin.", "treatment"),
             {"flag": 1, "sentence_id": 5, "correction": "Start heparin."}),
        # missed error: NA where a correction was due scores 0
        _row(_item(2, "1", 4, "Give aspirin.", "diagnosis"),
             {"flag": 0, "sentence_id": -1, "correction": "NA"}),
        # correct text, said correct: NA = NA scores 1
        _row(_item(3, "0", -1, "NA", "NA"), {"flag": 0, "sentence_id": -1, "correction": "NA"}),
        # correct text, flagged: a correction where none was due scores 0
        _row(_item(4, "0", -1, "NA", "NA"),
             {"flag": 1, "sentence_id": 1, "correction": "Anything."}),
        # invalid reply: wrong everywhere, but counted
        _row(_item(5, "1", 1, "Give aspirin.", "diagnosis"), None),
        # model call failed: left out
        _row(_item(6, "1", 1, "Give aspirin.", "diagnosis"), None, Status.ERROR),
    ]
    metrics = medec_metrics(rows)
    assert metrics is not None
    assert metrics["n"] == 6 and metrics["errors"] == 1
    assert metrics["flag_accuracy"] == pytest.approx(3 / 6)  # items 0, 1, 3
    assert metrics["sentence_accuracy"] == pytest.approx(2 / 6)  # items 0, 3
    assert metrics["rouge1_composite"] == pytest.approx((0.8 + 1.0 + 1) / 6, abs=1e-7)
    assert metrics["rouge1_on_corrections"] == pytest.approx(0.9, abs=1e-7)
    assert metrics["correction_pairs"] == 2
    treatment = metrics["by_error_type"]["treatment"]
    assert (treatment["n"], treatment["flag_accuracy"], treatment["sentence_accuracy"]) == (
        2, 1.0, 0.5)
    assert set(metrics["by_error_type"]) == {"NA", "diagnosis", "treatment"}
    assert "BERTScore" in metrics["note"]
    assert medec_metrics([]) is None


def test_medec_json_end_to_end_and_show() -> None:
    task = load_task("medec", sample=True)
    by_stem = {q.stem: q for q in task.questions}

    def respond(request: GenerationRequest) -> str:
        question = next(q for stem, q in by_stem.items() if stem in request.messages[1].content)
        meta = question.metadata
        if question.gold == "0":
            return '{"error_flag": 0, "error_sentence_id": -1, "corrected_sentence": "NA"}'
        return json.dumps({"error_flag": 1, "error_sentence_id": meta["error_sentence_id"],
                           "corrected_sentence": meta["corrected_sentence"]})

    with Store() as store:
        result = evaluate(EvalSpec(task="medec", model="scripted/test", strategy="medec_json",
                                   sample=True), store=store, model=ScriptedModel(respond),
                          progress=False)
    summary = result.summary
    assert summary["accuracy"] == 1.0
    assert summary["medec"]["sentence_accuracy"] == 1.0
    assert summary["medec"]["rouge1_composite"] == pytest.approx(1.0, abs=1e-6)
    shown = CliRunner().invoke(app, ["show", result.run_id], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "MEDEC: error flag 100.0%, error sentence 100.0%" in shown.stdout
