"""Overlay pages for pre-printed forms (套打), and the test sheet that checks their calibration.

An overlay page prints only the values: each position of the template places its field's
text with the top left corner of its box at (x_mm, y_mm) from the top left corner of the
paper, moved by the user's calibration offset. The text keeps to one line, cut at
width_mm when the position gives one, in font_size points (10 by default). Empty and
unreadable values print nothing.

The test sheet draws a millimetre grid, crosshairs 20 mm in from each corner and a frame
for every position, all moved by the same offset. Printed on plain paper, the distance of a
crosshair from the paper's edges shows how far the printer shifts the page.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Sequence

from metamodel import model as m
from runtime.printing_calibration import Offset
from runtime.printing_pdf import SANS_FONTS, paper_size

DEFAULT_FONT_SIZE = Decimal(10)
#: Distance of the test sheet's crosshairs from the paper's edges, in millimetres.
CROSSHAIR_INSET_MM = 20
_POINT_MM = Decimal("25.4") / 72


def _mm(value: Decimal | float) -> str:
    return f"{Decimal(str(value)).normalize():f}mm"


def _page_head(paper: str, extra_css: str = "") -> str:
    width, height = paper_size(paper)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><style>\n'
        f"@page {{ size: {width}mm {height}mm; margin: 0; }}\n"
        f"html, body {{ margin: 0; padding: 0; font-family: {SANS_FONTS}; }}\n"
        ".field { position: absolute; white-space: nowrap; overflow: hidden; line-height: 1.2; }\n"
        f"{extra_css}</style></head><body>\n"
    )


def overlay_html(paper: str, placed: Sequence[tuple[m.Position, str]], offset: Offset) -> str:
    """Return the HTML of an overlay page: each text at its position moved by the offset, nothing else."""
    boxes = []
    for position, text in placed:
        if not text:
            continue
        style = [f"left: {_mm(position.x_mm + offset.dx_mm)}", f"top: {_mm(position.y_mm + offset.dy_mm)}",
                 f"font-size: {(position.font_size or DEFAULT_FONT_SIZE).normalize():f}pt"]
        if position.width_mm is not None:
            style.append(f"width: {_mm(position.width_mm)}")
        boxes.append(f'<div class="field" data-field="{escape(position.field)}" style="{"; ".join(style)}">{escape(text)}</div>')
    return _page_head(paper) + "\n".join(boxes) + "\n</body></html>\n"


def calibration_sheet_html(paper: str, template: m.Template, labels: Sequence[str], offset: Offset, lang: str) -> str:
    """Return the HTML of a calibration test sheet for an overlay template; `labels` name its positions in order."""
    width, height = paper_size(paper)
    lines = []
    for x in range(0, int(width) + 1, 10):
        weight = "0.25" if x % 50 == 0 else "0.08"
        lines.append(f'<line x1="{x}" y1="0" x2="{x}" y2="{height}" stroke="#888" stroke-width="{weight}"/>')
    for y in range(0, int(height) + 1, 10):
        weight = "0.25" if y % 50 == 0 else "0.08"
        lines.append(f'<line x1="0" y1="{y}" x2="{width}" y2="{y}" stroke="#888" stroke-width="{weight}"/>')
    inset = CROSSHAIR_INSET_MM
    for cx, cy in ((inset, inset), (width - inset, inset), (inset, height - inset), (width - inset, height - inset),
                   (width / 2, height / 2)):
        lines.append(f'<line x1="{cx - 8}" y1="{cy}" x2="{cx + 8}" y2="{cy}" stroke="#000" stroke-width="0.2"/>')
        lines.append(f'<line x1="{cx}" y1="{cy - 8}" x2="{cx}" y2="{cy + 8}" stroke="#000" stroke-width="0.2"/>')
        lines.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="none" stroke="#000" stroke-width="0.2"/>')
    texts = []
    for position, label in zip(template.positions, labels):
        font = position.font_size or DEFAULT_FONT_SIZE
        box_width = position.width_mm or Decimal(40)
        box_height = font * Decimal("1.2") * _POINT_MM
        lines.append(f'<rect x="{position.x_mm}" y="{position.y_mm}" width="{box_width}" height="{box_height:.2f}" '
                     'fill="none" stroke="#c00" stroke-width="0.2" stroke-dasharray="1 0.6"/>')
        texts.append(f'<div class="field label" style="left: {_mm(position.x_mm + offset.dx_mm)}; '
                     f'top: {_mm(position.y_mm + offset.dy_mm)}; width: {_mm(box_width)}; font-size: {font.normalize():f}pt">'
                     f"{escape(label)}</div>")
    for x in range(10, int(width), 10):
        texts.append(f'<div class="field ruler" style="left: {_mm(x + offset.dx_mm + Decimal("0.5"))}; '
                     f'top: {_mm(offset.dy_mm + Decimal("0.5"))}">{x}</div>')
    for y in range(10, int(height), 10):
        texts.append(f'<div class="field ruler" style="left: {_mm(offset.dx_mm + Decimal("0.5"))}; '
                     f'top: {_mm(y + offset.dy_mm + Decimal("0.5"))}">{y}</div>')

    label = template.label.get(lang)
    if lang == "en":
        caption = (f"Calibration test sheet · {label} · offset right {offset.dx_mm} mm, down {offset.dy_mm} mm. "
                   f"Each crosshair lies {inset} mm from the nearest edges: measure where it printed and enter the "
                   "difference on the calibration page.")
    else:
        caption = (f"校准测试页 · {label} · 右移 {offset.dx_mm} 毫米，下移 {offset.dy_mm} 毫米。"
                   f"每个十字线距最近的纸边各 {inset} 毫米：请量出实际打印位置，把差值填入校准页。")
    texts.append(f'<div class="caption" style="left: {_mm(inset + 12 + offset.dx_mm)}; '
                 f'top: {_mm(inset - 6 + offset.dy_mm)}; width: {_mm(width - 2 * inset - 24)}">{escape(caption)}</div>')

    svg = (f'<svg class="grid" xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
           f'viewBox="0 0 {width} {height}" style="left: {_mm(offset.dx_mm)}; top: {_mm(offset.dy_mm)}">'
           + "".join(lines) + "</svg>")
    css = (".grid { position: absolute; }\n.label { color: #c00; }\n.ruler { font-size: 6pt; color: #666; }\n"
           ".caption { position: absolute; font-size: 8pt; line-height: 1.3; }\n")
    return _page_head(paper, css) + svg + "\n" + "\n".join(texts) + "\n</body></html>\n"
