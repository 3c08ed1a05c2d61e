"""MedAgentsBench's released predictions: one file per model, source, split and method.

Tang, X., Shao, D., Sohn, J., Chen, J., Zhang, J., Xiang, J., Wu, F., Zhao, Y., Wu, C.,
Shi, W., Cohan, A., & Gerstein, M. (2025). MedAgentsBench: Benchmarking Thinking Models and
Agent Frameworks for Complex Medical Reasoning. arXiv:2503.07459.
https://github.com/gersteinlab/medagents-benchmark (Apache-2.0)

Files ``<source>/<model>-<source>-<split>-<method>.jsonl`` hold one object a line::

    {"realidx": 0, "answer_idx": "B", "predicted_answer": "A",
     "token_usage": {"prompt_tokens": 241, "completion_tokens": 1}, "time_elapsed": 0.89, ...}

Only the letter the paper's pipeline extracted was released, not the raw response, so medq
reads ``predicted_answer`` with its own extractor (a letter that is not an option, or a
sentence such as "Please provide the options", is invalid) and the paper's figure is
``predicted_answer == answer_idx``. Items join the ``medagentsbench_<source>[_hard]`` tasks
by ``realidx``. Token usage and time per item are kept. The file name's split must match
the task (``test_hard`` files go to the ``_hard`` tasks).
"""

from __future__ import annotations

import math
from typing import Any

from medq.importers.base import (
    ImportDataError,
    ImportedFile,
    ImportedItem,
    ReadRequest,
    check_type,
    count,
    data_error,
    formats,
    item_id,
    iter_json_lines,
    optional,
    require,
    seconds,
)

PAPER_PARSER = "MedAgentsBench scores its pipeline's extracted letter by exact match"
_EXTRA_FIELDS = ("cost",)


@formats.register()
def medagentsbench(request: ReadRequest) -> ImportedFile:
    """The items of one released MedAgentsBench predictions file."""
    path = request.path
    meta = _name_facts(path.name.removesuffix(".gz").removesuffix(".jsonl"))
    _check_task(request, meta)
    items = []
    for line, record in iter_json_lines(path):
        predicted = record.get("predicted_answer")
        if isinstance(predicted, float) and math.isnan(predicted):
            predicted = None  # pandas wrote a missing answer as NaN
        if predicted is not None:
            check_type(predicted, "predicted_answer", (str,), path, line)
        gold = require(record, "answer_idx", str, path, line)
        usage = optional(record, "token_usage", dict, path, line) or {}
        extra: dict[str, Any] = {}
        time_s = seconds(record, "time_elapsed", path, line)
        if "time_elapsed" in record:
            extra["time_s"] = time_s
        for name in _EXTRA_FIELDS:
            if record.get(name) is not None:
                extra[name] = record[name]
        items.append(
            ImportedItem(
                item_id=item_id(record, "realidx", path, line),
                line=line,
                responses=(predicted,) if predicted is not None else (),
                paper_choice=predicted,
                paper_correct=predicted == gold,
                paper_gold=gold,
                prompt_tokens=count(usage, "prompt_tokens", path, line),
                completion_tokens=count(usage, "completion_tokens", path, line),
                latency_s=time_s,
                extra=extra,
            )
        )
    if not items:
        raise data_error(path, "line 1", "the file holds no predictions")
    return ImportedFile(tuple(items), PAPER_PARSER, meta)


def _check_task(request: ReadRequest, meta: dict[str, str]) -> None:
    """The file name's source and split (when it has them) must be the task's."""
    from medq.tasks.medagentsbench import SOURCES

    hard = request.task.endswith("_hard")
    suffix = request.task.removeprefix("medagentsbench_").removesuffix("_hard")
    folder = SOURCES[suffix][0] if request.task.startswith("medagentsbench_") and (
        suffix in SOURCES) else None
    if meta.get("source") and folder and meta["source"] != folder:
        raise ImportDataError(
            f"{request.path}: the file name says source {meta['source']!r} but task "
            f"{request.task!r} is {folder!r}"
        )
    if meta.get("split") and (meta["split"] == "test_hard") != hard:
        raise ImportDataError(
            f"{request.path}: the file name says split {meta['split']!r} but task "
            f"{request.task!r} is the {'hard subset' if hard else 'full test set'}"
        )


def _name_facts(stem: str) -> dict[str, str]:
    """model, source, split and method from ``<model>-<source>-<split>-<method>``; {} when
    the file was renamed."""
    from medq.tasks.medagentsbench import SOURCES

    for folder in sorted({folder for folder, _, _ in SOURCES.values()}, key=len, reverse=True):
        model, marker, rest = stem.partition(f"-{folder}-")
        split, _, method = rest.partition("-")
        if marker and split in ("test", "test_hard") and method:
            return {"model": model, "source": folder, "split": split, "method": method}
    return {}
