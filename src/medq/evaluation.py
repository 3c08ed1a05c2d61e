"""One `medq eval` command over several tasks: plans first, then each run, then one table.

`evaluate_tasks` runs one `EvalSpec` per task with the same model, strategy and settings,
applying the command's call views (`medq.models.views`: generation defaults, and a call
budget shared by all the runs and, within a run, by its model and every role's model),
writes each run's files when asked (`medq.outputs`) and returns the results with the
micro / macro aggregates of `medq.scoring.stats.aggregate`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medq.run_settings import RunSettings
from medq.runner import EvalSpec, RunResult
from medq.store import Store


@dataclass(frozen=True)
class CallSettings:
    """How every call of the command is made.

    Attributes:
        temperature, max_tokens: defaults for every call a strategy leaves open
            (`GenerationDefaults`); None: the strategy's own.
        max_calls: stop cleanly after this many new model calls across all runs, the
            evaluated model's and every role's (judges, patients) together.
        concurrency: model calls in flight at once, or ``"auto"`` (`medq.concurrency`).
        run: timeouts, retries and the error bound of each run (`RunSettings`); its
            concurrency is `concurrency`.
    """

    temperature: float | None = None
    max_tokens: int | None = None
    max_calls: int | None = None
    concurrency: int | str = 32
    run: RunSettings = field(default_factory=RunSettings)

    def run_settings(self) -> RunSettings:
        """`run`, with this command's concurrency."""
        from dataclasses import replace

        return replace(self.run, concurrency=self.concurrency)

    @property
    def generation(self) -> dict[str, Any]:
        return {k: v for k, v in (("temperature", self.temperature),
                                  ("max_tokens", self.max_tokens)) if v is not None}


@dataclass
class Outcome:
    """What the command did: each run's result, files written, and whether the budget
    stopped it (the runs after the stop were not started)."""

    results: list[RunResult] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    new_calls: int = 0
    budget_reached: bool = False
    not_started: list[str] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return self.budget_reached or any(r.interrupted for r in self.results)


def live_model(spec: EvalSpec, settings: CallSettings) -> Any:
    """The spec's backend wrapped in the command's generation defaults (the call budget
    is the runner's: it wraps every model of the run, see `evaluate_async`)."""
    from medq.models import load_model
    from medq.models.views import GenerationDefaults

    model: Any = load_model(spec.model, base_url=spec.base_url, api_key_env=spec.api_key_env,
                            **settings.run.model_options())
    if settings.generation:
        model = GenerationDefaults(model, **settings.generation)
    return model


def _close(model: Any) -> None:
    import asyncio

    asyncio.run(model.aclose())


def _evaluate_and_close(spec: EvalSpec, model: Any, store: Store, settings: RunSettings,
                        on_start: Callable[[str], None] | None, budget: Any,
                        task: Any = None) -> RunResult:
    """`evaluate` with `model`, closed in the same event loop (its connections live there)."""
    import asyncio

    from medq.runner import evaluate_async

    async def run() -> RunResult:
        try:
            return await evaluate_async(spec, store=store, model=model, settings=settings,
                                        on_start=on_start, budget=budget, task=task)
        finally:
            await model.aclose()

    return asyncio.run(run())


def plan_tasks(specs: Sequence[EvalSpec], settings: CallSettings, store: Store) -> list[Any]:
    """Each spec's `medq.plan.Plan` (no model calls)."""
    from medq.plan import plan_run

    plans = []
    for spec in specs:
        model = live_model(spec, settings)
        try:
            plans.append(plan_run(spec, model, store, max_tokens=settings.max_tokens))
        finally:
            _close(model)
    return plans


def evaluate_tasks(
    specs: Sequence[EvalSpec],
    settings: CallSettings,
    store: Store,
    *,
    output: Path | None = None,
    on_start: Callable[[str], None] | None = None,
    tasks: Sequence[Any] | None = None,
) -> Outcome:
    """Run every spec in turn with the command's settings; see the module docstring.

    `tasks`, one per spec (None: load it), are tasks already loaded for the specs (by
    `plan_tasks`), so the data is read once."""
    from medq.models.views import Budget

    outcome = Outcome()
    for number, spec in enumerate(specs):
        left = None if settings.max_calls is None else settings.max_calls - outcome.new_calls
        if left is not None and left <= 0 and outcome.new_calls:
            outcome.budget_reached = True
            outcome.not_started = [s.task for s in specs[number:]]
            break
        model = live_model(spec, settings)
        budget = None if left is None else Budget(left)
        try:
            result = _evaluate_and_close(spec, model, store, settings.run_settings(), on_start,
                                         budget, tasks[number] if tasks else None)
        except BaseException as exc:
            # The budget can run out during a strategy's one-off preparation, before the
            # run has items: that stops the command like a budget stop inside a run.
            if budget is not None and budget.exhausted:
                outcome.new_calls += budget.made
                outcome.budget_reached = True
                outcome.not_started = [s.task for s in specs[number:]]
                break
            raise exc
        outcome.results.append(result)
        outcome.new_calls += result.new_calls
        if settings.generation:
            store.set_run_info(result.run_id, generation_defaults=settings.generation)
        if output is not None:
            from medq.outputs import write_run_files

            outcome.files.extend(write_run_files(store, result.run_id, output))
        if budget is not None and budget.exhausted:
            outcome.budget_reached = True
            outcome.not_started = [s.task for s in specs[number + 1:]]
            break
        if result.interrupted:
            break
    return outcome


def aggregate_of(results: Sequence[RunResult]) -> dict[str, Any] | None:
    """Micro and macro accuracy with intervals over the runs (None for one run)."""
    if len(results) < 2:
        return None
    from medq.scoring.stats import aggregate  # numpy: only for several runs

    return aggregate([r.summary for r in results])
