"""MediQ: interactive diagnosis, where the model sees one sentence and must ask for the rest.

Li, S. S., Balachandran, V., Feng, S., Ilgen, J. S., Pierson, E., Koh, P. W., & Tsvetkov, Y.
(2024). MediQ: Question-Asking LLMs and a Benchmark for Reliable Interactive Clinical
Reasoning. NeurIPS 2024. https://github.com/stellalisy/mediQ (data: CC BY 4.0)

Tasks:
    imedqa      ``all_dev_good.jsonl``: 1,272 MedQA-USMLE dev cases split into context
                sentences, atomic facts and the question.
    icraftmd    ``all_craft_md.jsonl``: 140 CRAFT-MD dermatology / general cases.

Each record is ``{id, question, context (sentences), options, answer, answer_idx, facts,
patient}``. An item's ``stem`` is the question, ``context`` the whole case (the sentences
joined by a space, as the release's patient does), ``gold`` ``answer_idx``. The metadata
carries what the interactive setting needs: ``initial_info`` (the record's own, else the
first context sentence), ``context_sentences``, ``facts`` (the atomic facts without their
list numbering, only when the record has them) and the patient's demographics; ``specialty``
is the release's ``gpt_specialty`` where given. Use `medq.interactive.case.case_of` to read them.

A context given as one string is split on ". " as the release does. The release scores
against ``answer_idx``; in four CRAFT-MD records ``answer`` is not the text of that option
(two by trailing spaces, one by a synonym, item 129 by a different disease), which medq
keeps as it is (``answer_text`` in the metadata) and scores by ``answer_idx`` too.

Strategies other than ``mediq`` see the whole case as context: the non-interactive upper
bound. There is no pinned Hub copy; the bundled sample is the first 20 records of each file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medq.interactive.case import strip_marker
from medq.interactive.metrics import METRICS
from medq.tasks._io import (
    BUNDLED,
    data_error,
    field,
    find,
    iter_jsonl,
    make_question,
    no_hub,
    options_field,
    sample_path,
)
from medq.tasks.base import TaskDataError, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Li, S. S., Balachandran, V., Feng, S., Ilgen, J. S., Pierson, E., Koh, P. W., & "
    "Tsvetkov, Y. (2024). MediQ: Question-Asking LLMs and a Benchmark for Reliable "
    "Interactive Clinical Reasoning. NeurIPS 2024."
)
CITE_SHORT = "Li et al., NeurIPS 2024 (MediQ)"
DEV_FILE = "all_dev_good.jsonl"
CRAFT_FILE = "all_craft_md.jsonl"
def _sentences(record: dict[str, Any], path: Path, where: str) -> list[str]:
    context = record.get("context")
    if isinstance(context, list):
        if not all(isinstance(s, str) for s in context):
            raise data_error(path, where, "field 'context' must be a list of strings")
        return list(context)
    if isinstance(context, str):
        # The release's rule for a context paragraph: sentences end at ". ".
        parts = context.split(". ")
        return [p + "." if i < len(parts) - 1 and not p.endswith(".") else p
                for i, p in enumerate(parts)]
    if context is None:
        raise data_error(path, where, "field 'context' is missing")
    raise data_error(path, where,
                     f"field 'context' must be a list of strings, not {type(context).__name__}")


def parse_mediq_jsonl(path: Path, source: str) -> tuple[Question, ...]:
    """Questions of a MediQ JSON-lines file (see the module docstring for the fields)."""
    out = []
    for lineno, record in iter_jsonl(path):
        where = f"line {lineno}"
        raw_id = record.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            raise data_error(path, where, "field 'id' must be an integer or a string")
        sentences = _sentences(record, path, where)
        initial = record.get("initial_info")
        if initial is None:
            initial = sentences[0] if sentences else ""
        elif not isinstance(initial, str):
            raise data_error(path, where, "field 'initial_info' must be a string")
        metadata: dict[str, Any] = {
            "source": source,
            "language": "en",
            "initial_info": initial,
            "context_sentences": sentences,
        }
        if "facts" in record and record["facts"] is not None:
            facts = field(record, "facts", path, where, list)
            if not all(isinstance(f, str) for f in facts):
                raise data_error(path, where, "field 'facts' must be a list of strings")
            metadata["facts"] = [strip_marker(f) for f in facts if strip_marker(f)]
        patient = record.get("patient")
        if isinstance(patient, dict):
            metadata["patient"] = {k: patient[k] for k in ("age", "gender") if k in patient}
            if isinstance(patient.get("gpt_specialty"), str):
                metadata["specialty"] = patient["gpt_specialty"]
        if isinstance(record.get("answer"), str):
            metadata["answer_text"] = record["answer"]
        out.append(make_question(
            path, where,
            id=str(raw_id),
            stem=field(record, "question", path, where),
            options=options_field(record, "options", path, where),
            gold=field(record, "answer_idx", path, where),
            gold_field="answer_idx",
            context=" ".join(sentences) or None,
            metadata=metadata,
        ))
    if not out:
        raise TaskDataError(f"{path}: no records")
    return tuple(out)


def _loader(name: str, filename: str, source: str):
    expects = f"{filename} of the MediQ release (its data/ folder)"

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            return parse_mediq_jsonl(sample_path(f"mediq/{filename}"), source), BUNDLED
        if data is None:
            raise no_hub(name, expects)
        path = find(data, (filename, f"data/{filename}", f"mediq/{filename}"), name, expects)
        return parse_mediq_jsonl(path, source), str(path)

    return load


register_task(TaskSpec(
    "imedqa", "dev", "1272 MedQA cases, interactive (first sentence, then ask)", CITATION,
    CITE_SHORT, _loader("imedqa", DEV_FILE, "iMedQA"), metrics=METRICS,
))
register_task(TaskSpec(
    "icraftmd", "all", "140 CRAFT-MD cases, interactive", CITATION, CITE_SHORT,
    _loader("icraftmd", CRAFT_FILE, "iCRAFT-MD"), metrics=METRICS,
))
