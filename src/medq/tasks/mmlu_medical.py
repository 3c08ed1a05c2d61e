"""MMLU, six medical subjects, test split: 1089 four-option questions ("MMLU-Med").

Hendrycks, D., Burns, C., Basart, S., Zou, A., Mazeika, M., Song, D., & Steinhardt, J.
(2021). Measuring Massive Multitask Language Understanding. ICLR 2021.
https://github.com/hendrycks/test (MIT licence)

Tasks: ``mmlu_medical`` (all six, in subject order, as in MIRAGE) and one task per subject,
``mmlu_anatomy`` ... ``mmlu_professional_medicine``. The release files are headerless CSVs
``<subject>_test.csv`` with rows ``question, A, B, C, D, answer``. IDs are
``<subject>-<row index>`` ("anatomy-000"), the IDs MIRAGE uses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from medq.hub import HubFile
from medq.tasks import _mirage
from medq.tasks._io import (
    BUNDLED,
    data_error,
    fetch,
    make_question,
    read_text,
    sample_path,
    sniff_json,
)
from medq.tasks._parquet import parquet_records
from medq.tasks.base import DatasetUnavailableError, Loader, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Hendrycks, D., Burns, C., Basart, S., Zou, A., Mazeika, M., Song, D., & Steinhardt, J. "
    "(2021). Measuring Massive Multitask Language Understanding. ICLR 2021."
)
CITE_SHORT = "Hendrycks et al., ICLR 2021"
SUBJECTS: dict[str, int] = {
    "anatomy": 135,
    "clinical_knowledge": 265,
    "college_biology": 144,
    "college_medicine": 173,
    "medical_genetics": 100,
    "professional_medicine": 272,
}
COLUMNS = ("question", "A", "B", "C", "D", "answer")
HUB_REPO = "cais/mmlu"
HUB_REVISION = "6b3f6c914cc1ae9b49a6ef5956243b8cc54a49ef"
EXPECTS = (
    "the test/ folder of the original MMLU release (<subject>_test.csv files) "
    "or MIRAGE's benchmark.json"
)
_FOLDERS = ("", "test", "data/test", "mmlu/data/test")


def _hub_file(subject: str) -> HubFile:
    return HubFile(HUB_REPO, f"{subject}/mmlu-test.parquet", HUB_REVISION)


def parse_rows(path: Path, subject: str, rows: Iterable[tuple[str, list[str]]]) -> list[Question]:
    """Questions from (location, [question, A, B, C, D, answer]) rows of one subject."""
    out = []
    for index, (where, row) in enumerate(rows):
        if len(row) < len(COLUMNS):
            raise data_error(path, where, f"field {COLUMNS[len(row)]!r} is missing")
        if len(row) > len(COLUMNS):
            raise data_error(path, where, f"{len(row)} fields, expected {len(COLUMNS)}")
        question, *options, answer = row
        out.append(
            make_question(
                path,
                where,
                id=f"{subject}-{index:03d}",
                stem=question,
                options=dict(zip("ABCD", options, strict=True)),
                gold=answer.strip(),
                gold_field="answer",
                metadata={"source": "MMLU", "language": "en", "subject": subject},
            )
        )
    return out


def _csv_rows(text: str) -> Iterator[tuple[str, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for row in reader:
        if row:
            yield f"line {start}", row
        start = reader.line_num + 1


def parse_csv(path: Path, subject: str) -> list[Question]:
    """Questions of one subject's release CSV (headerless)."""
    return parse_rows(path, subject, _csv_rows(read_text(path)))


def _parquet_rows(path: Path) -> Iterator[tuple[str, list[str]]]:
    for where, record in parquet_records(path):
        choices = list(record.get("choices") or [])
        answer = record.get("answer")
        letter = "ABCD"[answer] if isinstance(answer, int) and 0 <= answer < 4 else str(answer)
        yield where, [record.get("question") or "", *choices, letter]


def _from_mirage(path: Path, document: dict, subjects: tuple[str, ...]) -> list[Question]:
    def metadata(key: str, record: object) -> dict[str, str]:
        return {"source": "MMLU", "language": "en", "subject": key.rsplit("-", 1)[0]}

    def keep(key: str) -> bool:
        return key.rsplit("-", 1)[0] in subjects

    return _mirage.questions(path, document, "mmlu", metadata, keep)


def _load_subjects(
    name: str, subjects: tuple[str, ...], data: Path | None, sample: bool
) -> tuple[tuple[Question, ...], str]:
    if sample:
        questions = [
            q for s in subjects for q in parse_csv(sample_path(f"mmlu/test/{s}_test.csv"), s)
        ]
        return tuple(questions), BUNDLED
    if data is None:
        paths = fetch(name, [_hub_file(s) for s in subjects], EXPECTS)
        questions = [
            q
            for s, p in zip(subjects, paths, strict=True)
            for q in parse_rows(p, s, _parquet_rows(p))
        ]
        return tuple(questions), f"hub:{HUB_REPO}@{HUB_REVISION}"
    if data.is_file():
        text = read_text(data)
        document = sniff_json(data, text)
        if document is not None and _mirage.is_benchmark(document):
            return tuple(_from_mirage(data, document, subjects)), str(data)
        if len(subjects) == 1:
            return tuple(parse_rows(data, subjects[0], _csv_rows(text))), str(data)
        raise DatasetUnavailableError(
            f"--data {data} is a single file; task {name!r} needs {EXPECTS}."
        )
    if not data.is_dir():
        raise DatasetUnavailableError(
            f"--data {data} does not exist; pass --data PATH pointing at {EXPECTS}."
        )
    for folder in _FOLDERS:
        paths = [data / folder / f"{s}_test.csv" for s in subjects]
        if all(p.is_file() for p in paths):
            questions = [q for s, p in zip(subjects, paths, strict=True) for q in parse_csv(p, s)]
            return tuple(questions), str(data / folder) if folder else str(data)
    if (data / _mirage.FILENAME).is_file():
        return _load_subjects(name, subjects, data / _mirage.FILENAME, False)
    raise DatasetUnavailableError(
        f"--data {data} holds no file task {name!r} can read; pass --data PATH pointing at "
        f"{EXPECTS}."
    )


def _loader(name: str, subjects: tuple[str, ...]) -> Loader:
    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        return _load_subjects(name, subjects, data, sample)

    return load


register_task(
    TaskSpec(
        "mmlu_medical",
        "test",
        f"{sum(SUBJECTS.values())} questions, 4 options, 6 medical subjects",
        CITATION,
        CITE_SHORT,
        _loader("mmlu_medical", tuple(SUBJECTS)),
    )
)
for _subject, _size in SUBJECTS.items():
    register_task(
        TaskSpec(
            f"mmlu_{_subject}",
            "test",
            f"{_size} questions, 4 options",
            CITATION,
            CITE_SHORT,
            _loader(f"mmlu_{_subject}", (_subject,)),
        )
    )
