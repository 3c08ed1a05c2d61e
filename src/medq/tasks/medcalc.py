"""MedCalc-Bench: 1,047 patient notes, each with a question that one of 55 clinical
calculators answers (Cockcroft-Gault, CHA2DS2-VASc, MELD-Na, due dates, ...).

Khandekar, N., Jin, Q., Xiong, G., Dunn, S., Applebaum, S. S., Anwar, Z., Sarfo-Gyamfi, M.,
Safranek, C. W., Anwar, A. A., Zhang, A., Gilson, A., Singer, M. B., Dave, A., Taylor, A.,
Zhang, A., Chen, Q., & Lu, Z. (2024). MedCalc-Bench: Evaluating Large Language Models for
Medical Calculations. NeurIPS 2024 Datasets and Benchmarks Track.
https://github.com/ncbi-nlp/MedCalc-Bench (data: CC BY-SA 4.0)

Tasks:
    medcalc        v1.0 test set (1,047 rows), the release the paper's numbers use; from
                   the Hub parquet (``ncbi/MedCalc-Bench-v1.0`` at a pinned revision) or,
                   with ``--data``, that parquet or the GitHub ``test_data.csv``.
    medcalc_v1.2   the revised v1.2 test set (same columns), from the Hub at a pinned
                   revision or ``--data``.

An item is open-answer: ``options`` is empty, ``stem`` is the question, ``context`` the
patient note, ``gold`` the Ground Truth Answer. Scoring is the official tolerance rule
(`medq.calculators.tolerance.is_correct`): a decimal is correct within the row's
[Lower Limit, Upper Limit], an integer when it rounds to the ground truth, dates and
(weeks, days) only when exact. IDs are the Row Number.

Metadata (for breakdowns): ``category``, ``calculator_id``, ``calculator_name``,
``output_type``, ``answer_format`` ("weeks_days" for Calculator 69, whose rows the release
labels "integer"), ``lower_limit``, ``upper_limit``, ``note_id``, ``note_type``;
``subject`` (= category) and ``topic`` (= calculator name), so generic reports break
results down by both; and ``explanation``, the row's Ground Truth Explanation, which
`one_shot_cot` shows as the worked example when answering *another* row of the same
calculator (never the row itself). Relevant Entities (the gold inputs) are not kept.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from medq.calculators.tolerance import is_correct, parse_number
from medq.hub import HubFile
from medq.tasks._io import (
    BUNDLED,
    TaskDataWarning,
    data_error,
    fetch,
    find,
    no_hub,
    read_text,
    sample_path,
)
from medq.tasks._parquet import parquet_records
from medq.tasks.base import (
    DatasetUnavailableError,
    TaskDataError,
    TaskSpec,
    register_task,
)
from medq.types import Question

CITATION = (
    "Khandekar, N., Jin, Q., Xiong, G., Dunn, S., Applebaum, S. S., Anwar, Z., "
    "Sarfo-Gyamfi, M., Safranek, C. W., Anwar, A. A., Zhang, A., Gilson, A., Singer, M. B., "
    "Dave, A., Taylor, A., Zhang, A., Chen, Q., & Lu, Z. (2024). MedCalc-Bench: Evaluating "
    "Large Language Models for Medical Calculations. NeurIPS 2024 Datasets and Benchmarks."
)
CITE_SHORT = "Khandekar et al., NeurIPS 2024 D&B"

COLUMNS = (
    "Row Number",
    "Calculator ID",
    "Calculator Name",
    "Category",
    "Output Type",
    "Note ID",
    "Note Type",
    "Patient Note",
    "Question",
    "Ground Truth Answer",
    "Lower Limit",
    "Upper Limit",
    "Ground Truth Explanation",
)
OUTPUT_TYPES = frozenset({"decimal", "integer", "date"})

PARQUET = "test-00000-of-00001.parquet"
CSV = "test_data.csv"
EXPECTS = (
    f"MedCalc-Bench's test set: the Hub parquet ({PARQUET}) or the GitHub release's "
    f"dataset/{CSV}"
)
# The v1.0 revision is the commit a stored copy of the dataset card was served at (its card
# lists the 1,047-row test split under data/test-*); the parquet's bytes at that commit
# could not be checked offline. v1.2's revision is the one its later audits cite.
HUB_V10 = HubFile(
    "ncbi/MedCalc-Bench-v1.0",
    "data/test-00000-of-00001.parquet",
    "7b0afa2294114be4782883fa1b24e4f167d38a81",
)
HUB_V12 = HubFile(
    "ncbi/MedCalc-Bench-v1.2",
    "data/test-00000-of-00001.parquet",
    "acb17912657c084f5bf08b8fd029812f84630497",
)


def answer_format(output_type: str, ground_truth: str) -> str:
    """How an answer is read and compared: "decimal", "integer", "date" or "weeks_days".

    The release labels Calculator 69 (gestational age) "integer" although its answers are
    (weeks, days) tuples; such a ground truth makes the format "weeks_days".
    """
    if output_type == "integer" and "week" in ground_truth.lower():
        return "weeks_days"
    return output_type


def official_score(question: Question, answer: str) -> bool:
    """MedCalc-Bench's official rule for one extracted answer (the task's `scorer`)."""
    meta = question.metadata
    return is_correct(
        meta["answer_format"], answer, question.gold, meta.get("lower_limit"),
        meta.get("upper_limit"),
    )


MAX_SKIPPED_FRACTION = 0.05
"""Rows whose gold their own rule cannot score are skipped (and counted) up to this share of
a file: a few such rows are errata a researcher wants the rest scored around; more mean a
wrong or mangled file (limit columns swapped, a shifted column), which is refused."""


class UnscorableRowError(TaskDataError):
    """A MedCalc-Bench row whose Ground Truth Answer fails the row's own scoring rule."""


def parse_records(
    path: Path, records: Iterable[tuple[str, Mapping[str, Any]]], release: str
) -> tuple[Question, ...]:
    """Questions from (where, record) pairs of a MedCalc-Bench table.

    A row whose gold answer its own rule cannot score (decimal limits swapped or not
    numbers, a gold that is not a number, a date or (weeks, days), a gold outside its own
    limits) is skipped with a `TaskDataWarning` that counts and locates the skipped rows;
    when they are more than `MAX_SKIPPED_FRACTION` of the file, the file is refused.
    """
    questions = []
    skipped: list[str] = []
    seen: set[str] = set()
    total = 0
    for where, record in records:
        total += 1
        try:
            row = _row(path, where, record)
        except UnscorableRowError as exc:
            skipped.append(str(exc).removeprefix(f"{path}, "))
            continue
        if row["id"] in seen:
            raise data_error(path, where, f"Row Number {row['id']} appears twice")
        seen.add(row["id"])
        metadata = {k: row[k] for k in _METADATA_KEYS}
        metadata.update(subject=row["category"], topic=row["calculator_name"],
                        source=f"MedCalc-Bench {release}", language="en")
        questions.append(
            Question(row["id"], row["question"], {}, row["gold"], context=row["note"],
                     metadata=metadata)
        )
    if not total:
        raise TaskDataError(f"{path}: no rows")
    if skipped:
        examples = "; ".join(skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        counted = f"{len(skipped)} of {total} rows have a gold answer their own scoring rule " \
                  f"cannot accept ({examples})"
        if not questions or len(skipped) > MAX_SKIPPED_FRACTION * total:
            raise TaskDataError(f"{path}: {counted}; refusing the file (more than "
                                f"{MAX_SKIPPED_FRACTION:.0%} of it cannot be scored)")
        warnings.warn(TaskDataWarning(f"{path}: skipped {counted}; scoring the other "
                                      f"{len(questions)}"), stacklevel=2)
    return tuple(questions)


def gold_problem(fmt: str, gold: str, lower: str, upper: str) -> str | None:
    """Why the row's own rule can never score its gold answer as correct, or None."""
    if fmt == "decimal":
        low, high = parse_number(lower), parse_number(upper)
        if low is None or high is None:
            return (f"field 'Lower Limit' {lower!r} or 'Upper Limit' {upper!r} is not a number "
                    "(a limit must be numeric)")
        if low > high:
            return f"the limits are swapped (Lower Limit {lower} > Upper Limit {upper})"
        if parse_number(gold) is None:
            return f"field 'Ground Truth Answer' {gold!r} is not a number"
    try:
        if is_correct(fmt, gold, gold, lower, upper):
            return None
    except ValueError as exc:
        return f"field 'Ground Truth Answer': {exc}"
    return f"field 'Ground Truth Answer' {gold!r} lies outside its own limits [{lower}, {upper}]"


_METADATA_KEYS = (
    "category", "calculator_id", "calculator_name", "output_type", "answer_format",
    "lower_limit", "upper_limit", "note_id", "note_type", "explanation",
)


def _row(path: Path, where: str, record: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, str] = {}
    for column in COLUMNS:
        value = record.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if column in ("Note ID", "Note Type", "Ground Truth Explanation"):
                values[column] = ""
                continue
            raise data_error(path, where, f"field {column!r} is missing")
        values[column] = str(value).strip() if column != "Patient Note" else str(value)
    output_type = values["Output Type"].lower()
    if output_type not in OUTPUT_TYPES:
        raise data_error(
            path, where, f"field 'Output Type' is {values['Output Type']!r}, not one of "
            f"{', '.join(sorted(OUTPUT_TYPES))}"
        )
    gold = values["Ground Truth Answer"]
    fmt = answer_format(output_type, gold)
    problem = gold_problem(fmt, gold, values["Lower Limit"], values["Upper Limit"])
    if problem is not None:
        raise UnscorableRowError(f"{path}, {where}: {problem}")
    return {
        "where": where,
        "id": _int_text(values["Row Number"], path, where, "Row Number"),
        "calculator_id": _int_text(values["Calculator ID"], path, where, "Calculator ID"),
        "calculator_name": values["Calculator Name"],
        "category": values["Category"],
        "output_type": output_type,
        "answer_format": fmt,
        "lower_limit": values["Lower Limit"],
        "upper_limit": values["Upper Limit"],
        "note_id": values["Note ID"],
        "note_type": values["Note Type"],
        "note": values["Patient Note"],
        "question": values["Question"],
        "gold": gold,
        "explanation": values["Ground Truth Explanation"],
    }


def _int_text(value: str, path: Path, where: str, column: str) -> str:
    try:
        return str(int(float(value)))
    except ValueError:
        raise data_error(path, where, f"field {column!r} is {value!r}, not a number") from None


def csv_records(path: Path, text: str | None = None) -> Iterator[tuple[str, dict[str, str]]]:
    """(where, row) for each data row of a MedCalc-Bench CSV (header on line 1)."""
    reader = csv.DictReader(io.StringIO(read_text(path) if text is None else text))
    missing = [c for c in ("Row Number", "Patient Note", "Question", "Ground Truth Answer")
               if c not in (reader.fieldnames or [])]
    if missing:
        raise data_error(path, "line 1", f"header lacks column {missing[0]!r}")
    for record in reader:
        yield f"line {reader.line_num}", record


def parse_file(path: Path, name: str, release: str) -> tuple[Question, ...]:
    """Questions of a MedCalc-Bench parquet or CSV file."""
    if path.suffix == ".parquet":
        return parse_records(path, parquet_records(path), release)
    return parse_records(path, csv_records(path), release)


def _load(name: str, release: str, hub: HubFile | None):
    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            if release != "v1.0":
                raise DatasetUnavailableError(
                    f"Task {name!r} has no bundled sample (the sample is v1.0: use 'medcalc')."
                )
            return parse_file(sample_path(f"medcalc/{CSV}"), name, release), BUNDLED
        if data is None:
            if hub is None:
                raise no_hub(name, EXPECTS)
            (path,) = fetch(name, [hub], EXPECTS)
            return parse_file(path, name, release), hub.label
        path = find(data, (PARQUET, CSV, f"data/{PARQUET}", f"dataset/{CSV}"), name, EXPECTS)
        return parse_file(path, name, release), str(path)

    return load


def _medcalc_metrics() -> tuple[tuple[Any, ...], ...]:
    from medq.scoring.medcalc import medcalc_lines, medcalc_table

    return (("medcalc", medcalc_table, medcalc_lines),)


register_task(
    TaskSpec(
        "medcalc", "test", "1047 patient notes, 55 calculators (v1.0)", CITATION, CITE_SHORT,
        _load("medcalc", "v1.0", HUB_V10), scorer=official_score, answer_kind="calculation",
        metrics=_medcalc_metrics(),
    )
)
register_task(
    TaskSpec(
        "medcalc_v1.2", "test", "revised MedCalc-Bench test set (v1.2)", CITATION, CITE_SHORT,
        _load("medcalc_v1.2", "v1.2", HUB_V12), scorer=official_score,
        answer_kind="calculation", metrics=_medcalc_metrics(),
    )
)
