"""ASNs for routed (BGP) fabrics: eBGP underlay per RFC 7938.

One ASN per leaf (a unit takes a block of ``rails`` from the leaf range), one per spine group
(all spines of a group share it, so a path never climbs back through another spine of the same
group: RFC 7938 section 5.2.1), one per cluster core. Explicit Ethernet switches with role
leaf, spine or core take one each. Owners are walked in allocation order (``plan.order``),
so later phases never change an earlier ASN. Subnet-managed fabrics get none.
"""

from __future__ import annotations

from hkcompute.findings import Finding, make
from hkcompute.model import Device, Site
from hkcompute.plan import codes as R
from hkcompute.plan.locate import find_text
from hkcompute.plan.order import CORE, DEVICE, GROUP, UNIT, Owner
from hkcompute.plan.records import Asn
from hkcompute.plan.topology import Topology, build_topology

TIERS = ("leaf", "spine", "core")


def allocate_asns(
    site: Site, phase: int | None, owners: list[Owner], topology: Topology | None = None
) -> tuple[list[Asn], list[Finding]]:
    topo = topology or build_topology(site)
    ranges = site.networks.asn
    cursor = {t: 0 for t in TIERS}
    short: dict[str, int] = {}
    out: list[Asn] = []

    def present(d: Device | None) -> bool:
        return d is not None and (phase is None or d.phase <= phase)

    def take(tier: str, n: int) -> int | None:
        rng = ranges.get(tier)  # type: ignore[call-overload]
        first = cursor[tier]
        cursor[tier] += n
        if rng is None or rng.first + cursor[tier] - 1 > rng.last:
            short[tier] = cursor[tier]
            return None
        return int(rng.first) + first

    def give(name: str, asn: int, tier: str) -> None:
        d = site.devices.get(name)
        if d is not None and present(d):
            out.append(Asn(name, asn, tier, d.phase))

    for o in owners:
        if phase is not None and o.phase > phase:
            break
        c = o.cluster
        if o.kind == DEVICE and o.device is not None:
            d = o.device
            sw = site.catalog.switches.get(d.model)
            if d.role in TIERS and sw is not None and sw.holds_ip:
                base = take(d.role, 1)
                if base is not None:
                    give(d.name, base, d.role.value)
            continue
        kind = site.fabric_of(c.name) if c is not None else None
        if c is None or kind is None or not kind.routed:
            continue
        if o.kind == UNIT and o.unit is not None:
            base = take("leaf", c.template.rails)
            if base is not None:
                for r, name in enumerate(topo.unit(c, o.unit).leaves):
                    give(name, base + r, "leaf")
        elif o.kind == GROUP and o.group is not None:
            base = take("spine", 1)
            if base is not None:
                for name in topo.of(c).groups[o.group].spines:
                    give(name, base, "spine")
        elif o.kind == CORE and c.core is not None:
            base = take("core", 1)
            if base is not None:
                for name in topo.of(c).cores:
                    give(name, base, "core")
    findings = []
    for tier, need in sorted(short.items()):
        rng = ranges.get(tier)  # type: ignore[call-overload]
        have = 0 if rng is None else rng.last - rng.first + 1
        what = "is not defined" if rng is None else f"has {have:,}"
        findings.append(
            make(
                R.ASN_SHORT,
                f"ASN range networks.asn.{tier} {what}; the plan needs {need:,}",
                find_text(site, "asn:"),
                subject=tier,
            )
        )
    return out, findings
