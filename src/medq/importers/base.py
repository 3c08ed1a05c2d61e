"""What an import format is to medq: a reader from a released file to `ImportedItem`s.

Each format module registers one reader with `formats` (registry key = function name =
file name). A reader only parses: it returns the items with their raw response text (or
chosen letter) and, where the release has one, the paper's own parsed answer and verdict.
Joining with the task, scoring with medq's extractor and storing are the engine's job
(`medq.importers.import_predictions`), so every format is scored the same way.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from medq import _json
from medq.registry import Registry


class ImportDataError(ValueError):
    """A malformed predictions file; the message names the file, the line and the field,
    e.g. ``…/preds.jsonl, line 17: field 'response' must be a string, not int``."""


def data_error(path: Path, line: int | str, message: str) -> ImportDataError:
    """An ImportDataError reading ``<path>, line <line>: <message>``."""
    where = f"line {line}" if isinstance(line, int) else line
    return ImportDataError(f"{path}, {where}: {message}")


@dataclass(frozen=True)
class ReadRequest:
    """What a reader is asked for.

    Attributes:
        path: the predictions file.
        task: the medq task the predictions answer (formats holding several benchmarks
            select by it).
        model: the model name given by the user (formats holding several models select by it).
        condition: a format-specific selector (BiasMedQA's bias condition), or None.
    """

    path: Path
    task: str
    model: str
    condition: str | None = None


@dataclass(frozen=True)
class ImportedItem:
    """One released prediction.

    Attributes:
        item_id: the question's ID in the task.
        line: the line of the file it came from (for error messages and provenance).
        responses: the raw response texts (the first is scored); empty when none was released.
        is_choice: the response is a chosen option letter, not free text; it is checked
            against the options rather than read by the extractor.
        paper_choice: the answer the paper's own parser took from the response, if released.
        paper_correct: the paper's own verdict, if released.
        paper_gold: the gold answer the file scored against, if it names one.
        prompt_tokens, completion_tokens, latency_s: released usage, where present.
        extra: other per-item facts worth keeping (stored in the sample's details).
    """

    item_id: str
    line: int
    responses: tuple[str, ...]
    is_choice: bool = False
    paper_choice: str | None = None
    paper_correct: bool | None = None
    paper_gold: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportedFile:
    """A reader's result: the selected items, how the paper parsed answers, and file facts.

    `paper_parser` is one sentence on the paper's own answer parser (shown beside medq's
    figure); `meta` holds facts about the release (source model name, mode, split...).
    """

    items: tuple[ImportedItem, ...]
    paper_parser: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    """Reads one released predictions file: ``reader(request) -> ImportedFile``."""

    def __call__(self, request: ReadRequest) -> ImportedFile: ...


formats: Registry[Callable[..., ImportedFile]] = Registry(
    "import format", "medq.importers", "medq.importers"
)


def open_text(path: Path) -> IO[str]:
    """The file as UTF-8 text, gunzipped when it is gzip (by content, not by name)."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_json_lines(
    path: Path, keep: Callable[[str], bool] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; `keep(line)` may skip lines unparsed.

    Raises:
        ImportDataError: a line that is not a JSON object, or a file that is not text.
    """
    try:
        with open_text(path) as lines:
            for lineno, line in enumerate(lines, start=1):
                if not line.strip() or (keep is not None and not keep(line)):
                    continue
                try:
                    record = _json.loads(line)
                except json.JSONDecodeError as exc:
                    raise data_error(path, lineno, f"not valid JSON ({exc.msg})") from None
                except _json.DuplicateKeyError as exc:
                    raise data_error(path, lineno, str(exc)) from None
                if not isinstance(record, dict):
                    raise data_error(path, lineno, "expected a JSON object")
                yield lineno, record
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise ImportDataError(f"{path}: not a UTF-8 JSON-lines file ({exc})") from None


_TYPE_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer",
               bool: "true or false", float: "a number"}


def _type_name(kinds: tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def require(
    record: Mapping[str, Any], name: str, kinds: type | tuple[type, ...], path: Path, line: int
) -> Any:
    """record[name], which must be present, not null, and of one of the types `kinds`."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if record.get(name) is None:
        raise data_error(path, line, f"field {name!r} is missing")
    return check_type(record[name], name, kinds, path, line)


def optional(
    record: Mapping[str, Any], name: str, kinds: type | tuple[type, ...], path: Path, line: int
) -> Any:
    """record[name] when present and not null (and of the types `kinds`), else None."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if record.get(name) is None:
        return None
    return check_type(record[name], name, kinds, path, line)


def check_type(value: Any, name: str, kinds: tuple[type, ...], path: Path, line: int) -> Any:
    """`value` when it is one of `kinds` (a bool is not an int; an int is a float)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = any(
        number and (kind is float or isinstance(value, kind))
        if kind in (int, float)
        else isinstance(value, kind)
        for kind in kinds
    )
    if not ok:
        raise data_error(
            path, line, f"field {name!r} must be {_type_name(kinds)}, not {type(value).__name__}"
        )
    return value


def item_id(record: Mapping[str, Any], name: str, path: Path, line: int) -> str:
    """record[name]: an item ID given as a string or an integer, as a string."""
    text = str(require(record, name, (str, int), path, line)).strip()
    if not text:
        raise data_error(path, line, f"field {name!r} is empty")
    return text


def count(record: Mapping[str, Any], name: str, path: Path, line: int) -> int:
    """A non-negative token count (0 when absent)."""
    value = optional(record, name, int, path, line)
    if value is None:
        return 0
    if value < 0:
        raise data_error(path, line, f"field {name!r} must not be negative, not {value}")
    return int(value)


def seconds(record: Mapping[str, Any], name: str, path: Path, line: int) -> float:
    """A non-negative duration in seconds (0 when absent or not a finite number)."""
    value = optional(record, name, float, path, line)
    if value is None or not math.isfinite(value):
        return 0.0
    if value < 0:
        raise data_error(path, line, f"field {name!r} must not be negative, not {value}")
    return float(value)
