"""Power and energy: IT and facility load per hall and phase against each hall's feed, and
the site's renewable share and storage runtime per phase."""

from __future__ import annotations

from collections.abc import Mapping

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.capacity import SiteCapacity
from hkcompute.model import HallInfo
from hkcompute.report.svg import fmt, new_drawing, phase_colour, text

LEFT, TOP, PLOT_H = 80, 60, 250


def power_energy(
    halls: Mapping[str, HallInfo],
    it_kw: Mapping[tuple[str, int], float],
    cap: SiteCapacity,
    prefix: str = "pow",
) -> dw.Drawing:
    """``it_kw[(hall, phase)]`` is the cumulative IT load of the hall once ``phase`` is
    built; facility load is that times the hall's PUE."""
    phases = [p.phase for p in cap.phases]
    names = list(halls)
    group_w = max(60, 24 * len(phases) + 24)
    width = max(720, LEFT + group_w * len(names) + 220)
    top = (
        max(
            [h.feed_mw * 1000 for h in halls.values()]
            + [it_kw.get((h, p), 0.0) * halls[h].pue for h in names for p in phases]
            + [1.0]
        )
        * 1.1
    )
    height = TOP + PLOT_H + 80 + 18 * (len(phases) + 1)
    d = new_drawing(width, height, prefix, f"{cap.site}: power per hall and phase")
    d.append(
        text(
            f"{cap.site}: facility load per hall as each phase is built "
            "(dark: IT load; whole bar: IT × PUE; red tick: hall feed)",
            14,
            10,
            22,
            font_weight="bold",
        )
    )
    base = TOP + PLOT_H

    def y_of(v: float) -> float:
        return round(base - v / top * PLOT_H, 2)

    for i in range(6):
        v = top / 1.1 * i / 5
        d.append(dw.Line(LEFT, y_of(v), LEFT + group_w * len(names), y_of(v), stroke="#eee"))
        d.append(
            text(
                f"{fmt(v / 1000, 1)} MW", 10, LEFT - 6, y_of(v) + 3, text_anchor="end", fill="#555"
            )
        )
    for gi, name in enumerate(names):
        hall = halls[name]
        gx = LEFT + gi * group_w + 12
        for pi, p in enumerate(phases):
            it = it_kw.get((name, p), 0.0)
            fac = it * hall.pue
            x = gx + pi * 24
            g = dw.Group()
            g.append(
                dw.Title(
                    f"{name} after phase {p}: IT {fmt(it, 1)} kW, facility "
                    f"{fmt(fac, 1)} kW (PUE {hall.pue:g}) of {fmt(hall.feed_mw * 1000)}"
                    " kW feed"
                )
            )
            g.append(
                dw.Rectangle(
                    x, y_of(fac), 20, round(base - y_of(fac), 2), fill=phase_colour(p), opacity=0.45
                )
            )
            g.append(dw.Rectangle(x, y_of(it), 20, round(base - y_of(it), 2), fill=phase_colour(p)))
            d.append(g)
        feed = hall.feed_mw * 1000
        d.append(
            dw.Line(
                gx - 4, y_of(feed), gx + 24 * len(phases), y_of(feed), stroke="#c00", stroke_width=2
            )
        )
        d.append(text(name, 11, gx + 12 * len(phases), base + 16, text_anchor="middle"))
        d.append(
            text(
                f"{hall.feed_mw:g} MW feed",
                9,
                gx + 12 * len(phases),
                base + 29,
                text_anchor="middle",
                fill="#555",
            )
        )
    d.append(dw.Line(LEFT, base, LEFT + group_w * len(names), base, stroke="#333"))
    lx = LEFT + group_w * len(names) + 24
    for i, p in enumerate(phases):
        d.append(dw.Rectangle(lx, TOP + i * 20, 14, 14, fill=phase_colour(p)))
        d.append(text(f"after phase {p}", 11, lx + 20, TOP + i * 20 + 11))
    # The energy table under the chart: what the site's own sources carry, per phase.
    ty = base + 58
    cols = ("phase", "IT MW", "facility MW", "renewable", "stored MWh", "runtime min")
    for ci, col in enumerate(cols):
        d.append(text(col, 11, LEFT + ci * 105, ty, font_weight="bold"))
    for ri, pc in enumerate(cap.phases):
        runtime = pc.storage_runtime_min
        vals = (
            str(pc.phase),
            fmt(pc.cumulative_it_power_kw / 1000, 2),
            fmt(pc.cumulative_facility_power_kw / 1000, 2),
            f"{pc.renewable_share * 100:.1f}%",
            fmt(pc.stored_energy_kwh / 1000, 1),
            "-" if runtime is None else fmt(runtime, 1),
        )
        for ci, val in enumerate(vals):
            d.append(text(val, 11, LEFT + ci * 105, ty + 18 * (ri + 1)))
    return d
