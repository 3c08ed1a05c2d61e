"""MEDEC (MS collection): find and correct the medical error in a clinical text, if any.

Ben Abacha, A., Yim, W., Fu, Y., Sun, Z., Yetisgen, M., Xia, F., & Lin, T. (2024). MEDEC:
A Benchmark for Medical Error Detection and Correction in Clinical Notes. arXiv:2412.19260;
used for the MEDIQA-CORR 2024 shared task (Ben Abacha et al., ClinicalNLP @ NAACL 2024).
https://github.com/abachaa/MEDEC (CC BY 4.0)

Tasks:
    medec       MS test set (``MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv``), 597
                texts; the release file ends with empty rows, which are dropped.
    medec_val   MS validation set (``MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv``),
                574 texts.

A text is correct or holds one error (diagnosis, management, treatment, pharmacotherapy or
causal organism). An item is open-answer: ``stem`` is the text one sentence a line, each
line starting with its sentence ID (the release's "Sentences" column); ``gold`` is the
error flag, "1" or "0", so medq's per-item ``correct`` is subtask A (error flag). The
reference sentence ID, error sentence and corrected sentence are in the metadata
(``error_flag``, ``error_sentence_id``, ``error_sentence``, ``corrected_sentence``,
``error_type``; ``topic`` = error type or "no error") and feed the other two subtasks'
metrics (`medq.scoring.medec`). IDs are the Text ID ("ms-test-0"). There is no pinned Hub
copy: pass ``--data`` (the file or its folder).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from medq.tasks._io import BUNDLED, data_error, find, no_hub, read_text, sample_path
from medq.tasks.base import TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Ben Abacha, A., Yim, W., Fu, Y., Sun, Z., Yetisgen, M., Xia, F., & Lin, T. (2024). "
    "MEDEC: A Benchmark for Medical Error Detection and Correction in Clinical Notes. "
    "arXiv:2412.19260."
)
CITE_SHORT = "Ben Abacha et al. 2024 (MEDIQA-CORR 2024)"
TEST_FILE = "MEDEC-MS-TestSet-with-GroundTruth-and-ErrorType.csv"
VAL_FILE = "MEDEC-MS-ValidationSet-with-GroundTruth-and-ErrorType.csv"
COLUMNS = ("Text ID", "Sentences", "Error Flag", "Error Type", "Error Sentence ID",
           "Error Sentence", "Corrected Sentence")
ERROR_TYPES = frozenset(
    {"diagnosis", "management", "treatment", "pharmacotherapy", "causalOrganism"}
)
_SENTENCE_LINE = re.compile(r"^(\d+)\s")


def parse_csv(path: Path, text: str | None = None) -> tuple[Question, ...]:
    """Questions of a MEDEC CSV; rows with every field empty (the test file's tail) are
    skipped, any other malformed row is a TaskDataError naming its line and field."""
    reader = csv.DictReader(io.StringIO(read_text(path) if text is None else text, newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise data_error(path, "line 1", f"header lacks column {missing[0]!r}")
    questions = []
    for record in reader:
        if not any((value or "").strip() for value in record.values() if isinstance(value, str)):
            continue
        questions.append(_question(path, f"line {reader.line_num}", record))
    if not questions:
        raise TaskDataError(f"{path}: no texts")
    return tuple(questions)


def _question(path: Path, where: str, record: dict[str, str]) -> Question:
    values = {c: (record.get(c) or "").strip() for c in COLUMNS}
    for column in ("Text ID", "Sentences", "Error Flag", "Error Sentence ID"):
        if not values[column]:
            raise data_error(path, where, f"field {column!r} is missing")
    flag = values["Error Flag"]
    if flag not in ("0", "1"):
        raise data_error(path, where, f"field 'Error Flag' is {flag!r}, not 0 or 1")
    lines = [line.rstrip() for line in values["Sentences"].splitlines() if line.strip()]
    ids = _sentence_ids(lines)
    if not ids:
        raise data_error(path, where, "field 'Sentences' has no line starting with an ID")
    try:
        sentence_id = int(values["Error Sentence ID"])
    except ValueError:
        raise data_error(path, where, f"field 'Error Sentence ID' is "
                         f"{values['Error Sentence ID']!r}, not a number") from None
    if (flag == "1") != (sentence_id in ids) or (flag == "0" and sentence_id != -1):
        raise data_error(path, where, f"field 'Error Sentence ID' is {sentence_id}, which does "
                         f"not fit error flag {flag} (sentence IDs {ids[0]}-{ids[-1]})")
    error_type = values["Error Type"] if flag == "1" else "NA"
    if flag == "1" and error_type not in ERROR_TYPES:
        raise data_error(path, where, f"field 'Error Type' is {error_type!r}, not one of "
                         f"{', '.join(sorted(ERROR_TYPES))}")
    corrected = values["Corrected Sentence"] if flag == "1" else "NA"
    if flag == "1" and corrected in ("", "NA"):
        raise data_error(path, where, "field 'Corrected Sentence' is missing")
    metadata = {
        "error_flag": flag,
        "error_type": error_type,
        "error_sentence_id": sentence_id,
        "error_sentence": values["Error Sentence"] if flag == "1" else "NA",
        "corrected_sentence": corrected,
        "topic": error_type if flag == "1" else "no error",
        "source": "MEDEC-MS",
        "language": "en",
    }
    return Question(values["Text ID"], "\n".join(lines), {}, flag, metadata=metadata)


def _sentence_ids(lines: list[str]) -> list[int]:
    """The sentence IDs of a "Sentences" field: a line starting "N " opens sentence N when
    N follows the previous ID; other lines continue the sentence before them."""
    ids: list[int] = []
    for line in lines:
        match = _SENTENCE_LINE.match(line)
        if match is not None and int(match.group(1)) == (ids[-1] + 1 if ids else 0):
            ids.append(int(match.group(1)))
    return ids


def _loader(name: str, filename: str):
    expects = f"{filename} of the MEDEC release (MEDEC-MS folder)"

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            return parse_csv(sample_path(f"medec/{filename}")), BUNDLED
        if data is None:
            raise no_hub(name, expects)
        path = find(data, (filename, f"MEDEC-MS/{filename}"), name, expects)
        return parse_csv(path), str(path)

    return load


def _medec_metrics() -> tuple[tuple[Any, ...], ...]:
    from medq.scoring.medec import medec_lines, medec_metrics

    return (("medec", medec_metrics, medec_lines),)


register_task(
    TaskSpec("medec", "test", "597 clinical texts: find and fix the error (MS test)",
             CITATION, CITE_SHORT, _loader("medec", TEST_FILE), answer_kind="correction",
             metrics=_medec_metrics())
)
register_task(
    TaskSpec("medec_val", "validation", "574 clinical texts (MS validation)",
             CITATION, CITE_SHORT, _loader("medec_val", VAL_FILE), answer_kind="correction",
             metrics=_medec_metrics())
)
