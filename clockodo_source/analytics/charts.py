"""Horizontal bar charts as inline SVG: no script, no fonts, no external files.

Colours and fonts come from CSS classes of the page that embeds the chart, so the charts
follow the page's look and stay small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 1080
LABEL_WIDTH = 320
BAR_AREA = 460
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 22
MAX_LABEL = 46
TICKS = 4


@dataclass(frozen=True)
class Bar:
    """One row: ``value`` sets the bar length (None draws no bar), ``text`` follows the bar."""

    label: str
    value: float | None
    text: str
    tone: str = "plain"  # CSS class suffix: plain, ok, warn, over, muted


def bar_chart(
    bars: Sequence[Bar], *, title: str, unit: str = "", reference: float | None = None,
    cap: float | None = None,
) -> str:
    """An SVG chart; ``reference`` draws a dashed line (e.g. at 100 %), ``cap`` clips long bars
    (their true value is in the text) so one outlier does not flatten the rest."""
    values = [bar.value for bar in bars if bar.value is not None and bar.value > 0]
    top = max([*values, reference or 0.0])
    step = tick_step(min(top, cap) if cap else top)
    scale = step * math.ceil((min(top, cap) if cap else top) / step - 1e-9)
    height = TOP + ROW_HEIGHT * len(bars) + 6
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        *_grid(step, scale, unit, height),
    ]
    if reference is not None and reference <= scale:  # drawn first: text stays on top
        x = _x(reference, scale)
        parts.append(f'<line class="reference" x1="{x}" y1="{TOP - 4}" x2="{x}" '
                     f'y2="{height - 4}"/>')
    parts += [_row(bar, index, scale) for index, bar in enumerate(bars)]
    parts.append("</svg>")
    return "\n".join(parts)


def tick_step(top: float) -> float:
    """A round grid step (1, 2, 2.5 or 5 times a power of ten) giving about four steps."""
    if top <= 0:
        return 1.0
    rough = top / TICKS
    power = 10 ** math.floor(math.log10(rough))
    return next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= rough * (1 - 1e-9))


def _x(value: float, scale: float) -> str:
    return f"{LABEL_WIDTH + BAR_AREA * min(max(value, 0.0), scale) / scale:.1f}"


def _grid(step: float, scale: float, unit: str, height: int) -> list[str]:
    lines = []
    for index in range(round(scale / step) + 1):
        value = step * index
        x = _x(value, scale)
        lines.append(f'<line class="grid" x1="{x}" y1="{TOP - 4}" x2="{x}" y2="{height - 4}"/>')
        lines.append(f'<text class="tick" x="{x}" y="{TOP - 8}" text-anchor="middle">'
                     f"{escape(_tick(value, scale))}{escape(unit)}</text>")
    return lines


def _tick(value: float, scale: float) -> str:
    """Tick text; a scale reaching 10,000 labels every tick in thousands (5k, 10k, ...)."""
    if scale >= 10_000:
        return f"{value / 1000:,g}k" if value else "0"
    return f"{value:,g}"


def _row(bar: Bar, index: int, scale: float) -> str:
    y = TOP + index * ROW_HEIGHT
    middle = y + ROW_HEIGHT / 2 + 4
    label = bar.label if len(bar.label) <= MAX_LABEL else bar.label[: MAX_LABEL - 1] + "…"
    parts = [f"<g><title>{escape(bar.label)}: {escape(bar.text)}</title>",
             f'<text class="label" x="{LABEL_WIDTH - 8}" y="{middle:.1f}" '
             f'text-anchor="end">{escape(label)}</text>']
    end = float(LABEL_WIDTH)
    if bar.value is not None and bar.value > 0:
        end = float(_x(bar.value, scale))
        parts.append(f'<rect class="bar {escape(bar.tone)}" x="{LABEL_WIDTH}" '
                     f'y="{y + (ROW_HEIGHT - BAR_HEIGHT) / 2:.1f}" '
                     f'width="{end - LABEL_WIDTH:.1f}" height="{BAR_HEIGHT}" rx="2"/>')
    parts.append(f'<text class="value" x="{end + 6:.1f}" y="{middle:.1f}">'
                 f"{escape(bar.text)}</text></g>")
    return "".join(parts)
