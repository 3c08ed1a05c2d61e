"""Format sensitivity: sample prompt formats, score them on dev items, freeze the best.

Jeong et al. (EMNLP 2024) show that comparing models at one fixed prompt is unfair: each
must get its best format. `tune_prompt` samples formats from the `formatted` strategy's
grammar (seeded; the default format first), evaluates each on at most `limit` items of a
development task — never the test split: the dev task's questions are the only ones
rendered, which tests check on the request bodies — and returns every format's accuracy
with the best one. With `test_task`, every format is also evaluated there, so the test
run can report min / median / max accuracy across formats beside the tuned one.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medq.runner import EvalSpec, RunResult
from medq.strategies.formatted import AXES

SHOTS = (0, 3)


def sample_formats(n: int, seed: int) -> list[dict[str, Any]]:
    """`n` distinct formats (axis -> value, plus ``shots``), the default format first."""
    rng = random.Random(f"tune-prompt:{seed}")
    default: dict[str, Any] = {axis: next(iter(values)) for axis, values in AXES.items()}
    default["shots"] = 0
    formats = [default]
    seen = {tuple(sorted(default.items()))}
    space = 1
    for values in AXES.values():
        space *= len(values)
    space *= len(SHOTS)
    while len(formats) < min(n, space):
        pick: dict[str, Any] = {axis: rng.choice(list(values)) for axis, values in AXES.items()}
        pick["shots"] = rng.choice(SHOTS)
        key = tuple(sorted(pick.items()))
        if key not in seen:
            seen.add(key)
            formats.append(pick)
    return formats


def format_spec(fmt: dict[str, Any], pool: str | None) -> str:
    """The ``formatted`` strategy spec of one format."""
    params = dict(fmt)
    if params.get("shots") and pool:
        params["pool"] = pool
    return "formatted:" + ",".join(f"{k}={v}" for k, v in sorted(params.items()))


@dataclass(frozen=True)
class FormatScore:
    """One format's result on the tuning (and, when asked, the test) task."""

    strategy: str
    run_id: str
    accuracy: float | None
    n: int
    invalid: int
    test_run_id: str | None = None
    test_accuracy: float | None = None


@dataclass(frozen=True)
class TuneResult:
    """Every format's score, the best on dev, and the spread across formats."""

    scores: list[FormatScore]
    best: FormatScore
    spread: dict[str, float | None] = field(default_factory=dict)
    test_spread: dict[str, float | None] = field(default_factory=dict)


def _spread(values: list[float | None]) -> dict[str, float | None]:
    found = [v for v in values if v is not None]
    if not found:
        return {"min": None, "median": None, "max": None}
    return {"min": min(found), "median": statistics.median(found), "max": max(found)}


def tune_prompt(
    task: str,
    model: str,
    *,
    evaluate: Callable[[EvalSpec], RunResult],
    formats: int = 8,
    limit: int = 500,
    seed: int = 0,
    data: str | Path | None = None,
    sample: bool = False,
    test_task: str | None = None,
    test_data: str | Path | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
) -> TuneResult:
    """Score `formats` sampled formats on `task` (at most `limit` items) with `model`.

    Args:
        evaluate: runs one spec (e.g. ``lambda s: medq.evaluate(s, store=store)``).
        test_task: also evaluate every format on this task (the test split) for the
            format-sensitivity spread; selection never looks at it.

    Returns:
        The scores, the best format on `task` (ties go to the earlier format, the default
        first) and min / median / max accuracy across formats.
    """
    scores = []
    for fmt in sample_formats(formats, seed):
        spec = EvalSpec(task=task, model=model, strategy=format_spec(fmt, task),
                        data=str(data) if data is not None else None, sample=sample,
                        limit=limit, seed=seed, base_url=base_url, api_key_env=api_key_env)
        result = evaluate(spec)
        s = result.summary
        scores.append(FormatScore(spec.strategy, result.run_id, s["accuracy"], s["n"],
                                  s["invalid"]))
    best = max(scores, key=lambda f: (f.accuracy if f.accuracy is not None else -1.0,
                                      -scores.index(f)))
    test_spread: dict[str, float | None] = {}
    if test_task is not None:
        tested = []
        for score in scores:
            spec = EvalSpec(task=test_task, model=model, strategy=score.strategy,
                            data=str(test_data) if test_data is not None else None,
                            sample=sample and test_data is None, seed=seed,
                            base_url=base_url, api_key_env=api_key_env)
            result = evaluate(spec)
            tested.append(FormatScore(score.strategy, score.run_id, score.accuracy, score.n,
                                      score.invalid, result.run_id,
                                      result.summary["accuracy"]))
        scores = tested
        best = next(s for s in scores if s.strategy == best.strategy)
        test_spread = _spread([s.test_accuracy for s in scores])
    return TuneResult(scores, best, _spread([s.accuracy for s in scores]), test_spread)


def runfile_text(result: TuneResult, *, task: str, model: str, seed: int,
                 base_url: str | None = None) -> str:
    """A run file (TOML) freezing the best format for the test run."""
    lines = [
        "# Written by `medq tune-prompt`: the best of "
        f"{len(result.scores)} formats on the tuning items.",
        f'task = "{task}"',
        f'model = "{model}"',
        f"seed = {seed}",
        f'strategy = "{result.best.strategy}"',
    ]
    if base_url:
        lines.append(f'base_url = "{base_url}"')
    return "\n".join(lines) + "\n"
