"""Inline SVG charts, drawn in Python: no JavaScript library, no network, nothing to load.

Every label passes through `markupsafe.escape`; numbers are formatted here. Each chart
returns `Markup`, so templates insert it as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Tableau 10, colour-blind safe enough for ten runs.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
FONT = 'font-family="system-ui,sans-serif" font-size="11"'


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Bar:
    """One run's value for a group: accuracy with its interval and n."""

    series: int
    accuracy: float
    ci_low: float
    ci_high: float
    n: int


def _svg(width: float, height: float, body: list[str], title: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(title)}" '
        f'{FONT}><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def _percent_axis(x0: float, width: float, y_top: float, y_bottom: float) -> list[str]:
    out = []
    for tick in range(0, 101, 20):
        x = x0 + width * tick / 100
        out.append(f'<line x1="{x:.1f}" y1="{y_top:.1f}" x2="{x:.1f}" y2="{y_bottom:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{y_bottom + 12:.1f}" text-anchor="middle" '
                   f'fill="#555">{tick}%</text>')
    return out


def bar_chart(groups: Sequence[tuple[str, Sequence[Bar]]], title: str) -> Markup:
    """Horizontal accuracy bars with 95% interval whiskers, one row per group and run."""
    label_w, plot_w, value_w, bar_h, gap = 190.0, 420.0, 110.0, 12.0, 8.0
    y = 6.0
    body: list[str] = []
    rows: list[str] = []
    for name, bars in groups:
        block = max(len(bars), 1) * bar_h
        shown = name if len(name) <= 30 else name[:29] + "…"
        rows.append(f'<text x="{label_w - 6:.0f}" y="{y + block / 2 + 4:.1f}" '
                    f'text-anchor="end"><title>{escape(name)}</title>{escape(shown)}</text>')
        for i, bar in enumerate(bars):
            top = y + i * bar_h
            x1 = label_w + plot_w * bar.ci_low
            x2 = label_w + plot_w * bar.ci_high
            mid = top + bar_h / 2
            tip = (f"{name}: {100 * bar.accuracy:.1f}% "
                   f"(95% CI {100 * bar.ci_low:.1f}–{100 * bar.ci_high:.1f}, n={bar.n})")
            rows.append(
                f'<g><title>{escape(tip)}</title>'
                f'<rect x="{label_w:.0f}" y="{top + 1:.1f}" width="{plot_w * bar.accuracy:.1f}" '
                f'height="{bar_h - 2:.0f}" fill="{colour(bar.series)}" opacity="0.85"/>'
                f'<line x1="{x1:.1f}" y1="{mid:.1f}" x2="{x2:.1f}" y2="{mid:.1f}" '
                'stroke="#222" stroke-width="1.2"/>'
                f'<line x1="{x1:.1f}" y1="{mid - 3:.1f}" x2="{x1:.1f}" y2="{mid + 3:.1f}" '
                'stroke="#222"/>'
                f'<line x1="{x2:.1f}" y1="{mid - 3:.1f}" x2="{x2:.1f}" y2="{mid + 3:.1f}" '
                'stroke="#222"/>'
                f'<text x="{label_w + plot_w + 6:.0f}" y="{mid + 4:.1f}" fill="#333">'
                f'{100 * bar.accuracy:.1f}% (n={bar.n})</text></g>'
            )
        y += block + gap
    body.extend(_percent_axis(label_w, plot_w, 2, y))
    body.extend(rows)
    return _svg(label_w + plot_w + value_w, y + 18, body, title)


def reliability_diagram(bins: Sequence[tuple[float, float, int, float, float]],
                        title: str) -> Markup:
    """Accuracy per confidence bin against the diagonal; bins are (lower, upper, count,
    mean confidence, accuracy). Empty bins are left blank."""
    size, pad = 220.0, 34.0
    body = [f'<rect x="{pad}" y="8" width="{size}" height="{size}" fill="none" stroke="#999"/>',
            f'<line x1="{pad}" y1="{8 + size}" x2="{pad + size}" y2="8" stroke="#999" '
            'stroke-dasharray="4 3"/>']
    for tick in (0, 0.5, 1):
        body.append(f'<text x="{pad + size * tick:.0f}" y="{size + 22:.0f}" '
                    f'text-anchor="middle" fill="#555">{tick:g}</text>')
        body.append(f'<text x="{pad - 4}" y="{8 + size * (1 - tick) + 4:.0f}" '
                    f'text-anchor="end" fill="#555">{tick:g}</text>')
    for lower, upper, count, mean_conf, accuracy in bins:
        if not count:
            continue
        x, w = pad + size * lower, size * (upper - lower)
        h = size * accuracy
        tip = (f"confidence {lower:.1f}–{upper:.1f}: n={count}, mean confidence "
               f"{mean_conf:.3f}, accuracy {accuracy:.3f}")
        body.append(f'<rect x="{x:.1f}" y="{8 + size - h:.1f}" width="{w:.1f}" '
                    f'height="{h:.1f}" fill="#4e79a7" opacity="0.8" stroke="#fff">'
                    f'<title>{escape(tip)}</title></rect>')
        body.append(f'<circle cx="{pad + size * mean_conf:.1f}" '
                    f'cy="{8 + size * (1 - accuracy):.1f}" r="2.5" fill="#e15759"/>')
    body.append(f'<text x="{pad + size / 2}" y="{size + 36:.0f}" text-anchor="middle">'
                'confidence</text>')
    return _svg(pad + size + 10, size + 42, body, title)


def coverage_curve(points: Sequence[tuple[float, float]], title: str) -> Markup:
    """Selective prediction: accuracy of the most confident fraction (coverage) of items."""
    size, pad = 220.0, 34.0
    body = [f'<rect x="{pad}" y="8" width="{size}" height="{size}" fill="none" stroke="#999"/>']
    for tick in (0, 0.5, 1):
        body.append(f'<text x="{pad + size * tick:.0f}" y="{size + 22:.0f}" '
                    f'text-anchor="middle" fill="#555">{tick:g}</text>')
        body.append(f'<text x="{pad - 4}" y="{8 + size * (1 - tick) + 4:.0f}" '
                    f'text-anchor="end" fill="#555">{tick:g}</text>')
    if points:
        path = " ".join(f"{pad + size * c:.1f},{8 + size * (1 - a):.1f}" for c, a in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="#4e79a7" '
                    'stroke-width="1.5"/>')
    body.append(f'<text x="{pad + size / 2}" y="{size + 36:.0f}" text-anchor="middle">'
                'coverage</text>')
    return _svg(pad + size + 10, size + 42, body, title)


def cost_scatter(points: Sequence[tuple[int, float, float, float, float]], x_label: str,
                 title: str) -> Markup:
    """Accuracy (with 95% interval) against a cost per item; points are
    (series, cost, accuracy, ci_low, ci_high). The x axis is logarithmic when costs span
    more than a factor of 20."""
    w, h, left, bottom = 360.0, 220.0, 44.0, 34.0
    costs = [p[1] for p in points if p[1] > 0]
    lo, hi = (min(costs), max(costs)) if costs else (1.0, 1.0)
    log = hi / lo > 20
    if log:
        lo, hi = lo / 1.5, hi * 1.5
    else:
        span = hi - lo or max(hi, 1.0)
        lo, hi = max(0.0, lo - 0.1 * span), hi + 0.1 * span
    acc_lo = min((p[3] for p in points), default=0.0)
    acc_hi = max((p[4] for p in points), default=1.0)
    acc_lo, acc_hi = max(0.0, acc_lo - 0.05), min(1.0, acc_hi + 0.05)

    def sx(cost: float) -> float:
        if log:
            frac = (math.log(max(cost, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            frac = (cost - lo) / (hi - lo) if hi > lo else 0.5
        return left + (w - left - 10) * frac

    def sy(acc: float) -> float:
        frac = (acc - acc_lo) / (acc_hi - acc_lo) if acc_hi > acc_lo else 0.5
        return 8 + (h - bottom - 8) * (1 - frac)

    body = [f'<rect x="{left}" y="8" width="{w - left - 10}" height="{h - bottom - 8}" '
            'fill="none" stroke="#999"/>']
    for acc in (acc_lo, (acc_lo + acc_hi) / 2, acc_hi):
        body.append(f'<text x="{left - 4}" y="{sy(acc) + 4:.1f}" text-anchor="end" '
                    f'fill="#555">{100 * acc:.0f}%</text>')
    for cost in (lo, math.sqrt(lo * hi) if log else (lo + hi) / 2, hi):
        body.append(f'<text x="{sx(cost):.1f}" y="{h - bottom + 14:.0f}" '
                    f'text-anchor="middle" fill="#555">{cost:.3g}</text>')
    for series, cost, acc, low, high in points:
        x = sx(cost)
        tip = (f"run {series + 1}: {x_label} {cost:.3g}, accuracy {100 * acc:.1f}% "
               f"(95% CI {100 * low:.1f}–{100 * high:.1f})")
        body.append(
            f'<g><title>{escape(tip)}</title>'
            f'<line x1="{x:.1f}" y1="{sy(low):.1f}" x2="{x:.1f}" y2="{sy(high):.1f}" '
            f'stroke="{colour(series)}" stroke-width="1.5"/>'
            f'<circle cx="{x:.1f}" cy="{sy(acc):.1f}" r="4.5" fill="{colour(series)}"/>'
            f'<text x="{x + 7:.1f}" y="{sy(acc) + 4:.1f}">{series + 1}</text></g>'
        )
    axis = f"{x_label} (log scale)" if log else x_label
    body.append(f'<text x="{left + (w - left) / 2:.0f}" y="{h - 4:.0f}" '
                f'text-anchor="middle">{escape(axis)}</text>')
    return _svg(w, h, body, title)
