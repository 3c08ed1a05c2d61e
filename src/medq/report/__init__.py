"""Reports over stored runs: one self-contained HTML page, Markdown, or JSON.

Example:
    >>> from medq.report import build_report
    >>> from medq.store import Store
    >>> html = build_report(Store(), ["last"])            # doctest: +SKIP
    >>> md = build_report(Store(), ["run-a", "run-b"], "markdown")  # doctest: +SKIP
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from medq.store import Store

FORMATS = ("html", "markdown", "json")

__all__ = ["FORMATS", "build_report"]


def build_report(store: Store, run_ids: Sequence[str], fmt: str = "html", *,
                 title: str | None = None, seed: int = 0, progress: bool = True) -> str:
    """Render a report of one or more runs.

    Args:
        store: the store holding the runs.
        run_ids: run IDs, unique prefixes, or "last"; duplicates are dropped.
        fmt: "html" (one self-contained page with an item browser), "markdown" (tables)
            or "json" (the numbers behind the page, without the items).
        title: the page title; defaults to the run IDs.
        seed: seed of the paired bootstrap in the comparisons.
        progress: progress bars (runs loaded, items packed) on a terminal.

    Raises:
        RunNotFoundError: a run ID matches no run.
        ValueError: no runs, or an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    # Building a report allocates millions of short-lived, acyclic objects (decoded rows and
    # calls) on top of a large live heap; the cyclic collector's full passes over that heap
    # cost about a third of the build time on 10 x 4,183 items, and free nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(store, run_ids, fmt, title, seed, progress)
    finally:
        if was_enabled:
            gc.enable()


def _build(store: Store, run_ids: Sequence[str], fmt: str, title: str | None, seed: int,
           progress: bool) -> str:
    from medq.report import render
    from medq.report.data import gather_runs

    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    resolved = list(dict.fromkeys(store.resolve_run_id(r) for r in run_ids))
    if not resolved:
        raise ValueError("a report needs at least one run")
    # The item browser shows every call: read them with the results, each once.
    calls: dict[str, Any] | None = {} if fmt == "html" else None
    runs = gather_runs(store, resolved, progress=progress, calls=calls)
    from medq.judge.summary import attach_meta

    for run in runs:
        attach_meta(run.summary, store)  # each judge's meta-evaluation, where kept
    title = title or "medq report: " + ", ".join(resolved[:3]) + (
        f" and {len(resolved) - 3} more" if len(resolved) > 3 else "")
    if fmt == "json":
        return render.render_json(runs, _comparisons(store, resolved, runs, seed))
    if fmt == "markdown":
        return render.render_markdown(runs, _comparisons(store, resolved, runs, seed), title)
    from concurrent.futures import ThreadPoolExecutor

    from medq.probes._report import control_gaps, robustness_sections
    from medq.report.items import item_payload, pack_payload, payload_json

    raw = payload_json(item_payload(store, runs, progress=progress, calls=calls))
    calls = None  # the decoded calls are no longer needed
    # Compressing the item data (zlib, without the GIL) runs on another core while the
    # comparisons and the robustness section are computed.
    with ThreadPoolExecutor(max_workers=1) as pool:
        blob = pool.submit(pack_payload, raw)
        comparisons = _comparisons(store, resolved, runs, seed)
        loaded = {run.run_id: run.samples for run in runs}
        robustness = robustness_sections(store, resolved, samples=loaded)
        gaps = control_gaps(runs)
        return render.render_html(runs, comparisons, blob.result(), title,
                                  robustness=robustness, gaps=gaps)


def _comparisons(store: Store, run_ids: list[str], runs: Sequence[Any], seed: int) -> list[Any]:
    """Paired comparisons among the runs of each task (items pair only within a task)."""
    from medq.compare import compare_runs

    by_task: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for run in runs:
        # Probed items have their own IDs: they pair with the clean run in the robustness
        # section, and here only with runs under the same probes.
        probes = tuple((store.run(run.run_id)["info"].get("probe") or {}).get("specs") or ())
        by_task.setdefault((run.summary["task"], probes), []).append(run.run_id)
    samples = {run.run_id: run.samples for run in runs}
    return [
        compare_runs(store, ids, seed=seed, samples=samples)
        for ids in by_task.values()
        if len(ids) >= 2
    ]
