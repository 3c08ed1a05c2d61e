"""The import engine: a reader's items -> joined with the task -> scored by medq -> stored.

Every item becomes one stored call (kind ``import``, the released text as a Completion) and
one sample row built by `medq.runner.sample_row`, so `medq show`, `medq export` and the
report treat an imported run like any other. The paper's own parsed answer and verdict are
kept beside medq's in each sample's ``details["paper"]``.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medq import __version__
from medq.calls import ItemTally, completion_from_json
from medq.importers.base import (
    ImportedFile,
    ImportedItem,
    ReadRequest,
    data_error,
    formats,
)
from medq.progress import Progress
from medq.store import Store, content_hash
from medq.tasks.base import Scorer
from medq.types import Answer, Completion, Generation, Question, Status

#: Formats named in the design that are not importable yet, with the reason.
NOT_YET: dict[str, str] = {}
CALL_KIND = "import"
AnswerReader = Callable[[Question, str, Mapping[str, Any]], Answer]


class ImportNotAvailableError(ValueError):
    """A known import format that medq cannot import yet."""


@dataclass(frozen=True)
class ImportResult:
    """What `import_predictions` returns.

    Attributes:
        run_id: the stored run (``<task>-import-<8 hex digits>``).
        summary: the run's summary (see `medq.scoring.metrics.summarize`); it has
            ``paper_accuracy`` when the release carries the paper's own verdicts.
        imported: items stored.
        missing: IDs of task items the file has no prediction for (not scored, not hidden).
        gold_mismatches: items whose gold answer in the file differs from the task's.
        existed: the same import had been stored before (it was re-scored in place).
        info: the run's stored info (file, sha256, format, paper parser, counts).
    """

    run_id: str
    summary: dict[str, Any]
    imported: int
    missing: tuple[str, ...]
    gold_mismatches: int
    existed: bool
    info: dict[str, Any]


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_run_id(
    task: str, model: str, fmt: str, sha256: str, condition: str | None, sample: bool = False
) -> str:
    """``<task>-import-<8 hex>``: the same file, task, model, format and options always map
    to the same run, so importing twice changes nothing."""
    identity = {"task": task, "model": model, "format": fmt, "sha256": sha256,
                "condition": condition, "sample": sample}
    return f"{task}-import-{content_hash(identity)[:8]}"


def import_predictions(
    path: Path | str,
    *,
    task: str,
    model: str,
    fmt: str = "jsonl",
    data: Path | str | None = None,
    sample: bool = False,
    condition: str | None = None,
    store: Store | None = None,
    progress: bool = True,
) -> ImportResult:
    """Store released predictions as a medq run, scored by medq's own extractor.

    Args:
        path: the predictions file (plain or gzipped JSON lines).
        task: the medq task the predictions answer; its questions (joined by ID) give the
            options and the gold answer.
        model: the name the run is stored under (BiasMedQA: also selects the model).
        fmt: ``mirage``, ``medagentsbench``, ``biasmedqa`` or ``jsonl`` (see each module).
        data: the original release of the task's questions (``load_task(task, data)``).
        sample: take the questions from the task's bundled sample instead.
        condition: a format option (BiasMedQA's bias condition).
        store: the store to write to (default: ``$MEDQ_HOME/medq.sqlite``).
        progress: a progress bar over the items on a terminal (`medq.progress`).

    Raises:
        ImportDataError: a malformed line, an unknown or duplicated item ID (file, line, field).
        ImportNotAvailableError: a format medq cannot import yet (``medcalc``).
        UnknownNameError: an unknown format or task.

    Example:
        >>> result = import_predictions("cot__OpenAI_gpt-4-32k.jsonl.gz", task="medqa",
        ...                             model="gpt-4-32k", fmt="mirage",
        ...                             data="MIRAGE/benchmark.json")
        >>> result.summary["accuracy"], result.summary["paper_accuracy"]
    """
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.metrics import summarize
    from medq.tasks.base import load_task

    if fmt in NOT_YET and fmt not in formats.names():
        raise ImportNotAvailableError(f"import format {fmt!r} is not available yet: {NOT_YET[fmt]}")
    reader = formats.get(fmt)
    read_answer = answer_reader(fmt)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    started = time.perf_counter()
    loaded = load_task(task, Path(data) if data is not None else None, sample=sample)
    released = reader(ReadRequest(path, task, model, condition))
    questions = {q.id: (i, q) for i, q in enumerate(loaded.questions)}
    items = _join(path, task, released, questions)
    sha256 = file_sha256(path)
    run_id = import_run_id(task, model, fmt, sha256, condition, sample)
    missing = tuple(q.id for q in loaded.questions if q.id not in items)
    gold_mismatches = sum(
        1 for item_id, item in items.items()
        if item.paper_gold is not None and item.paper_gold != questions[item_id][1].gold
    )
    source = str(path.resolve())
    info = {
        "imported_from": source,
        "sha256": sha256,
        "format": fmt,
        "paper_parser": released.paper_parser,
        "release": dict(released.meta),
        "task_source": loaded.source,
        "split": loaded.split,
        "citation": loaded.citation,
        "n_items": len(loaded.questions),
        "imported": len(items),
        "missing_items": len(missing),
        "missing_ids": list(missing),
        "gold_mismatches": gold_mismatches,
        "endpoint": f"{CALL_KIND}:{fmt}",
        "extractor_version": EXTRACTOR_VERSION,
        "medq_version": __version__,
        "capabilities": [],
    }
    spec = {"file": source, "format": fmt, "task": task, "model": model,
            "data": str(data) if data is not None else None, "sample": sample,
            "condition": condition}
    own_store = store is None
    store = store or Store()
    try:
        existed = store.create_or_resume_run(
            run_id, task=task, model=model, strategy=f"{CALL_KIND}:{fmt}", spec=spec, info=info
        )
        bar = Progress(len(items), f"import {task} · {model}", progress)
        for item_id, item in bar.track(items.items()):
            position, question = questions[item_id]
            _store_item(store, run_id, model, fmt, source, sha256, position, question, item,
                        read_answer, loaded.scorer)
        # Re-importing re-scores in place; the first import's duration is the run's wall time.
        store.finish_run(run_id, "finished", 0.0 if existed else time.perf_counter() - started)
        summary = summarize(store.run(run_id), list(store.samples(run_id)))
    finally:
        if own_store:
            store.close()
    return ImportResult(run_id, summary, len(items), missing, gold_mismatches, existed, info)


def rescore_import(run: str, *, store: Store | None = None) -> dict[str, Any]:
    """Re-score an imported run from its stored responses with the current extractor.

    Needs neither the predictions file nor any model; returns the new summary.
    """
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.metrics import summarize
    from medq.tasks.base import load_task

    own_store = store is None
    store = store or Store()
    try:
        run_id = store.resolve_run_id(run)
        row = store.run(run_id)
        if not row["strategy"].startswith(f"{CALL_KIND}:"):
            raise ValueError(f"run {run_id} was not imported; use `medq rescore`")
        spec = row["spec"]
        data = Path(spec["data"]) if spec.get("data") else None
        loaded = load_task(row["task"], data, sample=bool(spec.get("sample")))
        questions = {q.id: q for q in loaded.questions}
        read_answer = answer_reader(row["info"]["format"])
        for sample in store.samples(run_id):
            question = questions.get(sample["item_id"])
            call = store.get_call(sample["call_keys"][0]) if sample["call_keys"] else None
            if question is None or call is None:
                raise ValueError(
                    f"run {run_id}: item {sample['item_id']!r} has no "
                    f"{'question in the task' if question is None else 'stored response'}"
                )
            text = _first_text(completion_from_json(call.response))
            details = {k: v for k, v in sample["details"].items() if k != "metadata"}
            answer = read_answer(question, text, details)
            tally = ItemTally(run_id, question.id)
            tally.add(sample["prompt_tokens"], sample["completion_tokens"], new=False)
            tally.keys.extend(sample["call_keys"])
            store.put_sample(
                run_id, _sample_row(question, sample["position"], answer, tally, loaded.scorer)
            )
        info = {**row["info"], "extractor_version": EXTRACTOR_VERSION}
        store.create_or_resume_run(run_id, task=row["task"], model=row["model"],
                                   strategy=row["strategy"], spec=spec, info=info)
        store.finish_run(run_id, "finished", 0.0)
        return summarize(store.run(run_id), list(store.samples(run_id)))
    finally:
        if own_store:
            store.close()


def _join(
    path: Path, task: str, released: ImportedFile, questions: Mapping[str, tuple[int, Question]]
) -> dict[str, ImportedItem]:
    """Items by ID, in file order; an ID outside the task or seen twice is an error."""
    items: dict[str, ImportedItem] = {}
    for item in released.items:
        if item.item_id not in questions:
            raise data_error(
                path, item.line,
                f"item {item.item_id!r} is not in task {task!r} ({len(questions)} items); "
                f"is --task (or --data) the benchmark these predictions answer?",
            )
        if item.item_id in items:
            raise data_error(
                path, item.line,
                f"item {item.item_id!r} appears again (first at line {items[item.item_id].line})",
            )
        items[item.item_id] = item
    return items


def answer_reader(fmt: str) -> AnswerReader:
    """How format `fmt`'s responses are read: its module's ``read_answer`` when it defines
    one (answers that are not option letters), else `read_option`."""
    module = sys.modules[formats.get(fmt).__module__]
    return getattr(module, "read_answer", read_option)


def _store_item(
    store: Store, run_id: str, model: str, fmt: str, source: str, sha256: str,
    position: int, question: Question, item: ImportedItem, read_answer: AnswerReader,
    scorer: Scorer | None = None,
) -> None:
    request = {"item_id": item.item_id, "source": source, "sha256": sha256, "line": item.line}
    endpoint = f"{CALL_KIND}:{fmt}"
    key = content_hash({"model": model, "endpoint": endpoint, "kind": CALL_KIND, **request})
    # What `completion_to_json` makes of this Completion, built directly (asdict is slow).
    response = {
        "generations": [{"text": text, "finish_reason": None, "logprobs": None}
                        for text in item.responses],
        "prompt_tokens": item.prompt_tokens,
        "completion_tokens": item.completion_tokens,
        "model": model,
    }
    store.put_call(
        key, model=model, endpoint=endpoint, kind=CALL_KIND, request=request,
        response=response, prompt_tokens=item.prompt_tokens,
        completion_tokens=item.completion_tokens, latency_s=item.latency_s,
    )
    details: dict[str, Any] = {"source_line": item.line, **item.extra}
    if item.is_choice:
        details["given"] = "choice"
    paper = {"choice": item.paper_choice, "correct": item.paper_correct}
    if item.paper_gold is not None and item.paper_gold != question.gold:
        paper["gold"] = item.paper_gold
    if item.paper_choice is not None or item.paper_correct is not None:
        details["paper"] = paper
    answer = read_answer(question, item.responses[0] if item.responses else "", details)
    tally = ItemTally(run_id, question.id)
    tally.add(item.prompt_tokens, item.completion_tokens, new=False)
    tally.keys.append(key)
    store.put_sample(run_id, _sample_row(question, position, answer, tally, scorer))


def _first_text(completion: Completion) -> str:
    return completion.generations[0].text if completion.generations else ""


def read_option(question: Question, text: str, details: Mapping[str, Any]) -> Answer:
    """medq's reading of one released response: an option, or invalid with the reason.

    Free text goes through `extract_choice`; a released letter (``details["given"] ==
    "choice"``) must be one of the options.
    """
    if details.get("given") != "choice":
        # Free text: exactly what a generative strategy's answer goes through.
        from medq.strategies._shared.answers import answer_from

        answer = answer_from(Completion((Generation(text),)), question)
        return replace(answer, details={**details, **answer.details})
    letter = text.strip()
    if letter in question.options:
        return Answer(letter, Status.OK, text, details={**details, "method": "choice"})
    reason = (f"choice {letter!r} is not an option ({', '.join(question.options)})"
              if letter else "empty choice")
    return Answer(None, Status.INVALID, text, reason=reason, details={**details, "method": None})


def _sample_row(
    question: Question, position: int, answer: Answer, tally: ItemTally,
    scorer: Scorer | None = None,
) -> dict:
    """The store row, scored by the task's own rule (MedCalc-Bench's tolerance, ...)."""
    from medq.runner import sample_row

    return sample_row(question, position, answer, tally, scorer)


