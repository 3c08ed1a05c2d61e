"""SLAKE: a bilingual (English/Chinese) radiology VQA set with semantic labels.

Liu, B., Zhan, L.-M., Xu, L., Ma, L., Yang, Y., & Wu, X.-M. (2021). SLAKE: A
Semantically-Labeled Knowledge-Enhanced Dataset for Medical Visual Question Answering.
IEEE ISBI 2021, 1650-1654. https://www.med-vqa.com/slake/

Tasks ``slake`` (the English questions of the test split) and ``slake_zh`` (the Chinese
ones). ``--data`` is the release folder (``Slake1.0``) with ``test.json`` (``{qid, img_id,
img_name, question, answer, q_lang en/zh, answer_type OPEN/CLOSED, modality, location,
content_type}``) and ``imgs/<img_name>``. Scoring as for VQA-RAD (`medq.scoring.vqa`);
``by_modality`` and ``by_content_type`` are metrics. No pinned Hub copy: pass ``--data``.
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.breakdowns import by_field
from medq.scoring.vqa import METRICS, vqa_score
from medq.tasks._io import data_error, field, find, load_json
from medq.tasks._vqa import ImageFolder, vqa_question
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Liu, B., Zhan, L.-M., Xu, L., Ma, L., Yang, Y., & Wu, X.-M. (2021). SLAKE: A "
    "Semantically-Labeled Knowledge-Enhanced Dataset for Medical Visual Question Answering. "
    "IEEE 18th International Symposium on Biomedical Imaging (ISBI), 1650-1654."
)
EXPECTS = "the SLAKE release folder with test.json and imgs/"


def parse_slake(path: Path, language: str) -> tuple[Question, ...]:
    """The `language` questions of a SLAKE split file, with their images."""
    records = load_json(path)
    if not isinstance(records, list):
        raise TaskDataError(f"{path}: expected a JSON array of questions")
    images = ImageFolder(path.parent / "imgs")
    out = []
    for i, record in enumerate(records):
        where = f"item {i + 1}"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        if record.get("q_lang", "en") != language:
            continue
        name = field(record, "img_name", path, where)
        metadata = {"source": "SLAKE", "language": language, "image": name,
                    "modality": record.get("modality"), "organ": record.get("location"),
                    "content_type": record.get("content_type")}
        out.append(vqa_question(
            path, where, id=str(record.get("qid", i)),
            question=field(record, "question", path, where), answer=record.get("answer"),
            answer_type=field(record, "answer_type", path, where),
            images=(images.get(name, path, where),),
            metadata={k: v for k, v in metadata.items() if v is not None}))
    if not out:
        raise TaskDataError(f"{path}: no {language} questions")
    return tuple(out)


def _loader(name: str, language: str):
    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample or data is None:
            raise DatasetUnavailableError(
                f"Task {name!r} has no bundled sample and no pinned Hub copy; pass --data "
                f"PATH pointing at {EXPECTS}.")
        path = find(data, ("test.json", "Slake1.0/test.json"), name, EXPECTS)
        return parse_slake(path, language), str(path)

    return load


for _name, _language in (("slake", "en"), ("slake_zh", "zh")):
    register_task(TaskSpec(
        _name, "test", f"radiology VQA, {'English' if _language == 'en' else 'Chinese'} "
        f"questions", CITATION, "Liu et al., ISBI 2021", _loader(_name, _language),
        scorer=vqa_score, answer_kind="short_answer", default_strategy="short_answer",
        language=_language,
        metrics=(*METRICS, by_field("modality"), by_field("content_type"))))
