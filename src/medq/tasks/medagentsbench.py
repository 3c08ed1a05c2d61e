"""MedAgentsBench: eight medical QA sources, each with a full test set and a "hard" subset.

Tang, X., Shao, D., Sohn, J., Chen, J., Zhang, J., Xiang, J., Wu, F., Zhao, Y., Wu, C.,
Shi, W., Cohan, A., & Gerstein, M. (2025). MedAgentsBench: Benchmarking Thinking Models and
Agent Frameworks for Complex Medical Reasoning. arXiv:2503.07459.
https://github.com/gersteinlab/medagents-benchmark (Apache-2.0)

Tasks: ``medagentsbench_<source>`` (``data/<source>/test.jsonl``) and
``medagentsbench_<source>_hard`` (``test_hard.jsonl``) for the sources afrimedqa, medbullets,
medmcqa, medqa, medqa_5options, mmlu, mmlu_pro (folder ``mmlu-pro``) and pubmedqa. Records are
``{realidx, question, options, answer_idx, ...}``; IDs are ``realidx``. The medqa_5options
files carry no ``realidx``: there the ID is the question's line index in that folder's
``test.jsonl`` (which is MedQA's own US/test.jsonl), so full and hard sets share IDs.
Options are kept exactly as released (afrimedqa's fifth option is often "n/a"). The afrimedqa
source derives from AfriMed-QA (CC BY-NC-SA 4.0): medq ships no sample of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medq.tasks._io import (
    BUNDLED,
    data_error,
    field,
    find,
    iter_jsonl,
    make_question,
    no_hub,
    no_sample,
    options_field,
    read_text,
    sample_path,
)
from medq.tasks.base import Loader, TaskSpec, register_task
from medq.types import Question

CITATION = (
    "Tang, X., Shao, D., Sohn, J., Chen, J., Zhang, J., Xiang, J., Wu, F., Zhao, Y., Wu, C., "
    "Shi, W., Cohan, A., & Gerstein, M. (2025). MedAgentsBench: Benchmarking Thinking Models "
    "and Agent Frameworks for Complex Medical Reasoning. arXiv:2503.07459."
)
CITE_SHORT = "Tang et al., arXiv 2025"
# task suffix -> (release folder, test size, hard size)
SOURCES: dict[str, tuple[str, int, int]] = {
    "afrimedqa": ("afrimedqa", 174, 32),
    "medbullets": ("medbullets", 308, 89),
    "medmcqa": ("medmcqa", 2816, 100),
    "medqa": ("medqa", 1273, 100),
    "medqa_5options": ("medqa_5options", 1273, 357),
    "mmlu": ("mmlu", 1089, 73),
    "mmlu_pro": ("mmlu-pro", 818, 100),
    "pubmedqa": ("pubmedqa", 500, 100),
}
# Sources whose bundled sample has no hard subset: their hard IDs need the full test.jsonl.
_NO_HARD_SAMPLE = frozenset({"medqa_5options"})
# Sources medq never ships a sample of, and why. MedAgentsBench's afrimedqa questions are
# taken from AfriMed-QA, whose licence (CC BY-NC-SA 4.0) is not the benchmark's Apache-2.0.
_NO_SAMPLE = {"afrimedqa": "its questions come from AfriMed-QA, CC BY-NC-SA 4.0: never shipped"}
_METADATA_FIELDS = {
    "meta_info": "exam_step",
    "subject": "subject",
    "category": "category",
    "src": "origin",
}


def _line_index(test_file: Path) -> dict[tuple[str, str], str]:
    """(question, options) -> line index in a test.jsonl, for files without realidx."""
    index: dict[tuple[str, str], str] = {}
    for i, (_, record) in enumerate(iter_jsonl(test_file)):
        key = (record.get("question", ""), json.dumps(record.get("options"), sort_keys=True))
        index.setdefault(key, str(i))
    return index


def parse_file(path: Path, source: str, hard: bool) -> list[Question]:
    """Questions of one MedAgentsBench JSON-lines file."""
    text = read_text(path)
    fallback: dict[tuple[str, str], str] | None = None
    out = []
    for lineno, record in iter_jsonl(path, text):
        where = f"line {lineno}"
        stem = field(record, "question", path, where)
        options = options_field(record, "options", path, where)
        realidx: Any = record.get("realidx")
        if realidx is None:
            sibling = path.with_name("test.jsonl")
            if fallback is None and sibling.is_file():
                fallback = _line_index(sibling)
            key = (stem, json.dumps(options, sort_keys=True))
            if fallback is None or key not in fallback:
                raise data_error(path, where, "field 'realidx' is missing")
            realidx = fallback[key]
        metadata: dict[str, Any] = {
            "source": f"MedAgentsBench/{SOURCES[source][0]}",
            "language": "en",
        }
        if hard:
            metadata["difficulty"] = "hard"
        for name, target in _METADATA_FIELDS.items():
            if isinstance(record.get(name), str):
                metadata[target] = record[name]
        out.append(
            make_question(
                path,
                where,
                id=str(realidx),
                stem=stem,
                options=options,
                gold=field(record, "answer_idx", path, where),
                gold_field="answer_idx",
                metadata=metadata,
            )
        )
    return out


def _loader(name: str, source: str, hard: bool) -> Loader:
    folder = SOURCES[source][0]
    filename = "test_hard.jsonl" if hard else "test.jsonl"
    expects = f"the data/ folder of gersteinlab/medagents-benchmark (it reads {folder}/{filename})"

    def load(data: Path | None, sample: bool) -> tuple[tuple[Question, ...], str]:
        if sample:
            if source in _NO_SAMPLE:
                raise no_sample(name, _NO_SAMPLE[source])
            if hard and source in _NO_HARD_SAMPLE:
                raise no_sample(name, "its IDs come from the full test.jsonl")
            path = sample_path(f"medagentsbench/{folder}/{filename}")
            return tuple(parse_file(path, source, hard)), BUNDLED
        if data is None:
            raise no_hub(name, expects)
        candidates = (f"{folder}/{filename}", filename, f"data/{folder}/{filename}")
        path = find(data, candidates, name, expects)
        return tuple(parse_file(path, source, hard)), str(path)

    return load


for _source, (_folder, _n_test, _n_hard) in SOURCES.items():
    for _hard, _n in ((False, _n_test), (True, _n_hard)):
        _name = f"medagentsbench_{_source}" + ("_hard" if _hard else "")
        register_task(
            TaskSpec(
                _name,
                "test_hard" if _hard else "test",
                f"{_n} questions ({_folder})",
                CITATION,
                CITE_SHORT,
                _loader(_name, _source, _hard),
            )
        )
