"""What a benchmark is to medq: a named, cited, split-pinned tuple of Questions.

Each benchmark module registers one `TaskSpec` per task name with `medq.registry.tasks`;
`load_task` looks the name up and calls it. A task loads from a local copy of the original
release (`data`), from a pinned Hub revision (no `data`), or from the small sample bundled
in the package (`sample=True`).

Example:
    >>> task = load_task("medqa", sample=True)
    >>> task.questions[0].gold
    'B'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medq.registry import tasks
from medq.types import Question

Loader = Callable[[Path | None, bool], tuple[tuple[Question, ...], str]]
Download = Callable[[str | None], tuple[tuple[Question, ...], str]]
"""How a task without ``--data`` loads from its release location: (the sha256 the user
requires, or None) -> (questions, source); the file is verified before it is cached."""
Scorer = Callable[[Question, str], bool]
"""A task's official scoring rule: (question, extracted answer) -> correct."""
Grader = Callable[[Question, Any, Any], Awaitable[Any]]
"""A task's asynchronous grading stage: (question, Answer, model) -> the graded Answer.

For answers a rule cannot score (free text graded by a judge model, reached as
``model.role("judge")``); its calls go through the run's store like every other call.
"""
Metric = Callable[[list[Any]], Any]
"""A task's own metric over its stored results (e.g. a per-category table); None when the
results do not carry what it needs."""
ANSWER_KINDS = ("choice", "choice_set", "calculation", "correction", "free_text",
                "short_answer")
"""``choice``: one option letter; ``choice_set``: the set of correct option letters
(multi-answer items, gold "BCD"); ``calculation``; ``correction``; ``free_text`` (graded);
``short_answer``: a word or phrase (visual QA: yes/no or the closed option, or an open
answer matched to the reference)."""


@dataclass(frozen=True)
class Task:
    """A loaded benchmark split.

    Attributes:
        name: the registry name, e.g. "medqa".
        questions: the items, in the original release's order.
        citation: the paper to cite for this benchmark.
        source: where the items came from: a path, "hub:<repo>@<rev>", or "bundled sample".
        split: the split evaluated, e.g. "test" or "dev".
        scorer: the task's official rule for whether an answer is correct; None means the
            answer must equal the gold option letter exactly.
        answer_kind: what an answer is: ``choice`` (an option letter), ``calculation``,
            ``correction`` or ``free_text``; strategies declare the kinds they give.
        metrics: the task's own metrics beyond accuracy, as ``(name, function)`` or
            ``(name, function, lines)`` tuples (`lines` formats the value for `medq show`).
        grader: the task's asynchronous grading stage (see `Grader`), run after the
            strategy and before the scorer; None for rule-scored tasks.
        prompts: the prompt templates the grader renders (a judge's prompt files); their
            hashes enter the run's identity beside the strategy's.
        language: the language of the items (ISO 639-1, e.g. "en", "fr"); each item also
            records it as ``metadata["language"]``.
    """

    name: str
    questions: tuple[Question, ...]
    citation: str
    source: str
    split: str
    scorer: Scorer | None = None
    answer_kind: str = "choice"
    metrics: tuple[tuple[Any, ...], ...] = ()
    grader: Grader | None = None
    prompts: tuple[str, ...] = ()
    language: str = "en"

    def __len__(self) -> int:
        return len(self.questions)


class TaskDataError(ValueError):
    """A benchmark file is malformed; the message names the file, the line (or item) and
    the field, e.g. ``…/test.jsonl, line 17: field 'options' is missing``."""


class DatasetUnavailableError(RuntimeError):
    """A task's data could be neither downloaded nor found in the cache; the message says
    how to point medq at a local copy with ``--data PATH``."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its description plus a loader `(data, sample) -> (questions, source)`.

    Calling a spec returns the loaded `Task`, so a spec is a task factory like any other.
    `language` is the items' language; `default_strategy` the strategy `medq eval` uses
    when none is named; `download`, for a task fetched from a release location rather
    than the Hub, loads it without ``--data`` and can check the file's sha256.
    """

    name: str
    split: str
    summary: str
    citation: str
    cite_short: str
    loader: Loader
    scorer: Scorer | None = None
    answer_kind: str = "choice"
    metrics: tuple[tuple[Any, ...], ...] = ()
    grader: Grader | None = None
    prompts: tuple[str, ...] = ()
    language: str = "en"
    default_strategy: str = "direct"
    download: Download | None = None

    def __post_init__(self) -> None:
        if self.answer_kind not in ANSWER_KINDS:
            raise ValueError(f"task {self.name}: answer_kind must be one of {ANSWER_KINDS}")

    def __call__(self, data: Path | None = None, sample: bool = False,
                 sha256: str | None = None) -> Task:
        if sha256 is not None and data is not None:
            _check_data_sha256(data, sha256)  # before reading it: the bytes as they are
        if data is None and not sample and self.download is not None:
            questions, source = self.download(sha256)
        elif sha256 is None or data is not None:
            questions, source = self.loader(data, sample)
        else:
            raise TaskDataError(
                f"--data-sha256 checks one file: task {self.name!r} "
                f"{'has a bundled sample' if sample else 'downloads a pinned Hub revision'}"
                f"; give --data FILE to check a local copy")
        return Task(self.name, questions, self.citation, source, self.split, self.scorer,
                    self.answer_kind, self.metrics, self.grader, self.prompts,
                    self.language)


def register_task(spec: TaskSpec) -> TaskSpec:
    """Register `spec` under its name with `medq.registry.tasks`; returns it."""
    tasks.register(spec.name)(spec)
    return spec


def _check_data_sha256(data: Path, sha256: str) -> None:
    from medq.tasks._release import check_sha256, file_sha256

    if not data.is_file():
        raise TaskDataError(f"--data-sha256 checks one file: --data {data} is not a file; "
                            f"name the file itself")
    check_sha256(str(data), file_sha256(data), sha256, "--data-sha256")


def load_task(name: str, data: Path | str | None = None, *, sample: bool = False,
              sha256: str | None = None) -> Task:
    """Load the task registered as `name`.

    Args:
        name: a task name (see `task_names()`), e.g. "medqa" or "pubmedqa".
        data: a local copy of the original release (a file or a folder); None loads the
            pinned Hub revision through the cache under ``$MEDQ_HOME/cache``.
        sample: load the small sample bundled with medq instead (offline, ≤ 50 items).
        sha256: the sha256 the data file must have (``--data-sha256``): the `data` file,
            or the file a release-location task downloads; None checks nothing more.

    Raises:
        UnknownNameError: no task has that name.
        TaskDataError: a data file is malformed, or its sha256 is not `sha256`.
        DatasetUnavailableError: the data could not be downloaded (e.g. offline).
    """
    factory = tasks.get(name)
    path = Path(data) if data is not None else None
    if sha256 is None:
        task = factory(path, sample)
    elif isinstance(factory, TaskSpec):
        task = factory(path, sample, sha256)
    else:
        raise TaskDataError(f"--data-sha256: task {name!r} cannot check its data's sha256")
    if not isinstance(task, Task):
        raise TypeError(f"task factory {name!r} returned {type(task).__name__}, not Task")
    if not task.questions:
        raise TaskDataError(f"{task.source}: task {name!r} has no items to evaluate")
    return task


def default_strategy(name: str) -> str:
    """The strategy a task is evaluated with when none is named: the one its registration
    declares (``multi_answer`` for multi-answer sets, ``short_answer`` for visual QA),
    else ``direct``."""
    from medq.registry import UnknownNameError

    try:
        return str(getattr(tasks.get(name), "default_strategy", "direct"))
    except UnknownNameError:
        return "direct"


def task_names() -> list[str]:
    """All registered task names, sorted."""
    return tasks.names()


def describe_tasks() -> list[tuple[str, str, str, str]]:
    """(name, split and size, short citation, language) for every registered task, for
    `medq tasks`."""
    rows = []
    for name in task_names():
        factory = tasks.get(name)
        language = str(getattr(factory, "language", "") or "")
        if isinstance(factory, TaskSpec):
            rows.append((name, f"{factory.split}: {factory.summary}", factory.cite_short,
                         language))
        else:
            doc = (factory.__doc__ or "").strip().splitlines()
            rows.append((name, doc[0] if doc else "", getattr(factory, "cite_short", ""),
                         language))
    return rows
