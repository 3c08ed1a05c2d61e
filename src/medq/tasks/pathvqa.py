"""PathVQA: questions about pathology images from textbooks and a digital library.

He, X., Zhang, Y., Mou, L., Xing, E., & Xie, P. (2020). PathVQA: 30000+ Questions for
Medical Visual Question Answering. arXiv:2003.10286. https://github.com/UCSD-AI4H/PathVQA

Task ``pathvqa``: the test split, read from parquet rows ``{image: {bytes, path},
question, answer}`` (the layout of the Hub copy flaviagiammarino/path-vqa,
``data/test-*.parquet``). Questions answered yes or no are closed, the others open, as in
the paper; scored as for VQA-RAD (`medq.scoring.vqa`). The original release's pickles are
not read (unpickling runs code). No revision could be checked offline, so none is pinned:
pass ``--data`` (a parquet file or its folder).
"""

from __future__ import annotations

from pathlib import Path

from medq.scoring.vqa import METRICS, normalize_answer, vqa_score
from medq.tasks._io import data_error
from medq.tasks._parquet import parquet_records
from medq.tasks._vqa import vqa_question
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Image, Question

CITATION = (
    "He, X., Zhang, Y., Mou, L., Xing, E., & Xie, P. (2020). PathVQA: 30000+ Questions for "
    "Medical Visual Question Answering. arXiv:2003.10286."
)
EXPECTS = "the PathVQA test parquet (data/test-*.parquet) or its folder"


def parse_parquet(path: Path) -> tuple[Question, ...]:
    """The questions of a PathVQA parquet file, images from their bytes."""
    out = []
    for n, (where, row) in enumerate(parquet_records(path), start=1):
        image = row.get("image")
        data = image.get("bytes") if isinstance(image, dict) else None
        if not data:
            raise data_error(path, where, "field 'image' holds no image bytes")
        try:
            picture = Image.from_bytes(data)
        except ValueError as exc:
            raise data_error(path, where, f"field 'image': {exc}") from None
        answer = str(row.get("answer") or "")
        kind = "closed" if normalize_answer(answer) in ("yes", "no") else "open"
        out.append(vqa_question(
            path, where, id=f"pathvqa-{path.stem}-{n:05d}", question=str(row.get("question") or ""),
            answer=answer, answer_type=kind, images=(picture,),
            metadata={"source": "PathVQA", "language": "en"}))
    if not out:
        raise TaskDataError(f"{path}: no questions")
    return tuple(out)


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample or data is None:
        raise DatasetUnavailableError(
            f"Task 'pathvqa' has no bundled sample and no pinned Hub copy; pass --data PATH "
            f"pointing at {EXPECTS}.")
    if data.is_dir():
        files = sorted(data.glob("test-*.parquet")) + sorted(data.glob("data/test-*.parquet"))
        if not files:
            raise DatasetUnavailableError(f"--data {data} holds no test-*.parquet; pass --data "
                                          f"PATH pointing at {EXPECTS}.")
        return tuple(q for f in files for q in parse_parquet(f)), str(data)
    return parse_parquet(data), str(data)


register_task(TaskSpec(
    "pathvqa", "test", "pathology image questions (yes/no closed, open)", CITATION,
    "He et al. 2020", _load, scorer=vqa_score,
    answer_kind="short_answer", default_strategy="short_answer", metrics=METRICS))
