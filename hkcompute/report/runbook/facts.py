"""What every stage reads: the phase's devices, plan, capacity and managed hosts, worked
out once (``_Ctx``), the scope section, and the small formatters the stages share."""

from __future__ import annotations

import csv
import io
import shlex
from collections import Counter
from typing import Any

from hkcompute.capacity import PhaseCapacity, SiteCapacity, capacity
from hkcompute.deploy.ansible_inventory import group_name, managed_devices
from hkcompute.model import Device, Site
from hkcompute.plan import Plan, plan_for
from hkcompute.plan.bom import natural
from hkcompute.plan.records import Link
from hkcompute.report.runbook.records import Table
from hkcompute.report.site_report import RackLoad, rack_loads


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
