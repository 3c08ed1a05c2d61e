"""MedMCQA, dev split: 4183 four-option questions from Indian medical entrance exams.

Pal, A., Umapathi, L. K., & Sankarasubbu, M. (2022). MedMCQA: A Large-scale Multi-Subject
Multi-Choice Dataset for Medical domain Question Answering. Proceedings of the Conference on
Health, Inference, and Learning (CHIL), PMLR 174:248-260. https://medmcqa.github.io (MIT)

The test split's answers are not public, so the dev split is the evaluation set (as in
MIRAGE and MedAgentsBench). The release file ``dev.json`` is JSON lines with
``{id, question, opa, opb, opc, opd, cop, subject_name, topic_name, choice_type, exp}``;
``cop`` 1-4 becomes the gold letter A-D, and subject and topic are kept as metadata.
"""

from __future__ import annotations

from pathlib import Path

from medq.hub import HubFile
from medq.tasks import _mirage
from medq.tasks._io import (
    BUNDLED,
    data_error,
    fetch,
    field,
    find,
    iter_jsonl,
    make_question,
    read_text,
    sample_path,
    sniff_json,
)
from medq.tasks.base import TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Pal, A., Umapathi, L. K., & Sankarasubbu, M. (2022). MedMCQA: A Large-scale "
    "Multi-Subject Multi-Choice Dataset for Medical domain Question Answering. Proceedings "
    "of the Conference on Health, Inference, and Learning, PMLR 174:248-260."
)
CITE_SHORT = "Pal et al., CHIL 2022"
METADATA = {"source": "MedMCQA", "language": "en"}
HUB = HubFile("lighteval/med_mcqa", "dev.json", "88ebeccf8a7c57143bd55125254033927e5a0f3c")
EXPECTS = "dev.json of the original MedMCQA release (or its folder), or MIRAGE's benchmark.json"
_OPTION_FIELDS = (("A", "opa"), ("B", "opb"), ("C", "opc"), ("D", "opd"))


def parse_medmcqa_jsonl(path: Path, text: str | None = None) -> list[Question]:
    """Questions of a MedMCQA release file (JSON lines)."""
    out = []
    for lineno, record in iter_jsonl(path, text):
        where = f"line {lineno}"
        cop = field(record, "cop", path, where, int)
        if not 1 <= cop <= 4:
            raise data_error(path, where, f"field 'cop' is {cop}, not one of 1-4")
        options = {letter: field(record, name, path, where) for letter, name in _OPTION_FIELDS}
        metadata = {
            **METADATA,
            "subject": record.get("subject_name"),
            "topic": record.get("topic_name"),
            "choice_type": record.get("choice_type"),
        }
        out.append(
            make_question(
                path,
                where,
                id=field(record, "id", path, where),
                stem=field(record, "question", path, where),
                options=options,
                gold="ABCD"[cop - 1],
                gold_field="cop",
                metadata=metadata,
            )
        )
    return out


def _parse(path: Path) -> tuple[Question, ...]:
    text = read_text(path)
    document = sniff_json(path, text)
    if document is not None and _mirage.is_benchmark(document):
        return tuple(_mirage.questions(path, document, "medmcqa", lambda k, r: METADATA))
    return tuple(parse_medmcqa_jsonl(path, text))


def _load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
    if sample:
        return _parse(sample_path("medmcqa/dev.json")), BUNDLED
    if data is None:
        (path,) = fetch("medmcqa", [HUB], EXPECTS)
        return _parse(path), HUB.label
    path = find(data, ("dev.json", "data/dev.json", _mirage.FILENAME), "medmcqa", EXPECTS)
    return _parse(path), str(path)


register_task(
    TaskSpec(
        "medmcqa", "dev", "4183 questions, 4 options, 21 subjects", CITATION, CITE_SHORT, _load
    )
)
