"""MediConfusion: pairs of radiology images that models confuse, one question, two options.

Sepehri, M. S., Fabian, Z., Soltanolkotabi, M., & Soltanolkotabi, M. (2025). MediConfusion:
Can you trust your AI radiologist? Probing the reliability of multimodal medical
foundation models. ICLR 2025 (arXiv:2409.15477). https://github.com/MShahabSepehri/MediConfusion
(MIT)

Task ``mediconfusion``: 176 pairs, 352 items; both images of a pair share the question and
the options A/B, with opposite answers. Scored per pair (`medq.scoring.paired`): *set
accuracy* (both right; random guessing 25%) and *confusion* (the same option for both
images; random 50%), and per item by medq's option extractor. The prompt is the authors'
multiple-choice one, as medq's ``direct`` template states it (the question, the options,
answer with the letter). The images are not redistributable: they must be downloaded from
PubMed Central with the authors' script (``python scripts/download.py`` in their
repository, which writes ``data/images/<local id>.jpg``). ``--data`` is that ``data/``
folder, with ``dataset.json`` (``{pair: {im_1, im_2, im_1_local, im_2_local, question,
option_A, option_B, im_1_correct, im_2_correct, category_1, ...}}``) and ``images/``.
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.breakdowns import by_field
from medq.scoring.paired import METRICS
from medq.tasks._io import data_error, field, find, load_json, make_question
from medq.tasks._vqa import ImageFolder, scalar
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Sepehri, M. S., Fabian, Z., Soltanolkotabi, M., & Soltanolkotabi, M. (2025). "
    "MediConfusion: Can you trust your AI radiologist? Probing the reliability of "
    "multimodal medical foundation models. International Conference on Learning "
    "Representations (ICLR)."
)
EXPECTS = ("MediConfusion's data/ folder: dataset.json and images/ (download the images "
           "with the authors' `python scripts/download.py`)")


def parse_dataset(path: Path) -> tuple[Question, ...]:
    """Both items of every pair of ``dataset.json``, with their images."""
    document = load_json(path)
    if not isinstance(document, dict) or not document:
        raise TaskDataError(f"{path}: expected a JSON object of pairs")
    root = path.parent / "images"
    if not root.is_dir():
        raise DatasetUnavailableError(
            f"{path.parent} has no images/ folder: the MediConfusion images must be "
            f"downloaded with the authors' script (`python scripts/download.py`); pass "
            f"--data PATH pointing at {EXPECTS}.")
    images = ImageFolder(root)
    out = []
    for pair, record in document.items():
        where = f"pair {pair!r}"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        options = {"A": field(record, "option_A", path, where),
                   "B": field(record, "option_B", path, where)}
        for k in (1, 2):
            local = scalar(record, f"im_{k}_local", path, where)
            metadata = {"source": "MediConfusion", "language": "en", "pair": str(pair),
                        "image": record.get(f"im_{k}"),
                        "category": list(record.get(f"category_{k}") or [])}
            question = make_question(
                path, where, id=f"{pair}-{k}", stem=field(record, "question", path, where),
                options=options, gold=field(record, f"im_{k}_correct", path, where),
                gold_field=f"im_{k}_correct", metadata=metadata)
            out.append(Question(question.id, question.stem, question.options, question.gold,
                                metadata=question.metadata,
                                images=(images.get(f"{local}.jpg", path, where),)))
    return tuple(out)


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample or data is None:
        raise DatasetUnavailableError(
            f"Task 'mediconfusion' has no bundled sample and no pinned Hub copy (its images "
            f"may not be redistributed); pass --data PATH pointing at {EXPECTS}.")
    path = find(data, ("dataset.json", "data/dataset.json"), "mediconfusion", EXPECTS)
    return parse_dataset(path), str(path)


register_task(TaskSpec(
    "mediconfusion", "test", "176 confusing radiology image pairs (352 items, A/B)",
    CITATION, "Sepehri et al., ICLR 2025", _load,
    metrics=(*METRICS, by_field("category"))))
