"""MedQA-USMLE (US), test split: 1273 questions in the style of the US medical licensing exam.

Jin, D., Pan, E., Oufattole, N., Weng, W.-H., Fang, H., & Szolovits, P. (2021). What Disease
Does This Patient Have? A Large-Scale Open Domain Question Answering Dataset from Medical
Exams. Applied Sciences, 11(14), 6421. https://github.com/jind11/MedQA (MIT licence)

Tasks:
    medqa       the 4-option version (``US/4_options/phrases_no_exclude_test.jsonl``), as used
                by MIRAGE, MedAgentsBench and most leaderboards.
    medqa_5opt  the original 5-option version (``US/test.jsonl``).

IDs are the zero-padded line index ("0000".."1272"), which is what MIRAGE uses; the same
line holds the same question in both versions. ``meta_info`` becomes ``exam_step``.
"""

from __future__ import annotations

from pathlib import Path

from medq.hub import HubFile
from medq.tasks import _mirage
from medq.tasks._io import (
    BUNDLED,
    check_option_count,
    fetch,
    field,
    find,
    iter_jsonl,
    make_question,
    no_hub,
    options_field,
    read_text,
    sample_path,
    sniff_json,
)
from medq.tasks.base import TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Jin, D., Pan, E., Oufattole, N., Weng, W.-H., Fang, H., & Szolovits, P. (2021). What "
    "Disease Does This Patient Have? A Large-Scale Open Domain Question Answering Dataset "
    "from Medical Exams. Applied Sciences, 11(14), 6421."
)
CITE_SHORT = "Jin et al., Applied Sciences 2021"
METADATA = {"source": "MedQA-USMLE (US)", "language": "en"}

HUB_4 = HubFile(
    "GBaker/MedQA-USMLE-4-options",
    "phrases_no_exclude_test.jsonl",
    "0fb93dd23a7339b6dcd27e241cb9b5eca62d4d18",
)
FILE_4 = "US/4_options/phrases_no_exclude_test.jsonl"
FILE_5 = "US/test.jsonl"
EXPECTS_4 = f"{FILE_4} of the original MedQA release (or its folder), or MIRAGE's benchmark.json"
EXPECTS_5 = f"{FILE_5} of the original MedQA release (or its folder)"


def parse_medqa_jsonl(path: Path, text: str | None = None) -> list[Question]:
    """Questions of a MedQA JSON-lines file ({question, options, answer_idx, meta_info})."""
    out = []
    for index, (lineno, record) in enumerate(iter_jsonl(path, text)):
        where = f"line {lineno}"
        metadata = dict(METADATA)
        step = record.get("meta_info")
        if isinstance(step, str) and step:
            metadata["exam_step"] = step
        out.append(
            make_question(
                path,
                where,
                id=f"{index:04d}",
                stem=field(record, "question", path, where),
                options=options_field(record, "options", path, where),
                gold=field(record, "answer_idx", path, where),
                gold_field="answer_idx",
                metadata=metadata,
            )
        )
    return out


def _parse(path: Path, name: str, n_options: int) -> tuple[Question, ...]:
    text = read_text(path)
    document = sniff_json(path, text)
    if document is not None and _mirage.is_benchmark(document):
        if n_options != 4:
            raise TaskDataError(
                f"{path}: MIRAGE's benchmark.json holds only the 4-option MedQA; "
                f"task {name!r} needs {FILE_5} of the original release"
            )
        questions = _mirage.questions(path, document, "medqa", lambda k, r: METADATA)
    else:
        questions = parse_medqa_jsonl(path, text)
    check_option_count(questions, n_options, path, name)
    return tuple(questions)


def _load_4(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        return _parse(sample_path(f"medqa_usmle/{FILE_4}"), "medqa", 4), BUNDLED
    if data is None:
        (path,) = fetch("medqa", [HUB_4], EXPECTS_4)
        return _parse(path, "medqa", 4), HUB_4.label
    candidates = (
        FILE_4,
        "4_options/phrases_no_exclude_test.jsonl",
        "phrases_no_exclude_test.jsonl",
        _mirage.FILENAME,
    )
    path = find(data, candidates, "medqa", EXPECTS_4)
    return _parse(path, "medqa", 4), str(path)


def _load_5(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        return _parse(sample_path(f"medqa_usmle/{FILE_5}"), "medqa_5opt", 5), BUNDLED
    if data is None:
        # No Hub copy of the 5-option file in its original format was found to pin.
        raise no_hub("medqa_5opt", EXPECTS_5)
    path = find(data, (FILE_5, "test.jsonl"), "medqa_5opt", EXPECTS_5)
    return _parse(path, "medqa_5opt", 5), str(path)


register_task(
    TaskSpec("medqa", "test", "1273 USMLE questions, 4 options", CITATION, CITE_SHORT, _load_4)
)
register_task(
    TaskSpec("medqa_5opt", "test", "1273 USMLE questions, 5 options", CITATION, CITE_SHORT, _load_5)
)
