"""VQA-RAD: clinicians' questions about radiology images, closed (yes/no, either-or) and open.

Lau, J. J., Gayen, S., Ben Abacha, A., & Demner-Fushman, D. (2018). A dataset of clinically
generated visual questions and answers about radiology images. Scientific Data 5, 180251.
https://osf.io/89kps/ (CC0 1.0)

Task ``vqa_rad``: the test split, 451 questions (272 closed, 179 open) about 203 images.
``--data`` is the folder with ``testset.json`` (``{qid, image_name, image_organ, question,
answer, answer_type CLOSED/OPEN, question_type, phrase_type}``) and the images in
``test_images/`` (or beside it), e.g. the copy in longle0702/med-v2qa. Answers keep their
case as released and are normalised when scored; a closed question is right only when the
reply starts with its yes/no (or names its alternative), an open one is scored by exact
match, token recall and F1, apart (`medq.scoring.vqa`); ``by_organ`` and
``by_question_type`` are metrics. ``--sample`` ships the questions about the six smallest
test images (14 questions, CC0). Strategy: ``short_answer``.
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.breakdowns import by_field
from medq.scoring.vqa import METRICS, vqa_score
from medq.tasks._io import BUNDLED, data_error, field, find, load_json, sample_path
from medq.tasks._vqa import ImageFolder, vqa_question
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Lau, J. J., Gayen, S., Ben Abacha, A., & Demner-Fushman, D. (2018). A dataset of "
    "clinically generated visual questions and answers about radiology images. Scientific "
    "Data, 5, 180251."
)
EXPECTS = "the VQA-RAD folder with testset.json and test_images/"


def parse_testset(path: Path) -> tuple[Question, ...]:
    """The questions of a VQA-RAD ``testset.json``, with their images."""
    records = load_json(path)
    if not isinstance(records, list) or not records:
        raise TaskDataError(f"{path}: expected a non-empty JSON array of questions")
    root = path.parent / "test_images"
    images = ImageFolder(root if root.is_dir() else path.parent)
    out = []
    for i, record in enumerate(records):
        where = f"item {i + 1}"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        name = field(record, "image_name", path, where)
        metadata = {"source": "VQA-RAD", "language": "en", "image": name,
                    "organ": record.get("image_organ"),
                    "question_type": record.get("question_type")}
        qid = record.get("qid")
        if qid is None:
            raise data_error(path, where, "field 'qid' is missing")
        out.append(vqa_question(
            path, where, id=str(qid), question=field(record, "question", path, where),
            answer=record.get("answer"), answer_type=field(record, "answer_type", path, where),
            images=(images.get(name, path, where),),
            metadata={k: v for k, v in metadata.items() if v is not None}))
    return tuple(out)


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        return parse_testset(sample_path("vqa_rad/testset.json")), BUNDLED
    if data is None:
        raise DatasetUnavailableError(
            f"Task 'vqa_rad' has no pinned Hugging Face Hub copy; pass --data PATH pointing "
            f"at {EXPECTS}.")
    return parse_testset(find(data, ("testset.json",), "vqa_rad", EXPECTS)), str(data)


register_task(TaskSpec(
    "vqa_rad", "test", "451 radiology image questions (272 closed, 179 open)", CITATION,
    "Lau et al., Sci. Data 2018", _load, scorer=vqa_score,
    answer_kind="short_answer", default_strategy="short_answer",
    metrics=(*METRICS, by_field("organ"), by_field("question_type"))))
