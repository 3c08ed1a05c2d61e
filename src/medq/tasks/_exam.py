"""Shared loader of national exam MCQ releases: records in JSON, JSON lines, CSV or parquet.

Each exam module (HealthQA-BR, PersianMedQA, CMExam, EMPEC, KorMedMCQA, HEAD-QA) declares
an `ExamFormat`: which field holds the question, the options (a mapping, a list, one text
with a line per option, or one column per letter), the answer (a letter, a 0- or 1-based
index, or the option's text), the item ID and the metadata to keep (specialty, exam,
year, profession). Parsing is strict: a record without one of them, or an answer that is
not an option, is a `TaskDataError` naming the file, the row and the field.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from medq.hub import HubFile
from medq.tasks._io import data_error, fetch, iter_jsonl, load_json, make_question, read_text
from medq.tasks.base import DatasetUnavailableError, TaskDataError, TaskSpec, register_task
from medq.types import LETTERS, Question

AnswerKind = Literal["letter", "index0", "index1", "text"]
_OPTION_LINE = re.compile(r"^\s*([A-J])\s*[.、:：)\]]?\s*(.*)$")


@dataclass(frozen=True)
class ExamFormat:
    """How one exam release writes an item.

    Attributes:
        question: the field with the question text.
        options: the field with the options — a mapping (``{"A": ...}`` or ``{"1": ...}``),
            a list, or one text with a line per option ("A. ...") — or a tuple of letter
            columns (``("A", "B", "C", "D", "E")``).
        answer: the field with the answer; `answer_kind` says how to read it.
        answer_kind: ``letter`` ("B"), ``index0`` / ``index1`` (0- or 1-based position),
            ``text`` (the correct option's text).
        id: the field with the item's ID; None numbers items by position (``<prefix>-0001``).
        metadata: metadata key -> field name (e.g. ``{"specialty": "field"}``).
        fixed: metadata every item gets (``language``, ``source``).
    """

    question: str
    options: str | tuple[str, ...]
    answer: str
    answer_kind: AnswerKind = "letter"
    id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)


def records(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) of every item of a JSON, JSON-lines, CSV or parquet file."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        from medq.tasks._parquet import parquet_records

        yield from parquet_records(path)
        return
    if suffix == ".jsonl":
        for lineno, record in iter_jsonl(path):
            yield f"line {lineno}", record
        return
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
        for record in reader:
            yield f"line {reader.line_num}", dict(record)
        return
    document = load_json(path)
    if isinstance(document, dict):
        document = next((document[k] for k in ("data", "questions", "items", "test")
                         if isinstance(document.get(k), list)), None)
    if not isinstance(document, list):
        raise TaskDataError(f"{path}: expected a JSON array of items (or JSON lines, CSV, "
                            f"parquet)")
    for i, record in enumerate(document):
        if not isinstance(record, dict):
            raise data_error(path, f"item {i + 1}", "expected a JSON object")
        yield f"item {i + 1}", record


def _value(record: Mapping[str, Any], name: str, path: Path, where: str) -> Any:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise data_error(path, where, f"field {name!r} is missing")
    return value


def _options(record: Mapping[str, Any], spec: ExamFormat, path: Path,
             where: str) -> dict[str, str]:
    if isinstance(spec.options, tuple):
        found = {c: record.get(c) for c in spec.options}
        present = {k: str(v) for k, v in found.items()
                   if v is not None and str(v).strip() and str(v) != "nan"}
        if len(present) < 2:
            raise data_error(path, where, f"fewer than two of the option fields "
                                          f"{', '.join(spec.options)}")
        return {LETTERS[i]: present[k] for i, k in enumerate(k for k in spec.options
                                                              if k in present)}
    raw = _value(record, spec.options, path, where)
    if isinstance(raw, str) and raw.strip()[:1] in "[{":
        try:
            raw = json.loads(raw)
        except ValueError:
            pass
    if isinstance(raw, Mapping):
        values = [str(v) for _, v in sorted(raw.items(), key=lambda kv: _key_order(kv[0]))]
    elif isinstance(raw, list | tuple):
        values = [str(v) for v in raw]
    elif isinstance(raw, str):
        values = []
        for line in raw.splitlines():
            match = _OPTION_LINE.match(line)
            if match and match.group(1) == LETTERS[len(values)]:
                values.append(match.group(2).strip())
            elif line.strip() and values:
                values[-1] += " " + line.strip()
    else:
        values = []
    if len(values) < 2 or any(not v.strip() for v in values):
        raise data_error(path, where, f"field {spec.options!r} holds no list of options")
    return {LETTERS[i]: v for i, v in enumerate(values)}


def _key_order(key: Any) -> tuple[int, str]:
    text = str(key)
    digits = re.sub(r"\D", "", text)
    return (int(digits) if digits else 0, text)


def _gold(record: Mapping[str, Any], spec: ExamFormat, options: Mapping[str, str],
          path: Path, where: str) -> str:
    raw = _value(record, spec.answer, path, where)
    letters = list(options)
    if spec.answer_kind == "letter":
        gold = str(raw).strip().rstrip(".").upper()
    elif spec.answer_kind == "text":
        matches = [k for k, v in options.items() if v.strip() == str(raw).strip()]
        if len(matches) != 1:
            raise data_error(path, where, f"field {spec.answer!r} matches "
                                          f"{len(matches)} options, not one")
        gold = matches[0]
    else:
        try:
            index = int(str(raw).strip()) - (1 if spec.answer_kind == "index1" else 0)
        except ValueError:
            raise data_error(path, where, f"field {spec.answer!r} is {raw!r}, not a "
                                          f"number") from None
        gold = letters[index] if 0 <= index < len(letters) else f"#{raw}"
    return gold


def parse_exam(path: Path, spec: ExamFormat, prefix: str,
               keep: Callable[[Mapping[str, Any]], bool] | None = None) -> tuple[Question, ...]:
    """The questions of one release file in `spec`'s format (`keep` filters records)."""
    out = []
    for n, (where, record) in enumerate(records(path), start=1):
        if keep is not None and not keep(record):
            continue
        options = _options(record, spec, path, where)
        gold = _gold(record, spec, options, path, where)
        identifier = str(_value(record, spec.id, path, where)) if spec.id else f"{prefix}-{n:05d}"
        metadata = {**spec.fixed, **{k: record.get(f) for k, f in spec.metadata.items()
                                     if record.get(f) not in (None, "")}}
        out.append(make_question(path, where, id=identifier,
                                 stem=str(_value(record, spec.question, path, where)),
                                 options=options, gold=gold, gold_field=spec.answer,
                                 metadata=metadata))
    if not out:
        raise TaskDataError(f"{path}: no items")
    return tuple(out)


def register_exam(
    name: str,
    *,
    split: str,
    summary: str,
    citation: str,
    cite_short: str,
    language: str,
    spec: ExamFormat,
    files: Sequence[str],
    hub: Sequence[HubFile] = (),
    expects: str,
    keep: Callable[[Mapping[str, Any]], bool] | None = None,
    metrics: tuple[tuple[Any, ...], ...] = (),
) -> None:
    """Register an exam task: ``--data`` (a file, or a folder holding one of `files`), or
    the pinned `hub` files when there are any; no sample is shipped."""

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            raise DatasetUnavailableError(
                f"Task {name!r} has no bundled sample (use --data PATH pointing at {expects}).")
        if data is None:
            paths = fetch(name, list(hub), expects)
            questions = tuple(q for p in paths for q in parse_exam(p, spec, name, keep))
            return questions, "; ".join(f.label for f in hub)
        path = _find(data, files, name, expects)
        return parse_exam(path, spec, name, keep), str(path)

    register_task(TaskSpec(name, split, summary, citation, cite_short, load,
                           metrics=metrics, language=language))


def _find(data: Path, files: Sequence[str], name: str, expects: str) -> Path:
    if data.is_file():
        return data
    if data.is_dir():
        for candidate in files:
            matches = sorted(data.glob(candidate))
            if matches:
                return matches[0]
    raise DatasetUnavailableError(
        f"--data {data} holds no file task {name!r} can read; pass --data PATH pointing at "
        f"{expects}.")
