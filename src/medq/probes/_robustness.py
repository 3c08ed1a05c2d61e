"""Robustness metrics of a probed run, and its paired comparison with the clean run.

Per run (from its stored results, by the one accuracy rule of `medq.results`):

- ``accuracy``: over every variant (for ``permute:mode=cyclic``, the mean accuracy over
  the n permutations);
- ``consistent_accuracy``: the share of original items answered correctly under *every*
  variant (MMBench's CircularEval);
- ``flip_rate``: the share of original items (with two or more variants) whose answers,
  mapped back to the original options, are not all the same; an unreadable answer counts
  as an answer of its own, so a flip between a letter and nothing is a flip;
- ``position_recall``: per presented gold letter, the share of variants with their gold
  there answered correctly, and ``rstd``, the population standard deviation of those
  recalls (PriDe's RStd, as a fraction; the paper prints it in percent).

An original item with any variant in error is left out of the item-level metrics and
counted in ``errors``. The paired comparison collapses each probed item to one outcome
(all variants correct) and pairs it with the clean run's outcome by original item ID
through `medq.compare` (exact McNemar, paired bootstrap, Holm over the probes compared
together). A run without probe metadata (e.g. BiasMedQA's released answers under a bias,
imported) pairs by its own item IDs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medq.results import hit
from medq.store import Store

ADDED = "+added"
"""The mapped-back answer for an option a probe added (a NOTA distractor)."""


@dataclass(frozen=True)
class ProbeMetrics:
    """The robustness metrics of one run (see the module docstring)."""

    probe: tuple[str, ...]
    n_items: int
    n_variants: int
    errors: int
    accuracy: float | None
    consistent_accuracy: float | None
    flip_rate: float | None
    position_recall: dict[str, float]
    position_n: dict[str, int]
    rstd: float | None


def _probe_of(sample: Mapping[str, Any]) -> Mapping[str, Any] | None:
    meta = sample["details"].get("metadata") or {}
    probe = meta.get("probe")
    return probe if isinstance(probe, Mapping) else None


def original_id(sample: Mapping[str, Any]) -> str:
    """The ID of the task item a result answers (its own ID when it is not probed)."""
    probe = _probe_of(sample)
    return str(probe["of"]) if probe else str(sample["item_id"])


def _mapped_back(sample: Mapping[str, Any]) -> str | None:
    """The answer as an original option letter (ADDED for an added option; None: none)."""
    choice = sample["choice"] if sample["status"] == "ok" else None
    if choice is None:
        return None
    probe = _probe_of(sample)
    if probe is None:
        return str(choice)
    letters = probe.get("letters") or {}
    if choice not in letters:
        return None
    back = letters[choice]
    return ADDED if back is None else str(back)


def _grouped(samples: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for s in samples:
        groups.setdefault(original_id(s), []).append(s)
    return groups


def probe_metrics(samples: Iterable[Mapping[str, Any]],
                  probe: Sequence[str] = ()) -> ProbeMetrics:
    """The robustness metrics of one run's stored results.

    Example:
        >>> m = probe_metrics(store.samples(run_id), ["permute:mode=cyclic"])
        >>> m.consistent_accuracy, m.flip_rate, m.rstd
    """
    samples = list(samples)
    groups = _grouped(samples)
    scored_variants = correct_variants = 0
    by_position: dict[str, list[int]] = {}
    consistent = items = flips = multi = errors = 0
    for members in groups.values():
        hits = [hit(s) for s in members]
        for s, h in zip(members, hits, strict=True):
            if h is None:
                continue
            scored_variants += 1
            correct_variants += h
            by_position.setdefault(str(s["gold"]), []).append(h)
        if any(h is None for h in hits):
            errors += 1
            continue
        items += 1
        consistent += all(hits)
        if len(members) > 1:
            multi += 1
            flips += len({_mapped_back(s) for s in members}) > 1
    recall = {k: sum(v) / len(v) for k, v in sorted(by_position.items())}
    rstd = None
    if len(recall) >= 2:
        mean = sum(recall.values()) / len(recall)
        rstd = math.sqrt(sum((r - mean) ** 2 for r in recall.values()) / len(recall))
    return ProbeMetrics(
        probe=tuple(probe),
        n_items=items,
        n_variants=scored_variants,
        errors=errors,
        accuracy=correct_variants / scored_variants if scored_variants else None,
        consistent_accuracy=consistent / items if items else None,
        flip_rate=flips / multi if multi else None,
        position_recall=recall,
        position_n={k: len(v) for k, v in sorted(by_position.items())},
        rstd=rstd,
    )


def paired_rows(samples: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per original item: correct when every variant is, an error when any is,
    with the original gold, so `medq.compare` pairs it with the clean run by item."""
    rows: list[dict[str, Any]] = []
    for item_id, members in _grouped(samples).items():
        hits = [hit(s) for s in members]
        probe = _probe_of(members[0])
        gold = str(probe["gold"]) if probe else str(members[0]["gold"])
        if any(h is None for h in hits):
            rows.append({"item_id": item_id, "gold": gold, "status": "error", "correct": None})
        else:
            rows.append({"item_id": item_id, "gold": gold, "status": "ok",
                         "correct": int(all(hits))})
    return rows


@dataclass(frozen=True)
class RobustnessRow:
    """One probed run against the clean run (differences are probed minus clean)."""

    run_id: str
    label: str
    metrics: ProbeMetrics
    n_paired: int
    clean_accuracy: float | None
    paired_accuracy: float | None
    delta: float | None
    delta_ci_low: float | None
    delta_ci_high: float | None
    p_value: float | None
    p_holm: float | None
    verdict: str


@dataclass(frozen=True)
class Robustness:
    """`robustness`'s result: the clean run, its own metrics, and one row per probe."""

    clean_run: str
    clean_label: str
    clean: ProbeMetrics
    rows: tuple[RobustnessRow, ...]
    seed: int
    n_resamples: int
    alpha: float = 0.05
    notes: tuple[str, ...] = field(default_factory=tuple)


def run_label(run: Mapping[str, Any]) -> str:
    """What a run probes: its probe specs, an imported condition, or its strategy."""
    info = run["info"]
    probe = info.get("probe") or {}
    if probe.get("specs"):
        return " → ".join(_label(s) for s in probe["specs"])
    condition = (info.get("release") or {}).get("condition")
    return str(condition) if condition else str(run["strategy"])


def _label(spec: str) -> str:
    from medq.probes.base import ProbeSpecError, probe_label

    try:
        return probe_label(spec)
    except ProbeSpecError:  # a probe since renamed or removed: show it as stored
        return spec


def run_probe_specs(run: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple((run["info"].get("probe") or {}).get("specs") or ())


def robustness(
    store: Store,
    clean_run: str,
    probe_runs: Sequence[str],
    *,
    seed: int = 0,
    n_resamples: int = 10_000,
    alpha: float = 0.05,
    samples: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> Robustness:
    """Pair every probed run with the clean run by original item (McNemar, paired bootstrap
    interval of the difference, Holm over `probe_runs`), beside each run's own metrics.
    `samples` (run ID -> rows) spares re-reading runs the caller has already loaded.

    Raises:
        RunNotFoundError: a run ID matches no run.
        ValueError: a probed run disagrees with the clean run on an item's gold answer.
    """
    from medq.compare import compare_runs

    clean_id = store.resolve_run_id(clean_run)
    ids = [store.resolve_run_id(r) for r in probe_runs]
    given = samples or {}
    loaded = {run_id: list(given[run_id]) if run_id in given else list(store.samples(run_id))
              for run_id in [clean_id, *ids]}
    comparison = compare_runs(store, ids, baseline=clean_id, seed=seed,
                              n_resamples=n_resamples, alpha=alpha,
                              samples={run_id: paired_rows(rows)
                                       for run_id, rows in loaded.items()})
    clean_row = store.run(clean_id)
    rows = []
    for run_id, pair in zip(ids, comparison.pairs, strict=True):
        run = store.run(run_id)
        rows.append(RobustnessRow(
            run_id=run_id,
            label=run_label(run),
            metrics=probe_metrics(loaded[run_id], run_probe_specs(run)),
            n_paired=pair.n_shared,
            clean_accuracy=pair.acc_b,
            paired_accuracy=pair.acc_a,
            delta=pair.diff,
            delta_ci_low=pair.diff_ci_low,
            delta_ci_high=pair.diff_ci_high,
            p_value=pair.p_value,
            p_holm=pair.p_holm,
            verdict=pair.verdict,
        ))
    return Robustness(clean_id, run_label(clean_row), probe_metrics(loaded[clean_id]),
                      tuple(rows), seed, n_resamples, alpha)


def clean_delta(store: Store, run: Mapping[str, Any],
                samples: Sequence[Mapping[str, Any]], *, seed: int = 0,
                n_resamples: int = 10_000) -> dict[str, Any]:
    """The keys `medq show --format json` adds for a probed run: its metrics and, when
    the clean run is in the store, the paired difference from it (raw McNemar p)."""
    from medq.store import RunNotFoundError

    specs = run_probe_specs(run)
    m = probe_metrics(samples, specs)
    out: dict[str, Any] = {
        "probe": list(specs), "consistent_accuracy": m.consistent_accuracy,
        "flip_rate": m.flip_rate, "position_recall": m.position_recall,
        "position_n": m.position_n, "rstd": m.rstd, "clean_run": None, "delta": None,
        "delta_ci_low": None, "delta_ci_high": None, "p_value": None,
    }
    clean = (run["info"].get("probe") or {}).get("clean_run")
    if not clean:
        return out
    try:
        store.run(clean)
    except RunNotFoundError:
        return out
    result = robustness(store, clean, [run["run_id"]], seed=seed, n_resamples=n_resamples)
    row = result.rows[0]
    out.update(clean_run=clean, delta=row.delta, delta_ci_low=row.delta_ci_low,
               delta_ci_high=row.delta_ci_high, p_value=row.p_value)
    return out


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}"


def _p(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


COLUMNS = ("probe", "run", "items", "acc %", "consistent %", "clean %", "Δ (pp)",
           "95% CI (pp)", "p (McNemar)", "p (Holm)", "flip %", "RStd", "verdict")


def _table_rows(result: Robustness) -> list[list[str]]:
    c = result.clean
    rows = [["clean", result.clean_run, str(c.n_items), _pct(c.accuracy),
             _pct(c.consistent_accuracy), _pct(c.accuracy), "", "", "", "", _pct(c.flip_rate),
             _pct(c.rstd), ""]]
    for r in result.rows:
        m = r.metrics
        interval = ("—" if r.delta_ci_low is None
                    else f"{_pp(r.delta_ci_low)} to {_pp(r.delta_ci_high)}")
        rows.append([r.label, r.run_id, str(r.n_paired), _pct(m.accuracy),
                     _pct(m.consistent_accuracy), _pct(r.clean_accuracy), _pp(r.delta),
                     interval, _p(r.p_value), _p(r.p_holm), _pct(m.flip_rate), _pct(m.rstd),
                     r.verdict])
    return rows


def _method(result: Robustness) -> str:
    return (
        "Each probe is paired with the clean run by original item: an item counts as correct "
        "under a probe when every variant of it is answered correctly (Δ = that minus the "
        "clean accuracy on the same items); exact McNemar test, Holm-adjusted over "
        f"{sum(r.p_value is not None for r in result.rows)} probes at alpha = {result.alpha}; "
        f"95% paired bootstrap interval ({result.n_resamples:,} resamples, seed "
        f"{result.seed}). acc % is over all variants; RStd is the standard deviation of "
        "recall per gold position (PriDe), in points."
    )


def render_robustness(result: Robustness, fmt: str = "text") -> str:
    """The robustness table as `text`, `json` or `markdown`."""
    import dataclasses
    import io
    import json

    if fmt == "json":
        return json.dumps(dataclasses.asdict(result), indent=2, ensure_ascii=False)
    recall_lines = []
    for label, m in [("clean", result.clean), *((r.label, r.metrics) for r in result.rows)]:
        cells = ", ".join(f"{k} {_pct(v)} (n={m.position_n[k]})"
                          for k, v in m.position_recall.items())
        recall_lines.append(f"recall by gold position, {label}: {cells or '—'}")
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |",
                 "|" + "|".join("---" if c in {"probe", "run", "verdict"} else "--:"
                                for c in COLUMNS) + "|",
                 *("| " + " | ".join(row) + " |" for row in _table_rows(result)),
                 "", _method(result), "", *(f"- {line}" for line in recall_lines)]
        return "\n".join(lines)
    if fmt != "text":
        raise ValueError(f"format must be text, json or markdown, not {fmt!r}")
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Robustness against the clean run ({result.clean_label})")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in {"probe", "run", "verdict"}
                         else "right")
    for row in _table_rows(result):
        table.add_row(*row)
    buffer = io.StringIO()
    Console(file=buffer, width=260, color_system=None, soft_wrap=False).print(table)
    return buffer.getvalue() + "\n".join([_method(result), *recall_lines, *result.notes])


def split_probes(texts: Sequence[str]) -> list[str]:
    """Probe specs from ``--probes a,b:k=v,c`` (repeatable): a comma starts a new probe
    unless what follows it is a ``key=value`` parameter of the one before.

    Example:
        >>> split_probes(["permute:mode=random,k=5,nota", "mask:stem=1.0"])
        ['permute:mode=random,k=5', 'nota', 'mask:stem=1.0']
    """
    import re

    out: list[str] = []
    for text in texts:
        for part in text.split(","):
            if out and re.match(r"\s*\w+\s*=", part) and not re.match(r"\s*\w+\s*[:(]", part):
                out[-1] += "," + part.strip()
            elif part.strip():
                out.append(part.strip())
    return out


def probe_suite(
    spec: Any,
    probe_specs: Sequence[str],
    *,
    store: Store,
    concurrency: int | str = 32,
    max_concurrency: int = 64,
    model: Any = None,
    progress: bool = True,
    on_start: Any = None,
) -> tuple[Any, list[Any]]:
    """Run (or resume, or reuse) the clean run of `spec` and one run per probe spec.

    `concurrency` is N or ``"auto"`` (up to `max_concurrency`; see `medq.concurrency`).
    Returns the clean `RunResult` and the probed ones, in the order given. A finished run
    makes no calls; an interrupted one stops the suite (run the command again).
    """
    from dataclasses import replace

    from medq.probes.base import normalize_probe
    from medq.runner import evaluate

    specs = [str(normalize_probe(p)) for p in probe_specs]  # bad specs fail before any call
    if not specs:
        raise ValueError("give at least one probe, e.g. --probes permute,nota")
    results = []
    for probes in [(), *((p,) for p in specs)]:
        result = evaluate(replace(spec, probes=probes), store=store, model=model,
                          concurrency=concurrency, max_concurrency=max_concurrency,
                          progress=progress, on_start=on_start)
        results.append(result)
        if result.interrupted:
            break
    return results[0], results[1:]
