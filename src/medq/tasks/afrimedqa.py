"""AfriMed-QA: pan-African medical exam questions, with the country and the specialty.

Olatunji, T., et al. (2025). AfriMed-QA: A Pan-African, Multi-Specialty, Medical
Question-Answering Benchmark Dataset. Proceedings of ACL 2025.
https://huggingface.co/datasets/intronhealth/afrimedqa_v2 (CC BY-NC-SA 4.0)

Task ``afrimedqa``: single-answer multiple-choice questions (5 options), with metrics by
country (``by_country``: NG, GH, KE, MW, ZA, ...) and by specialty (``by_specialty``);
``medq show --by country`` gives the same table. The loader reads the JSON extract of the
release that AfriBench (YTILIKAN/AfriBench, from ``intronhealth/afrimedqa_v2``) writes:
a JSON array of ``{id, question, options{A..E}, answer, subcategory, difficulty,
language, provenance{country, sample_id}}``. The data is CC BY-NC-SA 4.0: medq ships no
sample and pins no copy; pass ``--data`` (the file or its folder). The short-answer
questions (reference answers for a judge) are not a task here yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medq.scoring.breakdowns import by_field
from medq.tasks._io import data_error, field, find, load_json, make_question, no_hub, options_field
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Olatunji, T., et al. (2025). AfriMed-QA: A Pan-African, Multi-Specialty, Medical "
    "Question-Answering Benchmark Dataset. Proceedings of the 63rd Annual Meeting of the "
    "Association for Computational Linguistics (ACL)."
)
CITE_SHORT = "Olatunji et al., ACL 2025"
EXPECTS = "the AfriMed-QA MCQ file (afrimed_med_en.json) or its folder"


def parse_mcq(path: Path) -> tuple[Question, ...]:
    """The multiple-choice questions of an AfriMed-QA JSON extract."""
    records = load_json(path)
    if not isinstance(records, list) or not records:
        raise TaskDataError(f"{path}: expected a non-empty JSON array of questions")
    return tuple(_question(path, i, r) for i, r in enumerate(records))


def _question(path: Path, i: int, record: Any) -> Question:
    where = f"item {i + 1}"
    if not isinstance(record, dict):
        raise data_error(path, where, "expected a JSON object")
    provenance = record.get("provenance") or {}
    metadata = {
        "source": "AfriMed-QA",
        "language": record.get("language") or "en",
        "specialty": record.get("subcategory"),
        "country": provenance.get("country") if isinstance(provenance, dict) else None,
        "difficulty": record.get("difficulty"),
    }
    return make_question(
        path, where, id=field(record, "id", path, where),
        stem=field(record, "question", path, where),
        options=options_field(record, "options", path, where),
        gold=field(record, "answer", path, where), gold_field="answer",
        metadata={k: v for k, v in metadata.items() if v is not None})


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        raise DatasetUnavailableError(
            "Task 'afrimedqa' has no bundled sample (CC BY-NC-SA 4.0 data is never shipped).")
    if data is None:
        raise no_hub("afrimedqa", EXPECTS)
    path = find(data, ("afrimed_med_en.json", "afrimedqa_mcq.json"), "afrimedqa", EXPECTS)
    return parse_mcq(path), str(path)


register_task(TaskSpec(
    "afrimedqa", "test", "pan-African MCQ, 5 options, by country and specialty",
    CITATION, CITE_SHORT, _load, metrics=(by_field("country"), by_field("specialty"))))
