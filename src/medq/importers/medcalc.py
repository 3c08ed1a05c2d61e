"""MedCalc-Bench's released outputs: one JSON object a line per test row.

Khandekar et al. (2024), MedCalc-Bench, ``evaluation/outputs/*.jsonl`` of
https://github.com/ncbi-nlp/MedCalc-Bench::

    {"Row Number": 1, "Calculator ID": "2", "Category": "lab", "Note ID": "...",
     "Patient Note": "...", "Question": "...", "LLM Answer": "11.0",
     "LLM Explanation": "N/A", "Ground Truth Answer": "25.238",
     "Ground Truth Explanation": "...", "Result": "Incorrect"}

Tasks: ``medcalc`` (v1.0, the release these outputs answer) or ``medcalc_v1.2``; rows join
by Row Number. The release keeps only the answer its own parser extracted (``LLM Answer``),
not the raw reply, so medq reads that value with `medq.scoring.medcalc` and scores it with
the official tolerance rule. When the official extraction failed, the release holds the
Python error text instead ("name 'N' is not defined", and for all 20 gestational-age rows
"cannot access local variable 'ground_truth' ...", a bug of that script version); medq
finds no answer there and counts the row invalid, the paper counted it Incorrect. The
paper's verdict (``Result``) is kept in ``details["paper"]``.
"""

from __future__ import annotations

from typing import Any

from medq.importers.base import (
    ImportDataError,
    ImportedFile,
    ImportedItem,
    ReadRequest,
    data_error,
    formats,
    item_id,
    iter_json_lines,
    optional,
    require,
)

TASKS = ("medcalc", "medcalc_v1.2")
PAPER_PARSER = (
    "MedCalc-Bench's run.py releases only its extracted answer; a failed extraction is "
    "stored as the Python error text and scored Incorrect"
)
_VERDICTS = {"Correct": True, "Incorrect": False}


@formats.register()
def medcalc(request: ReadRequest) -> ImportedFile:
    """The rows of a MedCalc-Bench outputs file (``<model>_<prompt>.jsonl``)."""
    path = request.path
    if request.task not in TASKS:
        raise ImportDataError(
            f"MedCalc-Bench outputs answer the tasks {', '.join(TASKS)}; not {request.task!r}"
        )
    items = []
    for line, record in iter_json_lines(path):
        answer = require(record, "LLM Answer", (str, int, float), path, line)
        verdict = require(record, "Result", str, path, line)
        if verdict not in _VERDICTS:
            raise data_error(path, line, f"field 'Result' is {verdict!r}, not Correct or Incorrect")
        explanation = optional(record, "LLM Explanation", str, path, line)
        extra: dict[str, Any] = {
            "calculator_id": str(require(record, "Calculator ID", (str, int), path, line)),
        }
        if explanation and explanation != "N/A":
            extra["paper_explanation"] = explanation
        items.append(
            ImportedItem(
                item_id=item_id(record, "Row Number", path, line),
                line=line,
                responses=(str(answer),),
                paper_choice=str(answer),
                paper_correct=_VERDICTS[verdict],
                paper_gold=optional(record, "Ground Truth Answer", str, path, line),
                extra=extra,
            )
        )
    if not items:
        raise ImportDataError(f"{path}: no rows")
    return ImportedFile(tuple(items), PAPER_PARSER, {"source": "MedCalc-Bench outputs"})


READER = "calc"
"""Released MedCalc-Bench answers are read by the calculation strategies' reader."""
