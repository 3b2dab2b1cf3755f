"""Charts drawn on the server as SVG: grouped bars, lines and horizontal bars.

Pure functions from numbers to markup, no JavaScript and no style attributes (the back office's
Content-Security-Policy allows no inline style): colours are SVG presentation attributes.
Every chart carries a ``<title>`` and a ``<desc>``; the page puts the same numbers in a table
beside it for screen readers and for copying. Geometry is integer arithmetic on the values
(öre, counts, or ratios scaled to integers), so no money passes through a float.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

# Colour-blind-safe (Okabe–Ito), each with a contrast of at least 3:1 on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")
INK = "#1f2328"
GRID = "#d0d7de"
WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 40

Number = int
Label = Callable[[int], str]


def _scale_max(values: Sequence[int | None]) -> int:
    top = max([v for v in values if v is not None] + [0])
    if top <= 0:
        return 1
    # A round top: 1, 2 or 5 times a power of ten, at or above the largest value.
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


def _frame(title: str, desc: str, body: list[str], legend: Sequence[tuple[str, str]]) -> Markup:
    height = HEIGHT + (20 if legend else 0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img"'
        f' class="chart" font-family="inherit" font-size="12">',
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>",
        *body,
    ]
    x = LEFT
    for name, colour in legend:
        parts.append(f'<rect x="{x}" y="{HEIGHT + 6}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT + 15}" fill="{INK}">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()


def _axis(top: int, label: Label) -> list[str]:
    plot = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(5):
        y = TOP + plot - plot * i // 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}" stroke="{GRID}"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" fill="{INK}">{escape(label(top * i // 4))}</text>'
        )
    return out


def bars(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    desc: str,
    label: Label,
) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series (values ≥ 0)."""
    top = _scale_max([v for _, values in series for v in values])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group = plot_w // max(len(categories), 1)
    bar = max((group - 6) // max(len(series), 1), 1)
    body = _axis(top, label)
    for c, category in enumerate(categories):
        x0 = LEFT + c * group + 3
        for s, (name, values) in enumerate(series):
            value = max(values[c], 0)
            h = plot_h * value // top
            tip = escape(f"{category.replace(chr(10), ' ')} {name}: {label(value)}")
            body.append(
                f'<rect x="{x0 + s * bar}" y="{TOP + plot_h - h}" width="{max(bar - 1, 1)}" height="{h}"'
                f' fill="{PALETTE[s % len(PALETTE)]}"><title>{tip}</title></rect>'
            )
        body.append(_category(x0 + (group - 6) // 2, category))
    legend = [(name, PALETTE[s % len(PALETTE)]) for s, (name, _) in enumerate(series)]
    return _frame(title, desc, body, legend)


def lines(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[int | None]]],
    *,
    title: str,
    desc: str,
    label: Label,
    top: int | None = None,
) -> Markup:
    """Lines over the categories (a missing value breaks the line); a dot on every point."""
    top = top or _scale_max([v for _, values in series for v in values])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w // max(len(categories), 1)
    body = _axis(top, label)
    for c, category in enumerate(categories):
        body.append(_category(LEFT + c * step + step // 2, category))
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        points: list[str] = []
        for c, value in enumerate(values):
            if value is None:
                if len(points) > 1:
                    body.append(_polyline(points, colour))
                points = []
                continue
            x = LEFT + c * step + step // 2
            y = TOP + plot_h - plot_h * max(min(value, top), 0) // top
            points.append(f"{x},{y}")
            tip = escape(f"{categories[c].replace(chr(10), ' ')} {name}: {label(value)}")
            body.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{tip}</title></circle>')
        if len(points) > 1:
            body.append(_polyline(points, colour))
    legend = [(name, PALETTE[s % len(PALETTE)]) for s, (name, _) in enumerate(series)]
    return _frame(title, desc, body, legend)


def _category(x: int, text: str) -> str:
    """A category's name under the plot; a line break in it (``"okt\n2025"``) makes two lines."""
    first, _, second = text.partition("\n")
    y = HEIGHT - BOTTOM + 16
    lines = f'<tspan x="{x}" y="{y}">{escape(first)}</tspan>'
    if second:
        lines += f'<tspan x="{x}" y="{y + 14}">{escape(second)}</tspan>'
    return f'<text text-anchor="middle" fill="{INK}">{lines}</text>'


def _polyline(points: list[str], colour: str) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'


def hbars(items: Sequence[tuple[str, int]], *, title: str, desc: str, label: Label) -> Markup:
    """One horizontal bar per item (values ≥ 0), its value written beside it."""
    top = _scale_max([v for _, v in items])
    row = (HEIGHT - TOP - 8) // max(len(items), 1)
    width = WIDTH - 210 - 110
    body = []
    for i, (name, value) in enumerate(items):
        y = TOP + i * row
        w = width * max(value, 0) // top
        body.append(
            f'<text x="200" y="{y + row // 2 + 4}" text-anchor="end" fill="{INK}">{escape(name)}</text>'
            f'<rect x="210" y="{y + 4}" width="{w}" height="{max(row - 8, 1)}" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{216 + w}" y="{y + row // 2 + 4}" fill="{INK}">{escape(label(value))}</text>'
        )
    return _frame(title, desc, body, [])
