"""What phase B adds to phase A, and the proof that nothing of A changes.

The proof compares the plan of the site built up to A alone with the part of the plan up to B
that belongs to phases <= A, row for row (links, addresses, ASNs). Allocation is keyed so that
they agree (``plan.order``); any difference is listed and makes ``hkcompute diff`` exit 1.

That proof only shows the inventory agrees with itself. What is built is set against the lock
(``LockDiff``: the plan up to B without the lock, ``plan.lock.compare_lock``) and, with
``--base``, against the plan of an earlier commit's inventory (``diff_phases`` with the
base's plan as A).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hkcompute.asbuilt.lock import Lock
from hkcompute.model import Site
from hkcompute.plan import build_plan
from hkcompute.plan.lock import LockCheck, compare_lock
from hkcompute.plan.records import Plan


@dataclass
class PhaseDiff:
    from_phase: int
    to_phase: int
    devices: list[str] = field(default_factory=list)
    devices_by_model: Counter[str] = field(default_factory=Counter)
    links_by_network: Counter[str] = field(default_factory=Counter)
    addresses_by_network: Counter[str] = field(default_factory=Counter)
    asns: int = 0
    rack_power_kw: dict[str, float] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        return not self.changed

    def to_dict(self) -> dict[str, object]:
        return {
            "from_phase": self.from_phase,
            "to_phase": self.to_phase,
            "added": {
                "devices": len(self.devices),
                "devices_by_model": dict(sorted(self.devices_by_model.items())),
                "device_names": self.devices,
                "links_by_network": dict(sorted(self.links_by_network.items())),
                "links": sum(self.links_by_network.values()),
                "addresses_by_network": dict(sorted(self.addresses_by_network.items())),
                "addresses": sum(self.addresses_by_network.values()),
                "asns": self.asns,
                "rack_power_kw": {k: round(v, 3) for k, v in sorted(self.rack_power_kw.items())},
                "power_kw": round(sum(self.rack_power_kw.values()), 3),
            },
            "stable": self.stable,
            "changed": self.changed,
        }


def _compare(
    what: str, old: set[tuple[object, ...]], new: set[tuple[object, ...]], out: list[str]
) -> None:
    for row in sorted(old - new, key=str):
        out.append(f"{what} of phase <= A no longer planned: {','.join(map(str, row))}")
    for row in sorted(new - old, key=str):
        out.append(f"{what} of phase <= A differs in the later plan: {','.join(map(str, row))}")


def diff_phases(site: Site, plan_a: Plan, plan_b: Plan) -> PhaseDiff:
    a, b = plan_a.phase, plan_b.phase
    assert a is not None and b is not None
    d = PhaseDiff(a, b)
    for dev in site.devices.values():
        if a < dev.phase <= b:
            d.devices.append(dev.name)
            d.devices_by_model[dev.model] += 1
            d.rack_power_kw[dev.rack] = d.rack_power_kw.get(dev.rack, 0.0) + site.catalog.power_kw(
                dev.model
            )
    for link in plan_b.links:
        if link.phase > a:
            d.links_by_network[link.network] += 1
    for addr in plan_b.addresses:
        if addr.phase > a:
            d.addresses_by_network[addr.network] += 1
    d.asns = sum(1 for x in plan_b.asns if x.phase > a)
    _compare(
        "link",
        {x.row() for x in plan_a.links},
        {x.row() for x in plan_b.links if x.phase <= a},
        d.changed,
    )
    _compare(
        "address",
        {x.row() for x in plan_a.addresses},
        {x.row() for x in plan_b.addresses if x.phase <= a},
        d.changed,
    )
    _compare(
        "ASN",
        {(x.device, x.asn) for x in plan_a.asns},
        {(x.device, x.asn) for x in plan_b.asns if x.phase <= a},
        d.changed,
    )
    return d


@dataclass
class LockDiff:
    """The plan up to B (the inventory alone) set against the lock of what is built."""

    lock: Lock
    check: LockCheck

    @property
    def stable(self) -> bool:
        return self.check.stable

    def lines(self) -> list[str]:
        c, lk = self.check, self.lock
        out = []
        if c.stable:
            out.append(
                f"  locked phases unchanged: {c.addresses:,} addresses, {c.asns:,} ASNs, "
                f"{c.links:,} links identical to {lk.path}"
            )
        else:
            out.append(f"  CHANGED against {lk.path} (phases up to {lk.phase}, {len(c.changes)}):")
            out.extend(f"    {x}" for x in c.changes[:200])
        out.extend(f"  released: {dev} ({why})" for dev, why in c.released)
        return out

    def to_dict(self) -> dict[str, object]:
        c = self.check
        return {
            "path": self.lock.path,
            "phase": self.lock.phase,
            "stable": c.stable,
            "identical": {"addresses": c.addresses, "asns": c.asns, "links": c.links},
            "changed": c.changes,
            "released": [{"device": d, "why": why} for d, why in c.released],
        }


def diff_lock(site: Site, to_phase: int) -> LockDiff | None:
    """``site``'s plan up to ``to_phase`` (and at least the locked phases) against its lock;
    None without a lock. Built without the lock, so what would move shows as it would."""
    if site.lock is None:
        return None
    plan = build_plan(site, max(to_phase, site.lock.phase), honour_lock=False)
    return LockDiff(site.lock, compare_lock(site, plan, site.lock))
