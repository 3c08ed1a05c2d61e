"""The extraction audit: a judge reads each response of a multiple-choice run and names the
option it chose; how often medq's extractor agrees, and where it does not.

Every response read by medq's ``choice`` reader (each sample of a vote included) is given
to the judge with the question and the options as they were presented, under the prompt
``prompts/judge_extraction.txt``; the judge's letter (or none) is compared with medq's
extraction in the same presented letters. The audit only reads the run: its results and
score never change. Its judge calls go through the store like any other, so an audit run
twice makes no new call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from medq.judge.jury import judge_one
from medq.judge.schema import ChoiceVerdict
from medq.prompts import format_options
from medq.store import Store
from medq.types import Reading

PROMPT = "judge_extraction"
NONE = "none"


@dataclass(frozen=True)
class Disagreement:
    """A response whose option medq and the judge read differently."""

    item_id: str
    response: int
    medq: str
    judge: str
    excerpt: str


@dataclass(frozen=True)
class ExtractionAudit:
    """What the audit found.

    Attributes:
        run_id: the audited run.
        responses: responses audited (every ``choice`` reading of every non-error item).
        judged: those the judge gave a valid verdict on.
        agreed: judged responses where medq and the judge name the same option (or none).
        ungraded: responses the judge gave no valid verdict on (left out of the rate).
        kappa: Cohen's kappa of medq's and the judge's labels (none counts as a label).
        disagreements: each judged response where they differ.
        new_calls: judge calls made (0 when the audit ran before).
    """

    run_id: str
    responses: int
    judged: int
    agreed: int
    ungraded: int
    kappa: float | None
    disagreements: tuple[Disagreement, ...] = field(default_factory=tuple)
    new_calls: int = 0

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.judged if self.judged else None


def choice_leaves(reading: Reading) -> list[Reading]:
    """The ``choice`` leaves of a reading tree, in order."""
    if reading.rule == "choice":
        return [reading]
    return [leaf for part in reading.parts for leaf in choice_leaves(part)]


async def audit_extraction(
    run: str,
    store: Store,
    judges: Sequence[tuple[str, Any]],
    *,
    limit: int | None = None,
    concurrency: int | str = 16,
    max_concurrency: int = 64,
) -> ExtractionAudit:
    """Audit the extraction of run `run` with the live `judges` ((model spec, Model)
    pairs; the spec keys their calls in the store).

    Raises:
        RunNotFoundError: no such run.
        ValueError: the run has no multiple-choice readings to audit.
    """
    from medq.calls import CallLog, ItemModel, ItemTally
    from medq.judge.agreement import cohen_kappa
    from medq.runner import _stored_source
    from medq.scoring.readings import read_leaf
    from medq.strategies._shared.fanout import gather_or_cancel

    run_id = store.resolve_run_id(run)
    stems = _stems(store.run(run_id))
    logs = []
    for name, model in judges:
        log = CallLog(model, store, concurrency=concurrency, max_concurrency=max_concurrency)
        log.bind(name, model.endpoint, model.capabilities)
        logs.append((name, log))
    source = _stored_source(store)
    samples = [s for s in store.samples(run_id) if s.status != "error" and s.reading]
    jobs = []
    for sample in samples[:limit] if limit else samples:
        if sample.reading is None:
            continue
        for index, leaf in enumerate(choice_leaves(sample.reading)):
            jobs.append((sample.item_id, index, leaf))
    if not jobs:
        raise ValueError(f"run {run_id} has no multiple-choice responses to audit")
    asks, ours = [], []
    for item_id, _, leaf in jobs:
        options = {k: v for k, v in leaf.args["options"]}
        generation = source(leaf)
        choice = read_leaf(leaf, generation).choice
        # The extractor's letter as presented (before any option shuffle is undone).
        back = {v: k for k, v in (leaf.args.get("back") or {}).items()}
        ours.append((back.get(choice, choice) if choice is not None else None, generation))
        jury = [(name, ItemModel(log, ItemTally(None, item_id))) for name, log in logs]
        asks.append(judge_one(
            jury, PROMPT,
            {"question": stems.get(item_id, ""), "options": format_options(options),
             "response": generation.text, "letters": ", ".join(options)},
            ChoiceVerdict, context={"letters": list(options)}))
    decisions = await gather_or_cancel(*asks)
    medq_labels, judge_labels = [], []
    disagreements = []
    ungraded = 0
    for (item_id, index, _), (mine_or_none, generation), decision in zip(
            jobs, ours, decisions, strict=True):
        if decision.label is None:
            ungraded += 1
            continue
        mine = mine_or_none or NONE
        medq_labels.append(mine)
        judge_labels.append(decision.label)
        if mine != decision.label:
            disagreements.append(Disagreement(item_id, index, mine, decision.label,
                                              " ".join(generation.text.split())[-300:]))
    judged = len(judge_labels)
    return ExtractionAudit(
        run_id=run_id,
        responses=len(jobs),
        judged=judged,
        agreed=judged - len(disagreements),
        ungraded=ungraded,
        kappa=cohen_kappa(medq_labels, judge_labels),
        disagreements=tuple(disagreements),
        new_calls=sum(log.new_calls for _, log in logs),
    )


def _stems(run: dict[str, Any]) -> dict[str, str]:
    """The run's question texts by item, from its task (empty when the data is gone: the
    judge then sees the options and the response only)."""
    from medq.registry import UnknownNameError
    from medq.tasks.base import DatasetUnavailableError, TaskDataError, load_task

    spec = run["spec"]
    try:
        task = load_task(spec["task"], spec.get("data"), sample=bool(spec.get("sample")))
    except (DatasetUnavailableError, TaskDataError, UnknownNameError, OSError):
        return {}
    out = {}
    for q in task.questions:
        out[q.id] = f"{q.context}\n\n{q.stem}" if q.context else q.stem
    return out
