"""BiasMedQA's released responses: MedQA-US (5 options) with injected cognitive biases.

Schmidgall, S., Harris, C., Essien, I., Olshvang, D., Rahman, T., Kim, J. W., Ziaei, R.,
Eshraghian, J., Abadir, P., & Chellappa, R. (2024). Addressing cognitive bias in medical
language models. arXiv:2402.08113. https://github.com/carlwharris/cog-bias-med-LLMs
(no licence file: medq ships none of it; tests read it from a local copy.)

One object a line, every model and condition in one file::

    {"model": "gpt-4-0613", "condition": "bias_output_false_consensus", "record_no": 0,
     "idx": 0, "n_shots": 0, "bias_insert": "...", "response": "C", "is_correct": false}

``--model`` selects the model (and names the run); ``--condition`` the condition: the
released name (``bias_output_false_consensus``), or it without ``bias_output_``
(``false_consensus``); ``no_bias`` is ``bias_output``, the questions without an injected bias.
Items join task ``medqa_5opt`` by ``idx`` (question ``idx`` is ID ``"%04d" % idx``). Some
one-shot conditions lost ``idx`` on a few lines; there ``record_no`` is used instead, but only
when it equals ``idx`` on every line of the selection that has both. ``is_correct`` is the
paper's verdict (its parsed letter was not released).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medq.importers.base import (
    ImportDataError,
    ImportedFile,
    ImportedItem,
    ReadRequest,
    data_error,
    formats,
    iter_json_lines,
    optional,
    require,
)

PAPER_PARSER = "BiasMedQA's released is_correct flags"
PREFIX = "bias_output"
ALIASES = {"no_bias": PREFIX, "none": PREFIX, "unbiased": PREFIX}


@formats.register()
def biasmedqa(request: ReadRequest) -> ImportedFile:
    """One model's responses under one condition (streamed: the file holds all of them)."""
    path = request.path
    needle = _needle(request.model)
    models: set[str] = set()
    conditions: set[str] = set()
    keep = None if needle is None else lambda text: needle in text
    records = _select(request, keep, models, conditions)
    if not records:
        if not conditions:  # the model is absent: read every line to say which are there
            _select(request, None, models, conditions)
        raise ImportDataError(_nothing_selected(path, request, models, conditions))
    chosen = {record["condition"] for _, record in records}
    if len(chosen) > 1:
        raise ImportDataError(f"{path}: --condition {request.condition!r} matches several "
                              f"conditions: {', '.join(sorted(chosen))}")
    use_record_no = all(
        record["idx"] == record.get("record_no")
        for _, record in records if record.get("idx") is not None
    )
    items = tuple(_item(path, line, record, use_record_no) for line, record in records)
    meta = {"model": request.model, "condition": chosen.pop()}
    return ImportedFile(items, PAPER_PARSER, meta)


def _select(
    request: ReadRequest,
    keep: Callable[[str], bool] | None,
    models: set[str],
    conditions: set[str],
) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) of the requested model and condition; fills in the models seen and
    the requested model's conditions."""
    path, wanted = request.path, _candidates(request.condition)
    records = []
    for line, record in iter_json_lines(path, keep):
        model = require(record, "model", str, path, line)
        models.add(model)
        if model != request.model:
            continue
        condition = require(record, "condition", str, path, line)
        conditions.add(condition)
        if condition in wanted:
            records.append((line, record))
    return records


def _candidates(condition: str | None) -> set[str]:
    if condition is None:
        return set()
    name = ALIASES.get(condition, condition)
    return {name, f"{PREFIX}_{name}"}


def _needle(model: str) -> str | None:
    """A substring every line for `model` contains, to skip other models' lines unparsed;
    None when JSON could escape the name differently."""
    encoded = json.dumps(model)
    return encoded if all(c.isalnum() or c in "-_." for c in model) else None


def _nothing_selected(path: Path, request: ReadRequest, models: set[str],
                      conditions: set[str]) -> str:
    if request.model not in models:
        return (f"{path}: no responses of model {request.model!r}; "
                f"models present: {', '.join(sorted(models)) or 'none'}")
    known = ", ".join(sorted(conditions))
    if request.condition is None:
        return (f"biasmedqa needs --condition (no_bias is bias_output); conditions of "
                f"{request.model!r} in {path}: {known}")
    return (f"{path}: no responses of {request.model!r} under condition "
            f"{request.condition!r}; its conditions: {known}")


def _item(path: Path, line: int, record: dict[str, Any], use_record_no: bool) -> ImportedItem:
    index = optional(record, "idx", int, path, line)
    source = "idx"
    if index is None:
        if not use_record_no:
            raise data_error(path, line, "field 'idx' is missing (and 'record_no' does not "
                             "match 'idx' elsewhere in this condition, so it cannot stand in)")
        index, source = require(record, "record_no", int, path, line), "record_no"
    extra: dict[str, Any] = {"condition": record["condition"]}
    for name in ("n_shots", "bias_insert"):
        if record.get(name) is not None:
            extra[name] = record[name]
    if source != "idx":
        extra["id_from"] = source
    return ImportedItem(
        item_id=f"{index:04d}",
        line=line,
        responses=(require(record, "response", str, path, line),),
        paper_correct=require(record, "is_correct", bool, path, line),
        extra=extra,
    )
