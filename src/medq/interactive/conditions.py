"""Reference conditions in one command: the same strategy under each of its conditions,
one run each, paired by item.

Li et al., NeurIPS 2024 (MediQ) place an interactive expert between two non-interactive
references: ``full`` (the whole case at once: the upper bound) and ``initial`` (only the
first sentence: the lower bound). A strategy declares its conditions at registration
(``conditions=("full", "initial", "interactive")``, selected by its ``condition``
parameter); `evaluate_conditions` runs each as its own run (its own identity, resumable
like any run), records the group in every run's info (``conditions``: condition -> run
ID), and compares the runs pairwise on their shared items (`medq.compare`).

Example:
    >>> result = evaluate_conditions(EvalSpec("imedqa", "openai/m", "mediq(abstain=scale)"))
    >>> result.summaries["interactive"]["accuracy"], result.comparison.pairs[0].p_holm
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from medq.results import count
from medq.runner import EvalSpec, RunResult, evaluate
from medq.scoring.metrics import wilson_interval
from medq.store import Store
from medq.strategies._shared.spec import StrategySpec

if TYPE_CHECKING:
    from medq.compare import Comparison


@dataclass(frozen=True)
class ConditionsResult:
    """The runs of every condition, and their paired comparison.

    Attributes:
        runs: condition -> its `RunResult`, in the strategy's declared order, interactive
            first.
        comparison: every pair of runs on their shared items (McNemar, Holm, bootstrap).
        interrupted: a run was interrupted (the others after it were not started).
    """

    runs: Mapping[str, RunResult]
    comparison: Comparison | None
    interrupted: bool

    @property
    def summaries(self) -> dict[str, dict[str, Any]]:
        """condition -> the run's summary."""
        return {name: run.summary for name, run in self.runs.items()}


def declared_conditions(strategy: str) -> tuple[str, ...]:
    """The conditions `strategy` would run in one command: those its registration declares,
    interactive first; none when the spec already names its ``condition``."""
    from medq.strategies.base import strategy_info

    spec = StrategySpec.parse(strategy)
    if "condition" in spec.params:
        return ()
    declared = tuple(strategy_info(spec.name).get("conditions") or ())
    return tuple(sorted(declared, key=lambda c: (c != "interactive", declared.index(c))))


def expand_conditions(specs: Sequence[EvalSpec]) -> list[tuple[str | None, EvalSpec]]:
    """Each spec as it is (condition None), or, when its strategy declares conditions and
    names none, one spec per condition (interactive first)."""
    out: list[tuple[str | None, EvalSpec]] = []
    for spec in specs:
        conditions = declared_conditions(spec.strategy)
        if not conditions:
            out.append((None, spec))
            continue
        parsed = StrategySpec.parse(spec.strategy)
        for condition in conditions:
            strategy = str(StrategySpec(parsed.name, {**parsed.params, "condition": condition}))
            out.append((condition, replace(spec, strategy=strategy)))
    return out


def group_conditions(
    store: Store, expanded: Sequence[tuple[str | None, EvalSpec]],
    results: Sequence[RunResult], *, seed: int = 0, interrupted: bool = False,
) -> list[ConditionsResult]:
    """The condition groups among `results` (the runs of `expanded`, in order; a prefix
    when the command stopped early), one per task: each group is recorded in its runs'
    info (``conditions``) and compared pairwise on shared items (bootstrap `seed`)."""
    groups: dict[str, dict[str, RunResult]] = {}
    for (condition, spec), result in zip(expanded, results, strict=False):
        if condition is not None:
            groups.setdefault(spec.task, {})[condition] = result
    out = []
    for runs in groups.values():
        ids = {name: run.run_id for name, run in runs.items()}
        for run in runs.values():
            store.set_run_info(run.run_id, conditions=ids)
        for name, run in runs.items():
            run.summary["conditions"] = condition_summary(store, ids)
            run.summary["condition"] = name
        comparison = None
        if len(ids) > 1:
            from medq.compare import compare_runs  # numpy: only where runs are compared

            comparison = compare_runs(store, list(ids.values()), seed=seed)
        out.append(ConditionsResult(runs, comparison, interrupted))
    return out


def evaluate_conditions(
    spec: EvalSpec,
    *,
    store: Store | None = None,
    concurrency: int | str = 32,
    progress: bool = True,
    on_start: Callable[[str], None] | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> ConditionsResult:
    """Evaluate `spec` under each condition its strategy declares; see the module docstring.

    `seed` seeds the paired bootstrap; `kwargs` go to `medq.runner.evaluate` (``model``,
    ``retry``).

    Raises:
        ValueError: the strategy declares no conditions, or its spec names one.
    """
    expanded = expand_conditions([spec])
    if expanded[0][0] is None:
        raise ValueError(f"strategy {spec.strategy!r} runs one condition (it declares none, "
                         f"or its spec names one)")
    own_store = store is None
    store = store or Store()
    try:
        results: list[RunResult] = []
        for _, one in expanded:
            results.append(evaluate(one, store=store, concurrency=concurrency,
                                    progress=progress, on_start=on_start, **kwargs))
            if results[-1].interrupted:
                break
        (grouped,) = group_conditions(store, expanded, results, seed=seed,
                                      interrupted=results[-1].interrupted)
        return grouped
    finally:
        if own_store:
            store.close()


def conditions_json(groups: Sequence[ConditionsResult]) -> dict[str, Any]:
    """The groups as JSON: per condition its summary, and the paired comparison (one group
    as it is; several under ``tasks``)."""
    import dataclasses

    blocks = [{"conditions": g.summaries,
               "comparison": dataclasses.asdict(g.comparison) if g.comparison else None}
              for g in groups]
    return blocks[0] if len(blocks) == 1 else {"tasks": blocks}


def condition_summary(store: Store, group: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Accuracy (Wilson 95% interval) per condition of a group of runs, with their IDs."""
    out = {}
    for name, run_id in group.items():
        counted = count(store.samples(run_id))
        low, high = wilson_interval(counted.correct, counted.n)
        out[name] = {"run_id": run_id, "n": counted.n, "correct": counted.correct,
                     "accuracy": counted.accuracy, "ci_low": low if counted.n else None,
                     "ci_high": high if counted.n else None, "errors": counted.errors}
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def render_conditions(result: ConditionsResult) -> str:
    """One table of the conditions (accuracy, turns, timeouts, refusals, cost), then their
    paired comparison, as text."""
    import io

    from rich.console import Console
    from rich.table import Table

    from medq._terminal import cell
    from medq.compare import render_comparison

    first = next(iter(result.runs.values())).summary
    table = Table(title=cell(f"{first['task']} · {first['model']} · conditions paired by item"))
    columns = ("condition", "n", "acc %", "95% CI", "invalid", "turns mean / median",
               "timeout %", "refusals", "calls/item", "tokens/item", "run")
    for column in columns:
        table.add_column(column, justify="left" if column in {"condition", "run"} else "right")
    for name, run in result.runs.items():
        s = run.summary
        items = max(s["n"] + s["errors"], 1)
        turns = ("—" if s.get("turns_mean") is None
                 else f"{s['turns_mean']:.2f} / {s['turns_median']:g}")
        table.add_row(
            name, str(s["n"]), _pct(s["accuracy"]),
            "—" if s["ci_low"] is None else f"{_pct(s['ci_low'])}–{_pct(s['ci_high'])}",
            str(s["invalid"]), turns, _pct(s.get("timeout_rate")),
            "—" if s.get("patient_refusals") is None else str(s["patient_refusals"]),
            f"{s['calls'] / items:.1f}",
            f"{s['prompt_tokens'] / items:.0f}/{s['completion_tokens'] / items:.0f}",
            cell(run.run_id),
        )
    buffer = io.StringIO()
    Console(file=buffer, width=240, color_system=None, soft_wrap=False).print(table)
    text = buffer.getvalue()
    if result.comparison is not None:
        text += "\n" + render_comparison(result.comparison, "text")
    return text
