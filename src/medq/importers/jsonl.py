"""medq's generic import format: one JSON object a line, plain or gzipped.

Each line names the item and gives either the model's raw response or the letter it chose::

    {"id": "0000", "response": "The patient most likely has ... Answer: B"}
    {"id": "0001", "choice": "C", "prompt_tokens": 412, "completion_tokens": 3}

Fields:
    id                 the item's ID in the task (a string, or an integer) — required;
    response           the raw response text, read by medq's extractor; or
    choice             the chosen option letter, which must be one of the item's options
                       (anything else is invalid); exactly one of the two is required;
    prompt_tokens      optional, a non-negative integer;
    completion_tokens  optional, a non-negative integer;
    latency_s          optional, seconds the call took;
    paper_choice       optional, the answer the source's own parser read (a string);
    paper_correct      optional, the source's own verdict (true/false), kept beside medq's.

Lines for IDs not in the task are an error (file, line); task items with no line are
counted as missing and reported, never scored.
"""

from __future__ import annotations

from medq.importers.base import (
    ImportedFile,
    ImportedItem,
    ReadRequest,
    count,
    data_error,
    formats,
    item_id,
    iter_json_lines,
    optional,
    seconds,
)

PAPER_PARSER = "the source's own verdicts (paper_correct)"


@formats.register()
def jsonl(request: ReadRequest) -> ImportedFile:
    """The items of a generic JSON-lines predictions file (see the module docstring)."""
    path = request.path
    items = []
    for line, record in iter_json_lines(path):
        response = optional(record, "response", str, path, line)
        choice = optional(record, "choice", str, path, line)
        if (response is None) == (choice is None):
            raise data_error(
                path, line,
                "give exactly one of field 'response' (raw text) and field 'choice' (a letter)",
            )
        items.append(
            ImportedItem(
                item_id=item_id(record, "id", path, line),
                line=line,
                responses=(response if choice is None else choice,),
                is_choice=choice is not None,
                paper_choice=optional(record, "paper_choice", str, path, line),
                paper_correct=optional(record, "paper_correct", bool, path, line),
                prompt_tokens=count(record, "prompt_tokens", path, line),
                completion_tokens=count(record, "completion_tokens", path, line),
                latency_s=seconds(record, "latency_s", path, line),
            )
        )
    has_paper = any(item.paper_correct is not None for item in items)
    return ImportedFile(tuple(items), PAPER_PARSER if has_paper else None)
