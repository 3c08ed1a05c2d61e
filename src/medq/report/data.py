"""What a report shows, gathered from the store: summaries, breakdowns, calibration,
paired comparisons and the per-item records, as plain values the renderers format."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medq.progress import Progress
from medq.results import SampleResult
from medq.scoring.calibration import Calibration, run_calibration
from medq.scoring.metrics import summarize
from medq.scoring.stats import GroupStats, breakdowns
from medq.store import Store, StoredCall
from medq.types import Question

# Metadata fields broken down when items carry them, in display order; "extraction" groups
# items by the rule that read each answer and by each invalid reason (medq.scoring.stats).
SUBGROUP_FIELDS = (
    "subject", "specialty", "exam_step", "language", "source", "topic", "difficulty",
    "extraction",
)


@dataclass(frozen=True)
class RunReport:
    """One run's section of the report.

    Attributes:
        run_id: the run's full ID.
        summary: `medq.scoring.metrics.summarize` of the run.
        breakdowns: metadata field -> `medq.scoring.stats.breakdown` of it (only fields
            with at least two groups).
        calibration: `medq.scoring.calibration.run_calibration` of the run, None when no
            item has a confidence.
        questions: item ID -> Question, or None when the task could not be loaded.
        task_note: why `questions` is None (the item browser then shows the prompt).
        samples: the run's stored per-item rows.
    """

    run_id: str
    summary: dict[str, Any]
    breakdowns: dict[str, list[GroupStats]]
    calibration: Calibration | None
    questions: Mapping[str, Question] | None
    task_note: str | None
    samples: list[SampleResult]


def load_questions(spec: Mapping[str, Any]) -> tuple[dict[str, Question] | None, str | None]:
    """The run's task items by ID, or (None, reason) when the task cannot be loaded."""
    from medq.registry import UnknownNameError
    from medq.tasks.base import DatasetUnavailableError, TaskDataError, load_task

    name = spec.get("task", "?")
    try:
        task = load_task(name, spec.get("data"), sample=bool(spec.get("sample", False)))
    except (UnknownNameError, DatasetUnavailableError, TaskDataError, OSError, ValueError,
            KeyError) as exc:
        return None, (f"task {name!r} could not be loaded ({exc}); the item browser shows "
                      "the prompts the model saw instead of the question and options")
    return {q.id: q for q in task.questions}, None


def gather_runs(store: Store, run_ids: Sequence[str], *, progress: bool = False,
                calls: dict[str, StoredCall] | None = None) -> list[RunReport]:
    """Load every run once (samples, summary, breakdowns, task questions); with
    ``progress``, a bar over the runs on a terminal; with `calls`, the runs' calls are
    read with their results into it (by key), for the item browser."""
    task_cache: dict[str, tuple[dict[str, Question] | None, str | None]] = {}
    reports = []
    bar = Progress(len(run_ids), "report · loading runs", progress, unit="runs")
    for run_id in bar.track(run_ids):
        row = store.run(run_id)
        samples = list(store.samples(run_id, calls=calls))
        spec = row["spec"]
        cache_key = repr((spec.get("task"), spec.get("data"), spec.get("sample")))
        if cache_key not in task_cache:
            task_cache[cache_key] = load_questions(spec)
        questions, note = task_cache[cache_key]
        groups = breakdowns(samples, SUBGROUP_FIELDS, min_groups=2)
        summary = summarize(row, samples)
        owner = store.run_owner(run_id)
        if summary["status"] == "failed" and owner is not None and owner.get("failure"):
            summary["failure"] = owner["failure"]
        reports.append(RunReport(run_id, summary, groups,
                                 run_calibration(samples), questions, note, samples))
    return reports
