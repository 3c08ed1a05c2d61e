"""The one async engine: task -> strategy -> model calls -> extracted answers -> store.

A sliding window keeps up to `concurrency` model calls in flight (never lock-step batches);
each finished item is committed at once, so a run killed at any moment resumes with the
same command and redoes only what was not finished. Ctrl-C stops cleanly and keeps
everything finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from medq import __version__
from medq.calls import CallLog, ItemModel, ItemTally
from medq.models.base import Model, ModelError, UnsupportedCapabilityError
from medq.models.retry import RetryPolicy
from medq.prompts import prompt_hash
from medq.store import Store, content_hash
from medq.strategies.base import Strategy, StrategySpec, build_strategy, prepare_strategy
from medq.types import Answer, Question, Status

if TYPE_CHECKING:
    from medq.tasks.base import Scorer


@dataclass(frozen=True)
class EvalSpec:
    """Everything that defines a run; the same spec always maps to the same run ID.

    Attributes:
        task: registered task name (``medq tasks``).
        model: ``<backend>/<model>`` spec.
        strategy: strategy spec, e.g. ``cot`` or ``logprob:mode=letter``.
        data: path to the original release files (None: the hub, or the bundled sample).
        sample: use the bundled sample of the task.
        limit: evaluate only the first N items (in the task's order).
        seed: seed for every random choice and for servers that honour one.
        base_url: OpenAI-compatible server URL (openai backend).
        api_key_env: environment variable holding the API key (openai backend).
    """

    task: str
    model: str
    strategy: str = "direct"
    data: str | None = None
    sample: bool = False
    limit: int | None = None
    seed: int = 0
    base_url: str | None = None
    api_key_env: str | None = None

    def run_id(self) -> str:
        """``<task>-<strategy>-<8 hex digits of the spec's hash>``."""
        identity = asdict(self)
        identity.pop("api_key_env")
        name = StrategySpec.parse(self.strategy).name
        return f"{self.task}-{name}-{content_hash(identity)[:8]}"


@dataclass(frozen=True)
class RunResult:
    """What `evaluate` returns: the run's ID and its summary (see `medq.scoring.metrics`)."""

    run_id: str
    summary: dict[str, Any]
    new_calls: int
    interrupted: bool


def _prompt_hashes(strategy: StrategySpec) -> dict[str, str]:
    """Hashes of every prompt of the strategy and of the strategies nested in it."""
    import importlib

    hashes = {}
    for spec in strategy.nested():
        try:
            module = importlib.import_module(f"medq.strategies.{spec.name}")
        except ImportError:
            continue
        hashes.update({name: prompt_hash(name) for name in getattr(module, "PROMPTS", ())})
    return hashes


async def _prepare(strategy: Strategy, log: CallLog, run_id: str) -> dict[str, int]:
    """Run the strategy's one-off preparation (e.g. self-generated exemplars); its cost."""
    tally = ItemTally(run_id, None)
    await prepare_strategy(strategy, ItemModel(log, tally))
    return {
        "calls": tally.calls,
        "new_calls": tally.new_calls,
        "prompt_tokens": tally.prompt_tokens,
        "completion_tokens": tally.completion_tokens,
    }


def sample_row(
    question: Question,
    position: int,
    answer: Answer,
    tally: ItemTally,
    scorer: Scorer | None = None,
) -> dict:
    """The store row for one finished item, scored by the task's rule (default: equality)."""
    correct = None
    if answer.status is Status.OK and answer.choice is not None:
        hit = scorer(question, answer.choice) if scorer else answer.choice == question.gold
        correct = int(hit)
    details = dict(answer.details)
    details["metadata"] = dict(question.metadata)
    return {
        "item_id": question.id,
        "position": position,
        "status": answer.status.value,
        "choice": answer.choice,
        "gold": question.gold,
        "correct": correct,
        "truncated": int(answer.truncated),
        "confidence": answer.confidence,
        "reason": answer.reason,
        "response": answer.text,
        "details": details,
        "calls": tally.calls,
        "new_calls": tally.new_calls,
        "prompt_tokens": tally.prompt_tokens,
        "completion_tokens": tally.completion_tokens,
        "call_keys": tally.keys,
    }


async def answer_items(
    items: Iterable[tuple[int, Question]],
    strategy: Strategy,
    log: CallLog,
    store: Store,
    run_id: str,
    *,
    workers: int,
    on_done: Any = None,
    scorer: Scorer | None = None,
) -> None:
    """Answer every item and store each result as soon as it is finished.

    A ModelError (after retries) makes the item an error with its reason; an
    UnsupportedCapabilityError aborts the run, since every item would fail the same way.
    """
    queue: asyncio.Queue[tuple[int, Question]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def work() -> None:
        while True:
            try:
                position, question = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            tally = ItemTally(run_id, question.id)
            try:
                answer = await strategy(question, ItemModel(log, tally))
            except UnsupportedCapabilityError:
                raise
            except ModelError as exc:
                answer = Answer(None, Status.ERROR, reason=str(exc))
            store.put_sample(run_id, sample_row(question, position, answer, tally, scorer))
            if on_done is not None:
                on_done()

    tasks = [asyncio.ensure_future(work()) for _ in range(max(1, min(workers, queue.qsize())))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Progress:
    """A rich progress bar with rate and ETA on a terminal; silent otherwise."""

    def __init__(self, total: int, description: str, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total and sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                ProgressColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task: Any) -> Text:
                    return Text(f"{task.speed:.1f} items/s" if task.speed else "")

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                Rate(),
                TimeRemainingColumn(),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(description, total=total)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def evaluate_async(
    spec: EvalSpec,
    *,
    store: Store,
    model: Model | None = None,
    concurrency: int = 32,
    retry: RetryPolicy | None = None,
    progress: bool = True,
) -> RunResult:
    """Evaluate `spec`, resuming its run if one was started before. See `evaluate`."""
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.metrics import summarize
    from medq.tasks.base import load_task

    task = load_task(spec.task, spec.data, sample=spec.sample)
    questions = list(task.questions[: spec.limit] if spec.limit else task.questions)
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise ValueError(f"task {spec.task}: duplicate item ID {question.id!r}")
        seen.add(question.id)
    strategy_spec = StrategySpec.parse(spec.strategy)
    strategy = build_strategy(strategy_spec, seed=spec.seed, task=task)
    own_model = model is None
    if model is None:
        from medq.models import load_model

        model = load_model(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env)
    run_id = spec.run_id()
    log = CallLog(model, store, concurrency=concurrency, retry=retry or RetryPolicy())
    log.bind(spec.model, model.endpoint, model.capabilities)
    try:
        preparation = await _prepare(strategy, log, run_id)
    except BaseException:
        if own_model:
            await model.aclose()
        raise
    info = {
        "task_source": task.source,
        "split": task.split,
        "citation": task.citation,
        "n_items": len(questions),
        "endpoint": model.endpoint,
        "extractor_version": EXTRACTOR_VERSION,
        "prompts": _prompt_hashes(strategy_spec),
        "medq_version": __version__,
        "concurrency": concurrency,
        "capabilities": sorted(c.value for c in model.capabilities),
        "preparation": preparation,
    }
    spec_json = {k: v for k, v in asdict(spec).items() if k != "api_key_env"}
    store.create_or_resume_run(
        run_id,
        task=spec.task,
        model=spec.model,
        strategy=str(strategy_spec),
        spec=spec_json,
        info=info,
    )
    done = store.done_items(run_id)
    todo = [(i, q) for i, q in enumerate(questions) if q.id not in done]
    bar = _Progress(len(todo), f"{spec.task} · {strategy_spec}", progress)
    started = time.perf_counter()
    interrupted = False
    runner = asyncio.ensure_future(
        answer_items(
            todo,
            strategy,
            log,
            store,
            run_id,
            workers=concurrency,
            on_done=bar.advance,
            scorer=task.scorer,
        )
    )
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, runner.cancel)
    try:
        await runner
    except asyncio.CancelledError:
        interrupted = True
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # cancelled from outside (not Ctrl-C): propagate after recording
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        bar.close()
        status = "interrupted" if interrupted or not runner.done() else "finished"
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            status = "failed"
        store.finish_run(run_id, status, time.perf_counter() - started)
        if own_model:
            await model.aclose()
    summary = summarize(store.run(run_id), list(store.samples(run_id)))
    return RunResult(run_id, summary, log.new_calls, interrupted)


def evaluate(
    spec: EvalSpec,
    *,
    store: Store | None = None,
    model: Model | None = None,
    concurrency: int = 32,
    retry: RetryPolicy | None = None,
    progress: bool = True,
) -> RunResult:
    """Run an evaluation and return its run ID and summary.

    Re-running a finished spec makes no model calls; re-running an interrupted one
    answers only the items not yet stored (items that ended in error are retried).

    Example:
        >>> evaluate(EvalSpec(task="medqa", model="openai/gpt-4o-mini", sample=True))
    """
    own_store = store is None
    store = store or Store()
    try:
        return asyncio.run(
            evaluate_async(
                spec,
                store=store,
                model=model,
                concurrency=concurrency,
                retry=retry,
                progress=progress,
            )
        )
    finally:
        if own_store:
            store.close()


async def rescore_async(run: str, store: Store) -> RunResult:
    """Re-extract and re-score every item of `run` from stored calls; makes no calls."""
    from medq.scoring.metrics import summarize
    from medq.tasks.base import load_task
    from medq.types import Capability

    run_id = store.resolve_run_id(run)
    row = store.run(run_id)
    if row["strategy"].startswith("import:"):
        from medq.importers import rescore_import

        return RunResult(run_id, rescore_import(run_id, store=store), 0, False)
    spec = EvalSpec(**row["spec"])
    task = load_task(spec.task, spec.data, sample=spec.sample)
    questions = list(task.questions[: spec.limit] if spec.limit else task.questions)
    strategy = build_strategy(StrategySpec.parse(spec.strategy), seed=spec.seed, task=task)
    log = CallLog(None, store)
    capabilities = frozenset(Capability(c) for c in row["info"].get("capabilities", []))
    log.bind(spec.model, row["info"]["endpoint"], capabilities)
    await _prepare(strategy, log, run_id)
    await answer_items(
        enumerate(questions), strategy, log, store, run_id, workers=1, scorer=task.scorer
    )
    return RunResult(run_id, summarize(store.run(run_id), list(store.samples(run_id))), 0, False)


def rescore(run: str, *, store: Store | None = None) -> RunResult:
    """Re-extract answers from a run's stored responses with the current extractor.

    No model is contacted: every response comes from the store.
    """
    own_store = store is None
    store = store or Store()
    try:
        return asyncio.run(rescore_async(run, store))
    finally:
        if own_store:
            store.close()
