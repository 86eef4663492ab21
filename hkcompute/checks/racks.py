"""Racks and halls: space, power, cooling, and where devices stand (HK2xx).

Everything here is one pass over the devices grouped by rack or hall: the bundled site has
about 8,000 nodes, so no check compares devices pairwise. Only what exists up to ctx.phase
is counted, so ``validate --phase N`` checks the site as built at phase N.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import present
from hkcompute.findings import Finding, Location, Severity, make, rule
from hkcompute.model import Device

E, W = Severity.ERROR, Severity.WARNING

# DGX H100 user guide and SuperPOD reference design: 4 x 10.2 kW eight-GPU nodes per 40-50 kW
# air-cooled rack; liquid-cooled racks reach over 100 kW. Past these figures a rack cannot be
# cooled as planned.
AIR_MAX_KW = 50.0
LIQUID_MAX_KW = 120.0

U_OVERLAP = rule(
    "HK201",
    E,
    "devices share a rack unit",
    "Move one device to free rack units (u is the lowest U a device occupies).",
)
U_OUTSIDE = rule(
    "HK202",
    E,
    "device outside its rack's units",
    "A device occupies u .. u + height - 1, which must lie within 1 .. the rack's 'units'.",
)
RACK_POWER = rule(
    "HK203",
    E,
    "rack power over its budget",
    "Raise the rack's power_kw if the feed allows it, or move devices to another rack.",
)
HALL_POWER = rule(
    "HK204",
    E,
    "hall feed over its budget",
    "IT power x design PUE (the peak PUE, design_pue; default pue) must fit the hall's "
    "feed_mw: move racks, improve the cooling, or add feed.",
)
AIR_DENSITY = rule(
    "HK205",
    W,
    "air-cooled rack above 50 kW",
    "Air cooling handles about 40-50 kW a rack (4 x 10.2 kW nodes); spread the nodes "
    "or make the rack liquid-cooled (cooling: liquid).",
)
DENSITY = rule(
    "HK206",
    E,
    "rack above 120 kW",
    "Even liquid-cooled racks reach a little over 100 kW; spread the devices over more racks.",
)
DEVICE_BEFORE_RACK = rule(
    "HK207",
    E,
    "device in an earlier phase than its rack",
    "A device cannot be installed before its rack: move the device to a later phase or the "
    "rack to an earlier one.",
)
RACK_BEFORE_HALL = rule(
    "HK208",
    E,
    "rack in an earlier phase than its hall",
    "A rack cannot stand before its hall is built: move the rack to a later phase or the "
    "hall to an earlier one.",
)
WRONG_HALL = rule(
    "HK209",
    E,
    "unit device in a rack of another hall than its cluster's",
    "A cluster's fabric stays inside one hall: give the unit racks of the cluster's hall.",
)

RACK_POSITION = rule(
    "HK210",
    E,
    "two racks stand at one floor position",
    "Give each rack of a hall its own x_m, y_m (cable lengths are measured between them).",
)


def _span(u: int, height: int) -> str:
    return f"U{u}" if height == 1 else f"U{u}-{u + height - 1}"


@register("rack-space")
def check_space(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    cat = site.catalog
    # The height is the catalogue's for the device's model: an override that changes the
    # model of an expanded device keeps the height of the template's model on Device.
    heights: dict[str, int] = {}

    def height(d: Device) -> int:
        h = heights.get(d.model)
        if h is None:
            h = heights[d.model] = cat.rack_units(d.model) if cat.model_kind(d.model) else d.height
        return h

    # (rack, U) -> (device, its height). Written order decides which device is "later".
    taken: dict[tuple[str, int], tuple[Device, int]] = {}
    for d in site.devices_upto(ctx.phase):
        rack = site.racks.get(d.rack)
        if rack is None:
            continue  # an unknown rack is reported where the device names it
        h = height(d)
        top = d.u + h - 1
        if d.u < 1 or top > rack.units:
            yield make(
                U_OUTSIDE,
                f"device {d.name!r} occupies {_span(d.u, h)} of rack "
                f"{d.rack!r}, which has U1-{rack.units}",
                d.loc,
                subject=d.name,
            )
        clashes: dict[str, tuple[Device, int]] = {}
        for u in range(max(d.u, 1), min(top, rack.units) + 1):
            held = taken.get((d.rack, u))
            if held is None:
                taken[(d.rack, u)] = (d, h)
            else:
                clashes.setdefault(held[0].name, held)
        for other, oh in clashes.values():
            yield make(
                U_OVERLAP,
                f"device {d.name!r} ({_span(d.u, h)}) overlaps "
                f"{other.name!r} ({_span(other.u, oh)}) in rack {d.rack!r}",
                d.loc,
                subject=d.name,
            )


@register("rack-power")
def check_power(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    cat = site.catalog
    rack_kw: dict[str, float] = defaultdict(float)
    rack_n: dict[str, int] = defaultdict(int)
    power_of: dict[str, float] = {}
    for d in site.devices_upto(ctx.phase):
        kw = power_of.get(d.model)
        if kw is None:
            kw = power_of[d.model] = cat.power_kw(d.model)
        rack_kw[d.rack] += kw
        rack_n[d.rack] += 1
    hall_kw: dict[str, float] = defaultdict(float)
    for name, kw in rack_kw.items():
        rack = site.racks.get(name)
        if rack is None:
            continue
        hall_kw[rack.hall] += kw
        if kw > rack.power_kw + 1e-9:
            yield make(
                RACK_POWER,
                f"rack {name!r}: {rack_n[name]} devices draw {kw:.1f} kW, "
                f"over its {rack.power_kw:g} kW budget ({100 * kw / rack.power_kw:.0f}%)",
                rack.loc,
                subject=name,
            )
        if kw > LIQUID_MAX_KW:
            yield make(
                DENSITY,
                f"rack {name!r} draws {kw:.1f} kW ({rack.cooling}-cooled); "
                f"above {LIQUID_MAX_KW:g} kW no rack can be cooled",
                rack.loc,
                subject=name,
            )
        elif rack.cooling == "air" and kw > AIR_MAX_KW:
            yield make(
                AIR_DENSITY,
                f"air-cooled rack {name!r} draws {kw:.1f} kW, above {AIR_MAX_KW:g} kW",
                rack.loc,
                subject=name,
            )
    for hname, it_kw in hall_kw.items():
        hall = site.halls.get(hname)
        if hall is None:
            continue
        # The feed must carry the peak, not the year's average: size with the design PUE.
        pue = hall.feed_pue
        label = "PUE" if hall.design_pue is None else "design PUE"
        total = it_kw * pue
        budget = hall.feed_mw * 1000
        if total > budget + 1e-9:
            yield make(
                HALL_POWER,
                f"hall {hname!r}: {it_kw:,.1f} kW IT x {label} {pue:g} = "
                f"{total:,.1f} kW, over its {budget:,.0f} kW feed "
                f"({100 * total / budget:.0f}%)",
                hall.loc,
                subject=hname,
            )


@register("rack-phases")
def check_phases(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    # A range of racks is one line: one finding for all of its racks.
    before: dict[tuple[Location, str, int], list[str]] = defaultdict(list)
    for r in site.racks.values():
        hall = site.halls.get(r.hall)
        if hall is not None and present(ctx, r.phase) and r.phase < hall.phase:
            before[(r.loc, r.hall, r.phase)].append(r.name)
    for (loc, hname, rphase), names in before.items():
        who = (
            f"rack {names[0]!r}"
            if len(names) == 1
            else f"{len(names)} racks ({names[0]!r} ... {names[-1]!r})"
        )
        yield make(
            RACK_BEFORE_HALL,
            f"{who} in phase {rphase}, but hall {hname!r} is built in "
            f"phase {site.halls[hname].phase}",
            loc,
            subject=names[0],
        )

    # Group by (line, rack): the nodes of one unit share a line and would repeat one message.
    early: dict[tuple[Location, str, int], list[Device]] = defaultdict(list)
    astray: dict[tuple[Location, str], list[Device]] = defaultdict(list)
    cluster_hall = {c.name: c.hall for c in reversed(site.clusters)}
    for d in site.devices_upto(ctx.phase):
        rack = site.racks.get(d.rack)
        if rack is None:
            continue
        if d.phase < rack.phase:
            early[(d.loc, d.rack, d.phase)].append(d)
        if d.unit is not None and d.cluster is not None:
            want = cluster_hall.get(d.cluster)
            if want is not None and want in site.halls and rack.hall != want:
                astray[(d.loc, d.rack)].append(d)
    for (loc, rname, _phase), devs in early.items():
        rack = site.racks[rname]
        first = devs[0]
        who = (
            f"device {first.name!r}"
            if len(devs) == 1
            else f"{len(devs)} devices ({first.name!r}, ...)"
        )
        yield make(
            DEVICE_BEFORE_RACK,
            f"{who} in phase {first.phase}, but rack {rname!r} arrives in phase {rack.phase}",
            loc,
            subject=first.name,
        )
    for (loc, rname), devs in astray.items():
        rack = site.racks[rname]
        first = devs[0]
        who = (
            f"device {first.name!r}"
            if len(devs) == 1
            else f"{len(devs)} devices ({first.name!r}, ...)"
        )
        yield make(
            WRONG_HALL,
            f"{who} of cluster {first.cluster!r} (hall "
            f"{cluster_hall.get(first.cluster or '')!r}) stand in rack {rname!r} of "
            f"hall {rack.hall!r}",
            loc,
            subject=first.name,
        )


@register("rack-position")
def check_positions(ctx: CheckContext) -> Iterator[Finding]:
    # Cable lengths come from the racks' positions, so two racks on one spot would also
    # give every link between them a length of the vertical runs alone. Racks of a later
    # phase than asked are not yet on the floor.
    seen: dict[tuple[str, float, float], str] = {}
    for r in ctx.site.racks.values():
        if ctx.phase is not None and r.phase > ctx.phase:
            continue
        first = seen.setdefault((r.hall, r.x_m, r.y_m), r.name)
        if first != r.name:
            yield make(
                RACK_POSITION,
                f"rack {r.name!r} stands at x {r.x_m:g} m, y {r.y_m:g} m of hall "
                f"{r.hall!r}, where {first!r} stands",
                r.loc,
                subject=r.name,
            )
