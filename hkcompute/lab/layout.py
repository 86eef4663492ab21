"""What the container twin of a phase looks like (pure: no Docker here).

* one container per managed host (servers and routing fabric switches), at most MAX_HOSTS;
* a management network on the site's in-band pool: servers at their planned in-band
  address, switches at free addresses from the top of the pool, the engine's bridge at the
  highest free one;
* one network per planned leaf-spine (and spine-core) link and one per leaf segment (the
  leaf's ``vlan100`` and its nodes' rail NICs). These use placeholder subnets from
  LAB_FABRIC_SUPERNET: inside each container the interface is renamed to its planned port
  and given its planned address, so FRR and the nodes see exactly what the plan says.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from hkcompute.deploy.ansible_inventory import managed_devices
from hkcompute.model import Site
from hkcompute.plan.records import Plan

MAX_HOSTS = 24
LAB_FABRIC_SUPERNET = "172.29.0.0/16"


@dataclass(frozen=True)
class Port:
    """One fabric interface of a container: docker attaches it on ``network`` with
    ``placeholder``; the lab renames it to ``name`` and sets ``address``."""

    network: str
    placeholder: str
    name: str
    address: str


@dataclass
class HostSpec:
    name: str
    role: str
    image: str
    mgmt_address: str
    mgmt_iface: str
    ports: list[Port] = field(default_factory=list)
    # (from address, table, destination, via): a node's per-rail policy routes
    rail_routes: list[tuple[str, int, str, str]] = field(default_factory=list)

    @property
    def is_switch(self) -> bool:
        return self.role in ("leaf", "spine", "core")


@dataclass
class NetworkSpec:
    name: str
    subnet: str
    gateway: str
    kind: str  # mgmt, link, segment


@dataclass
class Layout:
    site: str
    phase: int
    hosts: list[HostSpec]
    networks: list[NetworkSpec]
    dns: list[str]
    skipped: list[str] = field(default_factory=list)

    def host(self, name: str) -> HostSpec:
        return next(h for h in self.hosts if h.name == name)


def prefix(site: str) -> str:
    return f"hk-{site}"


def _image_for(role: str) -> str:
    if role in ("leaf", "spine", "core"):
        return "switch"
    if role == "service":
        return "services"
    return "node"


def build_layout(site: Site, plan: Plan, phase: int, max_hosts: int = MAX_HOSTS) -> Layout:
    from hkcompute.lab.docker_engine import LabError

    devices = managed_devices(site, phase)
    skipped = []
    chosen = []
    for d in devices:
        kind = site.fabric_of(d.cluster)
        if d.role in ("leaf", "spine", "core") and (kind is None or not kind.routed):
            skipped.append(d.name)  # a subnet-managed fabric's switch has no container twin
            continue
        chosen.append(d)
    if len(chosen) > max_hosts:
        raise LabError(
            f"phase {phase} of {site.info.name} has {len(chosen):,} hosts; the lab runs at "
            f"most {max_hosts} containers on one machine. Use a small site such as "
            "inventories/lab."
        )
    if "inband" not in site.networks.pools:
        raise LabError("the lab needs an 'inband' pool for its management network")
    pool = ipaddress.ip_network(site.networks.pools["inband"].cidr)
    addrs = plan.addresses_upto(phase)
    used = {ipaddress.ip_interface(a.address).ip for a in addrs if a.network == "inband"}
    primary: dict[str, str] = {}
    for a in sorted(addrs, key=lambda a: (a.device, a.interface)):
        if a.network == "inband":
            primary.setdefault(a.device, a.address.split("/")[0])
    free = (ip for ip in reversed(list(pool.hosts())) if ip not in used)
    try:
        gateway = str(next(free))
    except StopIteration:
        raise LabError(f"the in-band pool {pool} has no free address for the lab") from None
    p = prefix(site.info.name)
    # The engine publishes ports on a container's gateway network, which it picks by network
    # name: "0-mgmt" sorts before the fabric's "l..." and "s..." networks.
    networks = [NetworkSpec(f"{p}-0-mgmt", str(pool), gateway, "mgmt")]
    hosts: dict[str, HostSpec] = {}
    for d in chosen:
        if d.name in primary:
            mgmt, iface = primary[d.name], "mgmt0"
        else:
            try:
                mgmt, iface = str(next(free)), "mgmt0"
            except StopIteration:
                raise LabError(f"the in-band pool {pool} is too small for the lab") from None
        hosts[d.name] = HostSpec(d.name, d.role, _image_for(d.role), mgmt, iface)

    addr_at = {(a.device, a.interface): a.address for a in addrs}
    subnets: Iterator[ipaddress.IPv4Network] = ipaddress.IPv4Network(LAB_FABRIC_SUPERNET).subnets(
        new_prefix=24
    )
    links = [
        x
        for x in plan.links_upto(phase)
        if x.kind in ("leaf-spine", "spine-core") and x.a in hosts and x.b in hosts
    ]
    for i, link in enumerate(sorted(links, key=lambda x: x.key)):
        net = next(subnets)
        link_ips = list(net.hosts())
        name = f"{p}-l{i:03d}"
        networks.append(NetworkSpec(name, str(net), str(link_ips[0]), "link"))
        for j, (dev, port) in enumerate(((link.a, link.a_port), (link.b, link.b_port))):
            address = addr_at.get((dev, port))
            if address is None:
                continue
            hosts[dev].ports.append(Port(name, str(link_ips[j + 1]), port, address))
    # leaf segments: the leaf's vlan100 and every node NIC cabled to that leaf
    seg_members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for link in plan.links_upto(phase):
        if link.kind == "node-leaf" and link.a in hosts and link.b in hosts:
            seg_members[link.b].append((link.a, link.a_port))
    pool_c = site.networks.pools.get("compute")
    for leaf in sorted(seg_members):
        svi = addr_at.get((leaf, "vlan100"))
        if svi is None:
            continue
        net = next(subnets)
        hostsn: Iterator[ipaddress.IPv4Address] = iter(list(net.hosts()))
        name = f"{p}-s-{leaf}"
        networks.append(NetworkSpec(name, str(net), str(next(hostsn)), "segment"))
        hosts[leaf].ports.append(Port(name, str(next(hostsn)), "vlan100", svi))
        gw = svi.split("/")[0]
        for node, port in sorted(seg_members[leaf]):
            address = addr_at.get((node, port))
            if address is None:
                continue
            hosts[node].ports.append(Port(name, str(next(hostsn)), port, address))
            if pool_c is not None and port.startswith("fab") and port[3:].isdigit():
                hosts[node].rail_routes.append(
                    (address.split("/")[0], 100 + int(port[3:]), pool_c.cidr, gw)
                )
    dns = [primary[h.name] for h in hosts.values() if h.role == "service" and h.name in primary]
    return Layout(site.info.name, phase, list(hosts.values()), networks, dns[:1], skipped)


def interface_script(h: HostSpec) -> str:
    """Shell run inside a container (idempotent, also after a restart, when the engine has
    re-created ethN interfaces with their placeholder addresses)."""
    lines = ["set -e"]
    for port in [Port("", h.mgmt_address, h.mgmt_iface, ""), *h.ports]:
        lines.append(
            f"dev=$(ip -o -4 addr show | awk '$4 ~ /^{port.placeholder}\\// {{print $2}}')"
        )
        # Print what the engine called it: disconnecting a network later needs that name.
        lines.append(
            f'if [ -n "$dev" ] && [ "$dev" != "{port.name}" ]; then '
            f'ip link set "$dev" down; ip link set "$dev" name {port.name}; '
            f'echo "renamed $dev {port.name}"; fi'
        )
        lines.append(f"ip link set {port.name} up")
        if port.address:
            lines.append(f"ip -4 addr flush dev {port.name}")
            lines.append(f"ip addr add {port.address} dev {port.name}")
    # Nothing leaves the machine: the lab talks to itself only.
    lines.append("ip route del default 2>/dev/null || true")
    for src, table, dst, via in h.rail_routes:
        lines.append(f"ip rule del from {src} table {table} 2>/dev/null || true")
        lines.append(f"ip rule add from {src} table {table}")
        lines.append(f"ip route replace {dst} via {via} table {table}")
    return "\n".join(lines) + "\n"
