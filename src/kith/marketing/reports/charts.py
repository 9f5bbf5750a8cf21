"""Charts as SVG written on the server: readable without JavaScript, by screen readers too.

Every series is a `<g data-series="...">` with a `<title>`, and every bar or point carries
its category and value (`data-category`, `data-value`) and a `<title>` saying them, so a
chart can be read, hovered and tested. All text is escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe and Ito's palette: told apart with every common colour-vision deficiency.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
WIDTH, HEIGHT = 720, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 40, 88
LEGEND_ROW = 18
LEGEND_GAP = 12  # between the x axis's label and the legend


@dataclass(frozen=True)
class Series:
    """One named row of values, a value per category."""

    name: str
    values: Sequence[float]


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    stacked: bool = True,
) -> Markup:
    """Bars per category: one bar of stacked series, or a bar per series side by side."""
    _check(categories, series)
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    top = max(totals if stacked else [v for s in series for v in s.values], default=0)
    frame = _Frame(title, categories, series, top)
    slot = frame.plot_width / max(len(categories), 1)
    bar = slot * 0.7 / (1 if stacked else max(len(series), 1))
    groups = []
    base = [0.0] * len(categories)
    for index, one in enumerate(series):
        shapes = []
        for position, (category, value) in enumerate(zip(categories, one.values, strict=True)):
            left = LEFT + slot * position + slot * 0.15 + (0 if stacked else bar * index)
            low = base[position] if stacked else 0.0
            y_top, y_bottom = frame.y(low + value), frame.y(low)
            shapes.append(
                f'<rect x="{left:.1f}" y="{y_top:.1f}" width="{bar:.1f}" '
                f'height="{y_bottom - y_top:.1f}" {_datum(one.name, category, value)}</rect>'
            )
            if stacked:
                base[position] += value
        groups.append(_group(one.name, index, shapes, fill=True))
    return frame.svg(groups, x_label=x_label, y_label=y_label)


def weekly_chart(
    title: str,
    weeks: Sequence[str],
    counts: Mapping[str, Sequence[float]],
    *,
    y_label: str,
    stacked: bool = True,
    line: bool = False,
) -> Markup:
    """A report's figures per week: bars (stacked or side by side) or lines, a series each."""
    series = [Series(name, values) for name, values in counts.items()]
    if line:
        return line_chart(title, weeks, series, x_label="week starting", y_label=y_label)
    return bar_chart(
        title, weeks, series, x_label="week starting", y_label=y_label, stacked=stacked
    )


def line_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
) -> Markup:
    """A line per series across the categories, with a marked point per value."""
    _check(categories, series)
    top = max((v for s in series for v in s.values), default=0)
    frame = _Frame(title, categories, series, top)
    slot = frame.plot_width / max(len(categories), 1)
    groups = []
    for index, one in enumerate(series):
        points = [
            (LEFT + slot * (position + 0.5), frame.y(value))
            for position, value in enumerate(one.values)
        ]
        path = " ".join(f"{'L' if i else 'M'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
        shapes = [f'<path d="{path}" fill="none" stroke-width="2"></path>'] if points else []
        shapes += [
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" {_datum(one.name, category, value)}'
            "</circle>"
            for (x, y), category, value in zip(points, categories, one.values, strict=True)
        ]
        groups.append(_group(one.name, index, shapes, fill=False))
    return frame.svg(groups, x_label=x_label, y_label=y_label)


class _Frame:
    """The chart's box: title, axes with ticks and labels, legend; maps values to y."""

    def __init__(
        self, title: str, categories: Sequence[str], series: Sequence[Series], top: float
    ) -> None:
        self.title = title
        self.categories = categories
        self.series = series
        self.step, self.top = _ticks(top)
        self.legend_height = LEGEND_ROW * math.ceil(len(series) / 4)
        self.height = HEIGHT + LEGEND_GAP + self.legend_height
        self.plot_width = WIDTH - LEFT - RIGHT
        self.plot_height = HEIGHT - TOP - BOTTOM

    def y(self, value: float) -> float:
        return TOP + self.plot_height * (1 - value / self.top)

    def svg(self, groups: list[str], *, x_label: str, y_label: str) -> Markup:
        ident = "chart-" + (re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "x")
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {self.height}" width="{WIDTH}" height="{self.height}" '
            f'aria-labelledby="{ident}" font-family="system-ui, sans-serif" font-size="11">',
            f'<title id="{ident}">{escape(self.title)}</title>',
            f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" class="chart-title" '
            'font-size="14" font-weight="600">'
            f"{escape(self.title)}</text>",
            self._axes(x_label, y_label),
            *groups,
            self._legend(),
            "</svg>",
        ]
        return Markup("\n".join(parts))

    def _axes(self, x_label: str, y_label: str) -> str:
        bottom = TOP + self.plot_height
        right = LEFT + self.plot_width
        parts = ['<g class="axes" fill="#333" stroke="#999">']
        tick = 0.0
        while tick <= self.top + self.step / 2:
            y = self.y(tick)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e5e5e5"></line>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" stroke="none">'
                f"{_number(tick)}</text>"
            )
            tick += self.step
        parts.append(
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"></line>'
            f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"></line>'
        )
        slot = self.plot_width / max(len(self.categories), 1)
        every = max(1, math.ceil(len(self.categories) / 16))
        for position, category in enumerate(self.categories):
            if position % every:
                continue
            x = LEFT + slot * (position + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="end" stroke="none" '
                f'transform="rotate(-35 {x:.1f} {bottom + 14})">{escape(category)}</text>'
            )
        parts.append(
            f'<text class="axis-label" x="{LEFT + self.plot_width / 2}" y="{HEIGHT - 6}" '
            f'text-anchor="middle" stroke="none">{escape(x_label)}</text>'
            f'<text class="axis-label" x="14" y="{TOP + self.plot_height / 2}" '
            f'text-anchor="middle" stroke="none" '
            f'transform="rotate(-90 14 {TOP + self.plot_height / 2})">{escape(y_label)}</text>'
        )
        parts.append("</g>")
        return "".join(parts)

    def _legend(self) -> str:
        parts = ['<g class="legend">']
        for index, one in enumerate(self.series):
            x = LEFT + (index % 4) * (self.plot_width / 4)
            y = HEIGHT + LEGEND_GAP + LEGEND_ROW * (index // 4) + 10
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10}" width="12" height="12" '
                f'fill="{_colour(index)}"></rect>'
                f'<text x="{x + 16:.1f}" y="{y}">{escape(one.name)}</text>'
            )
        parts.append("</g>")
        return "".join(parts)


def _check(categories: Sequence[str], series: Sequence[Series]) -> None:
    for one in series:
        if len(one.values) != len(categories):
            raise ValueError(
                f"series {one.name!r} has {len(one.values)} values for {len(categories)} categories"
            )


def _group(name: str, index: int, shapes: list[str], *, fill: bool) -> str:
    colour = _colour(index)
    paint = f'fill="{colour}"' if fill else f'stroke="{colour}" fill="{colour}"'
    return (
        f'<g class="series" data-series="{escape(name)}" {paint}>'
        f"<title>{escape(name)}</title>{''.join(shapes)}</g>"
    )


def _datum(series: str, category: str, value: float) -> str:
    """The attributes and title of one bar or point (the caller closes the element)."""
    return (
        f'data-category="{escape(category)}" data-value="{_number(value)}">'
        f"<title>{escape(series)}, {escape(category)}: {_number(value)}</title>"
    )


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _ticks(top: float) -> tuple[float, float]:
    """A round tick step (1, 2 or 5 times a power of ten) and the axis top it reaches."""
    if top <= 0:
        return 1.0, 1.0
    rough = top / 5
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    if step < 1 and top >= 1:
        step = 1
    return step, step * math.ceil(top / step)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0")
