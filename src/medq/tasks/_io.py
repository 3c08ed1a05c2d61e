"""Shared plumbing for the task loaders: strict record parsing and finding the data.

Parsing is strict on purpose: a malformed item is a `TaskDataError` naming the file, the
line (or item) and the field, never a silently skipped question.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from medq import _json
from medq.hub import HubFile, download
from medq.tasks.base import DatasetUnavailableError, TaskDataError
from medq.types import Question

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLES = PACKAGE_DATA / "samples"
SPLITS = PACKAGE_DATA / "splits"
BUNDLED = "bundled sample"

class TaskDataWarning(UserWarning):
    """Items of a data file were skipped because they cannot be scored; the message counts
    them and names the file and the first lines."""


_TYPE_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer"}


def data_error(path: Path, where: str, message: str) -> TaskDataError:
    """A TaskDataError reading ``<path>, <where>: <message>``."""
    return TaskDataError(f"{path}, {where}: {message}")


def read_text(path: Path) -> str:
    """The file's text, which must be non-empty UTF-8 (a BOM is dropped).

    Raises:
        TaskDataError: the file is empty, or not UTF-8 (naming the line of the first bad
            byte).
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise data_error(
            path, f"line {line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
            "file as UTF-8") from None
    if not text.strip():
        raise TaskDataError(f"{path}: the file is empty")
    return text


def _loads(path: Path, text: str, lineno: int | None = None) -> Any:
    """Strict JSON of a whole file (`lineno` None) or of one line of a JSON-lines file: a
    syntax error names the line, a key given twice names the key and its object."""
    try:
        return _json.loads(text)
    except json.JSONDecodeError as exc:
        line = exc.lineno if lineno is None else lineno
        raise data_error(path, f"line {line}", f"not valid JSON ({exc.msg})") from None
    except _json.DuplicateKeyError as exc:
        if lineno is None:
            raise TaskDataError(f"{path}: {exc}") from None
        raise data_error(path, f"line {lineno}", str(exc)) from None


def sniff_json(path: Path, text: str) -> Any | None:
    """The file parsed as one JSON document, or None when it is not one (e.g. JSON lines).

    Raises:
        TaskDataError: the document has a key twice in one object.
    """
    try:
        return _json.loads(text)
    except json.JSONDecodeError:
        return None
    except _json.DuplicateKeyError as exc:
        raise TaskDataError(f"{path}: {exc}") from None


def load_json(path: Path, text: str | None = None) -> Any:
    """Parse a whole-file JSON document; a syntax error names the file and line, a key
    given twice in one object names the key and the object."""
    return _loads(path, read_text(path) if text is None else text)


def iter_jsonl(path: Path, text: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines file."""
    lines = (read_text(path) if text is None else text).splitlines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = _loads(path, line, lineno)
        if not isinstance(record, dict):
            raise data_error(path, f"line {lineno}", "expected a JSON object")
        yield lineno, record


def field(record: Mapping[str, Any], name: str, path: Path, where: str, kind: type = str) -> Any:
    """record[name], which must be present and of type `kind` (a string must not be blank)."""
    if name not in record or record[name] is None:
        raise data_error(path, where, f"field {name!r} is missing")
    value = record[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = _TYPE_NAMES.get(kind, kind.__name__)
        raise data_error(
            path, where, f"field {name!r} must be {expected}, not {type(value).__name__}"
        )
    if isinstance(value, str) and kind is str and not value.strip():
        raise data_error(path, where, f"field {name!r} is empty")
    return value


def options_field(record: Mapping[str, Any], name: str, path: Path, where: str) -> dict[str, str]:
    """A non-empty {letter: text} mapping of non-blank strings."""
    options = field(record, name, path, where, dict)
    if not options:
        raise data_error(path, where, f"field {name!r} is empty")
    for letter, text in options.items():
        if not isinstance(text, str):
            raise data_error(path, where, f"field {name!r}: option {letter!r} is not a string")
    return dict(options)


def make_question(
    path: Path,
    where: str,
    *,
    id: str,
    stem: str,
    options: Mapping[str, str],
    gold: str,
    gold_field: str,
    context: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Question:
    """A Question, with an empty stem, empty options, an option with no text, or a gold
    letter outside the options reported as data errors (no model can answer those right)."""
    if not stem.strip():
        raise data_error(path, where, "the question (stem) is empty")
    if not options:
        raise data_error(path, where, "field 'options' is empty")
    for letter, text in options.items():
        if not str(text).strip():
            raise data_error(path, where, f"option {letter!r} has no text")
    if gold not in options:
        letters = ", ".join(options)
        raise data_error(path, where, f"field {gold_field!r} is {gold!r}, not one of {letters}")
    return Question(
        id=id, stem=stem, options=options, gold=gold, context=context, metadata=metadata or {}
    )


def check_option_count(questions: Sequence[Question], n: int, path: Path, name: str) -> None:
    """Every question has exactly `n` options (catches a 5-option file passed as 4-option)."""
    for q in questions:
        if len(q.options) != n:
            raise data_error(
                path,
                f"item {q.id!r}",
                f"field 'options' has {len(q.options)} options; task {name!r} expects {n}",
            )


@cache
def split_ids(filename: str) -> tuple[str, ...]:
    """An official split's ID list shipped in ``medq/data/splits`` (one ID a line)."""
    text = (SPLITS / filename).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def sample_path(relative: str) -> Path:
    """A file of the bundled samples (``medq/data/samples/<relative>``)."""
    return SAMPLES / relative


def no_sample(name: str, why: str) -> DatasetUnavailableError:
    """The error for a task that ships no sample."""
    return DatasetUnavailableError(f"Task {name!r} has no bundled sample ({why}).")


def no_hub(name: str, expects: str) -> DatasetUnavailableError:
    """The error for a task with no pinned Hub copy: data must come from ``--data``."""
    return DatasetUnavailableError(
        f"Task {name!r} has no pinned Hugging Face Hub copy; pass --data PATH pointing at "
        f"{expects}."
    )


_ASKED: ContextVar[list[HubFile] | None] = ContextVar("medq_hub_files_asked", default=None)


@contextmanager
def hub_files_asked() -> Iterator[list[HubFile]]:
    """Inside the block, `fetch` records the Hub files a loader asks for and downloads
    nothing (it raises DatasetUnavailableError): how `medq tasks NAME` learns the pinned
    copy of each task from its own loader."""
    asked: list[HubFile] = []
    token = _ASKED.set(asked)
    try:
        yield asked
    finally:
        _ASKED.reset(token)


def fetch(name: str, files: Sequence[HubFile], expects: str) -> list[Path]:
    """Download (or find in the cache) a task's pinned Hub files.

    Raises:
        DatasetUnavailableError: one sentence naming the task and how to use ``--data``.
    """
    if not files:
        raise no_hub(name, expects)
    asked = _ASKED.get()
    if asked is not None:
        asked.extend(files)
        raise DatasetUnavailableError(f"Task {name!r}: Hub files recorded, not downloaded.")
    paths = []
    for file in files:
        try:
            paths.append(download(file))
        except (OSError, ValueError) as exc:
            raise DatasetUnavailableError(
                f"Task {name!r} could not be loaded from the Hugging Face Hub "
                f"({file.repo_id}@{file.revision[:12]}) and is not in the cache; "
                f"pass --data PATH pointing at {expects}."
            ) from exc
    return paths


def find(data: Path, candidates: Sequence[str], name: str, expects: str) -> Path:
    """`data` itself when it is a file, else the first of `candidates` inside the folder."""
    if data.is_file():
        return data
    if data.is_dir():
        for candidate in candidates:
            path = data / candidate
            if path.is_file():
                return path
        raise DatasetUnavailableError(
            f"--data {data} holds no file task {name!r} can read; "
            f"pass --data PATH pointing at {expects}."
        )
    raise DatasetUnavailableError(
        f"--data {data} does not exist; pass --data PATH pointing at {expects}."
    )
