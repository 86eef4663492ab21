"""The allocation order shared by ports on site-level switches, addresses and ASNs.

Stability rests on one rule: everything is handed out in blocks of a size fixed by the unit
template (never by how full a unit is), walking *owners* sorted by (phase, order written).
Owners are a cluster's core (first), each spine group (just before its first unit), each unit,
then the explicit devices. Adding a later phase only appends owners after every earlier one,
so nothing given to an earlier phase moves; inserting a new owner into an earlier phase does
move what follows it in that phase (so append new owners).
"""

from __future__ import annotations

from dataclasses import dataclass

from hkcompute.model import ClusterInfo, Device, Site, Unit

CORE, GROUP, UNIT, DEVICE = "core", "group", "unit", "device"


@dataclass(frozen=True, slots=True)
class Owner:
    phase: int
    seq: int
    kind: str
    cluster: ClusterInfo | None = None
    unit: Unit | None = None
    group: int | None = None
    device: Device | None = None


def owners(site: Site) -> list[Owner]:
    out: list[Owner] = []
    seq = 0
    for c in site.clusters:
        if not c.units:
            continue
        first = min(u.phase for u in c.units)
        if c.core is not None:
            out.append(Owner(first, seq, CORE, c))
            seq += 1
        group_phase: dict[int, int] = {}
        for u in c.units:
            group_phase[u.group] = min(group_phase.get(u.group, u.phase), u.phase)
        seen: set[int] = set()
        for u in c.units:
            if u.group not in seen:
                seen.add(u.group)
                out.append(Owner(group_phase[u.group], seq, GROUP, c, group=u.group))
                seq += 1
            out.append(Owner(u.phase, seq, UNIT, c, u, u.group))
            seq += 1
    for d in site.devices.values():
        if d.cluster is None:
            out.append(Owner(d.phase, seq, DEVICE, device=d))
            seq += 1
    out.sort(key=lambda o: (o.phase, o.seq))
    return out
