"""Per-run metrics: accuracy with its Wilson interval, and the counts beside every accuracy.

Accuracy is correct / answered-or-invalid: an invalid answer counts as wrong (it is an
answer the model failed to give), while items whose model calls failed (errors) are
excluded and counted separately, never scored.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def wilson_interval(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(run: Mapping[str, Any], samples: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The run's headline numbers.

    Keys: run_id, task, model, strategy, status, n, correct, accuracy, ci_low, ci_high,
    invalid, invalid_rate, truncated, truncation_rate, errors, calls, prompt_tokens,
    completion_tokens, wall_s, and acc_norm (with its interval) when the strategy scored
    option log-likelihoods; paper_accuracy, paper_correct, paper_n and paper_parser when
    imported samples carry the paper's own verdict (``details["paper"]["correct"]``);
    and one key per metric the task declares (`Task.metrics`), e.g. a per-category table.

    A judged run (some item has a judge's score, or was left ungraded) also has: score (the
    mean item score clipped to [0, 1]: rubric items may score below 0, and only the
    aggregate is clipped), score_unclipped (the plain mean), score_ci_low and
    score_ci_high (a seeded item-bootstrap interval of the clipped mean, `score_interval`,
    seeded by the run's seed: score_ci_seed),
    graded, ungraded and ungraded_rate (`medq.results.Counts`), and judges (per-judge
    counts and means, and the jury's agreement: `medq.judge.summary.judge_summary`). Where
    the items have a score but no right/wrong verdict (rubrics), accuracy is None and
    ci_low / ci_high are the score's interval.
    """
    from medq.results import count

    samples = list(samples)
    counted = count(samples)
    n, correct, invalid = counted.n, counted.correct, counted.invalid
    truncated, errors = counted.truncated, counted.errors
    calls = prompt_tokens = completion_tokens = 0
    norm_correct = norm_n = 0
    paper_correct = paper_n = 0
    for s in samples:
        paper = s["details"].get("paper")
        if isinstance(paper, Mapping) and paper.get("correct") is not None:
            paper_n += 1
            paper_correct += int(bool(paper["correct"]))
        calls += s["calls"]
        prompt_tokens += s["prompt_tokens"]
        completion_tokens += s["completion_tokens"]
        if s["status"] == "error":
            continue
        norm_choice = s["details"].get("acc_norm_choice")
        if norm_choice is not None:
            norm_n += 1
            norm_correct += int(norm_choice == s["gold"])
    low, high = wilson_interval(correct, n)
    total = n + errors + counted.ungraded  # every item stored, ungraded ones too
    summary: dict[str, Any] = {
        "run_id": run["run_id"],
        "task": run["task"],
        "model": run["model"],
        "strategy": run["strategy"],
        "status": run["status"],
        "n_items": run["info"].get("n_items", total),
        "n": n,
        "correct": correct,
        "accuracy": counted.accuracy,
        "ci_low": low if counted.accuracy is not None else None,
        "ci_high": high if counted.accuracy is not None else None,
        "invalid": invalid,
        "invalid_rate": invalid / n if n else None,
        "truncated": truncated,
        "truncation_rate": truncated / n if n else None,
        "errors": errors,
        "calls": calls,
        "calls_per_item": calls / total if total else None,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "wall_s": run["wall_s"],
        "extractor_version": run["info"].get("extractor_version"),
    }
    if norm_n:
        nl, nh = wilson_interval(norm_correct, norm_n)
        summary.update(acc_norm=norm_correct / norm_n, acc_norm_ci_low=nl, acc_norm_ci_high=nh)
    if paper_n:
        summary.update(paper_accuracy=paper_correct / paper_n, paper_correct=paper_correct,
                       paper_n=paper_n, paper_parser=run["info"].get("paper_parser"))
    if counted.graded or counted.ungraded:
        summary.update(_judged(run, samples, counted))
    summary.update(_task_metrics(run["task"], samples))
    return summary


def _judged(run: Mapping[str, Any], samples: list[Any], counted: Any) -> dict[str, Any]:
    """The judged-score entries of a summary (see `summarize`)."""
    from medq.judge.summary import judge_summary
    from medq.results import item_score

    values = [v for v in (item_score(s) for s in samples) if v is not None]
    mean = counted.mean_score
    seed = int(run["spec"].get("seed") or 0)
    low, high = score_interval(values, seed=seed)
    out: dict[str, Any] = {
        "score": None if mean is None else min(1.0, max(0.0, mean)),
        "score_unclipped": mean,
        "score_ci_low": low,
        "score_ci_high": high,
        "score_ci_seed": seed,
        "graded": counted.graded,
        "ungraded": counted.ungraded,
        "ungraded_rate": counted.ungraded_rate,
    }
    if counted.accuracy is None:
        out.update(ci_low=low, ci_high=high)
    judges = judge_summary(samples, run["info"].get("roles") or {},
                           run["info"].get("prompts") or {})
    if judges is not None:
        out["judges"] = judges
    return out


def score_interval(
    values: list[float], *, seed: int, n_resamples: int = 1000, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Percentile item-bootstrap interval of the mean score clipped to [0, 1].

    Items are resampled with replacement (numpy PCG64 seeded by `seed`), each resample's
    mean is clipped as the reported score is, and the interval is the resampled means'
    (1 - level) / 2 and (1 + level) / 2 quantiles. (None, None) with no items.
    """
    import numpy as np

    scores = np.asarray(values, dtype=float)
    if scores.size == 0:
        return None, None
    rng = np.random.Generator(np.random.PCG64(seed))
    means = np.empty(n_resamples)
    step = max(1, 2_000_000 // scores.size)  # bound the index matrix to ~16 MB
    for start in range(0, n_resamples, step):
        rows = min(step, n_resamples - start)
        picks = rng.integers(0, scores.size, size=(rows, scores.size))
        means[start : start + rows] = scores[picks].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(np.clip(means, 0.0, 1.0), [tail, 1 - tail])
    return float(low), float(high)


def _task_metrics(task: str, samples: list[Any]) -> dict[str, Any]:
    """The task's own metrics (declared by the task), where its results carry their inputs."""
    from medq import registry

    try:
        declared = getattr(registry.tasks.get(task), "metrics", ())
    except registry.UnknownNameError:
        return {}
    found = {entry[0]: entry[1](samples) for entry in declared}
    return {k: v for k, v in found.items() if v is not None}


def task_metric_lines(task: str, summary: Mapping[str, Any]) -> list[str]:
    """Readable lines for the task's own metrics in `summary`: each metric's own formatter
    (the optional third element of its declaration), else the value as JSON."""
    import json

    from medq import registry

    try:
        declared = getattr(registry.tasks.get(task), "metrics", ())
    except registry.UnknownNameError:
        return []
    lines: list[str] = []
    for entry in declared:
        name = entry[0]
        if summary.get(name) is None:
            continue
        if len(entry) > 2 and entry[2] is not None:
            lines.extend(entry[2](summary[name]))
        else:
            lines.append(f"{name}: {json.dumps(summary[name], default=str)}")
    return lines
