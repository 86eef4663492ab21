"""Hall floor plan: every rack at its position, coloured by its power against budget."""

from __future__ import annotations

from collections.abc import Sequence

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.model import HallInfo, RackInfo
from hkcompute.report.svg import Anchor, fmt, heat_colour, new_drawing, text

PX_PER_M = 22
RACK_W_M, RACK_D_M = 0.6, 1.2  # a standard rack footprint: the pitch the inventory uses
MARGIN = 40


def hall_floor(
    hall: HallInfo,
    racks: Sequence[RackInfo],
    rack_kw: dict[str, float],
    href: dict[str, str],
    prefix: str,
) -> dw.Drawing:
    """``rack_kw`` is each rack's IT load; ``href`` each rack's elevation link."""
    xs = [r.x_m for r in racks] or [0.0]
    ys = [r.y_m for r in racks] or [0.0]
    x_min, y_min = min(xs), min(ys)
    w_m = max(xs) - x_min + RACK_W_M
    d_m = max(ys) - y_min + RACK_D_M
    width = max(520, MARGIN * 2 + 30 + w_m * PX_PER_M)
    height = 120 + d_m * PX_PER_M + 70
    total_kw = sum(rack_kw.get(r.name, 0.0) for r in racks)
    area = w_m * d_m
    d = new_drawing(width, height, prefix, f"{hall.name}: floor plan and power density")
    d.append(
        text(
            f"{hall.name} · {hall.cooling} · PUE {hall.pue:g} · feed "
            f"{hall.feed_mw:g} MW · from phase {hall.phase}",
            15,
            10,
            22,
            font_weight="bold",
        )
    )
    d.append(
        text(
            f"{len(racks):,} racks · IT {fmt(total_kw / 1000, 2)} MW · "
            f"{fmt(total_kw / area if area else 0, 1)} kW/m² over the rack area "
            f"({fmt(area)} m²) · colour: rack power / rack budget",
            11,
            10,
            40,
            fill="#555",
        )
    )
    oy = 70
    ox = MARGIN + 30
    rows: dict[str, float] = {}
    for r in racks:
        rows.setdefault(r.row, r.y_m)
    for row, y in sorted(rows.items(), key=lambda kv: (kv[1], kv[0])):
        d.append(
            text(
                f"row {row}",
                10,
                ox - 6,
                oy + (y - y_min) * PX_PER_M + RACK_D_M * PX_PER_M / 2 + 3,
                text_anchor="end",
                fill="#555",
            )
        )
    for r in racks:
        kw = rack_kw.get(r.name, 0.0)
        frac = kw / r.power_kw if r.power_kw > 0 else 0.0
        link = Anchor(href[r.name]) if r.name in href else dw.Group()
        link.append(
            dw.Title(
                f"{r.name}: {fmt(kw, 1)} of {fmt(r.power_kw, 1)} kW "
                f"({frac * 100:.0f}%), {fmt(kw / (RACK_W_M * RACK_D_M), 1)} "
                f"kW/m², phase {r.phase}, {r.cooling}"
            )
        )
        link.append(
            dw.Rectangle(
                round(ox + (r.x_m - x_min) * PX_PER_M, 2),
                round(oy + (r.y_m - y_min) * PX_PER_M, 2),
                round(RACK_W_M * PX_PER_M - 1, 2),
                RACK_D_M * PX_PER_M,
                fill=heat_colour(frac),
                stroke="#c00" if frac > 1 else "#666",
                stroke_width=1.5 if frac > 1 else 0.4,
            )
        )
        d.append(link)
    # Legend: the colour scale, so the picture reads without the page around it.
    ly = oy + d_m * PX_PER_M + 24
    for i in range(11):
        f = i / 10
        d.append(dw.Rectangle(ox + i * 22, ly, 22, 12, fill=heat_colour(f)))
    d.append(text("0%", 9, ox, ly + 24))
    d.append(text("50%", 9, ox + 110, ly + 24, text_anchor="middle"))
    d.append(text("100% of rack budget", 9, ox + 242, ly + 24, text_anchor="end"))
    return d
