"""From the inputs (LLDP answers, an ibnetdiscover file) to one ``Discovery`` (no I/O: the
CLI reads the files and runs the SSH collection)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hkcompute.asbuilt import ibnetdiscover, lldp
from hkcompute.asbuilt.names import Resolver
from hkcompute.asbuilt.observed import Discovery, DiscoveryError
from hkcompute.model import Site
from hkcompute.plan import Plan
from hkcompute.plan.records import Link

ETHERNET = "ethernet"
INFINIBAND = ibnetdiscover.MEDIUM


def resolver_for(site: Site, plan: Plan) -> Resolver:
    """Devices by name, by the inventory's MACs and by every address the plan gives them."""
    macs = {d.mac: d.name for d in site.devices.values() if d.mac}
    ips = {a.address: a.device for a in plan.addresses}
    for d in site.devices.values():
        for _net, addr in d.addresses:
            ips.setdefault(addr, d.name)
    return Resolver(site.devices, macs, ips)


def medium_of(site: Site) -> Callable[[Link], str]:
    """A cluster's compute fabric is InfiniBand when its fabric kind's protocol is; every
    other link (storage, in-band, out-of-band, RoCE) is Ethernet, which LLDP sees."""
    ib = {
        c.name
        for c in site.clusters
        if (k := site.fabric_of(c.name)) is not None and k.protocol == INFINIBAND
    }

    def medium(x: Link) -> str:
        return INFINIBAND if x.network == "compute" and x.cluster in ib else ETHERNET

    return medium


def from_lldp(answers: Iterable[tuple[str, str, str]], resolver: Resolver) -> Discovery:
    """``answers``: (device, lldpcli JSON text, where it came from). A malformed answer
    raises ``DiscoveryError`` naming its source."""
    disc = Discovery()
    for device, text, source in answers:
        neighbours = lldp.parse(text, source)
        disc.collected.add((device, ETHERNET))
        disc.sightings.extend(lldp.sightings(neighbours, device, resolver, source))
    return disc


def from_ibnetdiscover(
    text: str, source: str, resolver: Resolver
) -> tuple[Discovery, dict[str, dict[str, str]]]:
    mapped = ibnetdiscover.to_inventory(ibnetdiscover.parse(text, source), resolver, source)
    return mapped.discovery, mapped.guids


__all__ = ["DiscoveryError", "from_ibnetdiscover", "from_lldp", "medium_of", "resolver_for"]
