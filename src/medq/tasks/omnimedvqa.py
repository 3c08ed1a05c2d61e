"""OmniMedVQA: multiple-choice questions over images of 12 modalities from 73 datasets.

Hu, Y., Li, T., Lu, Q., Shao, W., He, J., Qiao, Y., & Luo, P. (2024). OmniMedVQA: A New
Large-Scale Comprehensive Evaluation Benchmark for Medical LVLM. CVPR 2024.
https://huggingface.co/datasets/foreverbeliever/OmniMedVQA

Task ``omnimedvqa``: the open-access part of the release. ``--data`` is the release folder:
``QA_information/Open-access/*.json`` (each a list of ``{question_id, dataset,
question_type, modality_type, question, gt_answer, image_path, option_A ... option_D}``)
and the images under the paths ``image_path`` names, relative to the folder. The gold is
the option whose text is ``gt_answer``; ``by_modality`` and ``by_question_type`` are
metrics. Any multiple-choice strategy answers it (the images go with the question). No
pinned Hub copy.
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.breakdowns import by_field
from medq.tasks._io import data_error, field, load_json, make_question
from medq.tasks._vqa import ImageFolder, scalar
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Hu, Y., Li, T., Lu, Q., Shao, W., He, J., Qiao, Y., & Luo, P. (2024). OmniMedVQA: A "
    "New Large-Scale Comprehensive Evaluation Benchmark for Medical LVLM. Proceedings of "
    "the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR), "
    "22170-22183."
)
EXPECTS = "the OmniMedVQA folder with QA_information/Open-access/*.json and the images"


def parse_file(path: Path, images: ImageFolder) -> list[Question]:
    """The questions of one QA_information file."""
    records = load_json(path)
    if not isinstance(records, list):
        raise TaskDataError(f"{path}: expected a JSON array of questions")
    out = []
    for i, record in enumerate(records):
        where = f"item {i + 1}"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        options = {k: str(record[f"option_{k}"]) for k in "ABCD"
                   if record.get(f"option_{k}") not in (None, "")}
        answer = scalar(record, "gt_answer", path, where)
        golds = [k for k, v in options.items() if v.strip() == answer.strip()]
        if len(golds) != 1:
            raise data_error(path, where, f"field 'gt_answer' matches {len(golds)} options")
        metadata = {"source": "OmniMedVQA", "language": "en",
                    "dataset": record.get("dataset"), "modality": record.get("modality_type"),
                    "question_type": record.get("question_type")}
        q = make_question(path, where, id=scalar(record, "question_id", path, where),
                          stem=field(record, "question", path, where), options=options,
                          gold=golds[0], gold_field="gt_answer",
                          metadata={k: v for k, v in metadata.items() if v is not None})
        image = images.get(field(record, "image_path", path, where), path, where)
        out.append(Question(q.id, q.stem, q.options, q.gold, metadata=q.metadata,
                            images=(image,)))
    return out


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample or data is None:
        raise DatasetUnavailableError(
            f"Task 'omnimedvqa' has no bundled sample and no pinned Hub copy; pass --data "
            f"PATH pointing at {EXPECTS}.")
    folder = data / "QA_information" / "Open-access"
    if not folder.is_dir():
        raise DatasetUnavailableError(f"--data {data} has no QA_information/Open-access/; "
                                      f"pass --data PATH pointing at {EXPECTS}.")
    images = ImageFolder(data)
    questions = [q for f in sorted(folder.glob("*.json")) for q in parse_file(f, images)]
    if not questions:
        raise TaskDataError(f"{folder}: no questions")
    return tuple(questions), str(data)


register_task(TaskSpec(
    "omnimedvqa", "test", "medical image MCQ over 12 modalities (open-access part)",
    CITATION, "Hu et al., CVPR 2024", _load,
    metrics=(by_field("modality"), by_field("question_type"))))
