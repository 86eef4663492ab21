"""Rack elevation: the front view of one rack, unit by unit, with its power against budget."""

from __future__ import annotations

from collections.abc import Sequence

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.model import Device, RackInfo
from hkcompute.report.svg import ROLE_COLOURS, fmt, heat_colour, new_drawing, text

U_PX = 13  # one rack unit: tall enough for a 9 px label in a 1U device
WIDTH = 380
LEFT = 34  # room for the unit numbers
TOP = 46


def rack_elevation(
    rack: RackInfo,
    devices: Sequence[Device],
    power_kw: float,
    model_kw: dict[str, float],
    prefix: str,
) -> dw.Drawing:
    """``devices`` are the rack's devices (any order); ``power_kw`` their sum, drawn against
    the rack's budget; ``model_kw`` the catalogue power per model (for each device's tooltip)."""
    units = max(rack.units, max((d.top_u for d in devices), default=0))
    body_h = units * U_PX
    height = TOP + body_h + 64
    d = new_drawing(WIDTH, height, prefix, f"rack {rack.name}: front elevation")
    d.append(text(f"{rack.name}", 15, 10, 20, font_weight="bold"))
    d.append(
        text(
            f"{rack.hall} row {rack.row} · phase {rack.phase} · {rack.cooling} · {rack.units}U",
            10,
            10,
            36,
            fill="#555",
        )
    )
    x0, x1 = LEFT, WIDTH - 12
    d.append(
        dw.Rectangle(x0, TOP, x1 - x0, body_h, fill="#f4f4f4", stroke="#333", stroke_width=1.5)
    )
    # One path for all unit ticks: a rack has up to ~50 units and 1,175 racks are drawn.
    ticks = dw.Path(stroke="#ddd", stroke_width=0.5, fill="none")
    for u in range(1, units):
        y = TOP + body_h - u * U_PX
        ticks.M(x0, y).H(x1)
    d.append(ticks)
    for u in range(1, units + 1):
        if u == 1 or u % 4 == 0:
            d.append(
                text(
                    str(u),
                    8,
                    x0 - 4,
                    TOP + body_h - (u - 1) * U_PX - 3,
                    text_anchor="end",
                    fill="#777",
                )
            )
    for dev in sorted(devices, key=lambda x: (x.u, x.name)):
        y = TOP + body_h - dev.top_u * U_PX
        h = dev.height * U_PX
        failed = str(dev.status) in ("failed", "retired")
        # The tooltip rides on the rectangle itself (no wrapping group): ~10 devices in each
        # of ~1,175 racks, and drawsvg's cost is per element.
        box = dw.Rectangle(
            x0 + 2,
            y + 0.5,
            x1 - x0 - 4,
            h - 1,
            fill=ROLE_COLOURS.get(dev.role, "#eeeeee"),
            stroke="#c00" if failed else "#666",
            stroke_width=1.5 if failed else 0.6,
        )
        box.append_title(
            f"{dev.name}: {dev.model} ({dev.role}), U{dev.u}"
            f"{'-' + str(dev.top_u) if dev.height > 1 else ''}, "
            f"phase {dev.phase}, {dev.status}, "
            f"{model_kw.get(dev.model, 0.0):g} kW"
        )
        d.append(box)
        label = f"{dev.name}  {dev.model}" + ("  [FAILED]" if str(dev.status) == "failed" else "")
        d.append(text(label, 9, x0 + 6, y + min(h, 2 * U_PX) / 2 + 3.5))
    # Power against budget: the number the facility team checks first.
    budget = rack.power_kw
    frac = power_kw / budget if budget > 0 else 0.0
    by = TOP + body_h + 16
    d.append(text("power", 10, 10, by + 10))
    d.append(dw.Rectangle(60, by, x1 - 60, 14, fill="#eee", stroke="#999"))
    d.append(dw.Rectangle(60, by, round((x1 - 60) * min(frac, 1.0), 2), 14, fill=heat_colour(frac)))
    d.append(
        text(
            f"{fmt(power_kw, 1)} of {fmt(budget, 1)} kW budget ({frac * 100:.0f}%)"
            + ("  OVER BUDGET" if frac > 1.0 else ""),
            10,
            60,
            by + 32,
            fill="#c00" if frac > 1.0 else "#333",
        )
    )
    return d
