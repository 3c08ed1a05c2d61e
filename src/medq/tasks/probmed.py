"""ProbMed: probing questions about medical images, each paired with an adversarial one.

Yan, Q., He, X., Yue, X., & Wang, X. E. (2024). Worse than Random? An Embarrassingly Simple
Probing Evaluation of Large Multimodal Models in Medical VQA. arXiv:2405.20421.
https://github.com/eric-ai-lab/ProbMed

Task ``probmed``: yes/no questions about 6,303 images (modality, organ, abnormality,
condition/finding and position), each ground-truth question paired with a question about a
hallucinated attribute (answer "no"). Records ``{id (the image), image, question, gt_ans,
qa_type, image_type}``: the pair is the image and the ``qa_type`` without its ``gt`` /
``hallu`` marker (``entity_gt_2`` and ``entity_hallu_2`` are a pair; ``abnormality`` is a
single question). Scored per pair (`medq.scoring.paired`: a pair is right when both of its
questions are) and per question, closed and strict (`medq.scoring.vqa`): ProbMed's own
scorer counts any reply containing "No" -- "Normal ..." -- as a correct "no", which medq
reads as invalid. ``--data`` is the folder with ``test.json`` and the images its ``image``
paths name; no pinned Hub copy.
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.breakdowns import by_field
from medq.scoring.paired import METRICS as PAIR_METRICS
from medq.scoring.vqa import METRICS as VQA_METRICS
from medq.scoring.vqa import vqa_score
from medq.tasks._io import data_error, field, find, load_json
from medq.tasks._vqa import ImageFolder, scalar, vqa_question
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Yan, Q., He, X., Yue, X., & Wang, X. E. (2024). Worse than Random? An Embarrassingly "
    "Simple Probing Evaluation of Large Multimodal Models in Medical VQA. arXiv:2405.20421."
)
EXPECTS = "the ProbMed folder with test.json and its images"


def pair_key(qa_type: str) -> str:
    """The pair a question belongs to within its image: its qa_type without gt/hallu."""
    return "_".join(p for p in qa_type.split("_") if p not in ("gt", "hallu")) or qa_type


def parse_probmed(path: Path) -> tuple[Question, ...]:
    """The questions of ProbMed's ``test.json``, with their images and pairs."""
    records = load_json(path)
    if not isinstance(records, list) or not records:
        raise TaskDataError(f"{path}: expected a non-empty JSON array of questions")
    images = ImageFolder(path.parent)
    out, seen = [], set()
    for i, record in enumerate(records):
        where = f"item {i + 1}"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        image_id = scalar(record, "id", path, where)
        qa_type = field(record, "qa_type", path, where)
        item = f"{image_id}:{qa_type}"
        if item in seen:
            raise data_error(path, where, f"question {qa_type!r} of image {image_id} repeats")
        seen.add(item)
        answer = field(record, "gt_ans", path, where)
        if answer not in ("yes", "no"):
            raise data_error(path, where, f"field 'gt_ans' is {answer!r}, not yes or no")
        metadata = {"source": "ProbMed", "language": "en", "pair": f"{image_id}:"
                    f"{pair_key(qa_type)}", "qa_type": qa_type,
                    "category": pair_key(qa_type).split("_")[0],
                    "image_type": record.get("image_type")}
        out.append(vqa_question(
            path, where, id=item, question=field(record, "question", path, where),
            answer=answer, answer_type="closed",
            images=(images.get(field(record, "image", path, where), path, where),),
            metadata={k: v for k, v in metadata.items() if v is not None}))
    return tuple(out)


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample or data is None:
        raise DatasetUnavailableError(
            f"Task 'probmed' has no bundled sample and no pinned Hub copy; pass --data PATH "
            f"pointing at {EXPECTS}.")
    path = find(data, ("test.json", "probmed.json"), "probmed", EXPECTS)
    return parse_probmed(path), str(path)


register_task(TaskSpec(
    "probmed", "test", "paired yes/no probes of medical images", CITATION,
    "Yan et al. 2024", _load, scorer=vqa_score,
    answer_kind="short_answer", default_strategy="short_answer",
    metrics=(*PAIR_METRICS, *VQA_METRICS, by_field("category"), by_field("image_type"))))
