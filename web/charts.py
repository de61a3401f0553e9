"""Bar charts drawn as SVG on the server: no script, no CDN, readable without colour."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 200


@dataclass(frozen=True)
class Bar:
    """One labelled value."""

    label: str
    value: float


def bar_chart(title: str, bars: list[Bar], unit: str) -> Markup:
    """A horizontal bar chart with its title, each bar labelled with its value and unit."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    top = max((b.value for b in bars), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - 90
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" '
             f'width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    for i, bar in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = max(1.0, span * bar.value / top) if bar.value > 0 else 0.0
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 16}" text-anchor="end">{escape(bar.label)}'
            f'</text><rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" '
            f'height="{BAR_HEIGHT}" fill="#0b5394"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 16}">{bar.value:.2f} '
            f'{escape(unit)}</text>')
    if not bars:
        parts.append(f'<text x="10" y="20">{escape("—")}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
