"""Visual QA scoring: closed answers read strictly (each peer bug as a regression test),
open answers matched three ways, pairs scored as units; the VQA loaders on their formats."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from medq.runner import EvalSpec, evaluate, rescore, score
from medq.scoring.paired import pair_metrics
from medq.scoring.readings import read
from medq.scoring.vqa import (
    closed_options,
    normalize_answer,
    short_answer,
    token_f1,
    token_recall,
    vqa_metrics,
    vqa_score,
)
from medq.store import Store
from medq.tasks import DatasetUnavailableError, TaskDataError, load_task
from medq.tasks._vqa import vqa_question
from medq.tasks.probmed import pair_key
from medq.testing.scripted import ScriptedModel
from medq.types import Completion, Generation, Image, Status

pytest.importorskip("PIL")


def _png(shade: int = 0) -> bytes:
    from PIL import Image as PILImage

    out = io.BytesIO()
    PILImage.new("RGB", (4, 4), (shade, shade, shade)).save(out, format="PNG")
    return out.getvalue()


IMAGE = Image.from_bytes(_png())


def item(question: str, gold: str, kind: str = "closed", **meta: object):  # noqa: ANN201
    return vqa_question(Path("t.json"), "item 1", id="q", question=question, answer=gold,
                        answer_type=kind, images=(IMAGE,), metadata=meta)


def judged(question, reply: str) -> tuple[Status, int | None]:  # noqa: ANN001
    answer = short_answer(Completion((Generation(reply),)), question)
    return answer.status, score(question, answer, vqa_score)


def test_no_it_is_not_against_yes_is_wrong() -> None:
    assert judged(item("Is there a fracture?", "yes"), "No, it is not.") == (Status.OK, 0)
    assert judged(item("Is there a fracture?", "Yes"), "Yes.") == (Status.OK, 1)
    assert judged(item("Is there a fracture?", "no"), "Answer: no") == (Status.OK, 1)


def test_normal_against_no_is_invalid() -> None:
    # ProbMed's scorer counts any reply containing "No" (here "Normal") as a correct "no".
    status, correct = judged(item("Is there a mass?", "no"), "Normal chest radiograph.")
    assert (status, correct) == (Status.INVALID, None)
    for reply in ("There is no mass.", "Not sure", "", "<think>no"):
        assert judged(item("Is there a mass?", "no"), reply)[0] is Status.INVALID, reply


def _row(question, reply: str, item_id: str) -> dict:  # noqa: ANN001
    answer = short_answer(Completion((Generation(reply),)), question)
    return {"item_id": item_id, "status": answer.status.value, "choice": answer.choice,
            "gold": question.gold, "correct": score(question, answer, vqa_score),
            "truncated": 0, "details": {"metadata": dict(question.metadata)}}


def test_wrong_and_invalid_closed_answers_stay_in_the_denominator() -> None:
    # LLaVA-Med drops a wrong yes/no reply that does not contain the gold from the
    # denominator; here every closed item counts, right, wrong or invalid.
    rows = [_row(item("Is it?", "yes"), "Yes", "1"),
            _row(item("Is it?", "yes"), "No, it is not", "2"),
            _row(item("Is it?", "no"), "Normal", "3")]
    found = vqa_metrics(rows)
    assert found is not None
    assert (found["closed_n"], found["closed_correct"], found["closed_invalid"]) == (3, 1, 1)
    assert found["closed_accuracy"] == pytest.approx(1 / 3)


def test_counts_come_from_every_stored_result() -> None:
    # MedEvalKit resets its VQA-RAD/PathVQA counters and never restores them: here every
    # call recomputes from all results, whatever their order.
    rows = [_row(item("Is it?", "yes"), "yes", "1"),
            _row(item("Where?", "left lung", "open"), "left lung", "2"),
            _row(item("Is it?", "no"), "yes", "3"),
            _row(item("Where?", "right lobe", "open"), "the left lobe", "4")]
    first = vqa_metrics(rows)
    assert first == vqa_metrics(list(reversed(rows))) == vqa_metrics(rows)
    assert first is not None and first["closed_n"] + first["open_n"] == 4
    assert (first["closed_accuracy"], first["open_exact_match"]) == (0.5, 0.5)
    assert first["open_recall"] == pytest.approx((1 + 0.5) / 2)
    assert first["open_f1"] == pytest.approx((1 + 0.5) / 2)


def test_open_answers_by_hand() -> None:
    assert normalize_answer("The Left lung.") == "left lung"
    assert normalize_answer("Two lesions") == "2 lesions"
    assert token_recall("left upper lobe", "left lobe") == 1.0
    assert token_f1("left upper lobe", "left lobe") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert token_recall(None, "left lobe") == 0.0 and token_f1("", "left lobe") == 0.0
    question = item("Where is the lesion?", "Left lung", "open")
    assert judged(question, "Answer: the left lung.") == (Status.OK, 1)
    assert judged(question, "In the left lung") == (Status.OK, 0)
    assert judged(question, "")[0] is Status.INVALID


def test_either_or_closed_questions() -> None:
    assert closed_options("Is this an MRI or a CT scan?", "MRI") == ["mri", "ct"]
    assert closed_options("Are pleural opacities located on the left, right, or both sides "
                          "of the lung?", "Both") == ["left", "right", "both"]
    assert closed_options("Are there multiple or just 1 metastatic focus?", "one") == [
        "multiple", "1"]
    side = item("Is the gastric bubble shown on the left or right side of the patient?",
                "Right side")
    assert side.metadata["gold_option"] == "right"
    assert judged(side, "Right.") == (Status.OK, 1)
    assert judged(side, "It is on the left side") == (Status.OK, 0)
    assert judged(side, "Left or right, hard to say")[0] is Status.INVALID
    assert judged(item("Is this image normal or abnormal?", "Abnormal"), "abnormal") == (
        Status.OK, 1)


def test_vqa_rad_split_and_options(shared_data: Path) -> None:
    task = load_task("vqa_rad", shared_data / "vqa_rad")
    assert len(task) == 451 and len({q.images[0].sha256 for q in task.questions}) == 203
    kinds = [q.metadata["answer_type"] for q in task.questions]
    assert (kinds.count("closed"), kinds.count("open")) == (272, 179)
    for q in task.questions:
        if q.metadata["answer_type"] == "closed":
            assert q.metadata["gold_option"] in q.metadata["closed_options"], q.stem


def _pair_rows(pairs: list[tuple[str, str, str, str]]) -> list[dict]:
    """(gold 1, reply 1, gold 2, reply 2) per pair -> stored-like rows ('?' = invalid)."""
    rows = []
    for p, (g1, r1, g2, r2) in enumerate(pairs):
        for k, (gold, reply) in enumerate(((g1, r1), (g2, r2)), start=1):
            valid = reply != "?"
            rows.append({"item_id": f"{p}-{k}", "status": "ok" if valid else "invalid",
                         "choice": reply if valid else None, "gold": gold,
                         "correct": int(reply == gold) if valid else None,
                         "details": {"metadata": {"pair": str(p)}}})
    return rows


def test_mediconfusion_set_accuracy_and_confusion_by_hand() -> None:
    rows = _pair_rows([
        ("A", "A", "B", "B"),  # both right: counts for set accuracy, not confused
        ("A", "A", "B", "A"),  # same option twice: confused, not right
        ("B", "?", "A", "A"),  # an invalid answer: neither right nor confused
    ])
    found = pair_metrics(rows)
    assert found is not None
    assert (found["pairs"], found["pairs_invalid"]) == (3, 1)
    assert found["set_accuracy"] == pytest.approx(1 / 3)
    assert found["confusion"] == pytest.approx(1 / 3)
    rows[0]["status"] = "error"
    assert pair_metrics(rows)["pairs_excluded"] == 1  # type: ignore[index]


def test_probmed_pairs_and_strict_no() -> None:
    assert pair_key("entity_gt_2") == pair_key("entity_hallu_2") == "entity_2"
    assert pair_key("abnormality") == "abnormality"
    truth = item("Is there pneumonia?", "yes", pair="7:entity_2")
    probe = item("Is there a fracture?", "no", pair="7:entity_2")
    rows = [_row(truth, "Yes", "7:entity_gt_2"), _row(probe, "Normal findings.", "7:h")]
    found = pair_metrics(rows)
    assert found is not None and found["set_accuracy"] == 0.0 and found["pairs_invalid"] == 1


def test_short_answer_reading_replays(tmp_path: Path) -> None:
    question = item("Is it?", "yes")
    answer = short_answer(Completion((Generation("No."),)), question)
    assert answer.reading is not None
    again = read(answer.reading, lambda r: Generation(r.text or ""))
    assert (again.choice, again.status) == ("no", Status.OK)


def test_vqa_rad_sample_run_and_rescore() -> None:
    model = ScriptedModel(lambda r: "yes", vision=True)
    spec = EvalSpec(task="vqa_rad", model="scripted/x", sample=True, strategy="short_answer")
    with Store() as store:
        result = evaluate(spec, store=store, model=model, progress=False)
        assert result.summary["closed_n"] == 7 and result.summary["open_n"] == 7
        assert all(r.messages[-1].images for r in model.calls)
        again = rescore(result.run_id, store=store)
    assert again.summary["closed_accuracy"] == result.summary["closed_accuracy"]


def _image_file(path: Path, shade: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png(shade))


def test_slake_reads_one_language(tmp_path: Path) -> None:
    rows = [{"qid": 1, "img_name": "xmlab1/source.jpg", "question": "Is this an MRI?",
             "answer": "Yes", "q_lang": "en", "answer_type": "CLOSED", "modality": "MRI",
             "location": "Brain", "content_type": "Modality"},
            {"qid": 2, "img_name": "xmlab1/source.jpg", "question": "这是核磁共振吗？",
             "answer": "是", "q_lang": "zh", "answer_type": "OPEN", "modality": "MRI"}]
    (tmp_path / "test.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    _image_file(tmp_path / "imgs" / "xmlab1" / "source.jpg")
    (en,) = load_task("slake", tmp_path).questions
    (zh,) = load_task("slake_zh", tmp_path).questions
    assert (en.metadata["answer_type"], zh.metadata["answer_type"]) == ("closed", "open")
    assert en.images == zh.images and zh.metadata["language"] == "zh"
    (tmp_path / "imgs" / "xmlab1" / "source.jpg").unlink()
    with pytest.raises(TaskDataError, match=r"test.json, item 1: image 'xmlab1/source.jpg'"):
        load_task("slake", tmp_path)


def test_pathvqa_reads_image_bytes_from_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"image": [{"bytes": _png(1), "path": None},
                                {"bytes": _png(2), "path": None}],
                      "question": ["Is there necrosis?", "What is present?"],
                      "answer": ["no", "fibrosis"]})
    pq.write_table(table, tmp_path / "test-00000-of-00001.parquet")
    closed, opened = load_task("pathvqa", tmp_path).questions
    assert (closed.metadata["answer_type"], opened.metadata["answer_type"]) == ("closed", "open")
    assert closed.images[0].mime == "image/png" and closed.images != opened.images


def test_probmed_loader(tmp_path: Path) -> None:
    rows = [{"id": 5, "image": "ct/5.png", "question": "Is this a CT scan?", "gt_ans": "yes",
             "qa_type": "modality_gt", "image_type": "ct_abdomen"},
            {"id": 5, "image": "ct/5.png", "question": "Is this an MRI?", "gt_ans": "no",
             "qa_type": "modality_hallu", "image_type": "ct_abdomen"}]
    (tmp_path / "test.json").write_text(json.dumps(rows))
    _image_file(tmp_path / "ct" / "5.png")
    first, second = load_task("probmed", tmp_path).questions
    assert first.metadata["pair"] == second.metadata["pair"] == "5:modality"
    rows[1]["gt_ans"] = "maybe"
    (tmp_path / "test.json").write_text(json.dumps(rows))
    with pytest.raises(TaskDataError, match="item 2: field 'gt_ans' is 'maybe'"):
        load_task("probmed", tmp_path)


def test_mediconfusion_loads_pairs_and_explains_the_images(shared_data: Path,
                                                           tmp_path: Path) -> None:
    source = shared_data / "mediconfusion" / "dataset.json"
    (tmp_path / "dataset.json").write_bytes(source.read_bytes())
    with pytest.raises(DatasetUnavailableError, match=r"python scripts/download.py"):
        load_task("mediconfusion", tmp_path)
    pairs = json.loads(source.read_text())
    for record in pairs.values():
        for k in (1, 2):
            _image_file(tmp_path / "images" / f"{record[f'im_{k}_local']}.jpg",
                        shade=int(record[f"im_{k}_local"]) % 250)
    task = load_task("mediconfusion", tmp_path)
    assert len(task) == 352 and len({q.metadata["pair"] for q in task.questions}) == 176
    first, second = task.questions[:2]
    assert first.stem == second.stem and first.options == second.options
    assert {first.gold, second.gold} == {"A", "B"}
    model = ScriptedModel(lambda r: "Answer: A", vision=True)
    result = evaluate(EvalSpec(task="mediconfusion", model="scripted/x", data=str(tmp_path)),
                      model=model, progress=False)
    # Always "A": every pair confused, none right (random guessing: 50% and 25%).
    assert (result.summary["confusion"], result.summary["set_accuracy"]) == (1.0, 0.0)
    assert result.summary["accuracy"] == 0.5 and result.summary["pairs"] == 176


def test_omnimedvqa_loader(tmp_path: Path) -> None:
    folder = tmp_path / "QA_information" / "Open-access"
    folder.mkdir(parents=True)
    rows = [{"question_id": "x_1", "dataset": "X", "question_type": "Modality Recognition",
             "modality_type": "CT", "question": "What modality?", "gt_answer": "CT",
             "image_path": "Images/X/1.png", "option_A": "MRI", "option_B": "CT"}]
    (folder / "X.json").write_text(json.dumps(rows))
    _image_file(tmp_path / "Images" / "X" / "1.png")
    (q,) = load_task("omnimedvqa", tmp_path).questions
    assert (q.gold, q.metadata["modality"], len(q.images)) == ("B", "CT", 1)


def test_vqa_rad_sample_is_reproduced_from_the_release(shared_data: Path) -> None:
    import importlib.util
    import sys

    from medq.tasks._io import PACKAGE_DATA

    builder = Path(__file__).parents[1] / "multilingual" / "build_samples_multilingual.py"
    spec = importlib.util.spec_from_file_location("build_ml_vqa", builder)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_ml_vqa"] = module
    spec.loader.exec_module(module)
    text, names = module.vqa_rad_sample(shared_data / "vqa_rad")
    shipped = PACKAGE_DATA / "samples" / "vqa_rad"
    assert text == (shipped / "testset.json").read_text()
    assert names == sorted(p.name for p in (shipped / "test_images").iterdir())
    for name in names:
        assert (shipped / "test_images" / name).read_bytes() == (
            shared_data / "vqa_rad" / "test_images" / name).read_bytes()
