"""MIRAGE's released outputs: GPT-3.5 and GPT-4, chain of thought and MedRAG, all five sets.

Xiong, G., Jin, Q., Lu, Z., & Zhang, A. (2024). Benchmarking Retrieval-Augmented Generation
for Medicine. Findings of ACL 2024. https://github.com/Teddy-XiongGZ/MIRAGE

One JSON object a line (gzipped or not)::

    {"dataset": "medqa", "split": "test", "id": "0000", "mode": "cot",
     "llm": "OpenAI/gpt-4-32k", "retrieval": null, "raw_outputs": ["{...answer_choice...}"],
     "parsed_answer": "B", "gold": "B", "correct": true}

One file holds all five datasets; ``--task`` picks one: ``mmlu_medical`` (dataset ``mmlu``),
``medqa``, ``medmcqa``, ``pubmedqa_noctx`` (``pubmedqa``: MIRAGE's PubMedQA* shows no
abstract) or ``bioasq_yn`` (``bioasq``). Questions come from MIRAGE's ``benchmark.json``
(``--data``). ``parsed_answer`` / ``correct`` are the paper's own reading, kept beside medq's:
MIRAGE's parser turns an answer it cannot read into "A", where medq counts it invalid.
"""

from __future__ import annotations

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

#: medq task -> MIRAGE's dataset name
DATASETS = {
    "mmlu_medical": "mmlu",
    "medqa": "medqa",
    "medmcqa": "medmcqa",
    "pubmedqa_noctx": "pubmedqa",
    "bioasq_yn": "bioasq",
}
PAPER_PARSER = "MIRAGE maps unparseable answers to 'A'"


@formats.register()
def mirage(request: ReadRequest) -> ImportedFile:
    """The items of one MIRAGE dataset (chosen by the task) from a released outputs file."""
    path = request.path
    dataset = DATASETS.get(request.task)
    if dataset is None:
        hint = " (MIRAGE's PubMedQA* has no context: use pubmedqa_noctx)" if (
            request.task == "pubmedqa") else ""
        raise ImportDataError(
            f"MIRAGE outputs answer the tasks {', '.join(DATASETS)}; not {request.task!r}{hint}"
        )
    items = []
    meta: dict[str, object] = {}
    # Lines of other datasets are skipped unparsed; the field is checked exactly below.
    for line, record in iter_json_lines(path, keep=lambda text: f'"{dataset}"' in text):
        if require(record, "dataset", str, path, line) != dataset:
            continue
        outputs = require(record, "raw_outputs", list, path, line)
        if not all(isinstance(text, str) for text in outputs):
            raise data_error(path, line, "field 'raw_outputs' must be a list of strings")
        for key in ("llm", "mode", "retrieval", "split"):
            value = record.get(key)
            if value is not None and key not in meta:
                meta[key] = value
        items.append(
            ImportedItem(
                item_id=item_id(record, "id", path, line),
                line=line,
                responses=tuple(outputs),
                paper_choice=optional(record, "parsed_answer", str, path, line),
                paper_correct=require(record, "correct", bool, path, line),
                paper_gold=optional(record, "gold", str, path, line),
            )
        )
    if not items:
        seen = {require(r, "dataset", str, path, n) for n, r in iter_json_lines(path)}
        present = ", ".join(sorted(seen)) or "none"
        raise ImportDataError(
            f"{path}: no {dataset!r} items for task {request.task!r} (datasets present: {present})"
        )
    return ImportedFile(tuple(items), PAPER_PARSER, meta)

