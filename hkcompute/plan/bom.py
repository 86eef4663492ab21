"""Bill of materials per phase and in total: nodes, switches, optics, cables.

Optics count modules to order: two per transceiver link (one per end; a link written as
``a+b`` counts one of each), one per DAC, AOC or UTP assembly. Cables count what is pulled,
by type (smf, mmf, dac, aoc, utp) and stock length (``cabling.LENGTH_BINS``): a DAC or AOC is
both an optic (the assembly) and a cable (its length).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from hkcompute.model import Site
from hkcompute.plan.cabling import length_bin
from hkcompute.plan.records import Plan

SECTIONS = ("nodes", "storage", "switches", "optics", "cables")
_DIGITS = re.compile(r"(\d+)")


def natural(item: str) -> tuple[object, ...]:
    """Sort key that puts "mmf 5m" before "mmf 10m"."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(item))


@dataclass
class Bom:
    phases: dict[int, dict[str, Counter[str]]] = field(default_factory=dict)

    def total(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {s: Counter() for s in SECTIONS}
        for per in self.phases.values():
            for s in SECTIONS:
                out[s].update(per[s])
        return out

    def to_dict(self) -> dict[str, object]:
        def plain(d: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
            return {s: {k: d[s][k] for k in sorted(d[s], key=natural)} for s in SECTIONS}

        return {
            "phases": {str(p): plain(v) for p, v in sorted(self.phases.items())},
            "total": plain(self.total()),
        }


def build_bom(site: Site, plan: Plan) -> Bom:
    bom = Bom()

    def sec(phase: int) -> dict[str, Counter[str]]:
        per = bom.phases.get(phase)
        if per is None:
            per = bom.phases[phase] = {s: Counter() for s in SECTIONS}
        return per

    for pid in site.phase_ids:
        if plan.phase is None or pid <= plan.phase:
            sec(pid)
    for d in site.devices_upto(plan.phase):
        if d.is_switch:
            sec(d.phase)["switches"][d.model] += 1
        elif d.role == "storage":
            sec(d.phase)["storage"][d.model] += 1
        else:
            sec(d.phase)["nodes"][d.model] += 1
    optics = site.catalog.optics
    for link in plan.links:
        per = sec(link.phase)
        if link.optic:
            parts = link.optic.split("+")
            if len(parts) == 2:
                per["optics"].update(parts)
            else:
                o = optics.get(link.optic)
                per["optics"][link.optic] += 2 if o is not None and o.kind == "transceiver" else 1
        per["cables"][f"{link.cable} {length_bin(link.length_m)}"] += 1
    return bom
