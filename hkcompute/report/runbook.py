"""The rollout runbook of one phase, derived from the site, its plan and its capacity.

Nothing in a runbook is written per site: scope, racks, cables, hosts, commands and the
figures a good result shows all come from the inventory, so a runbook can be regenerated
whenever the inventory changes and is the same text for the same inventory (no dates).

``build_runbook(site, phase, site_arg)`` gives a ``Runbook`` (no I/O): a scope, then the
stages in the order the floor works (facility, racking, cabling, out-of-band and
provisioning, firmware and OS, fabric, storage, deploy, verify, acceptance, hand-over), each
with the commands to type and what a good result looks like, a checklist, a go/no-go gate,
a rollback, and the journal run ids to record. ``write_runbook`` writes ``runbook.md``, the
self-contained ``runbook.html``, ``runbook.json`` (the scope and the commands, for scripts)
and the phase's cable lists as CSV.

``site_arg`` is the site as the engineer types it (the CLI passes its argument through), so
every command in the runbook can be pasted as it is.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from hkcompute import atomic
from hkcompute.capacity import PhaseCapacity, SiteCapacity, capacity
from hkcompute.deploy.ansible_inventory import group_name, managed_devices
from hkcompute.model import Device, Site
from hkcompute.plan import Plan, plan_for
from hkcompute.plan.bom import build_bom, natural
from hkcompute.plan.cabling import length_bin
from hkcompute.plan.records import CABLING_COLUMNS, Link
from hkcompute.report import html
from hkcompute.report.site_report import RackLoad, rack_loads
from hkcompute.report.svg import inline
from hkcompute.report.svg.capacity import capacity_curve
from hkcompute.report.svg.fabric import su_fabric
from hkcompute.report.svg.floor import hall_floor

STAGES = (
    "facility",
    "racking",
    "cabling",
    "oob",
    "firmware-os",
    "fabric",
    "storage",
    "deploy",
    "verify",
    "acceptance",
    "handover",
)
# Up to this many new cables the runbook lists every one inline; above it, counts per rack
# and per switch inline and the full lists in the CSV files beside the runbook.
INLINE_CABLES = 400
SPARES_PCT = 2  # optics and cables to stock beyond the count: a site convention, stated


@dataclass(frozen=True)
class Command:
    cmd: str
    good: str  # what a good result looks like
    record: str = ""  # a journal run id to record under this label ("" = none)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    collapse: bool = False  # long tables fold away in the HTML page


@dataclass
class Stage:
    key: str
    title: str
    intro: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)
    gate: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)


@dataclass
class Runbook:
    site: str
    site_arg: str
    phase: int
    phase_name: str
    due: str
    previous: int | None
    scope: dict[str, Any]
    scope_tables: list[Table]
    prereq_tables: list[Table]
    prereq_notes: list[str]
    preparation: Stage
    stages: list[Stage]
    files: dict[str, str] = field(default_factory=dict)  # extra files (CSV) to write
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (caption, inline svg)

    @property
    def commands(self) -> list[str]:
        return [c.cmd for s in [self.preparation, *self.stages] for c in s.commands]

    @property
    def records(self) -> list[tuple[str, str, str]]:
        """(stage title, label, command) of every run id to record."""
        return [(s.title, c.record, c.cmd) for s in self.stages for c in s.commands if c.record]

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "phase": self.phase,
            "phase_name": self.phase_name,
            "due": self.due,
            "previous_phase": self.previous,
            "scope": self.scope,
            "stages": [
                {
                    "key": s.key,
                    "title": s.title,
                    "commands": [asdict(c) for c in s.commands],
                    "gate": s.gate,
                }
                for s in [self.preparation, *self.stages]
            ],
        }


# Sort keys and length bins repeat (port names, cable lengths) across ~100k cables of a
# large phase: computing each once keeps the runbook of the bundled site in seconds.
_natural = lru_cache(maxsize=65536)(natural)
_length_bin = lru_cache(maxsize=65536)(length_bin)


def _n(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"


def _counts(c: Counter[str] | dict[str, int]) -> str:
    return (
        ", ".join(f"{k} {v:,}" for k, v in sorted(c.items(), key=lambda kv: natural(kv[0])))
        or "none"
    )


def _csv(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _phase_cap(cap: SiteCapacity, phase: int) -> PhaseCapacity:
    return next(p for p in cap.phases if p.phase == phase)


class _Ctx:
    """What every stage builder reads: the site, the phase, and sets derived once."""

    def __init__(self, site: Site, phase: int, site_arg: str) -> None:
        self.site = site
        self.phase = phase
        self.arg = shlex.quote(site_arg)
        earlier = [p for p in site.phase_ids if p < phase]
        self.prev = earlier[-1] if earlier else None
        self.plan: Plan = plan_for(site, phase)
        self.cap = capacity(site)
        self.pc = _phase_cap(self.cap, phase)
        self.new: list[Device] = [d for d in site.devices.values() if d.phase == phase]
        self.old: list[Device] = [d for d in site.devices.values() if d.phase < phase]
        self.old_names = {d.name for d in self.old}
        self.links: list[Link] = [x for x in self.plan.links if x.phase == phase]
        self.landing = [x for x in self.links if x.a in self.old_names or x.b in self.old_names]
        self.loads: dict[str, RackLoad] = rack_loads(site, phase)
        new_racks = {d.rack for d in self.new}
        self.racks = [
            load
            for name, load in self.loads.items()
            if name in new_racks or load.rack.phase == phase
        ]
        self.units = [u for c in site.clusters for u in c.units if u.phase == phase]
        self.managed = [d for d in managed_devices(site, phase) if d.phase == phase]
        self.tree = f"build/{site.info.name}/phase-{phase}"
        self.pg = group_name("phase", phase)

    def back(self, limit: str, batch: str) -> str:
        """The command that puts the previous phase's configuration back on ``limit``."""
        assert self.prev is not None
        return self.hk("deploy", "--phase", str(self.prev), "--limit", limit, "--batch", batch)

    def hk(self, *args: str) -> str:
        """A command line, ``hkcompute <verb> SITE <args>``, quoted for a POSIX shell (host
        patterns hold ``&`` and ``!``)."""
        return " ".join(["hkcompute", args[0], self.arg, *map(shlex.quote, args[1:])])


def _scope(c: _Ctx) -> tuple[dict[str, Any], list[Table], list[Table], list[str]]:
    site, pc = c.site, c.pc
    halls = [h.name for h in site.halls.values() if h.phase == c.phase]
    switches = Counter(d.role.value for d in c.new if d.is_switch)
    storage = [d for d in c.new if d.role == "storage"]
    services = [d for d in c.new if d.role == "service"]
    by_net = Counter(x.network for x in c.links)
    scope: dict[str, Any] = {
        "halls": halls,
        "racks": len(c.racks),
        "new_racks": sum(1 for x in c.racks if x.rack.phase == c.phase),
        "units": [u.name for u in c.units],
        "devices": len(c.new),
        "nodes": dict(pc.nodes),
        "nodes_total": sum(pc.nodes.values()),
        "accelerators": pc.accelerators,
        "switches": dict(sorted(switches.items())),
        "switches_total": sum(switches.values()),
        "storage_systems": len(storage),
        "storage_usable_tb": round(pc.storage_usable_tb, 3),
        "service_hosts": len(services),
        "links": len(c.links),
        "links_by_network": dict(sorted(by_net.items())),
        "links_to_in_service": len(c.landing),
        "addresses": sum(1 for a in c.plan.addresses if a.phase == c.phase),
        "asns": sum(1 for a in c.plan.asns if a.phase == c.phase),
        "pflops": round(pc.pflops, 3),
        "cumulative_pflops": round(pc.cumulative_pflops, 3),
        "target_pflops": round(pc.target_pflops, 3),
        "target_met": pc.target_met,
        "it_power_kw": round(pc.it_power_kw, 3),
        "facility_power_kw": round(pc.facility_power_kw, 3),
        "cumulative_it_power_kw": round(pc.cumulative_it_power_kw, 3),
        "cumulative_facility_power_kw": round(pc.cumulative_facility_power_kw, 3),
        "managed_hosts": len(c.managed),
    }
    acc = (
        "; ".join(
            f"{v}: " + ", ".join(f"{m} {n:,}" for m, n in models.items())
            for v, models in pc.accelerators.items()
        )
        or "none"
    )
    adds = Table(
        "What this phase adds",
        ["item", "count"],
        [
            ["halls", ", ".join(halls) or "none (builds into existing halls)"],
            ["racks (new / receiving devices)", f"{scope['new_racks']:,} / {scope['racks']:,}"],
            [
                "scalable units",
                f"{len(c.units):,}"
                + (f" ({c.units[0].name} .. {c.units[-1].name})" if c.units else ""),
            ],
            ["devices", f"{len(c.new):,}"],
            ["compute nodes by vendor", _counts(pc.nodes)],
            ["accelerators", acc],
            ["switches", f"{sum(switches.values()):,} ({_counts(switches)})"],
            ["storage systems", f"{len(storage):,} ({_n(pc.storage_usable_tb)} TB usable)"],
            ["service hosts", f"{len(services):,}"],
            ["cables", f"{len(c.links):,} ({_counts(by_net)})"],
            ["  of which land on equipment already in service", f"{len(c.landing):,}"],
            ["addresses / ASNs", f"{scope['addresses']:,} / {scope['asns']:,}"],
            ["PFLOPS added (dense BF16)", _n(pc.pflops, 3)],
            [
                "cumulative PFLOPS / phase target",
                f"{_n(pc.cumulative_pflops, 3)} / {_n(pc.target_pflops, 3)} "
                f"({'met' if pc.target_met else 'NOT met'})",
            ],
            ["IT power added", f"{_n(pc.it_power_kw, 1)} kW"],
            ["facility power added (x PUE)", f"{_n(pc.facility_power_kw, 1)} kW"],
            ["hosts Ansible manages in this phase", f"{len(c.managed):,}"],
        ],
    )
    prereq: list[Table] = []
    notes: list[str] = []
    if c.prev is not None:
        status = Counter(str(d.status) for d in c.old)
        prev = _phase_cap(c.cap, c.prev)
        old_halls = [h.name for h in site.halls.values() if h.phase < c.phase]
        old_units = [u for cl in site.clusters for u in cl.units if u.phase < c.phase]
        svc = sorted((d for d in c.old if d.role == "service"), key=lambda d: d.name)
        prereq.append(
            Table(
                f"Already built (phases up to {c.prev})",
                ["item", "count"],
                [
                    ["halls", ", ".join(old_halls)],
                    ["scalable units", f"{len(old_units):,}"],
                    ["devices", f"{len(c.old):,} ({_counts(status)})"],
                    ["compute nodes by vendor", _counts(prev.cumulative_nodes)],
                    ["cumulative PFLOPS", _n(prev.cumulative_pflops, 3)],
                    [
                        "service hosts",
                        ", ".join(f"{d.name} ({'/'.join(d.services) or d.model})" for d in svc)
                        or "none",
                    ],
                    [
                        "storage core switches",
                        f"{sum(1 for d in c.old if d.role == 'storage_spine'):,}",
                    ],
                ],
            )
        )
        land = Counter(x.a if x.a in c.old_names else x.b for x in c.landing)
        if land:
            prereq.append(
                Table(
                    "In-service equipment that receives new cables",
                    ["device", "role", "rack", "new cables"],
                    [
                        [n, c.site.devices[n].role, c.site.devices[n].rack, f"{k:,}"]
                        for n, k in sorted(land.items())
                    ],
                    collapse=len(land) > 20,
                )
            )
        not_ready = sorted(
            (d for d in c.old if str(d.status) != "in_service"), key=lambda d: d.name
        )
        if not_ready:
            by = Counter(str(d.status) for d in not_ready)
            notes.append(
                f"{len(not_ready):,} device(s) of earlier phases are not in service "
                f"({_counts(by)}). The services and fabric they carry must not be "
                "needed by this phase, or they must be brought into service first."
            )
            bad = [d for d in not_ready if str(d.status) in ("failed", "retired")]
            if bad:
                notes.append(
                    "Failed or retired (not counted in capacity): "
                    + ", ".join(d.name for d in bad[:50])
                    + (" ..." if len(bad) > 50 else "")
                )
        else:
            notes.append(f"Every device of phases up to {c.prev} is in service.")
    else:
        notes.append("This is the first phase: nothing needs to be in service before it.")
    return scope, [adds], prereq, notes


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


def _cabling(c: _Ctx) -> tuple[Stage, dict[str, str]]:
    rack_of = {d.name: d.rack for d in c.site.devices.values()}
    per_rack: dict[str, Counter[str]] = defaultdict(Counter)
    per_switch: dict[str, Counter[str]] = defaultdict(Counter)
    for x in c.links:
        kind = f"{x.cable} {_length_bin(x.length_m)}"
        per_rack[rack_of.get(x.a, "?")][kind] += 1
        if rack_of.get(x.b) != rack_of.get(x.a):
            per_rack[rack_of.get(x.b, "?")][kind] += 1
        for end in (x.a, x.b):
            dev = c.site.devices.get(end)
            if dev is not None and dev.is_switch:
                per_switch[end][x.network] += 1
    # The BOM's counting rules over this phase's cables only (the same code as `hkcompute
    # bom`, without counting every earlier phase's cables again).
    bom = build_bom(c.site, Plan(c.site.info.name, c.phase, links=c.links)).phases.get(c.phase, {})
    stock = []
    for sec in ("optics", "cables"):
        for item, n in sorted(bom.get(sec, Counter()).items(), key=lambda kv: _natural(kv[0])):
            spare = max(1, -(-n * SPARES_PCT // 100))
            stock.append([sec, item, f"{n:,}", f"{spare:,}", f"{n + spare:,}"])
    tables = [
        Table(
            "Optics and cables to stock",
            ["kind", "item", "needed", f"spares ({SPARES_PCT}%)", "to stock"],
            stock,
        ),
        Table(
            "Cables per rack (both ends counted)",
            ["rack", "cables", "by type and length"],
            [[r, f"{sum(k.values()):,}", _counts(k)] for r, k in sorted(per_rack.items())],
            collapse=len(per_rack) > 30,
        ),
        Table(
            "Cables per switch",
            ["switch", "rack", "model", "new cables", "by network"],
            [
                [
                    s,
                    rack_of.get(s, "?"),
                    c.site.devices[s].model,
                    f"{sum(k.values()):,}",
                    _counts(k),
                ]
                for s, k in sorted(per_switch.items())
            ],
            collapse=len(per_switch) > 30,
        ),
    ]
    if len(c.links) <= INLINE_CABLES:
        tables.append(
            Table(
                "Every cable of this phase",
                list(CABLING_COLUMNS),
                [list(x.row()) for x in c.links],
                collapse=len(c.links) > 40,
            )
        )
    by_rack = sorted(c.links, key=lambda x: (rack_of.get(x.a, ""), x.a, _natural(x.a_port)))
    by_switch_rows: list[tuple[str, ...]] = []
    for x in c.links:
        for end, port, peer, pport in (
            (x.a, x.a_port, x.b, x.b_port),
            (x.b, x.b_port, x.a, x.a_port),
        ):
            dev = c.site.devices.get(end)
            if dev is not None and dev.is_switch:
                by_switch_rows.append(
                    (end, port, peer, pport, x.network, x.optic or "", x.cable, f"{x.length_m:.1f}")
                )
    by_switch_rows.sort(key=lambda r: (r[0], _natural(r[1])))
    files = {
        "cabling-by-rack.csv": _csv(
            [(rack_of.get(x.a, ""), *x.row()) for x in by_rack], ("rack", *CABLING_COLUMNS)
        ),
        "cabling-by-switch.csv": _csv(
            by_switch_rows,
            ("switch", "port", "peer", "peer_port", "network", "optic", "cable", "length_m"),
        ),
    }
    land = len(c.landing)
    return Stage(
        "cabling",
        "3. Cabling: cable lists per rack and per switch, optics",
        intro=[
            f"{len(c.links):,} cables in this phase. The full lists are `cabling-by-rack.csv` "
            "(pull and label, rack by rack) and `cabling-by-switch.csv` (patch, port by port) "
            "beside this runbook.",
            *(
                [
                    f"{land:,} of them land on equipment already in service (listed in the scope): "
                    "patch those ports only in the agreed change window, one switch at a time."
                ]
                if land
                else []
            ),
        ],
        tables=tables,
        commands=[
            Command(
                c.hk("cabling", "--phase", str(c.phase)) + " > cabling.csv",
                f"the rows with phase {c.phase} are the {len(c.links):,} cables "
                "above (the file also lists earlier phases' cables)",
            ),
            Command(
                c.hk("bom", "--phase", str(c.phase), "--format", "csv"),
                "optics and cables of the phase column = the 'needed' column above",
            ),
            *_verify_cabling(c),
        ],
        checklist=[
            "optics and cables received and counted against 'to stock'",
            "every cable labelled at both ends (device:port)",
            "every cable of cabling-by-rack.csv connected",
            "`hkcompute cabling verify` run after plugging; every port it listed "
            "fixed (swap, re-cable, connect) and the check run again until exit 0",
            "link lights on at both ends; fibre ends cleaned and inspected",
            *(["ports on in-service switches patched in the change window"] if land else []),
        ],
        gate=[
            "all cables of the phase connected and labelled",
            "no spare port left patched, no cable left unlabelled",
        ],
        rollback=[
            "Unpatch the new cables; on in-service switches, only the ports listed in "
            "cabling-by-switch.csv are touched, so unpatching them restores the "
            "previous state."
        ],
    ), files


def _verify_cabling(c: _Ctx) -> list[Command]:
    """Plug, check against what the devices see, fix the listed ports, check again: LLDP over
    SSH for Ethernet (as soon as hosts and switches answer; before that, `--lldp DIR` of
    answers gathered by hand), ibnetdiscover's file for an InfiniBand fabric."""
    phase = str(c.phase)
    ib = {x.name for x in c.site.clusters if x.fabric == "infiniband"}
    cmds = [
        Command(
            c.hk("cabling verify", "--phase", phase, "--collect"),
            "exit 0: every Ethernet cable of the phase ok; otherwise fix the ports "
            "it lists (one line per swapped pair) and run it again",
        )
    ]
    if any(x.network == "compute" and x.cluster in ib for x in c.links):
        cmds.append(
            Command(
                c.hk("cabling verify", "--phase", phase, "--ibnetdiscover", "ibnetdiscover.txt"),
                "the file is `ibnetdiscover > ibnetdiscover.txt` on a host with an HCA; exit 0: "
                "every InfiniBand cable ok; it writes the HCA port GUIDs next to the inventory",
            )
        )
    return cmds


def _oob(c: _Ctx) -> Stage:
    oob = [d for d in c.new if d.role in ("oob_switch", "inband_switch")]
    addrs = Counter(a.network for a in c.plan.addresses if a.phase == c.phase)
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", "service", "--check", "--diff"),
            "exit 0; the differences are DHCP, DNS and monitoring entries for the "
            f"phase's {addrs.get('oob', 0):,} out-of-band and {addrs.get('inband', 0):,} "
            "in-band addresses; no host failed or unreachable",
        ),
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", "service", "--batch", "1"),
            "status ok on every services host, one at a time (the pairs stay redundant)",
            record="services",
        ),
    ]
    if c.prev is not None:
        rollback = [
            "The services hosts carry the earlier phases too: restore their previous "
            "configuration from the previous phase's tree:",
            f"`{c.back('service', '1')}` (renders phase {c.prev} and deploys it to the "
            "services hosts, one at a time)",
        ]
    else:
        rollback = [
            "First phase: stop the new services (DHCP, DNS) on the services hosts; "
            "nothing else depends on them yet."
        ]
    return Stage(
        "oob",
        "4. Out-of-band and provisioning network",
        intro=[
            f"{len(oob):,} management switches ({_counts(Counter(d.role.value for d in oob))}); "
            f"addresses of the phase: {_counts(addrs)}. The services hosts (DHCP, DNS, NTP) learn "
            "the new hosts before any of them boots."
        ],
        commands=cmds,
        checklist=[
            "management switches configured and reachable",
            f"every BMC of the phase answers on its out-of-band address "
            f"({addrs.get('oob', 0):,} addresses)",
            "DHCP hands the planned in-band address to each new host (leases checked)",
            "forward and reverse DNS resolve for a sample of new hosts",
        ],
        gate=[
            "services deploy run ok (run id recorded)",
            "BMCs reachable",
            "PXE/OS install network reaches every new server",
        ],
        rollback=rollback,
    )


def _firmware(c: _Ctx) -> Stage:
    rows = []
    models = Counter(d.model for d in c.new if d.role in ("gpu_node", "service", "storage"))
    for model, n in sorted(models.items()):
        server = c.site.catalog.servers.get(model)
        acc = c.site.catalog.accelerators.get(server.accelerator or "") if server else None
        # The node-side stack is the accelerator platform's data (catalog.yaml `software`).
        stack = ", ".join(sw.what for sw in acc.software) if acc is not None else ""
        rows.append(
            [
                model,
                f"{n:,}",
                server.os if server else "vendor appliance",
                f"{server.accelerators} x {server.accelerator}"
                if server and server.accelerator
                else "-",
                stack or "-",
            ]
        )
    k = len(c.managed)
    limit = c.pg
    return Stage(
        "firmware-os",
        "5. Firmware and OS",
        intro=[
            "Bring BIOS, BMC, NIC and accelerator firmware to the approved baseline, install the "
            "OS image, then prove each host is what the inventory says before anything is "
            "configured on it."
        ],
        tables=[
            Table(
                "Servers of this phase",
                ["model", "count", "OS", "accelerators", "vendor stack"],
                rows,
            )
        ],
        commands=[
            Command(
                c.hk("hostkeys", "--phase", str(c.phase), "--limit", limit, "--scan"),
                f"`{k:,} new key(s) recorded; 0 problem(s)` (a changed key is a stop: "
                "find out why before going on)",
            ),
            Command(
                c.hk("preflight", "--phase", str(c.phase), "--limit", limit),
                f"exit 0 and `preflight: {k:,}/{k:,} hosts ok` (OS release, disk, NIC "
                "count and link speed, accelerator count all as planned)",
            ),
        ],
        checklist=[
            "firmware baseline applied (BIOS, BMC, NICs, accelerators)",
            "OS image installed on every server of the phase",
            "host keys recorded",
            "preflight clean",
        ],
        gate=[f"preflight: {k:,}/{k:,} hosts ok"],
        rollback=[
            "Re-image the host (nothing is in service on it yet); a host that cannot "
            "pass preflight is marked failed in the inventory and left out."
        ],
    )


def _fabric(c: _Ctx) -> Stage:
    roles = Counter(d.role.value for d in c.new if d.role in ("leaf", "spine", "core"))
    fab = [d for d in c.managed if d.role in ("leaf", "spine", "core")]
    fabrics = Counter(
        cl.fabric for cl in c.site.clusters if any(u.phase == c.phase for u in cl.units)
    )
    new_fab = Counter(x.kind for x in c.links if x.network == "compute")
    old_fab_touched = sorted(
        {(x.a if x.a in c.old_names else x.b) for x in c.landing if x.network == "compute"}
    )
    limit = f"{c.pg}:&fabric"
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
            f"exit 0; only the phase's {len(fab):,} managed fabric hosts change",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                limit,
                "--batch",
                "25%",
                "--max-fail",
                "0%",
            ),
            "run ok; every batch completes",
            record="fabric",
        ),
    ]
    if old_fab_touched:
        cmds.insert(
            0,
            Command(
                c.hk(
                    "deploy",
                    "--phase",
                    str(c.phase),
                    "--limit",
                    f"fabric:!{c.pg}",
                    "--check",
                    "--diff",
                ),
                f"only the {len(old_fab_touched):,} in-service switches with new links show "
                "differences, and only new neighbours and ports",
            ),
        )
    return Stage(
        "fabric",
        "6. Fabric bring-up",
        intro=[
            f"Switches of the phase: {_counts(roles)}; clusters by fabric: "
            f"{_counts(fabrics)}. Compute cables of the phase: {_counts(new_fab)}. "
            f"{len(fab):,} fabric hosts are managed by "
            "Ansible (RoCE switches running FRR, InfiniBand subnet managers); InfiniBand "
            "switches themselves are configured by the subnet manager."
        ],
        commands=cmds,
        checklist=[
            "switch OS / firmware at baseline",
            "management addresses reachable",
            "every compute link of the phase up at its planned speed",
            "RoCE: every planned BGP session Established; InfiniBand: every port "
            "Active, subnet manager master elected",
            "no errors counters rising on the new links (after 15 minutes)",
        ],
        gate=[
            "fabric deploy run ok (run id recorded)",
            "all planned links up, no link at reduced width or speed",
        ],
        rollback=[
            "Shut the new ports on in-service switches, then deploy the previous "
            "phase's tree to them"
            + (f": `{c.back('fabric', '1')}`" if c.prev is not None else "."),
            "New switches carry no traffic yet: power them off if they misbehave.",
        ],
    )


def _storage(c: _Ctx) -> Stage:
    storage = [d for d in c.new if d.role == "storage"]
    rows = []
    for d in sorted(storage, key=lambda d: d.name):
        m = c.site.catalog.storage.get(d.model)
        rows.append(
            [d.name, d.model, d.rack, _n(m.usable_tb if m else 0), _n(m.read_gbytes_s if m else 0)]
        )
    limit = f"{c.pg}:&storage"
    leaves = sum(1 for d in c.new if d.role == "storage_leaf")
    core = Counter(x.a if x.a in c.old_names else x.b for x in c.landing if x.network == "storage")
    return Stage(
        "storage",
        "7. Storage",
        intro=[
            f"{len(storage):,} storage systems ({_n(c.pc.storage_usable_tb)} TB usable, "
            f"{_n(c.pc.storage_read_gbytes_s)} GB/s read) and {leaves:,} storage leaves in this "
            "phase.",
            *(
                [
                    f"{sum(core.values()):,} storage cables of this phase land on {len(core)} "
                    "in-service storage core switches: bring their ports up one switch at a "
                    "time and watch the existing tenants' storage traffic between switches."
                ]
                if core
                else []
            ),
        ],
        tables=[
            Table("Storage systems", ["system", "model", "rack", "usable TB", "read GB/s"], rows)
        ]
        if rows
        else [],
        commands=[
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
                "exit 0; only the phase's storage hosts change",
            ),
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--batch", "25%"),
                "run ok on every storage host",
                record="storage",
            ),
        ],
        checklist=[
            "storage leaves up, uplinks to the storage core up",
            "file systems created and exported as planned",
            "read bandwidth test reaches the catalogue figure within 10%",
        ],
        gate=["storage deploy run ok (run id recorded)", "bandwidth test passed"],
        rollback=[
            "New storage holds no tenant data yet: unexport it; earlier phases' "
            "storage is not touched by this stage.",
            *(
                [
                    "Shut the new ports on the storage core switches listed in the scope; "
                    "their existing ports keep serving."
                ]
                if core
                else []
            ),
        ],
    )


def _deploy(c: _Ctx) -> Stage:
    nodes = [d for d in c.managed if d.role == "gpu_node"]
    limit = f"{c.pg}:&gpu_node"
    canary = group_name("unit", c.units[0].name) if c.units else None
    old_hosts = sum(1 for d in managed_devices(c.site, c.phase) if d.phase < c.phase)
    # A dry run over every host up to the phase first: the one place where an unexpected
    # change to an in-service host shows before anything is touched.
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--check", "--diff"),
            f"exit 0; the {len(c.managed):,} hosts of phase {c.phase} show their new "
            f"configuration; of the {old_hosts:,} hosts of earlier phases only the "
            "services, Slurm and fabric files named in this runbook change",
        )
    ]
    if canary:
        cmds += [
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", canary, "--check", "--diff"),
                "exit 0; the unit's nodes show their full new configuration, nothing else changes",
            ),
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", canary),
                f"run ok on every host of {c.units[0].name} (the canary unit)",
                record="canary unit",
            ),
        ]
    cmds += [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
            f"exit 0 over {len(nodes):,} compute nodes; no failed or unreachable host",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                limit,
                "--batch",
                "10%",
                "--max-fail",
                "5%",
            ),
            "exit 0 and `all hosts done`; a batch with more than 5% failures stops the run",
            record="compute nodes",
        ),
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--resume", "RUN_ID"),
            "only if the previous run stopped: re-runs the hosts that failed or were not "
            "reached in RUN_ID; ends with `all hosts done`",
            record="resume (if any)",
        ),
        Command(
            c.hk(
                "deploy", "--phase", str(c.phase), "--limit", f"slurm:!{c.pg}", "--check", "--diff"
            ),
            "exit 0; on in-service hosts only the Slurm configuration changes (the new "
            "nodes and their topology)",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                f"slurm:!{c.pg}",
                "--batch",
                "5%",
                "--max-fail",
                "1%",
            ),
            "run ok; the controllers reload with the new nodes",
            record="slurm update",
        ),
        Command(f"hkcompute runs {c.arg}", "every run above listed with status ok"),
    ]
    return Stage(
        "deploy",
        "8. Deploy: nodes and the scheduler",
        intro=[
            f"{len(nodes):,} compute nodes of the phase get their configuration, first one "
            "scalable unit as a canary, then in batches; then the Slurm controllers and the "
            "in-service nodes learn about them."
        ],
        commands=cmds,
        checklist=[
            "canary unit deployed and checked by hand (one job per node)",
            "all batches completed",
            "failed hosts resumed or marked failed in the inventory",
            "Slurm configuration rolled out to in-service hosts",
        ],
        gate=[
            "every deploy run of this stage ok (run ids recorded)",
            "no in-service host changed anything but its Slurm configuration",
        ],
        rollback=[
            "A stopped run: fix the cause, then `--resume RUN_ID`.",
            "In-service hosts: deploy the previous phase's tree to them"
            + (f": `{c.back(f'slurm:!{c.pg}', '5%')}`" if c.prev is not None else "."),
            "New nodes: keep them drained in Slurm until fixed.",
        ],
    )


def _verify(c: _Ctx) -> Stage:
    return Stage(
        "verify",
        "9. Verify",
        intro=[
            "Acceptance checks derived from the plan run on the hosts: addresses, routes and BGP "
            "sessions, services, the accelerators and the scheduler's view."
        ],
        commands=[
            Command(
                c.hk("verify", "--phase", str(c.phase), "--limit", c.pg),
                "exit 0: every check passes on every host of the phase",
            ),
            Command(
                c.hk("verify", "--phase", str(c.phase)),
                "exit 0 across the whole site: earlier phases unaffected",
            ),
            Command(
                c.hk("preflight", "--phase", str(c.phase), "--limit", c.pg),
                f"`preflight: {len(c.managed):,}/{len(c.managed):,} hosts ok`",
            ),
        ],
        checklist=["verify clean on the phase", "verify clean on the whole site"],
        gate=["verify exits 0 twice (phase, site)"],
        rollback=[
            "Nothing is changed by verification; drain failing nodes in Slurm and "
            "return to the stage that owns the failure."
        ],
    )


def _acceptance(c: _Ctx) -> Stage:
    pc = c.pc
    rows = []
    for vendor, models in pc.accelerators.items():
        for model, n in models.items():
            rows.append(
                [
                    vendor,
                    model,
                    f"{n:,}",
                    f"{pc.cumulative_accelerators.get(vendor, {}).get(model, 0):,}",
                ]
            )
    return Stage(
        "acceptance",
        "10. Acceptance",
        intro=[
            f"The phase is accepted when the counted capacity is in service: "
            f"{_n(pc.pflops, 3)} PFLOPS added, {_n(pc.cumulative_pflops, 3)} cumulative against a "
            f"target of {_n(pc.target_pflops)} (dense BF16)."
        ],
        tables=[Table("Accelerators", ["vendor", "model", "added", "cumulative"], rows)],
        commands=[
            Command(
                c.hk("capacity", "--phase", str(c.phase), "--format", "json"),
                f'"cumulative_pflops": {round(pc.cumulative_pflops, 3)}, '
                f'"target_met": {"true" if pc.target_met else "false"}',
            )
        ],
        checklist=[
            "burn-in passed on every node (accelerator stress, memory, NIC loopback)",
            "collective bandwidth test across each new scalable unit within 10% of the "
            "fabric's line rate",
            "HPL or equivalent run recorded",
            "failed nodes marked failed in the inventory (capacity recomputed)",
        ],
        gate=[
            "cumulative PFLOPS at or above the phase target",
            "acceptance report signed by the operator and the owner",
        ],
        rollback=["Not accepted: nodes stay drained; open RMAs; re-run the stage at fault."],
    )


def _handover(c: _Ctx) -> Stage:
    per: dict[str, list[str]] = defaultdict(list)
    for u in c.units:
        cl = c.site.cluster(u.cluster)
        tenants = [u.tenant] if u.tenant else list(cl.tenants if cl else ())
        for t in tenants or ["(unassigned)"]:
            per[t].append(u.name)
    rows = []
    for t, units in sorted(per.items()):
        info = c.site.tenants.get(t)
        rows.append(
            [
                t,
                info.spec.kind if info else "-",
                info.spec.residency if info else "-",
                f"{len(units):,}",
                f"{units[0]} .. {units[-1]}" if len(units) > 1 else units[0],
            ]
        )
    return Stage(
        "handover",
        "11. Hand-over to tenants",
        intro=[
            "Open the new capacity to the tenants it is planned for, with their residency terms."
        ],
        tables=[
            Table(
                "Tenants of this phase's units",
                ["tenant", "kind", "residency", "units", "which"],
                rows,
            )
        ],
        commands=[
            Command(
                c.hk("ansible-inventory", "--phase", str(c.phase)),
                "each tenant_<name> group holds exactly the units above",
            ),
            # Closing the phase: from here its addresses, ASNs and cables never move.
            Command(
                c.hk("lock", "--phase", str(c.phase)),
                f"`locked {c.site.info.name} up to phase {c.phase}: ...`; commit "
                "hkcompute.lock next to the inventory",
            ),
        ],
        checklist=[
            f"lock the phase: hkcompute lock SITE --phase {c.phase}, commit hkcompute.lock",
            "accounts, quotas and Slurm partitions/QoS for each tenant",
            "residency terms confirmed in writing for cross-border and international tenants",
            "monitoring dashboards and alerts cover the new units",
            "tenants notified; support contacts exchanged",
        ],
        gate=["each tenant confirms access", "operations accepts the phase into service"],
        rollback=[
            "Revoke tenant access to the new partitions and drain them; earlier "
            "tenants' access is unchanged."
        ],
    )


def build_runbook(site: Site, phase: int, site_arg: str) -> Runbook:
    c = _Ctx(site, phase, site_arg)
    scope, adds, prereq, notes = _scope(c)
    cabling, files = _cabling(c)
    stages = [
        _facility(c),
        _racking(c),
        cabling,
        _oob(c),
        _firmware(c),
        _fabric(c),
        _storage(c),
        _deploy(c),
        _verify(c),
        _acceptance(c),
        _handover(c),
    ]
    info = site.phase(phase)
    assert info is not None
    rb = Runbook(
        site=site.info.name,
        site_arg=site_arg,
        phase=phase,
        phase_name=info.name,
        due=info.due.isoformat(),
        previous=c.prev,
        scope=scope,
        scope_tables=adds,
        prereq_tables=prereq,
        prereq_notes=notes,
        preparation=_preparation(c),
        stages=stages,
        files=files,
    )
    # Pictures for the HTML page: the curve, the halls the phase builds in, its first unit.
    rb.pictures.append(
        ("Capacity by phase against the target", inline(capacity_curve(site, c.cap, "rbcap")))
    )
    halls = sorted({x.rack.hall for x in c.racks}, key=list(site.halls).index)
    for i, h in enumerate(halls):
        racks = [x.rack for x in c.loads.values() if x.rack.hall == h]
        rb.pictures.append(
            (
                f"{h}: racks and load after phase {phase}",
                inline(
                    hall_floor(
                        site.halls[h],
                        racks,
                        {k: v.power_kw for k, v in c.loads.items()},
                        {},
                        f"rbfl{i}",
                    )
                ),
            )
        )
    if c.units:
        rb.pictures.append(
            (
                f"The fabric of {c.units[0].name}",
                inline(su_fabric(site, c.units[0].name, c.links, "rbsu")),
            )
        )
    return rb


def render_markdown(rb: Runbook) -> str:
    return html.render("runbook.md.j2", rb=rb)


def render_html(rb: Runbook) -> str:
    return html.render("runbook.html.j2", rb=rb, safe=html.safe)


def write_runbook(site: Site, phase: int, out: Path, site_arg: str) -> list[Path]:
    rb = build_runbook(site, phase, site_arg)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(rb.files.items()):
        atomic.write_text(out / name, text)
        written.append(out / name)
    atomic.write_text(
        out / "runbook.json", json.dumps(rb.to_dict(), indent=2, sort_keys=True) + "\n"
    )
    atomic.write_text(out / "runbook.md", render_markdown(rb))
    atomic.write_text(out / "runbook.html", render_html(rb))
    return [out / "runbook.md", out / "runbook.html", out / "runbook.json", *written]
