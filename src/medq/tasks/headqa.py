"""HEAD-QA: Spanish healthcare specialisation exams (MIR, EIR, FIR, BIR, QIR, PIR).

Vilares, D., & Gómez-Rodríguez, C. (2019). HEAD-QA: A Healthcare Dataset for Complex
Reasoning. Proceedings of ACL 2019, 960-966. https://github.com/aghie/head-qa (MIT)

Tasks ``headqa_es`` and ``headqa_en`` (the official English translation): the test split,
four or five options, with the exam (``category``: medicine, nursing, pharmacology,
biology, chemistry, psychology) and the year (``by_category`` is a metric). The original
release is one JSON per split and language (``test_HEAD.json``, ``test_HEAD_EN.json``):
``{"exams": {name: {"name", "year", "category", "data": [{qid, qtext, ra, answers:
[{aid, atext}]}]}}}``; rows of the Hub's flat copy (``{name, year, category, qid, qtext,
ra, answers}``) in JSON lines or parquet are read too. Questions that need an image are
kept (their text only, as the original text-only evaluation did). No Hub revision could
be checked offline: pass ``--data``. Prompt: medq's English template with the item in its
language and the instruction to answer with the option letter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from medq.scoring.breakdowns import by_field
from medq.tasks._exam import records
from medq.tasks._io import data_error, load_json, make_question
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import LETTERS, Question

CITATION = (
    "Vilares, D., & Gómez-Rodríguez, C. (2019). HEAD-QA: A Healthcare Dataset for Complex "
    "Reasoning. Proceedings of the 57th Annual Meeting of the Association for Computational "
    "Linguistics, 960-966."
)


def _rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if path.suffix == ".json":
        document = load_json(path)
        if isinstance(document, dict) and isinstance(document.get("exams"), dict):
            for name, exam in document["exams"].items():
                for i, row in enumerate(exam.get("data") or ()):
                    yield f"exam {name!r}, item {i + 1}", {
                        **row, "name": name, "year": exam.get("year"),
                        "category": exam.get("category")}
            return
    yield from records(path)


def parse_headqa(path: Path, language: str) -> tuple[Question, ...]:
    """Questions of a HEAD-QA file (the original nested JSON or flat rows)."""
    out = []
    for where, row in _rows(path):
        answers = row.get("answers")
        if not isinstance(answers, list) or len(answers) < 2:
            raise data_error(path, where, "field 'answers' holds no list of options")
        by_id: dict[int, str] = {}
        for a in answers:
            if not isinstance(a, dict) or "atext" not in a or not str(a.get("aid", "")).isdigit():
                raise data_error(path, where, "an answer lacks a numeric 'aid' or its 'atext'")
            by_id[int(a["aid"])] = str(a["atext"])
        letters = {aid: LETTERS[i] for i, aid in enumerate(sorted(by_id))}
        ra = row.get("ra")
        try:
            gold = letters.get(int(str(ra)), f"#{ra}")
        except (TypeError, ValueError):
            raise data_error(path, where, f"field 'ra' is {ra!r}, not an answer ID") from None
        metadata = {"language": language, "source": "HEAD-QA", "exam": row.get("name"),
                    "year": row.get("year"), "category": row.get("category")}
        out.append(make_question(
            path, where, id=f"{row.get('name')}-{row.get('qid')}",
            stem=str(row.get("qtext") or ""),
            options={letters[k]: by_id[k] for k in sorted(by_id)},
            gold=gold, gold_field="ra", metadata={k: v for k, v in metadata.items() if v}))
    if not out:
        raise TaskDataError(f"{path}: no questions")
    return tuple(out)


def _loader(name: str, language: str):
    suffix = "_EN" if language == "en" else ""
    filename = f"test_HEAD{suffix}.json"
    expects = f"{filename} of the HEAD-QA release (or its folder)"

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample or data is None:
            raise DatasetUnavailableError(
                f"Task {name!r} has no bundled sample and no pinned Hub copy; pass --data "
                f"PATH pointing at {expects}.")
        if data.is_file():
            return parse_headqa(data, language), str(data)
        for candidate in (filename, f"HEAD{suffix}/{filename}", f"data/{filename}"):
            if (data / candidate).is_file():
                return parse_headqa(data / candidate, language), str(data / candidate)
        raise DatasetUnavailableError(f"--data {data} holds no file task {name!r} can read; "
                                      f"pass --data PATH pointing at {expects}.")

    return load


for _language in ("es", "en"):
    _summary = "Spanish healthcare exams (MIR, EIR, FIR, ...)" + (
        " in English" if _language == "en" else "")
    register_task(TaskSpec(
        f"headqa_{_language}", "test", _summary, CITATION,
        "Vilares & Gómez-Rodríguez, ACL 2019", _loader(f"headqa_{_language}", _language),
        metrics=(by_field("category"),), language=_language))
