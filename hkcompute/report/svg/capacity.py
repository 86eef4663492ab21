"""Capacity curve: cumulative PFLOPS by phase and vendor against the site's target."""

from __future__ import annotations

import math

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.capacity import SiteCapacity
from hkcompute.model import Site
from hkcompute.report.svg import fmt, new_drawing, text, vendor_colour

WIDTH, HEIGHT = 860, 440
LEFT, RIGHT, TOP, BOTTOM = 90, 190, 50, 70


def _ticks(top: float) -> list[float]:
    """Round axis values (1, 2 or 5 times a power of ten) from 0 up to ``top``."""
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(top // step) + 1)]


def vendor_pflops(site: Site, cap: SiteCapacity) -> list[dict[str, float]]:
    """Cumulative dense BF16 PFLOPS per vendor for each phase of ``cap`` (same counting as
    ``capacity``: its accelerator counts times the catalogue's dense TFLOPS)."""
    out: list[dict[str, float]] = []
    for p in cap.phases:
        per: dict[str, float] = {}
        for vendor, models in sorted(p.cumulative_accelerators.items()):
            tflops = 0.0
            for model, n in models.items():
                acc = site.catalog.accelerators.get(model)
                tflops += (acc.bf16_dense_tflops if acc is not None else 0.0) * n
            per[vendor] = tflops / 1000.0
        out.append(per)
    return out


def capacity_curve(site: Site, cap: SiteCapacity, prefix: str = "cap") -> dw.Drawing:
    per_phase = vendor_pflops(site, cap)
    vendors = sorted({v for per in per_phase for v in per})
    colours: dict[str, str] = {}
    for part in site.catalog.accelerators.values():
        if part.colour is not None:
            colours.setdefault(part.vendor, part.colour)
    target = cap.site_target_pflops
    top = (
        max(
            [
                target,
                *(p.cumulative_pflops for p in cap.phases),
                *(p.target_pflops for p in cap.phases),
                1.0,
            ]
        )
        * 1.1
    )
    title = f"{cap.site}: cumulative PFLOPS by phase and vendor ({cap.site_target_precision})"
    d = new_drawing(WIDTH, HEIGHT, prefix, title)
    d.append(text(title, 15, 10, 22, font_weight="bold"))
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + ph

    def y_of(v: float) -> float:
        return round(base - v / top * ph, 2)

    for v in _ticks(top):  # grid lines and the value axis
        d.append(dw.Line(LEFT, y_of(v), LEFT + pw, y_of(v), stroke="#e5e5e5"))
        d.append(text(fmt(v), 10, LEFT - 6, y_of(v) + 3, text_anchor="end", fill="#555"))
    d.append(dw.Line(LEFT, base, LEFT + pw, base, stroke="#333"))
    n = max(1, len(cap.phases))
    slot = pw / n
    bar = min(90.0, slot * 0.5)
    line = dw.Path(stroke="#222", stroke_width=2, fill="none")
    for i, (p, per) in enumerate(zip(cap.phases, per_phase, strict=True)):
        cx = LEFT + slot * (i + 0.5)
        acc = 0.0
        for vendor in vendors:
            val = per.get(vendor, 0.0)
            if val <= 0:
                continue
            g = dw.Group()
            g.append(dw.Title(f"phase {p.phase}: {vendor} {fmt(val, 3)} PFLOPS cumulative"))
            g.append(
                dw.Rectangle(
                    round(cx - bar / 2, 2),
                    y_of(acc + val),
                    round(bar, 2),
                    round(y_of(acc) - y_of(acc + val), 2),
                    fill=vendor_colour(vendor, vendors, colours),
                    opacity=0.85,
                )
            )
            d.append(g)
            acc += val
        (line.M if i == 0 else line.L)(round(cx, 2), y_of(p.cumulative_pflops))
        d.append(dw.Circle(round(cx, 2), y_of(p.cumulative_pflops), 4, fill="#222"))
        d.append(
            text(
                fmt(p.cumulative_pflops, 0),
                11,
                cx,
                y_of(p.cumulative_pflops) - 9,
                text_anchor="middle",
                font_weight="bold",
            )
        )
        # The phase's own (cumulative) target: a tick the bar should reach.
        d.append(
            dw.Line(
                round(cx - bar / 2 - 8, 2),
                y_of(p.target_pflops),
                round(cx + bar / 2 + 8, 2),
                y_of(p.target_pflops),
                stroke="#7a1fa2",
                stroke_width=2,
                stroke_dasharray="3 2",
            )
        )
        d.append(text(f"phase {p.phase}", 11, cx, base + 16, text_anchor="middle"))
        d.append(text(f"due {p.due}", 10, cx, base + 30, text_anchor="middle", fill="#555"))
        d.append(
            text(
                ("target met" if p.target_met else f"short {fmt(p.phase_gap_pflops, 0)}"),
                10,
                cx,
                base + 44,
                text_anchor="middle",
                fill="#2a7" if p.target_met else "#c00",
            )
        )
    d.append(line)
    d.append(
        dw.Line(
            LEFT,
            y_of(target),
            LEFT + pw,
            y_of(target),
            stroke="#c00",
            stroke_width=2,
            stroke_dasharray="8 4",
        )
    )
    # Left end: the right end is where the last (tallest) bar usually reaches the target.
    d.append(
        text(
            f"{cap.site_target_year} target {fmt(target)} PFLOPS",
            11,
            LEFT + 4,
            y_of(target) - 6,
            fill="#c00",
            font_weight="bold",
        )
    )
    lx = LEFT + pw + 20
    for i, name in enumerate(vendors):
        d.append(dw.Rectangle(lx, TOP + i * 20, 14, 14, fill=vendor_colour(name, vendors, colours)))
        d.append(text(name, 11, lx + 20, TOP + i * 20 + 11))
    ly = TOP + len(vendors) * 20 + 10
    d.append(
        dw.Line(
            lx, ly + 7, lx + 14, ly + 7, stroke="#7a1fa2", stroke_width=2, stroke_dasharray="3 2"
        )
    )
    d.append(text("phase target", 11, lx + 20, ly + 11))
    d.append(
        dw.Line(
            lx, ly + 27, lx + 14, ly + 27, stroke="#c00", stroke_width=2, stroke_dasharray="8 4"
        )
    )
    d.append(text("site target", 11, lx + 20, ly + 31))
    d.append(
        text(
            "PFLOPS",
            11,
            14,
            TOP + ph / 2,
            transform=f"rotate(-90 14 {TOP + ph / 2})",
            text_anchor="middle",
        )
    )
    return d
