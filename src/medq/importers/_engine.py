"""The import engine: a reader's items -> joined with the task -> the runner -> stored.

Released outputs are served by a model backend (`medq.importers.release.ReleaseModel`)
and read by the ``released`` strategy through `medq.runner.evaluate`, so import, eval and
rescore share every line after the model: each item is one stored call and one sample, and
`medq show`, `medq export`, `medq rescore` and the report treat an imported run like any
other. The paper's own parsed answer and verdict are kept beside medq's in each sample's
``details["paper"]``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from medq.importers.base import (
    ImportedFile,
    ImportedItem,
    ReadRequest,
    data_error,
    formats,
)
from medq.store import Store
from medq.types import Question

#: Formats named in the design that are not importable yet, with the reason.
NOT_YET: dict[str, str] = {}


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
    """Store released predictions as a medq run, scored by medq's own readers.

    The released outputs are served by a `ReleaseModel` and read by the ``released``
    strategy through the same runner as `medq eval` (the same store, readings, scoring,
    lock and rescore); the run's identity includes the file's content hash.

    Args:
        path: the predictions file (plain or gzipped JSON lines).
        task: the medq task the predictions answer; its questions (joined by ID) give the
            options and the gold answer.
        model: the name the run is stored under (BiasMedQA: also selects the model).
        fmt: ``mirage``, ``medagentsbench``, ``biasmedqa``, ``medcalc`` or ``jsonl``.
        data: the original release of the task's questions (``load_task(task, data)``).
        sample: take the questions from the task's bundled sample instead.
        condition: a format option (BiasMedQA's bias condition).
        store: the store to write to (default: ``$MEDQ_HOME/medq.sqlite``).
        progress: show a progress bar on a terminal.

    Raises:
        ImportDataError: a malformed line, an unknown or duplicated item ID (file, line, field).
        ImportNotAvailableError: a format medq cannot import yet.
        UnknownNameError: an unknown format or task.

    Example:
        >>> result = import_predictions("cot__OpenAI_gpt-4-32k.jsonl.gz", task="medqa",
        ...                             model="gpt-4-32k", fmt="mirage",
        ...                             data="MIRAGE/benchmark.json")
        >>> result.summary["accuracy"], result.summary["paper_accuracy"]
    """
    from medq.importers.release import ReleaseModel
    from medq.runner import EvalSpec, evaluate
    from medq.scoring.metrics import summarize
    from medq.tasks.base import load_task

    if fmt in NOT_YET and fmt not in formats.names():
        raise ImportNotAvailableError(f"import format {fmt!r} is not available yet: {NOT_YET[fmt]}")
    reader = formats.get(fmt)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {path} does not exist")
    loaded = load_task(task, Path(data) if data is not None else None, sample=sample)
    released = reader(ReadRequest(path, task, model, condition))
    questions = {q.id: (i, q) for i, q in enumerate(loaded.questions)}
    items = _join(path, task, released, questions)
    sha256 = file_sha256(path)
    missing = tuple(q.id for q in loaded.questions if q.id not in items)
    gold_mismatches = sum(
        1 for item_id, item in items.items()
        if item.paper_gold is not None and item.paper_gold != questions[item_id][1].gold
    )
    joined = replace(loaded, questions=tuple(
        _with_release(question, items[question.id])
        for question in loaded.questions if question.id in items
    ))
    source = str(path.resolve())
    # The endpoint is in every call's key: it names everything that selects the responses
    # (one file holds every BiasMedQA condition; a condition's calls must not be another's).
    endpoint = f"release:{fmt}:{sha256}" + (f":{condition}" if condition else "")
    answer_reader = _answer_reader(fmt)
    spec = EvalSpec(task=task, model=model, strategy=f"released:reader={answer_reader}",
                    data=str(data) if data is not None else None, sample=sample)
    import_info = {
        "imported_from": source,
        "sha256": sha256,
        "format": fmt,
        "condition": condition,
        "paper_parser": released.paper_parser,
        "release": dict(released.meta),
        "task_items": len(loaded.questions),
        "n_items": len(loaded.questions),  # the task's size, as for every run
        "imported": len(items),
        "missing_items": len(missing),
        "missing_ids": list(missing),
        "gold_mismatches": gold_mismatches,
    }
    own_store = store is None
    store = store or Store()
    try:
        release = ReleaseModel(model, items, endpoint)
        from medq.runner import run_id_for

        run_id = run_id_for(spec, release, task=joined)
        existed = _exists(store, run_id)
        # The import's provenance is stored from the start, so a killed import says what
        # it was and counts what it stored.
        evaluate(spec, store=store, model=release, progress=progress, task=joined,
                 on_start=lambda rid: None, info=import_info)
        summary = summarize(store.run(run_id), list(store.samples(run_id)))
        info = store.run(run_id)["info"]
    finally:
        if own_store:
            store.close()
    return ImportResult(run_id, summary, len(items), missing, gold_mismatches, existed, info)


def _exists(store: Store, run_id: str) -> bool:
    from medq.store import RunNotFoundError

    try:
        store.run(run_id)
    except RunNotFoundError:
        return False
    return True


def _with_release(question: Question, item: ImportedItem) -> Question:
    """The question with what the release says about it, read by the ``released`` strategy
    (kept in the item's details: the source line, the paper's own answer and verdict)."""
    details: dict[str, Any] = {"source_line": item.line, **item.extra}
    paper = {"choice": item.paper_choice, "correct": item.paper_correct}
    if item.paper_gold is not None and item.paper_gold != question.gold:
        paper["gold"] = item.paper_gold
    if item.paper_choice is not None or item.paper_correct is not None:
        details["paper"] = paper
    release: dict[str, Any] = {"details": details}
    if item.is_choice:
        release["given"] = "choice"
        details["given"] = "choice"
    return replace(question, metadata={**question.metadata, "release": release})


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


def _answer_reader(fmt: str) -> str:
    """The ``released`` strategy's reader for format `fmt`: its module's ``READER`` when it
    declares one (answers that are not option letters), else ``option``."""
    module = sys.modules[formats.get(fmt).__module__]
    return str(getattr(module, "READER", "option"))
