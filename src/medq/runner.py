"""The one async engine: task -> strategy -> model calls -> extracted answers -> store.

A sliding window keeps up to `concurrency` model calls in flight (never lock-step batches;
``auto`` adapts it to the server's rate limits, `medq.concurrency`);
each finished item is committed at once, so a run killed at any moment resumes with the
same command and redoes only what was not finished. Ctrl-C (or SIGTERM) stops cleanly and
keeps everything finished.

A run that produced no evidence is a failure, never a result: when every item ended in
error, when more than `RunSettings.max_error_rate` of them did (the run stops sending at
that point), or when calls failed in a way retrying cannot fix (`medq.calls`), the run is
stored as ``failed`` and `evaluate` raises `RunFailedError` with the cause in one line.
A run holds a lock while it executes (`medq.liveness`), so the same spec started twice
never pays twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from medq import __version__
from medq.calls import (
    CallLog,
    ItemModel,
    ItemTally,
    Limiter,
    RunHaltedError,
    completion_from_json,
)
from medq.coalesce import watch as watch_sampling
from medq.concurrency import AUTO, DEFAULT_MAX_CONCURRENCY
from medq.liveness import RunLock
from medq.models.base import Model, ModelError, UnsupportedCapabilityError
from medq.models.credentials import strip_credentials
from medq.models.retry import RetryPolicy
from medq.models.views import Budget, CallBudget
from medq.progress import Progress as _Progress
from medq.prompts import prompt_hash, recording
from medq.run_settings import RunFailedError, RunSettings, SettingError, check_int
from medq.scoring.readings import UnreadableError, read, reading_of
from medq.store import Store, canonical_json, content_hash
from medq.strategies._shared.spec import StrategySpec
from medq.strategies.base import Strategy, build_strategy, normalize, prepare_strategy, prompt_names
from medq.types import Answer, Generation, Question, Reading, Status

if TYPE_CHECKING:
    from medq.results import SampleResult
    from medq.tasks.base import Grader, Scorer, Task


@dataclass(frozen=True)
class ModelRef:
    """A model for a role other than the one evaluated (a simulated patient, a judge).

    Attributes:
        model: ``<backend>/<model>`` spec.
        base_url: its OpenAI-compatible server (default: the evaluated model's).
        api_key_env: the variable holding its API key (default: the evaluated model's).
    """

    model: str
    base_url: str | None = None
    api_key_env: str | None = None


@dataclass(frozen=True)
class EvalSpec:
    """Everything a user asks for in a run.

    The run's identity (`RunContext.identity`) is derived from it after resolution: the
    task and the content of the data it read (not the path), the endpoint actually used
    (flag or environment), the model, the normalised strategy (defaults filled in), the
    hash of every prompt the strategy renders, seed and limit. The same identity always
    resumes the same run; anything different is a different run.

    Attributes:
        task: registered task name (``medq tasks``).
        model: ``<backend>/<model>`` spec.
        strategy: strategy spec, e.g. ``cot`` or ``logprob:mode=letter``.
        data: path to the original release files (None: the hub, or the bundled sample).
        sample: use the bundled sample of the task.
        limit: evaluate only the first N items (in the task's order).
        seed: seed for every random choice and for servers that honour one.
        base_url: OpenAI-compatible server URL (openai backend); a ``user:password@`` in
            it is used but never stored, nor part of the run's identity.
        api_key_env: environment variable holding the API key (openai backend).
        roles: models for other roles, as (role, ModelRef) pairs or a mapping; strategies
            and graders reach them with ``model.role(name)``.
        probes: robustness probe specs applied in order to the task's items, e.g.
            ``("permute:mode=cyclic", "nota")`` (multiple-choice tasks; see `medq.probes`).

    Raises:
        SettingError: `limit` below 1, or `seed` not an integer.
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
    roles: tuple[tuple[str, ModelRef], ...] = ()
    probes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.limit is not None:
            check_int("limit", self.limit, 1)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SettingError("seed", "an integer", self.seed)
        object.__setattr__(self, "probes", tuple(self.probes))
        roles = self.roles.items() if isinstance(self.roles, Mapping) else self.roles
        pairs = []
        for name, ref in roles:
            if isinstance(ref, str):
                ref = ModelRef(ref)
            elif isinstance(ref, Mapping):
                ref = ModelRef(**ref)
            pairs.append((str(name), ref))
        object.__setattr__(self, "roles", tuple(sorted(pairs)))


@dataclass(frozen=True)
class RunResult:
    """What `evaluate` returns: the run's ID and its summary (see `medq.scoring.metrics`)."""

    run_id: str
    summary: dict[str, Any]
    new_calls: int
    interrupted: bool


def question_json(question: Question) -> dict[str, Any]:
    """A question as plain JSON, options in presentation order (for content hashes); its
    images by content hash, only when it has some (text items hash as before)."""
    data: dict[str, Any] = {
        "id": question.id,
        "stem": question.stem,
        "options": [[k, v] for k, v in question.options.items()],
        "gold": question.gold,
        "context": question.context,
        "metadata": dict(question.metadata),
    }
    if question.images:
        data["images"] = [image.to_json() for image in question.images]
    return data


def check_inputs(questions: Iterable[Question], model: Model) -> None:
    """A task with images and a model without vision is an error before any call."""
    from medq.types import Capability

    shown = sum(len(q.images) for q in questions)
    if shown and Capability.VISION not in model.capabilities:
        raise UnsupportedCapabilityError(
            f"the task shows {shown} image(s), and model {model.name!r} does not take images "
            f"(no 'vision' capability); use a vision-language model")


def data_hash(questions: Iterable[Question]) -> str:
    """SHA-256 of the items' content: the same data gives the same hash, from any path."""
    if isinstance(questions, tuple) and _LAST_DATA_HASH[0] is questions:
        return _LAST_DATA_HASH[1]  # a task's (immutable) items, hashed by the plan
    digest = hashlib.sha256()
    for question in questions:
        digest.update(canonical_json(question_json(question)).encode())
        digest.update(b"\n")
    if isinstance(questions, tuple):
        _LAST_DATA_HASH[:] = [questions, digest.hexdigest()]
    return digest.hexdigest()


# The last tuple of items hashed and its hash: `medq eval` plans a run, then runs it, with
# the same loaded task; hashing 1,273 MedQA items twice cost ~15 ms (issue 19). Held
# strongly, so the tuple cannot die and its id be reused; a tuple of frozen questions
# cannot change.
_LAST_DATA_HASH: list[Any] = [None, ""]


def check_answer_kind(task: Task, strategy: StrategySpec) -> None:
    """A strategy that cannot give the task's kind of answer is an error before any call."""
    from medq.strategies._shared.spec import StrategySpecError
    from medq.strategies.base import strategy_info

    accepts = tuple(strategy_info(strategy.name)["accepts"])
    if task.answer_kind not in accepts:
        raise StrategySpecError(
            f"strategy {strategy.name!r} gives {' or '.join(accepts)} answers; task "
            f"{task.name!r} needs {task.answer_kind} answers (see `medq strategies`)"
        )


def check_shown(question: Question, tally: ItemTally) -> None:
    """A visual item is never answered blind: every image of the item must have gone to
    the model in one of its calls, else the run stops (every item would fail alike)."""
    missing = [image for image in question.images if image.sha256 not in tally.images]
    if missing:
        raise UnsupportedCapabilityError(
            f"the strategy answered item {question.id!r} without showing the model "
            f"{len(missing)} of its {len(question.images)} image(s) (it builds prompts that "
            f"leave images out); use one that shows them, such as direct, cot or "
            f"short_answer")


@dataclass
class RunContext:
    """A run, resolved: what it evaluates and its identity. Shared by evaluate and rescore.

    Attributes:
        identity: every input that changes a result (see `EvalSpec`); hashed into run_id.
        info: provenance stored with the run (identity plus source, split, versions …).
    """

    spec: EvalSpec
    task: Task
    questions: list[Question]
    strategy_spec: StrategySpec
    strategy: Strategy
    endpoint: str
    identity: dict[str, Any]
    run_id: str
    probe_info: dict[str, Any] | None = None


def prepare_run(
    spec: EvalSpec,
    endpoint: str,
    role_endpoints: Mapping[str, str] | None = None,
    task: Task | None = None,
) -> RunContext:
    """Resolve `spec` against the data, the strategy registry and the endpoint in use.

    `task` is the loaded task when the caller built it (an import joins released items
    to the task's questions); otherwise it is loaded from `spec`.

    Raises:
        StrategySpecError, TaskDataError, DatasetUnavailableError, UnknownNameError.
    """
    from medq.tasks.base import load_task

    if task is None:
        task = load_task(spec.task, spec.data, sample=spec.sample)
    grading = None
    if spec.probes:
        from medq.probes.base import probe_grading

        grading = probe_grading(spec.probes)  # a probe that changes how answers are graded
    questions = list(task.questions[: spec.limit] if spec.limit else task.questions)
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise ValueError(f"task {spec.task}: duplicate item ID {question.id!r}")
        seen.add(question.id)
    strategy_spec = normalize(spec.strategy, seed=spec.seed)
    check_answer_kind(task if grading is None else grading.apply(task), strategy_spec)
    identity = {
        "task": spec.task,
        "data": data_hash(task.questions),
        "endpoint": endpoint,
        "model": spec.model,
        "strategy": str(strategy_spec),
        "prompts": {name: prompt_hash(name)
                    for name in [*prompt_names(strategy_spec), *task.prompts]},
        "seed": spec.seed,
        "limit": spec.limit,
    }
    if spec.roles:
        endpoints = role_endpoints or {}
        identity["roles"] = {name: {"model": ref.model, "endpoint": endpoints.get(name)}
                             for name, ref in spec.roles}
    run_id = f"{spec.task}-{strategy_spec.name}-{content_hash(identity)[:8]}"
    probe_info = None
    if spec.probes:
        from medq.probes.base import probe_task

        questions, identity["probes"], probe_info = probe_task(task, questions, spec.probes,
                                                               seed=spec.seed)
        probe_info["clean_run"] = run_id  # the same run without the probes
        if grading is not None:
            task = grading.apply(task)
            identity["prompts"].update({name: prompt_hash(name) for name in task.prompts})
        names = "+".join(StrategySpec.parse(p).name for p in identity["probes"]["specs"])
        run_id = f"{spec.task}-{strategy_spec.name}+{names}-{content_hash(identity)[:8]}"
    strategy = build_strategy(strategy_spec, seed=spec.seed, task=task)
    return RunContext(spec, task, questions, strategy_spec, strategy, endpoint, identity,
                      run_id, probe_info)


def run_id_for(spec: EvalSpec, model: Model | None = None, task: Task | None = None) -> str:
    """The run ID `spec` evaluates under (resolving the endpoint the model would use)."""
    from medq.models import load_model

    live = model or load_model(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env)
    return prepare_run(spec, live.endpoint, role_endpoints(spec), task).run_id


def role_endpoints(spec: EvalSpec) -> dict[str, str]:
    """The endpoint each of the spec's other roles would use (part of the run identity)."""
    from medq.models import load_model

    return {name: load_model(ref.model, base_url=ref.base_url or spec.base_url,
                             api_key_env=ref.api_key_env or spec.api_key_env).endpoint
            for name, ref in spec.roles}


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


def score(question: Question, answer: Answer, scorer: Scorer | None = None) -> int | None:
    """The scoring stage's verdict for one answer: 1, 0, or None (no answer to score).

    The task's own rule decides (`Task.scorer`); by default the answer must equal the
    gold option letter.
    """
    if answer.status is not Status.OK or answer.choice is None:
        return None
    return int(scorer(question, answer.choice) if scorer else answer.choice == question.gold)


def sample_row(
    question: Question,
    position: int,
    answer: Answer,
    tally: ItemTally,
    scorer: Scorer | None = None,
) -> dict:
    """The store row for one finished item, scored by the task's rule (default: equality)."""
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.readings import reading_of

    details = dict(answer.details)
    details["metadata"] = dict(question.metadata)
    reading = None if answer.status is Status.ERROR else reading_of(answer).to_json()
    return {
        "item_id": question.id,
        "position": position,
        "status": answer.status.value,
        "choice": answer.choice,
        "gold": question.gold,
        "correct": score(question, answer, scorer),
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
        "extractor": EXTRACTOR_VERSION,
        "reading": reading,
        "score": answer.score,
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
    rendered: set[str] | None = None,
    grader: Grader | None = None,
    max_errors: int | None = None,
    n_items: int = 0,
) -> None:
    """Answer every item and store each result as soon as it is finished.

    A ModelError (after retries) makes the item an error with its reason; an
    UnsupportedCapabilityError or a RunHaltedError aborts the run, since every item would
    fail the same way. Once more than `max_errors` items (of the run's `n_items`) ended in
    error, the log is halted: the run has failed whatever the rest would do.
    The name of every prompt template rendered is added to `rendered`.
    """
    rendered = rendered if rendered is not None else set()
    errors: list[str] = []
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
                item_model = ItemModel(log, tally)
                with recording() as names:
                    answer = await strategy(question, item_model)
                    if answer.status is not Status.ERROR:
                        check_shown(question, tally)
                    if grader is not None and answer.status is not Status.ERROR:
                        answer = await grader(question, answer, item_model)
                rendered.update(names)
            except UnsupportedCapabilityError:
                raise
            except ModelError as exc:
                answer = Answer(None, Status.ERROR, reason=str(exc))
            store.put_sample(run_id, sample_row(question, position, answer, tally, scorer))
            if on_done is not None:
                on_done()
            if answer.status is Status.ERROR and answer.reason is not None:
                errors.append(answer.reason)
                if max_errors is not None and len(errors) > max_errors:
                    log.halt(_too_many_errors(errors, n_items, max_errors))
                    raise RunHaltedError(log.halted or "")

    tasks = [asyncio.ensure_future(work()) for _ in range(max(1, min(workers, queue.qsize())))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _window_progress(bar: _Progress, log: CallLog, label: str) -> Callable[[], None]:
    """`bar.advance` that also shows an adaptive window's size and the 429s it saw."""
    shown: list[tuple[int, int]] = []

    def advance() -> None:
        bar.advance()
        stats = log.window_stats()
        now = (stats.final, stats.rate_limited)
        if shown[-1:] != [now]:
            shown[:] = [now]
            bar.describe(f"{label} · window {stats.final}/{stats.ceiling}, "
                         f"{stats.rate_limited} × 429")

    return advance


def _too_many_errors(reasons: list[str], n_items: int, max_errors: int) -> str:
    """Why a run stopped on its error budget, with the most common error."""
    common = max(set(reasons), key=lambda r: (reasons.count(r), -reasons.index(r)))
    if len(reasons) == n_items:
        return f"all {n_items} items failed: {common}"
    return (f"stopped after {len(reasons)} of {n_items} items failed (--max-error-rate "
            f"allows {max_errors}); the most common error: {common}")


def _evidence_failure(store: Store, run_id: str, n_items: int,
                      settings: RunSettings) -> str | None:
    """Why a run that went through every item is still a failure, or None."""
    stored, errors, common = store.error_counts(run_id)
    if errors == 0:
        return None
    if errors == stored:
        return f"all {errors} items failed: {common}"
    if errors > settings.max_errors(n_items):
        return (f"{errors} of {n_items} items failed ({100 * errors / n_items:.1f}% > "
                f"--max-error-rate {100 * settings.max_error_rate:g}%); the most common "
                f"error: {common}")
    return None


async def evaluate_async(
    spec: EvalSpec,
    *,
    store: Store,
    model: Model | None = None,
    concurrency: int | str = 32,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    on_start: Callable[[str], None] | None = None,
    task: Task | None = None,
    settings: RunSettings | None = None,
    info: Mapping[str, Any] | None = None,
    limiter: Limiter | None = None,
    budget: Budget | None = None,
) -> RunResult:
    """Evaluate `spec`, resuming its run if one was started before. See `evaluate`.

    `task` replaces loading the task from `spec` (see `prepare_run`); `settings` wins over
    `concurrency` (an int or ``"auto"``) when given; `info` is more provenance, stored
    with the run from its start (an import's file and counts); `limiter` is a concurrency
    budget per endpoint shared with other processes (a sweep's shards); `budget`
    (``--max-calls``) bounds the new calls of the evaluated model and of every role's
    model together, and stops the run as Ctrl-C does when spent
    (`medq.models.views.CallBudget`)."""
    settings = settings or RunSettings(concurrency=concurrency)
    lock = RunLock(store)
    try:
        return await _evaluate(spec, store, model, retry, progress, on_start, task, settings,
                               info or {}, lock, limiter, budget)
    finally:
        lock.release()


async def _evaluate(
    spec: EvalSpec,
    store: Store,
    model: Model | None,
    retry: RetryPolicy | None,
    progress: bool,
    on_start: Callable[[str], None] | None,
    task: Task | None,
    settings: RunSettings,
    extra_info: Mapping[str, Any],
    lock: RunLock,
    limiter: Limiter | None = None,
    budget: Budget | None = None,
) -> RunResult:
    from medq.judge.summary import attach_meta
    from medq.models import load_model
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.metrics import summarize

    options = settings.model_options()
    own_model = model is None
    if model is None:
        model = load_model(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env,
                           **options)
    role_models = {name: load_model(ref.model, base_url=ref.base_url or spec.base_url,
                                    api_key_env=ref.api_key_env or spec.api_key_env, **options)
                   for name, ref in spec.roles}
    if getattr(model, "unbounded_window", False):
        # A batch backend answers a whole round at once: keep every item in flight.
        settings = replace(settings, concurrency=max(settings.ceiling, 1_000_000))
    if budget is not None:
        # Behind each call cache (the logs below), so only new calls count; one budget
        # for all the models, so a judge's calls are bounded as the model's are.
        model = CallBudget(model, budget)
        role_models = {name: CallBudget(live, budget) for name, live in role_models.items()}

    async def close_models() -> None:
        for live in role_models.values():
            await live.aclose()
        if own_model:
            await model.aclose()

    try:
        run = prepare_run(spec, model.endpoint,
                          {name: live.endpoint for name, live in role_models.items()}, task)
        lock.acquire(run.run_id)  # before the first call: a second process must not pay twice
    except BaseException:
        await close_models()
        raise
    try:
        check_inputs(run.questions, model)
    except BaseException:
        await close_models()
        raise
    run_id = run.run_id
    if on_start is not None:
        on_start(run_id)
    policy = retry or settings.retry_policy()
    # Each model gets its own window: a judge's rate limit is not the evaluated model's.
    log = CallLog(model, store, concurrency=settings.ceiling, retry=policy, limiter=limiter,
                  window=settings.window(), n_per_request=settings.n_per_request)
    log.bind(spec.model, model.endpoint, model.capabilities)
    for (name, ref), live in zip(spec.roles, role_models.values(), strict=True):
        role_log = CallLog(live, store, concurrency=settings.ceiling, retry=policy,
                           limiter=limiter, window=settings.window(),
                           n_per_request=settings.n_per_request)
        role_log.bind(ref.model, live.endpoint, live.capabilities)
        log.roles[name] = role_log
    try:
        preparation = await _prepare(run.strategy, log, run_id)
    except BaseException as exc:
        await close_models()
        if isinstance(exc, RunHaltedError):
            raise RunFailedError(run_id, f"preparing {spec.strategy}: {exc.reason}", {}) from None
        raise
    info = {
        "identity": run.identity,
        "task_source": run.task.source,
        "split": run.task.split,
        "citation": run.task.citation,
        "answer_kind": run.task.answer_kind,
        "n_items": len(run.questions),
        "endpoint": model.endpoint,
        "data_hash": run.identity["data"],
        "strategy_normalized": run.identity["strategy"],
        "extractor_version": EXTRACTOR_VERSION,
        "prompts": run.identity["prompts"],
        "medq_version": __version__,
        "concurrency": settings.concurrency,
        **({"max_concurrency": settings.max_concurrency} if settings.concurrency == AUTO
           else {}),
        "capabilities": sorted(c.value for c in model.capabilities),
        "preparation": preparation,
        "roles": {name: {"model": ref.model, "endpoint": log.roles[name].endpoint,
                         "capabilities": sorted(c.value for c in log.roles[name].capabilities)}
                  for name, ref in spec.roles},
        **extra_info,
    }
    if run.probe_info is not None:
        info["probe"] = run.probe_info
    spec_json = {k: v for k, v in asdict(spec).items() if k != "api_key_env"}
    spec_json["base_url"] = strip_credentials(spec.base_url)
    spec_json["roles"] = {name: {"model": ref.model, "base_url": strip_credentials(ref.base_url)}
                          for name, ref in spec.roles}
    existed = store.create_or_resume_run(
        run_id,
        task=spec.task,
        model=spec.model,
        strategy=str(StrategySpec.parse(spec.strategy)),
        spec=spec_json,
        info=info,
        keep_extractor=True,
    )
    lock.claim()
    # What the run learns about n per request is recorded as it is learned (medq.coalesce).
    record_sampling = watch_sampling(store, run_id, {"model": log, **log.roles})
    if existed and store.extractor_of(run_id) != EXTRACTOR_VERSION:
        # Finished items were read by an older extractor: read them again first (no
        # calls), so one run never mixes two extractors' answers.
        await rescore_async(run_id, store)
    done = store.done_items(run_id)
    todo = [(i, q) for i, q in enumerate(run.questions) if q.id not in done]
    bar = _Progress(len(todo), f"{spec.task} · {spec.strategy}", progress)
    advance = _window_progress(bar, log, f"{spec.task} · {spec.strategy}") if (
        settings.concurrency == AUTO and bar.shown) else bar.advance
    started = time.perf_counter()
    interrupted = False
    rendered: set[str] = set()
    runner = asyncio.ensure_future(
        answer_items(
            todo,
            run.strategy,
            log,
            store,
            run_id,
            workers=settings.ceiling,
            on_done=advance,
            scorer=run.task.scorer,
            rendered=rendered,
            grader=run.task.grader,
            max_errors=settings.max_errors(len(run.questions)),
            n_items=len(run.questions),
        )
    )
    loop = asyncio.get_running_loop()
    stops = (signal.SIGINT, signal.SIGTERM)  # SIGTERM too: a scheduler's stop is a Ctrl-C
    for stop in stops:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(stop, runner.cancel)
    failure = None
    try:
        await runner
    except RunHaltedError:
        pass  # recorded below as the run's failure
    except asyncio.CancelledError:
        interrupted = True
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # cancelled from outside (not Ctrl-C): propagate after recording
    finally:
        for stop in stops:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(stop)
        bar.close()
        status = "interrupted" if interrupted or not runner.done() else "finished"
        if runner.done() and not runner.cancelled() and runner.exception() is not None:
            status = "failed"
            error = runner.exception()
            failure = error.reason if isinstance(error, RunHaltedError) else str(error)
        elif status == "finished":
            failure = _evidence_failure(store, run_id, len(run.questions), settings)
            status = "failed" if failure else status
        undeclared = sorted(rendered - set(run.identity["prompts"]))
        if undeclared:
            # A prompt outside the run's identity: record its hash so provenance stays
            # whole (the strategy should declare it at registration).
            store.set_run_info(run_id, prompts_undeclared={n: prompt_hash(n) for n in undeclared})
        windows = {"window": log.window_stats().to_json()}
        if log.roles:
            windows["role_windows"] = {name: r.window_stats().to_json()
                                       for name, r in log.roles.items()}
        store.set_run_info(run_id, **windows)
        record_sampling()
        # Only time spent answering counts: a resume with nothing left to do adds none.
        store.finish_run(run_id, status, time.perf_counter() - started if todo else 0.0)
        if failure is not None:
            store.record_failure(run_id, failure)
        await close_models()
    summary = summarize(store.run(run_id), list(store.samples(run_id)))
    attach_meta(summary, store)  # the judges' meta-evaluations, where kept
    _, errors, _ = store.error_counts(run_id)
    summary.update(error_rate=errors / len(run.questions) if run.questions else None,
                   max_error_rate=settings.max_error_rate)
    if failure is not None:
        raise RunFailedError(run_id, failure, summary)
    # Calls made for other roles (a judge, a patient) are calls the run made too.
    new_calls = log.new_calls + sum(r.new_calls for r in log.roles.values())
    return RunResult(run_id, summary, new_calls, interrupted)


def evaluate(
    spec: EvalSpec,
    *,
    store: Store | None = None,
    model: Model | None = None,
    concurrency: int | str = 32,
    retry: RetryPolicy | None = None,
    progress: bool = True,
    on_start: Callable[[str], None] | None = None,
    task: Task | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    timeout: float | None = None,
    max_retries: int = 4,
    max_error_rate: float = 0.05,
    max_response_mb: float | None = None,
    info: Mapping[str, Any] | None = None,
    n_per_request: str = "auto",
) -> RunResult:
    """Run an evaluation and return its run ID and summary.

    Re-running a finished spec makes no model calls; re-running an interrupted one
    answers only the items not yet stored (items that ended in error are retried).

    Args:
        spec: what to evaluate.
        store: where to keep it (default ``$MEDQ_HOME/medq.sqlite``).
        model: a live backend to use instead of loading ``spec.model``.
        concurrency: model calls in flight at once (>= 1), or ``"auto"``: a window that
            starts at 8, grows while responses are clean and halves on a 429 or a spent
            ``x-ratelimit-remaining-*`` budget (`medq.concurrency`). Not part of the run ID.
        retry: a retry policy; overrides `max_retries`.
        progress: show a progress bar on a terminal.
        on_start: called with the run ID once it is known, before the first call.
        task: a task to use instead of loading ``spec.task``.
        max_concurrency: the most calls ``auto`` may keep in flight (default 64).
        timeout, max_retries, max_error_rate, max_response_mb: see `RunSettings`
            (per-request seconds, default 120 for ``openai/...``; 4 retries; the run
            fails above 5% of items in error; 8 MB per response body). `timeout` and
            `max_response_mb` apply to the models medq loads, not to a `model` passed in.
        info: more provenance to store with the run.
        n_per_request: ``auto``, ``on`` or ``off``: the samples of one request in one
            call with ``n`` (see `RunSettings`, `medq.coalesce`).

    Raises:
        SettingError: a setting out of range (a ValueError), before any call.
        RunFailedError: every item failed, more than `max_error_rate` of them did, or
            calls failed in a way retrying cannot fix (a wrong key or URL, nothing
            listening); what finished is stored, and the same call resumes the run.
        RunBusyError: another process is running the same run right now.

    Example:
        >>> evaluate(EvalSpec(task="medqa", model="openai/gpt-4o-mini", sample=True))
    """
    settings = RunSettings(concurrency=concurrency, max_concurrency=max_concurrency,
                           timeout=timeout, max_retries=max_retries,
                           max_error_rate=max_error_rate, max_response_mb=max_response_mb,
                           n_per_request=n_per_request)
    own_store = store is None
    store = store or Store()
    try:
        return asyncio.run(
            evaluate_async(
                spec,
                store=store,
                model=model,
                retry=retry,
                progress=progress,
                on_start=on_start,
                task=task,
                settings=settings,
                info=info,
            )
        )
    finally:
        if own_store:
            store.close()


@dataclass(frozen=True)
class RescoreReport:
    """What a rescore did: items read again, kept (with why), and the versions."""

    reread: int
    kept: dict[str, int]
    from_version: str
    to_version: str


async def rescore_async(run: str, store: Store) -> RunResult:
    """Read every item of `run` again from its stored responses; makes no calls.

    Each item's `Reading` is evaluated with today's readers over the stored calls, so no
    prompt file, exemplar pool, corpus or encoder is needed. Results are written under the
    current extractor version, beside (never over) the earlier version's. An item that
    cannot be read again keeps its previous result, counted by reason in the summary's
    ``rescore`` entry. Runs stored before readings existed are replayed through their
    strategy against the call cache, with the same keep-on-failure rule.
    """
    from medq.judge.summary import attach_meta
    from medq.scoring.extract import EXTRACTOR_VERSION
    from medq.scoring.metrics import summarize

    run_id = store.resolve_run_id(run)
    row = store.run(run_id)
    previous = store.extractor_of(run_id)
    old = list(store.samples(run_id, previous))
    scorer = _task_scorer(row["task"])
    grader = _task_attr(row["task"], "grader")
    if row["spec"].get("probes"):
        from medq.probes.base import probe_grading

        grading = probe_grading(row["spec"]["probes"])
        if grading is not None:
            scorer, grader = grading.scorer, grading.grader
    cached = _cache_only_log(row, store)
    kept: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    legacy = [s for s in old if s.reading is None and s.status != "error"]
    replayed = await _replay_legacy(row, legacy, store) if legacy else {}
    stale = _stale_grader_prompts(row, grader)
    for sample in old:
        if sample.status == "error":
            rows.append({**sample.row(), "extractor": EXTRACTOR_VERSION})
            continue
        if stale:
            # The grader would render today's prompt, not the one the run declared: its
            # grades would not be this run's. Keep them, and say why.
            kept[stale] = kept.get(stale, 0) + 1
            details = {**sample.details, "rescore": f"kept from extractor {previous}: {stale}"}
            rows.append({**sample.row(), "details": details, "extractor": EXTRACTOR_VERSION})
            continue
        try:
            answer = replayed[sample.item_id] if sample.reading is None else read(
                sample.reading, _stored_source(store))
            if grader is not None:
                answer = await grader(_scoring_question(sample), answer,
                                      ItemModel(cached, ItemTally(run_id, sample.item_id)))
        except (UnreadableError, KeyError, ModelError) as exc:
            why = _why_unreadable(row, exc)
            kept[why] = kept.get(why, 0) + 1
            details = {**sample.details, "rescore": f"kept from extractor {previous}: {why}"}
            rows.append({**sample.row(), "details": details, "extractor": EXTRACTOR_VERSION})
            continue
        question = _scoring_question(sample)
        details = dict(answer.details)
        details["metadata"] = dict(sample.details.get("metadata") or {})
        for key in ("paper",):
            if key in sample.details:
                details[key] = sample.details[key]
        rows.append({
            **sample.row(),
            "status": answer.status.value,
            "choice": answer.choice,
            "correct": score(question, answer, scorer),
            "truncated": int(answer.truncated),
            "confidence": answer.confidence,
            "reason": answer.reason,
            "response": answer.text,
            "details": details,
            "extractor": EXTRACTOR_VERSION,
            "reading": reading_of(answer).to_json(),
            "score": answer.score,
        })
    with store.transaction():
        for new in rows:
            store.put_sample(run_id, new)
        store.set_run_info(run_id, extractor_version=EXTRACTOR_VERSION)
    report = RescoreReport(len(rows) - sum(kept.values()), kept, previous, EXTRACTOR_VERSION)
    summary = summarize(store.run(run_id), list(store.samples(run_id)))
    attach_meta(summary, store)  # the judges' meta-evaluations, where kept
    summary["rescore"] = asdict(report)
    return RunResult(run_id, summary, 0, False)


def _stored_source(store: Store) -> Callable[[Reading], Generation]:
    """Each leaf's generation, from the stored call its reading names."""

    def source(reading: Reading) -> Generation:
        if reading.call is None:
            return Generation(reading.text or "")
        stored = store.get_call(reading.call)
        if stored is None:
            raise UnreadableError(f"call {reading.call[:12]} is not in the store")
        return completion_from_json(stored.response).generations[reading.index]

    return source


def _task_scorer(task: str) -> Scorer | None:
    """The task's scoring rule, without loading its data."""
    return _task_attr(task, "scorer")


def _task_attr(task: str, name: str) -> Any:
    """What a task declares (scorer, grader, metrics), without loading its data."""
    from medq import registry

    try:
        return getattr(registry.tasks.get(task), name, None)
    except registry.UnknownNameError:
        return None


def _cache_only_log(run: dict[str, Any], store: Store) -> CallLog:
    """A call log that answers from the store only (rescore), with the run's roles."""
    from medq.types import Capability

    def bound(model: str, info: Mapping[str, Any]) -> CallLog:
        log = CallLog(None, store)
        capabilities = frozenset(Capability(c) for c in info.get("capabilities", []))
        log.bind(model, info.get("endpoint", ""), capabilities)
        return log

    log = bound(run["model"], run["info"])
    for name, role in (run["info"].get("roles") or {}).items():
        log.roles[name] = bound(role["model"], role)
    return log


def _scoring_question(sample: SampleResult) -> Question:
    """The item as its scorer sees it: gold and metadata, as stored with the result."""
    return Question(sample.item_id, "", {}, sample.gold,
                    metadata=sample.details.get("metadata") or {})


def _why_unreadable(run: dict[str, Any], exc: BaseException) -> str:
    """Why an item could not be read again, naming any prompt that changed since the run."""
    changed = [
        f"prompt {name!r} changed since the run: hash {old} -> {prompt_hash(name)}"
        for name, old in sorted(run["info"].get("prompts", {}).items())
        if _safe_prompt_hash(name) not in (None, old)
    ]
    if isinstance(exc, KeyError):
        if changed:
            return "; ".join(changed)
        return (f"its strategy {run['strategy']!r} needs a call that is not in the store "
                f"(the run predates stored readings)")
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _stale_grader_prompts(run: dict[str, Any], grader: Any) -> str | None:
    """Which of the grader's prompts changed since the run (None: none did)."""
    declared = run["info"].get("prompts", {})
    changed = [
        f"prompt {name!r} changed since the run: hash {declared[name]} -> {prompt_hash(name)}"
        for name in getattr(grader, "prompts", ())
        if name in declared and _safe_prompt_hash(name) != declared[name]
    ]
    return "; ".join(changed) or None


def _safe_prompt_hash(name: str) -> str | None:
    try:
        return prompt_hash(name)
    except (FileNotFoundError, OSError):
        return None


async def _replay_legacy(
    run: dict[str, Any], samples: list[SampleResult], store: Store
) -> dict[str, Answer]:
    """Answers of items stored before readings existed, by replaying their strategy
    against the call cache (no calls). Items whose calls miss are left out."""
    from medq.calls import CacheMissError
    from medq.tasks.base import load_task
    from medq.types import Capability

    spec = EvalSpec(**{k: v for k, v in run["spec"].items() if k in _SPEC_FIELDS})
    try:
        task = load_task(spec.task, spec.data, sample=spec.sample)
        strategy = build_strategy(spec.strategy, seed=spec.seed, task=task)
    except Exception:  # noqa: BLE001 - the data or strategy is gone: nothing replays
        return {}
    by_id = {q.id: q for q in task.questions}
    log = CallLog(None, store)
    capabilities = frozenset(Capability(c) for c in run["info"].get("capabilities", []))
    log.bind(spec.model, run["info"]["endpoint"], capabilities)
    out: dict[str, Answer] = {}
    for sample in samples:
        question = by_id.get(sample.item_id)
        if question is None:
            continue
        try:
            out[sample.item_id] = await strategy(question, ItemModel(log, ItemTally(None, None)))
        except (CacheMissError, ModelError):
            continue
    return out


_SPEC_FIELDS = {f for f in EvalSpec.__dataclass_fields__}


def rescore(run: str, *, store: Store | None = None) -> RunResult:
    """Read a run's answers again from its stored responses with today's extractor.

    No model is contacted and no prompt file is read: every response comes from the
    store (see `rescore_async`). Earlier results stay readable by extractor version.
    """
    own_store = store is None
    store = store or Store()
    try:
        return asyncio.run(rescore_async(run, store))
    finally:
        if own_store:
            store.close()
