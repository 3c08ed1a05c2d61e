"""Importing predictions made elsewhere: released outputs -> a medq run, scored by medq.

Papers release their models' raw responses (or the letters their pipelines chose); medq
serves them as a model backend through its one runner (one stored call per item), reads
each with its own readers, and keeps
the paper's own parsed answer and verdict beside medq's, so published tables can be
re-scored consistently and the difference between parsers stays visible.

Formats (one module each, registered in `formats`): ``mirage``, ``medagentsbench``,
``biasmedqa`` and the generic ``jsonl``.

Example:
    >>> from medq.importers import import_predictions
    >>> result = import_predictions("preds.jsonl", task="medqa", model="my-model",
    ...                             data="MedQA/US/4_options/phrases_no_exclude_test.jsonl")
    >>> result.summary["accuracy"], result.missing
"""

from __future__ import annotations

from medq.importers._engine import (
    ImportNotAvailableError,
    ImportResult,
    import_predictions,
)
from medq.importers.base import (
    ImportDataError,
    ImportedFile,
    ImportedItem,
    Reader,
    ReadRequest,
    formats,
)

__all__ = [
    "ImportDataError",
    "ImportNotAvailableError",
    "ImportResult",
    "ImportedFile",
    "ImportedItem",
    "ReadRequest",
    "Reader",
    "formats",
    "import_predictions",
]
