"""The bill of materials as a table picture: items per phase and in total."""

from __future__ import annotations

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.plan.bom import SECTIONS, Bom, natural
from hkcompute.report.svg import new_drawing, text

ROW = 17
COL = 90


def bom_table(site_name: str, bom: Bom, prefix: str = "bom") -> dw.Drawing:
    phases = sorted(bom.phases)
    total = bom.total()
    rows: list[tuple[str, list[str], bool]] = []
    for sec in SECTIONS:
        items = sorted(total[sec], key=natural)
        if not items:
            continue
        rows.append((sec, [], True))
        for item in items:
            rows.append(
                (
                    item,
                    [f"{bom.phases[p][sec].get(item, 0):,}" for p in phases]
                    + [f"{total[sec][item]:,}"],
                    False,
                )
            )
    name_w = 230
    width = name_w + COL * (len(phases) + 1) + 20
    height = 60 + ROW * (len(rows) + 1) + 10
    d = new_drawing(width, height, prefix, f"{site_name}: bill of materials")
    d.append(text(f"{site_name}: bill of materials", 15, 10, 22, font_weight="bold"))
    y = 50.0
    heads = [f"phase {p}" for p in phases] + ["total"]
    for i, h in enumerate(heads):
        d.append(text(h, 11, name_w + COL * (i + 1) - 6, y, text_anchor="end", font_weight="bold"))
    for i, (label, vals, heading) in enumerate(rows):
        y = 50 + ROW * (i + 1)
        if heading:
            d.append(dw.Rectangle(6, y - 12, width - 12, ROW, fill="#eef2f7"))
            d.append(text(label, 11, 10, y, font_weight="bold"))
            continue
        d.append(text(label, 10, 18, y))
        for j, v in enumerate(vals):
            d.append(
                text(
                    v,
                    10,
                    name_w + COL * (j + 1) - 6,
                    y,
                    text_anchor="end",
                    font_weight="bold" if j == len(vals) - 1 else "normal",
                )
            )
    return d
