"""The floor stages: preparation, facility, racking."""

from __future__ import annotations

from hkcompute.report.runbook.facts import _Ctx, _n
from hkcompute.report.runbook.records import Command, Stage, Table


def _preparation(c: _Ctx) -> Stage:
    pc = c.pc
    cmds = [
        Command(
            c.hk("validate", "--phase", str(c.phase)),
            f"exit 0 and `{c.site.info.name}: ok: 0 error(s)` (warnings are read and "
            "accepted or fixed)",
        ),
        Command(
            c.hk("capacity", "--phase", str(c.phase)),
            f"phase {c.phase}: cumulative {_n(pc.cumulative_pflops, 3)} PFLOPS against "
            f"a target of {_n(pc.target_pflops)}: met "
            f"{'yes' if pc.target_met else 'NO: stop and escalate'}",
        ),
        Command(
            c.hk("plan", "--phase", str(c.phase)),
            f"{sum(1 for _ in c.site.devices_upto(c.phase)):,} devices, "
            f"{len(c.plan.links):,} links, {len(c.plan.addresses):,} addresses, "
            f"{len(c.plan.asns):,} ASNs (cumulative up to phase {c.phase})",
        ),
    ]
    if c.prev is not None:
        cmds.append(
            Command(
                c.hk("diff", "--from-phase", str(c.prev), "--to-phase", str(c.phase)),
                f"exit 0: adds {len(c.new):,} devices and {len(c.links):,} links; "
                f"`phase {c.prev} unchanged: every link, address and ASN is the same`",
            )
        )
    cmds += [
        Command(
            c.hk("bom", "--phase", str(c.phase)),
            "the phase column matches the purchase orders (see the cabling stage)",
        ),
        Command(
            c.hk("render", "--phase", str(c.phase), "--out", c.tree),
            "every host of the phase has a folder under " + c.tree + "/hosts",
        ),
        Command(
            c.hk("render", "--phase", str(c.phase), "--out", c.tree, "--check"),
            "exit 0: the tree on disk is exactly what the inventory gives",
        ),
    ]
    return Stage(
        "preparation",
        "Before you start: the plan",
        intro=[
            "Run these from the repository checkout that holds the inventory, at the commit "
            "approved for this phase. Everything below is derived from that commit."
        ],
        commands=cmds,
        checklist=[
            "inventory commit approved and tagged",
            "no open error findings; warnings reviewed",
            "bill of materials matched against delivery notes",
        ],
        gate=[
            "validate exits 0",
            "capacity meets the phase target"
            + ("" if pc.target_met else " (it does NOT: do not start without sign-off)"),
            *(["diff exits 0 (earlier phases unchanged)"] if c.prev is not None else []),
        ],
        rollback=["Nothing has changed yet: fix the inventory and regenerate this runbook."],
    )


def _facility(c: _Ctx) -> Stage:
    rows = []
    over = 0
    for x in c.racks:
        new_kw = sum(c.site.catalog.power_kw(d.model) for d in x.devices if d.phase == c.phase)
        flag = "OVER" if x.fraction > 1 else "ok"
        over += x.fraction > 1
        rows.append(
            [
                x.rack.name,
                x.rack.hall,
                x.rack.row,
                x.rack.cooling,
                _n(new_kw, 1),
                _n(x.power_kw, 1),
                _n(x.rack.power_kw, 1),
                f"{x.fraction * 100:.0f}%",
                flag,
            ]
        )
    hall_rows = []
    for h in c.site.halls.values():
        it = sum(
            c.site.catalog.power_kw(d.model)
            for d in c.site.devices_upto(c.phase)
            if d.hall == h.name
        )
        if it <= 0 and h.phase > c.phase:
            continue
        fac = it * h.pue
        hall_rows.append(
            [
                h.name,
                h.cooling,
                f"{h.pue:g}",
                _n(it, 1),
                _n(fac, 1),
                _n(h.feed_mw * 1000),
                f"{fac / (h.feed_mw * 10):.1f}%" if h.feed_mw else "-",
            ]
        )
    return Stage(
        "facility",
        "1. Facility: power and cooling per rack against budget",
        intro=[
            f"{len(c.racks):,} racks take devices in this phase; {over} exceed their budget. "
            "Each rack's PDUs and cooling must carry the load below (failed devices count: they "
            "stay powered until RMA)."
        ],
        tables=[
            Table(
                "Halls after this phase",
                ["hall", "cooling", "PUE", "IT kW", "facility kW", "feed kW", "of feed"],
                hall_rows,
            ),
            Table(
                "Racks of this phase",
                [
                    "rack",
                    "hall",
                    "row",
                    "cooling",
                    "kW added",
                    "kW total",
                    "budget kW",
                    "of budget",
                    "check",
                ],
                rows,
                collapse=len(rows) > 30,
            ),
        ],
        commands=[
            Command(
                c.hk("validate", "--phase", str(c.phase)),
                "no rack power or cooling findings (exit 0)",
            ),
            Command(
                c.hk("report", "--out", f"report/{c.site.info.name}"),
                "report.html: the floor plans show no rack over budget (no red "
                "outline); hall feeds above facility load",
            ),
        ],
        checklist=[
            "PDUs of every rack above installed and rated for the rack's budget",
            "breakers labelled with rack names",
            "cooling commissioned (liquid loops pressure-tested, air containment "
            "closed) for every rack above",
            "hall feed and UPS capacity signed off by facilities",
        ],
        gate=[
            "every rack above at or under budget (column check = ok)",
            "every hall's facility load within its feed",
            "facilities sign-off recorded",
        ],
        rollback=[
            "De-energise the new circuits; no in-service rack depends on them."
            + (
                " Racks of earlier phases receiving devices are listed above: their "
                "existing circuits stay untouched."
                if any(x.rack.phase < c.phase for x in c.racks)
                else ""
            )
        ],
    )


def _racking(c: _Ctx) -> Stage:
    tables = []
    for x in c.racks:
        rows = [
            [
                f"U{d.u}" + (f"-{d.top_u}" if d.height > 1 else ""),
                d.name,
                d.model,
                d.role,
                _n(c.site.catalog.power_kw(d.model), 1),
                "new" if d.phase == c.phase else f"in place (phase {d.phase})",
            ]
            for d in sorted(x.devices, key=lambda d: (-d.u, d.name))
        ]
        tables.append(
            Table(
                f"rack {x.rack.name} ({x.rack.hall}, row {x.rack.row}, "
                f"{_n(x.power_kw, 1)} of {_n(x.rack.power_kw, 1)} kW)",
                ["units", "device", "model", "role", "kW", "state"],
                rows,
                collapse=True,
            )
        )
    return Stage(
        "racking",
        "2. Racking: elevations per rack",
        intro=[
            f"Mount {len(c.new):,} devices in {len(c.racks):,} racks exactly as below (front "
            "view, top unit first). Record serial numbers and MACs in the inventory as you go."
        ],
        tables=tables,
        commands=[
            Command(
                c.hk("report", "--out", f"report/{c.site.info.name}"),
                "racks/<rack>.svg: one printable elevation per rack",
            )
        ],
        checklist=[f"rack {x.rack.name} matches its elevation, labels on" for x in c.racks],
        gate=[
            "every device of the phase racked at its unit",
            "serials recorded",
            "blanking panels fitted (air) or cold plates connected (liquid)",
        ],
        rollback=["Unrack the devices of this phase; nothing in service is affected."],
    )
