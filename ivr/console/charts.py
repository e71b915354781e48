"""Charts drawn on the server as SVG (no script, no CDN): bars with their labels and values."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#4a6fa5"


def columns(values: Sequence[tuple[str, int]], title: str, height: int = 160) -> Markup:
    """Vertical bars, one per (label, value), with the value above each bar."""
    width = max(320, 28 * len(values) + 40)
    top = max((v for _, v in values), default=0) or 1
    slot = (width - 40) / max(len(values), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height + 50}" viewBox="0 0 {width} {height + 50}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(values):
        h = round(height * value / top)
        x = 30 + i * slot
        parts.append(f'<rect x="{x:.1f}" y="{20 + height - h}" width="{slot * 0.7:.1f}" '
                     f'height="{h}" fill="{BAR}"><title>{escape(label)}: {value}</title></rect>')
        if value:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{16 + height - h}" '
                         f'font-size="10" text-anchor="middle">{value}</text>')
        parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height + 36}" font-size="10" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(values: Sequence[tuple[str, int]], title: str, width: int = 520) -> Markup:
    """Horizontal bars, one per (label, value), label on the left, value on the right."""
    row, label_width = 20, 210
    top = max((v for _, v in values), default=0) or 1
    height = row * len(values) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(values):
        y = 5 + i * row
        w = round((width - label_width - 50) * value / top)
        parts.append(f'<text x="{label_width - 6}" y="{y + 13}" font-size="11" '
                     f'text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{w}" height="{row - 6}" '
                     f'fill="{BAR}"><title>{escape(label)}: {value}</title></rect>')
        parts.append(f'<text x="{label_width + w + 4}" y="{y + 13}" font-size="11">'
                     f'{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
