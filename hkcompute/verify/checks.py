"""What to verify on each host, derived from the site, its plan and the rendered tree (pure).

Kinds: ``file`` (content hash and mode as rendered), ``service`` (running and enabled),
``port`` (listening), ``ntp`` (synchronised to a services host), ``dns`` (a services host
answers every planned name), ``bgp`` (every planned session Established), ``route`` (every
node subnet in a switch's routing table), ``ping`` (a node reaches another over the fabric).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path

from hkcompute.model import Site
from hkcompute.plan.assign import assignments_of
from hkcompute.plan.records import Plan

# Service units per role, and the ports they listen on.
SERVICE_UNITS: dict[str, list[tuple[str, int | None]]] = {
    "all": [("ssh", 22)],
    "dns": [("named", 53)],
    "dhcp": [("dnsmasq", None)],
    "ntp": [("chrony", 123)],
    "prometheus": [("prometheus", 9090)],
}


@dataclass(frozen=True, slots=True)
class Check:
    host: str
    kind: str
    target: str
    expected: str

    def label(self) -> str:
        return f"{self.kind} {self.target}"


def derive(site: Site, plan: Plan, phase: int, tree: Path, hosts: list[str]) -> list[Check]:
    """All checks for ``hosts`` (the hosts the deploy manages, or a --limit of them)."""
    chosen = set(hosts)
    checks: list[Check] = []
    manifest = json.loads((tree / "manifest.json").read_text())
    for rel, entry in sorted(manifest["files"].items()):
        _, host, path = rel.split("/", 2)
        if host in chosen:
            checks.append(Check(host, "file", "/" + path, f"{entry['sha256']} {entry['mode']}"))
    assigned = assignments_of(site, plan, phase)
    runs = {name: set(svcs) for name, svcs in assigned.runs().items()}
    addrs = plan.addresses_upto(phase)
    by_dev_if = {(a.device, a.interface): a for a in addrs}
    inband: dict[str, str] = {}
    for a in sorted(addrs, key=lambda a: (a.device, a.interface)):
        if a.network == "inband":
            inband.setdefault(a.device, a.address.split("/")[0])
    ntp_servers = sorted(
        inband[name] for name in assigned.services.get("ntp", ()) if name in inband
    )
    asn = {x.device: x.asn for x in plan.asns_upto(phase)}
    node_subnets = sorted(
        {
            str(ipaddress.ip_interface(a.address).network)
            for a in addrs
            if a.network == "compute" and a.interface == "vlan100"
        }
    )
    routed = {c.name for c in site.clusters if (k := site.fabric_of(c.name)) and k.routed}
    for name in sorted(chosen):
        found = site.devices.get(name)
        if found is None:
            continue
        d = found
        units = list(SERVICE_UNITS["all"])
        for svc in sorted(runs.get(name, ())):
            units += SERVICE_UNITS.get(svc, [])
        is_fabric = d.role in ("leaf", "spine", "core") and d.cluster in routed
        if is_fabric:  # what its network OS runs (catalogue ``services``)
            nos = site.catalog.os_of(d.model)
            units += [(x.unit, x.port) for x in nos.services] if nos is not None else []
        for unit, port in units:
            checks.append(Check(name, "service", unit, "running enabled"))
            if port is not None:
                checks.append(Check(name, "port", str(port), "listening"))
        if (
            d.role in ("gpu_node", "storage", "service")
            and ntp_servers
            and "ntp" not in runs.get(name, ())
        ):
            checks.append(Check(name, "ntp", "chrony", " ".join(ntp_servers)))
        if "dns" in runs.get(name, ()):
            for dev in sorted(inband):
                if dev in chosen or dev in site.devices:
                    checks.append(Check(name, "dns", f"{dev}.{site.info.domain}", inband[dev]))
        if is_fabric:
            for link in plan.links_upto(phase):
                if link.kind not in ("leaf-spine", "spine-core") or name not in (link.a, link.b):
                    continue
                peer, pport = (link.b, link.b_port) if link.a == name else (link.a, link.a_port)
                pa = by_dev_if.get((peer, pport))
                if pa is not None and peer in asn:
                    checks.append(
                        Check(
                            name,
                            "bgp",
                            pa.address.split("/")[0],
                            f"Established {peer} AS{asn[peer]}",
                        )
                    )
            for subnet in node_subnets:
                checks.append(Check(name, "route", subnet, "present"))
    # Fabric reachability: each node's first rail address reaches every other node's rails.
    nodes = sorted(n for n in chosen if n in site.devices and site.devices[n].role == "gpu_node")
    fab = {
        n: sorted(
            (
                a
                for a in addrs
                if a.device == n and a.network == "compute" and a.interface.startswith("fab")
            ),
            key=lambda a: a.interface,
        )
        for n in nodes
    }
    for n in nodes:
        if not fab[n]:
            continue
        src = fab[n][0].address.split("/")[0]
        for m in nodes:
            if m == n:
                continue
            for a in fab[m]:
                checks.append(Check(n, "ping", a.address.split("/")[0], f"from {src}"))
    return checks
