"""Render a report as one self-contained HTML page, as Markdown, or as JSON.

Templates are package files rendered by Jinja2 with autoescaping and `StrictUndefined`, so
model output (untrusted) is always text and a missing value is an error, never a blank.
The page carries its own CSS, script and data; a Content-Security-Policy allows no
network access at all and only the page's own script (by hash), so even a rendering bug
could not run injected code or make a request.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from markupsafe import Markup

from medq import __version__
from medq.liveness import is_complete, status_text, stored_items
from medq.report import plots
from medq.report.data import RunReport
from medq.report.judged import NO_JURY_META, NO_META, judged_sections
from medq.scoring.stats import NO_GROUP, GroupStats

MAX_GROUPS = 30  # bars per chart; the rest are counted, and listed in --format json


@cache
def _environment(html: bool = True) -> Any:
    """HTML templates autoescape; Markdown ones escape per cell with the `cell` filter."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("medq.report", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["pval"] = pval
    env.filters["pp"] = pp
    env.filters["cell"] = cell
    env.filters["code"] = code
    env.filters["num"] = num
    env.globals["ci"] = ci
    env.globals["diff_ci"] = diff_ci
    return env


@cache
def _static(name: str) -> str:
    return resources.files("medq.report").joinpath("static", name).read_text("utf-8")


def pct(value: float | None, digits: int = 1) -> str:
    """0.5234 -> '52.3'; None -> '—'."""
    return "—" if value is None else f"{100 * value:.{digits}f}"


def num(value: float | None) -> str:
    """A statistic such as kappa to 2 decimals: 0.3 -> '0.30'; None (undefined) -> '—'."""
    return "—" if value is None else f"{value:.2f}"


def ci(low: float | None, high: float | None) -> str:
    """'48.1–56.4' (percent), or '—' when there is no interval."""
    return "—" if low is None or high is None else f"{pct(low)}–{pct(high)}"


def pp(value: float | None) -> str:
    """A signed difference in percentage points: 0.04 -> '+4.0'; None -> '—'."""
    return "—" if value is None else f"{100 * value:+.1f}"


def diff_ci(low: float | None, high: float | None) -> str:
    """'-10.0 to +18.0' (percentage points), or '—'."""
    return "—" if low is None or high is None else f"{pp(low)} to {pp(high)}"


def pval(value: float | None) -> str:
    """A p-value to 3 significant digits ('<0.0001' below that); None -> '—'."""
    if value is None:
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.3g}"


# Markdown's own escapes (CommonMark backslash escapes), so a value reads as itself both
# rendered and raw: `step2&3` stays `step2&3`, `<b>` cannot become a tag, `*x*` no emphasis.
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]<>|~])")
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # only an `&` that would start an entity
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # intraword `_` is inert


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell, escaped the Markdown way: backslashes before
    the characters that would make markup (pipes, tags, emphasis, links, code), newlines as
    spaces; a hostile value renders as its own text, never as HTML."""
    text = " ".join(str(value).split())
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    return _MD_UNDERSCORE.sub(r"\\_", text)


def code(value: Any) -> str:
    """A Markdown code span for an identifier inside a table cell (pipes escaped, as GFM
    tables require even in code; backticks cannot occur in medq's run IDs, but are dropped)."""
    return "`" + " ".join(str(value).split()).replace("`", "").replace("|", "\\|") + "`"


def plain(value: Any) -> Any:
    """Dataclasses (and pydantic models) as JSON-able dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def run_rows(runs: Sequence[RunReport]) -> list[dict[str, Any]]:
    """One row per run for the summary tables."""
    rows = []
    for number, run in enumerate(runs, start=1):
        s = run.summary
        items = max(stored_items(s), 1)
        rows.append({
            "number": number,
            "colour": plots.colour(number - 1),
            "s": s,
            "tokens_per_item": (s["prompt_tokens"] + s["completion_tokens"]) / items,
            "prompt_tokens_per_item": s["prompt_tokens"] / items,
            "completion_tokens_per_item": s["completion_tokens"] / items,
            "calls_per_item": s["calls"] / items,
            "task_note": run.task_note,
            "calibration": run.calibration,
            "stored": stored_items(s),
            # Said beside the table, so partial numbers never pass for a whole run's.
            "incomplete": None if is_complete(s) else status_text(s),
            "failure": s.get("failure"),
        })
    return rows


def subgroup_sections(runs: Sequence[RunReport]) -> list[dict[str, Any]]:
    """Per metadata field: a bar chart (largest groups first) and the rows behind it."""
    fields = [f for f in _fields_in_order(runs)]
    sections = []
    for field in fields:
        per_run: list[dict[str, GroupStats]] = [
            {g.group: g for g in run.breakdowns.get(field, [])} for run in runs
        ]
        sizes: dict[str, int] = {}
        for groups in per_run:
            for name, g in groups.items():
                sizes[name] = sizes.get(name, 0) + g.n
        order = sorted(sizes, key=lambda name: (name == NO_GROUP, -sizes[name], name))
        shown = order[:MAX_GROUPS]
        chart_groups = []
        for name in shown:
            bars = [
                plots.Bar(i, g.accuracy, g.ci_low, g.ci_high, g.n)
                for i, groups in enumerate(per_run)
                if (g := groups.get(name)) is not None and g.accuracy is not None
                and g.ci_low is not None and g.ci_high is not None
            ]
            chart_groups.append((name, bars))
        sections.append({
            "field": field,
            "chart": plots.bar_chart(chart_groups, f"accuracy by {field}"),
            "hidden": len(order) - len(shown),
            "rows": [(name, [groups.get(name) for groups in per_run]) for name in shown],
        })
    return sections


def _fields_in_order(runs: Sequence[RunReport]) -> list[str]:
    from medq.report.data import SUBGROUP_FIELDS

    return [f for f in SUBGROUP_FIELDS if any(f in run.breakdowns for run in runs)]


def calibration_sections(runs: Sequence[RunReport]) -> list[dict[str, Any]]:
    """Reliability diagram and accuracy-coverage curve for each run with confidences."""
    out = []
    for number, run in enumerate(runs, start=1):
        cal = run.calibration
        if cal is None:
            continue
        bins = [(b.lower, b.upper, b.count, b.mean_confidence, b.accuracy) for b in cal.bins]
        out.append({
            "number": number,
            "run_id": run.run_id,
            "cal": cal,
            "reliability": plots.reliability_diagram(bins, f"reliability, run {number}"),
            "coverage": plots.coverage_curve(_thin(cal.coverage, 200),
                                             f"accuracy vs coverage, run {number}"),
        })
    return out


def _thin(points: Sequence[tuple[float, float]], most: int) -> list[tuple[float, float]]:
    """At most `most` evenly spaced points, always keeping the last (coverage 1)."""
    if len(points) <= most:
        return list(points)
    step = len(points) / most
    return [points[int(i * step)] for i in range(most)] + [points[-1]]


def cost_charts(runs: Sequence[RunReport]) -> list[Markup]:
    """Accuracy against calls per item and against tokens per item (several runs only)."""
    if len(runs) < 2:
        return []
    rows = [r for r in run_rows(runs) if r["s"]["accuracy"] is not None]
    calls = [(r["number"] - 1, r["calls_per_item"], r["s"]["accuracy"], r["s"]["ci_low"],
              r["s"]["ci_high"]) for r in rows]
    tokens = [(r["number"] - 1, r["tokens_per_item"], r["s"]["accuracy"], r["s"]["ci_low"],
               r["s"]["ci_high"]) for r in rows]
    return [plots.cost_scatter(calls, "model calls per item", "accuracy vs calls per item"),
            plots.cost_scatter(tokens, "tokens per item", "accuracy vs tokens per item")]


def run_numbers(runs: Sequence[RunReport]) -> dict[str, int]:
    return {run.run_id: number for number, run in enumerate(runs, start=1)}


def render_html(runs: Sequence[RunReport], comparisons: Sequence[Any], item_blob: str,
                title: str, *, robustness: Sequence[Any] = (), gaps: Sequence[Any] = ()
                ) -> str:
    """The self-contained page (`robustness` and `gaps`: see `medq.probes._report`)."""
    script = _static("report.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'")
    return _environment().get_template("report.html.j2").render(
        title=title,
        version=__version__,
        csp=Markup(csp),
        css=Markup(_static("report.css")),
        script=Markup(script),
        rows=run_rows(runs),
        has_paper=any("paper_accuracy" in r.summary for r in runs),
        has_norm=any("acc_norm" in r.summary for r in runs),
        has_judged=any("score_unclipped" in r.summary for r in runs),
        judged=judged_sections(runs),
        no_meta=NO_META,
        no_jury_meta=NO_JURY_META,
        subgroups=subgroup_sections(runs),
        calibrations=calibration_sections(runs),
        cost_charts=cost_charts(runs),
        comparisons=comparisons,
        numbers=run_numbers(runs),
        item_blob=item_blob,
        robustness=robustness,
        gaps=gaps,
    )


def render_markdown(runs: Sequence[RunReport], comparisons: Sequence[Any], title: str) -> str:
    """Tables for papers and CI logs."""
    return _environment(html=False).get_template("report.md.j2").render(
        title=title,
        version=__version__,
        rows=run_rows(runs),
        has_paper=any("paper_accuracy" in r.summary for r in runs),
        has_judged=any("score_unclipped" in r.summary for r in runs),
        judged=judged_sections(runs),
        no_meta=NO_META,
        no_jury_meta=NO_JURY_META,
        subgroups=subgroup_sections(runs),
        calibrations=calibration_sections(runs),
        comparisons=comparisons,
        numbers=run_numbers(runs),
    )


def render_json(runs: Sequence[RunReport], comparisons: Sequence[Any]) -> str:
    """Everything the page shows except the per-item browser (see `medq export`)."""
    return json.dumps({
        "medq_version": __version__,
        "runs": [
            {
                "summary": run.summary,
                "breakdowns": plain(run.breakdowns),
                "calibration": plain(run.calibration),
                "task_note": run.task_note,
            }
            for run in runs
        ],
        "comparisons": plain(list(comparisons)),
    }, indent=2, ensure_ascii=False)
