"""The report's robustness section: each probed run against its clean run, and the
Glianorex control gap, as plain values and inline SVG charts for the page template."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medq.store import Store

FICTION_TASK = "glianorex"


def robustness_sections(store: Store, run_ids: Sequence[str], *,
                        samples: Mapping[str, Sequence[Any]] | None = None
                        ) -> list[dict[str, Any]]:
    """One section per clean run that a probed run of the report pairs with (the clean run
    is taken from the store when the report does not list it); `samples` as in
    `robustness`."""
    from medq.probes._robustness import robustness
    from medq.report import plots
    from medq.scoring.metrics import wilson_interval
    from medq.store import RunNotFoundError

    number = {run_id: i for i, run_id in enumerate(run_ids)}
    by_clean: dict[str, list[str]] = {}
    for run_id in run_ids:
        clean = (store.run(run_id)["info"].get("probe") or {}).get("clean_run")
        if clean:
            by_clean.setdefault(clean, []).append(run_id)
    sections = []
    for clean, probed in by_clean.items():
        try:
            result = robustness(store, clean, probed, n_resamples=2000,
                                samples=samples)
        except RunNotFoundError:
            sections.append({"clean_run": clean, "missing": True, "rows": [], "charts": []})
            continue

        def series(run_id: str) -> int:
            return number.get(run_id, len(run_ids))

        accuracy = []
        for run_id, label, correct, n in [
            (clean, "clean", round((result.clean.accuracy or 0) * result.clean.n_items),
             result.clean.n_items),
            *((r.run_id, r.label, round((r.paired_accuracy or 0) * r.n_paired), r.n_paired)
              for r in result.rows),
        ]:
            if n:
                low, high = wilson_interval(correct, n)
                accuracy.append((label, [plots.Bar(series(run_id), correct / n, low, high, n)]))
        positions = sorted({k for m in [result.clean, *(r.metrics for r in result.rows)]
                            for k in m.position_recall})
        recall = []
        for letter in positions:
            bars = []
            for run_id, m in [(clean, result.clean),
                              *((r.run_id, r.metrics) for r in result.rows)]:
                n = m.position_n.get(letter, 0)
                if n:
                    hits = round(m.position_recall[letter] * n)
                    low, high = wilson_interval(hits, n)
                    bars.append(plots.Bar(series(run_id), hits / n, low, high, n))
            recall.append((f"gold at {letter}", bars))
        sections.append({
            "clean_run": clean, "missing": False, "result": result,
            "numbers": {run_id: number[run_id] + 1 for run_id in run_ids},
            "charts": [plots.bar_chart(accuracy, "accuracy, clean and under each probe"),
                       plots.bar_chart(recall, "recall by gold position")],
        })
    return sections


def control_gaps(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """Accuracy on the Glianorex fiction beside each real task's, per model and strategy:
    a small gap means the real score is largely test-taking, not knowledge (items differ,
    so the intervals are each run's own, not paired)."""
    fiction = [r for r in runs if r.summary["task"] == FICTION_TASK]
    gaps = []
    for f in fiction:
        for real in runs:
            s, fs = real.summary, f.summary
            if s["task"] == FICTION_TASK or (s["model"], s["strategy"]) != (
                    fs["model"], fs["strategy"]):
                continue
            if s["accuracy"] is None or fs["accuracy"] is None:
                continue
            gaps.append({"model": s["model"], "strategy": s["strategy"], "task": s["task"],
                         "real": s, "fiction": fs, "gap": s["accuracy"] - fs["accuracy"]})
    return gaps
