"""The loss curves as a small SVG: drawn in the page's kernel, which has no matplotlib."""

from __future__ import annotations

import html
import math

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def curve_svg(history: dict[str, list[float]], width: int = 420, height: int = 170) -> str:
    """Each term's loss per iteration on a log scale, `total` in black, with a legend; empty for
    no history."""
    terms = {k: [v for v in values if v > 0 and math.isfinite(v)] for k, values in history.items()}
    terms = {k: v for k, v in terms.items() if v}
    if not terms:
        return ""
    logs = [math.log10(v) for values in terms.values() for v in values]
    low, high = min(logs), max(max(logs), min(logs) + 1e-6)
    count = max(len(v) for v in terms.values())
    left, right, top, bottom = 44, width - 110, 8, height - 22

    def point(i: int, v: float) -> str:
        x = left + (right - left) * (i / max(1, count - 1))
        y = bottom - (bottom - top) * (math.log10(v) - low) / (high - low)
        return f"{x:.1f},{y:.1f}"

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>",
             f"<rect x='{left}' y='{top}' width='{right - left}' height='{bottom - top}' fill='none' stroke='#999'/>",
             f"<text x='2' y='{top + 10}'>1e{high:.0f}</text><text x='2' y='{bottom}'>1e{low:.0f}</text>",
             f"<text x='{left}' y='{height - 6}'>iteration 1</text>",
             f"<text x='{right}' y='{height - 6}' text-anchor='end'>{count}</text>"]
    others = iter(COLOURS)
    for row, (name, values) in enumerate(terms.items()):
        colour = "#000" if name == "total" else next(others, "#555")
        line = " ".join(point(i, v) for i, v in enumerate(values))
        parts.append(f"<polyline points='{line}' fill='none' stroke='{colour}' stroke-width='1.5'/>")
        parts.append(f"<text x='{right + 6}' y='{top + 10 + 13 * row}' fill='{colour}'>{html.escape(name)}</text>")
    return "".join(parts) + "</svg>"
