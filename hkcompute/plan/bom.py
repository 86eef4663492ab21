"""Bill of materials per phase and in total: nodes, storage, switches, transceivers, cables
and fibres, each counted once and under the part the plan chose.

* transceivers: one module per link end that takes one; a twin-port module (two ports in one
  cage) once per cage used, so the two links of a QM9700 cage share one module. A link
  written ``a+b`` has part ``a`` at its a-end and ``b`` at its b-end; one name means the
  same part at both ends.
* cables: the assemblies (DAC, AOC, UTP), one per link (a twin-port DAC once per pair of
  cages it joins), by part and stock length (``cabling.LENGTH_BINS``); they are not also
  counted as transceivers.
* fibres: the patch cord of a transceiver link, by fibre, grade (the lowest on which both
  ends reach the run, ``optics.fibre_grade``) and stock length.

A module's phase is the earliest phase of the links through its cage.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from hkcompute.model import Site
from hkcompute.plan.cabling import length_bin
from hkcompute.plan.optics import fibre_grade
from hkcompute.plan.records import Link, Plan
from hkcompute.schema import Optic

SECTIONS = ("nodes", "storage", "switches", "transceivers", "cables", "fibres")
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


def _ends(link: Link) -> tuple[tuple[str, str, int, str], tuple[str, str, int, str]]:
    """(device, port, cage, part) for each end of a link with an optic."""
    parts = (link.optic or "").split("+")
    return (
        (link.a, link.a_port, link.a_cage, parts[0]),
        (link.b, link.b_port, link.b_cage, parts[-1]),
    )


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
    # A module's slot -> the earliest phase a link through it is built in. The slot of a
    # twin-port module is its cage; of any other, its port. The part is in the key so a cage
    # whose two links were given different modules (HK417 says so) is never under-counted.
    modules: dict[tuple[str, str, str], int] = {}
    # A twin-port assembly (a DAC from one twin-port cage to another) carries both links of
    # its cage pair: one cable, keyed by the pair, at the earliest phase of its two links.
    assemblies: dict[tuple[str, int, str, int, str, str], int] = {}
    for link in plan.links:
        per = sec(link.phase)
        if not link.optic:
            per["cables"][f"{link.cable} {length_bin(link.length_m)}"] += 1
            continue
        ends = _ends(link)
        first = optics.get(ends[0][3])
        if first is not None and first.kind != "transceiver":
            item = f"{ends[0][3]} {length_bin(link.length_m)}"
            if first.ports_per_module > 1 and link.a_cage > 0 and link.b_cage > 0:
                key = (link.a, link.a_cage, link.b, link.b_cage, ends[0][3], item)
                had = assemblies.get(key)
                if had is None or link.phase < had:
                    assemblies[key] = link.phase
                continue
            per["cables"][item] += 1
            continue
        for dev, port, cage, part in ends:
            o = optics.get(part)
            twin = o is not None and o.ports_per_module > 1 and cage > 0
            slot = (dev, f"cage{cage}" if twin else port, part)
            had = modules.get(slot)
            if had is None or link.phase < had:
                modules[slot] = link.phase
        per["fibres"][_fibre(optics, ends[0][3], ends[1][3], link)] += 1
    for (_dev, _slot, part), phase in modules.items():
        sec(phase)["transceivers"][part] += 1
    for (*_pair, item), phase in assemblies.items():
        sec(phase)["cables"][item] += 1
    return bom


def _fibre(optics: dict[str, Optic], a: str, b: str, link: Link) -> str:
    oa, ob = optics.get(a), optics.get(b)
    grade = fibre_grade(oa, ob, link.length_m) if oa is not None and ob is not None else ""
    what = f"{link.cable} {grade}" if grade else link.cable
    return f"{what} {length_bin(link.length_m)}"
