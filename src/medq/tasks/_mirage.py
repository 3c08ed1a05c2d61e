"""Reader for MIRAGE's ``benchmark.json``, accepted as ``--data`` by the five sets it holds.

Xiong, G., Jin, Q., Lu, Z., & Zhang, A. (2024). Benchmarking Retrieval-Augmented
Generation for Medicine. Findings of ACL 2024. https://github.com/Teddy-XiongGZ/MIRAGE

The file maps a section ("medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu") to
``{id: {"question", "options", "answer", ...}}``; it is recognised by its content, not its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medq.tasks._io import data_error, field, make_question, options_field
from medq.types import Question

SECTIONS = frozenset({"medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu"})
FILENAME = "benchmark.json"
CITATION = (
    "Xiong, G., Jin, Q., Lu, Z., & Zhang, A. (2024). Benchmarking Retrieval-Augmented "
    "Generation for Medicine. Findings of ACL 2024."
)

Metadata = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


def is_benchmark(document: Any) -> bool:
    """True when a parsed JSON document looks like MIRAGE's benchmark.json."""
    return (
        isinstance(document, dict)
        and bool(document)
        and set(document) <= SECTIONS
        and all(isinstance(v, dict) for v in document.values())
    )


def questions(
    path: Path,
    document: Mapping[str, Any],
    section: str,
    metadata: Metadata,
    keep: Callable[[str], bool] = lambda key: True,
) -> list[Question]:
    """The Questions of one section, in the file's order, for the IDs `keep` accepts."""
    if section not in document:
        raise data_error(path, "top level", f"field {section!r} is missing")
    out = []
    for key, record in document[section].items():
        if not keep(key):
            continue
        where = f"item '{section}/{key}'"
        if not isinstance(record, dict):
            raise data_error(path, where, "expected a JSON object")
        out.append(
            make_question(
                path,
                where,
                id=key,
                stem=field(record, "question", path, where),
                options=options_field(record, "options", path, where),
                gold=field(record, "answer", path, where),
                gold_field="answer",
                metadata=metadata(key, record),
            )
        )
    return out
