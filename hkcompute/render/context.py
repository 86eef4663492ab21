"""Build each host's template context from the site and its plan (pure: no I/O).

Keys every template may use: ``site`` {name, domain, timezone, inventory_hash}, ``host``
{name, fqdn, role, model, vendor, rack, hall, phase, cluster, unit, tenant}, ``services``
{dns, ntp: [addresses], prometheus_host}, ``ssh`` {allow_users}, ``hosts_file``
[{address, names}], ``interfaces`` [{name, network, address, mtu, mac, routes, policy, dns,
infiniband_mode}].
``qos`` (every host of a lossless fabric: the site's lossless-RoCE policy, ``qos_context``;
None elsewhere). Role-specific: ``accel`` (GPU/NPU nodes), ``bgp``/``ports``/``loopback``
(routing switches), ``sm`` (subnet manager hosts), ``dhcp``/``dns``/``ntp``/``prometheus``
(services host), ``slurm`` (controller and nodes).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

from hkcompute import schema as S
from hkcompute.checks.guids import tenant_partitions
from hkcompute.model import Device, Site
from hkcompute.plan.addressing import DIE_IF
from hkcompute.plan.assign import assignments_of
from hkcompute.plan.records import Address, Link, Plan
from hkcompute.plan.topology import build_topology
from hkcompute.render.slurm import slurm_context

MTU = {"compute": 9000, "storage": 9000, "inband": 1500}
HOST_NETWORKS = ("inband", "storage", "compute")
RAIL_TABLE_BASE = 100  # policy-routing table of rail r is 100 + r


@cache
def _iface(address: str) -> tuple[str, str, str]:
    """(ip, network, netmask) of 'a.b.c.d/len', parsed once per distinct address: the plan
    hands the same strings to many hosts' contexts (a leaf's gateway to 31 nodes). Canonical
    IPv4 (what the plan writes) is done in integers; anything else goes to ``ipaddress``."""
    ip, sep, plen = address.partition("/")
    parts = ip.split(".")
    if (
        sep
        and len(parts) == 4
        and plen.isascii()
        and plen.isdigit()
        and int(plen) <= 32
        and str(int(plen)) == plen
        and all(p.isascii() and p.isdigit() and str(int(p)) == p and int(p) < 256 for p in parts)
    ):
        n = (int(parts[0]) << 24) | (int(parts[1]) << 16) | (int(parts[2]) << 8) | int(parts[3])
        bits = int(plen)
        mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
        return ip, f"{_dotted(n & mask)}/{bits}", _dotted(mask)
    i = ipaddress.ip_interface(address)
    return str(i.ip), str(i.network), str(i.netmask)


def _dotted(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@dataclass
class Index:
    """The plan, indexed for per-host lookups (built once; O(links + addresses))."""

    by_device: dict[str, list[Address]] = field(default_factory=lambda: defaultdict(list))
    links_of: dict[str, list[Link]] = field(default_factory=lambda: defaultdict(list))
    addresses: list[Address] = field(default_factory=list)
    asn: dict[str, int] = field(default_factory=dict)
    # switch address per subnet: a node's gateway is its leaf's address in the node's subnet
    gateway: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, site: Site, plan: Plan, phase: int | None, link_ends: Collection[str] | None = None
    ) -> Index:
        """With ``link_ends``, ``links_of`` holds the links of those devices only (the routed
        switches: the only contexts that read links; a subnet-managed fabric's are two thirds
        of a site's 200,000 links, and indexing them all was the biggest part of this index)."""
        # Indexing, not attribute names, and bound methods: 150,000 addresses and 200,000
        # links on a full site, and every render (a one-rack one too) builds this index.
        ix = cls()
        addrs = plan.addresses_upto(phase)
        by_device = ix.by_device
        for a in addrs:
            by_device[a[0]].append(a)
        ix.addresses = addrs
        gateway = ix.gateway
        for a in addrs:  # in the plan's order: the first switch address of a subnet wins
            if a[2] == "compute":
                dev = site.devices.get(a[0])
                if dev is not None and dev.is_switch:
                    gateway.setdefault(_iface(a[3])[1], a[3].split("/")[0])
        links_of = ix.links_of
        if link_ends is None:
            for link in plan.links_upto(phase):
                links_of[link[0]].append(link)
                links_of[link[2]].append(link)
        else:
            for link in plan.links_upto(phase):
                if link[0] in link_ends:
                    links_of[link[0]].append(link)
                if link[2] in link_ends:
                    links_of[link[2]].append(link)
        ix.asn = {x.device: x.asn for x in plan.asns_upto(phase)}
        return ix

    @cached_property
    def addr_at(self) -> dict[tuple[str, str], Address]:
        """(device, interface) -> address; made on first use (only switch contexts look
        addresses up by port, and a render that builds none should not pay for 150,000)."""
        return {(a[0], a[1]): a for a in self.addresses}

    def primary(self, device: str, network: str = "inband") -> str | None:
        addrs = sorted(
            (a for a in self.by_device.get(device, ()) if a.network == network),
            key=lambda a: a.interface,
        )
        return addrs[0].address.split("/")[0] if addrs else None


def is_routed_switch(site: Site, d: Device) -> bool:
    """A switch that routes its fabric (a leaf, spine or core of a BGP fabric): its context
    is a ``switch`` one (ports, loopback, BGP sessions)."""
    if d.role not in ("leaf", "spine", "core"):
        return False
    kind = site.fabric_of(d.cluster)
    return kind is not None and kind.routed


class ContextBuilder:
    def __init__(self, site: Site, plan: Plan, phase: int | None) -> None:
        self.site = site
        self.plan = plan
        self.phase = phase
        # the switches that route their fabric: what the index keeps links for, and what
        # ``renderer.Renderer.kind`` tells apart
        self.routed_switches = frozenset(
            d.name for d in site.devices_upto(phase) if is_routed_switch(site, d)
        )
        self.ix = Index.build(site, plan, phase, link_ends=self.routed_switches)
        # which services host runs what: decided by the plan (``plan.assign``)
        self.assignments = assignments_of(site, plan, phase)
        self.services = self.assignments.service_hosts(site)
        self.domain = site.info.domain
        dns_hosts = self.services.get("dns", [])
        ntp_hosts = self.services.get("ntp", [])
        self.dns = [a for a in (self.ix.primary(d.name) for d in dns_hosts) if a]
        self.ntp = [a for a in (self.ix.primary(d.name) for d in ntp_hosts) if a]
        prom = self.services.get("prometheus", [])
        self.prometheus_host = prom[0].name if prom else ""
        ctl = self.services.get("slurmctld", [])
        self.controller = (ctl[0].name, self.ix.primary(ctl[0].name) or "") if ctl else ("", "")
        self._slurm: dict[str, Any] | None = None
        self._zones: list[dict[str, Any]] | None = None
        self.hosts_common = self._common_hosts()
        # The same for every host: one object each, shared by reference, so a render key
        # hashes them once, not once per host (``shared_parts``).
        self._site_ctx = {
            "name": site.info.name,
            "domain": self.domain,
            "timezone": site.info.timezone,
            "inventory_hash": site.inventory_hash,
        }
        self._services_ctx = {
            "dns": self.dns,
            "ntp": self.ntp,
            "prometheus_host": self.prometheus_host,
        }
        self._ssh_ctx = {"allow_users": list(site.info.admin_users)}
        self._qos_ctx = qos_context(site.qos)

    @property
    def shared_parts(self) -> dict[str, dict[str, Any]]:
        """Top-level context entries that are one object for every host."""
        return {
            "site": self._site_ctx,
            "services": self._services_ctx,
            "ssh": self._ssh_ctx,
            # shared here so that the render's fingerprints (``deps``) see a change of policy
            "qos": self._qos_ctx,
        }

    # --- shared pieces ---------------------------------------------------------------------
    def base(self, d: Device) -> dict[str, Any]:
        server = self.site.catalog.servers.get(d.model)
        acc, _n, _name = self.site.accelerators_of(d)
        vendor = acc.vendor if acc else (server.vendor if server else "")
        return {
            "site": self._site_ctx,
            "host": {
                "name": d.name,
                "fqdn": f"{d.name}.{self.domain}",
                "role": d.role.value,
                "model": d.model,
                "vendor": vendor,
                "rack": d.rack,
                "hall": d.hall,
                "phase": d.phase,
                "cluster": d.cluster,
                "unit": d.unit,
                "tenant": d.tenant,
            },
            "services": self._services_ctx,
            "ssh": self._ssh_ctx,
            # The site's lossless-RoCE policy on a host of a lossless fabric; None elsewhere.
            "qos": self._qos_ctx if self.site.qos_of(d.cluster) is not None else None,
        }

    def _common_hosts(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for kind in ("dns", "ntp", "slurmctld", "prometheus"):
            for d in self.services.get(kind, []):
                addr = self.ix.primary(d.name)
                if addr and d.name not in seen:
                    seen[d.name] = {"address": addr, "names": [f"{d.name}.{self.domain}", d.name]}
        return [seen[k] for k in sorted(seen)]

    def hosts_file(self, d: Device) -> list[dict[str, Any]]:
        # Slurm needs a node's own name to resolve to its real address, not 127.0.1.1.
        own = self.ix.primary(d.name)
        entries = [e for e in self.hosts_common if e["names"][1] != d.name]
        if own:
            entries = [{"address": own, "names": [f"{d.name}.{self.domain}", d.name]}, *entries]
        return entries

    def interfaces(self, d: Device) -> list[dict[str, Any]]:
        out = []
        first_inband = True
        # The compute MTU is the fabric's: jumbo Ethernet, or IPoIB's limit for its mode.
        kind = self.site.fabric_of(d.cluster)
        mtus = dict(MTU, compute=kind.host_mtu) if kind is not None else MTU
        # IPoIB on a subnet-managed fabric: its mode (netplan's ``infiniband-mode``).
        ipoib_mode = (
            kind.ipoib.mode
            if kind is not None and kind.has_subnet_manager and kind.ipoib is not None
            else None
        )
        # An accelerator with integrated ports (Ascend) owns its compute addresses: hccn_tool
        # sets them from hccn.conf; the OS has no interface for them.
        integrated = self.site.catalog.nics_integrated(d.model)
        for a in sorted(self.ix.by_device.get(d.name, ()), key=lambda a: a.interface):
            if a.network not in HOST_NETWORKS or a.interface.startswith(DIE_IF):
                continue  # a die's address is the accelerator's (hccn.conf), not the OS's
            if integrated and a.network == "compute":
                continue
            nic: dict[str, Any] = {
                "name": a.interface,
                "network": a.network,
                "address": a.address,
                "mtu": mtus.get(a.network, 1500),
                "mac": None,
                "routes": [],
                "policy": [],
                "dns": False,
                "infiniband_mode": None,
            }
            if a.network == "inband":
                nic["mac"] = d.mac if first_inband else None
                nic["dns"] = first_inband
                first_inband = False
            if a.network == "compute":
                if ipoib_mode is not None:
                    nic["infiniband_mode"] = ipoib_mode
                gw = self.ix.gateway.get(_iface(a.address)[1])
                pool = self.site.networks.pools.get("compute")
                if gw and pool is not None:
                    # Rail r reaches the rest of the fabric through its own leaf only: a
                    # policy table per rail, chosen by source address, so eight NICs never
                    # fight over one route to the compute pool in the main table.
                    rail = int(a.interface[3:]) if a.interface[3:].isdigit() else 0
                    table = RAIL_TABLE_BASE + rail
                    nic["routes"] = [{"to": pool.cidr, "via": gw, "table": table}]
                    nic["policy"] = [{"from": a.address.split("/")[0], "table": table}]
            out.append(nic)
        return out

    # --- role contexts ---------------------------------------------------------------------
    def node(self, d: Device) -> dict[str, Any]:
        ctx = self.base(d)
        ctx["interfaces"] = self.interfaces(d)
        ctx["hosts_file"] = self.hosts_file(d)
        acc, count, acc_name = self.site.accelerators_of(d)
        if acc is not None:
            # One entry per device port hccn_tool configures: the node's rail ports, or each
            # die's address where dies share a port (npu<N>); the gateway is the leaf's.
            nics: list[dict[str, Any]] = []
            for a in self.ix.by_device.get(d.name, ()):
                if a.network != "compute":
                    continue
                name = a.interface
                if name.startswith(DIE_IF) and name[len(DIE_IF) :].isdigit():
                    index = int(name[len(DIE_IF) :])
                elif name.startswith("fab") and name[3:].isdigit():
                    index = int(name[3:])
                else:
                    continue
                ip, net, mask = _iface(a.address)
                nics.append(
                    {
                        "index": index,
                        "address": ip,
                        "netmask": mask,
                        "gateway": self.ix.gateway.get(net),
                    }
                )
            nics.sort(key=lambda n: n["index"])
            ctx["accel"] = {
                "vendor": acc.vendor,
                "model": acc_name,
                "count": count,
                "gres": acc.gres,
                "device_prefix": acc.device_prefix,
                "power_limit_w": int(acc.power_w),
                "nics": nics,
            }
        return ctx

    def switch(self, d: Device) -> dict[str, Any]:
        ctx = self.base(d)
        lo = self.ix.addr_at.get((d.name, "lo"))
        ctx["loopback"] = lo.address if lo else None
        ports = []
        peers = []
        for link in sorted(
            self.ix.links_of.get(d.name, ()),
            key=lambda x: _port_key(x.a_port if x.a == d.name else x.b_port),
        ):
            mine, theirs, their_port = (
                (link.a_port, link.b, link.b_port)
                if link.a == d.name
                else (link.b_port, link.a, link.a_port)
            )
            a = self.ix.addr_at.get((d.name, mine))
            if a is None or a.network != "p2p":
                continue
            ports.append(
                {
                    "name": mine,
                    "description": f"{link.kind} to {theirs} {their_port}",
                    "address": a.address,
                }
            )
            peer = self.ix.addr_at.get((theirs, their_port))
            peer_asn = self.ix.asn.get(theirs)
            if peer is not None and peer_asn is not None:
                peers.append(
                    {
                        "address": peer.address.split("/")[0],
                        "asn": peer_asn,
                        "interface": mine,
                        "description": theirs,
                    }
                )
        networks = [lo.address] if lo else []
        for a in sorted(self.ix.by_device.get(d.name, ()), key=lambda a: a.interface):
            if a.network == "compute":
                networks.append(_iface(a.address)[1])
            if a.network == "compute" and a.interface not in [p["name"] for p in ports]:
                ports.append(
                    {
                        "name": a.interface,
                        "description": "GPU nodes of this leaf",
                        "address": a.address,
                    }
                )
        ctx["ports"] = ports
        # A leaf's node-facing ports, in the VLAN of its rail gateway (a Linux NOS bridges
        # them; a vendor OS puts each in the VLAN): the node-leaf links of the plan.
        svi = next((p["name"] for p in ports if p["name"].startswith("vlan")), None)
        access = []
        for link in self.ix.links_of.get(d.name, ()):
            if link.kind != "node-leaf" or svi is None:
                continue
            mine, theirs, their_port = (
                (link.a_port, link.b, link.b_port)
                if link.a == d.name
                else (link.b_port, link.a, link.a_port)
            )
            access.append(
                {"name": mine, "description": f"{theirs} {their_port}", "vlan": int(svi[4:])}
            )
        ctx["access_ports"] = sorted(access, key=lambda p: _port_key(p["name"]))
        sw = self.site.catalog.switches.get(d.model)
        ctx["port_speed_gbps"] = int(sw.speed_gbps) if sw is not None else None
        kind = self.site.fabric_of(d.cluster)
        ctx["fabric"] = {"mtu": kind.mtu, "lossless": kind.lossless} if kind is not None else None
        ctx["bgp"] = {
            "asn": self.ix.asn.get(d.name),
            "peers": peers,
            "networks": networks,
            "multipath": 64,
            "transit": d.role != "leaf",
        }
        return ctx

    def subnet_manager(self, d: Device, priority: int) -> dict[str, Any]:
        ctx = self.base(d)
        c = self.site.cluster(d.cluster or "")
        assert c is not None
        nodes = 0
        switches = 0
        for dev in self.site.devices_upto(self.phase):
            if dev.cluster != c.name:
                continue
            if dev.role == "gpu_node":
                nodes += 1
            elif dev.role in ("leaf", "spine", "core"):
                switches += 1
        # One partition per tenant, its members by port GUID (every HCA port of its nodes in
        # the cluster, from the GUID map); one with a GUID not recorded yet is left out
        # (validate's HK421), its key kept, and its nodes stay in the default partition.
        parts = [
            {
                "name": p.tenant,
                "pkey": p.pkey,
                "members": list(p.nodes),
                "guids": list(p.guids),
                "ports": len(p.ports),
                "missing": len(p.missing),
            }
            for p in tenant_partitions(self.site, self.plan, self.phase, c.name)
        ]
        # The IPoIB broadcast group's MTU, as OpenSM's ``mtu=`` code (IBTA: 1 = 256 bytes ...
        # 5 = 4096): a datagram-mode interface carries at most the group's MTU less the
        # 4-byte IPoIB header, so OpenSM's default (4, 2048 bytes) would hold 4092 to 2044.
        kind = self.site.fabric_of(c.name)
        ipoib = kind.ipoib if kind is not None else None
        need = ipoib.mtu + 4 if ipoib is not None and ipoib.mode == "datagram" else 4096
        ib_mtu = next((i for i in range(1, 6) if 128 << i >= need), 5)
        ctx["sm"] = {
            "cluster": c.name,
            "priority": priority,
            "switches": switches,
            "nodes": nodes,
            "core": c.core is not None,
            "ipoib_mtu": ib_mtu,
            "partitions": [p for p in parts if not p["missing"]],
            "left_out": [p for p in parts if p["missing"]],
        }
        return ctx

    def slurm(self) -> dict[str, Any]:
        if self._slurm is None:
            topology = self.plan.topology or build_topology(self.site)
            self._slurm = slurm_context(self.site, self.phase, self.controller, topology)
        return self._slurm

    def services_host(self, d: Device, runs: Iterable[str]) -> dict[str, Any]:
        ctx = self.node(d)
        runs = set(runs)
        if "dns" in runs:
            ctx["dns"] = self.dns_context(d)
        if "ntp" in runs:
            ctx["ntp"] = {"upstream": list(self.site.info.ntp_upstream), "allow": self.allow()}
        if "dhcp" in runs:
            ctx["dhcp"] = self.dhcp_context(d)
        if "prometheus" in runs:
            ctx["prometheus"] = self.prometheus_context()
            ctx["alerts"] = {"gpu_temp_c": 85, "npu_temp_c": 90, "flaps_per_15m": 3}
        return ctx

    def allow(self) -> list[str]:
        """The networks a services host answers (DNS, NTP)."""
        pools = self.site.networks.pools
        return [pools[n].cidr for n in ("inband", "storage") if n in pools]

    def dns_context(self, d: Device) -> dict[str, Any]:
        # What it reads is what ``deps.Fingerprints.dns`` hashes: the zones (every device's
        # name and addresses), the server's name, the site's domain and networks.
        # The zones are the same on every DNS host (only the SOA's primary differs, and the
        # template puts that in): built once, shared by reference.
        if self._zones is None:
            self._zones = self._dns_zones()
        return {
            "primary": f"{d.name}.{self.domain}",
            "zones": self._zones,
            "allow": [*self.allow(), "127.0.0.1"],
        }

    def _dns_zones(self) -> list[dict[str, Any]]:
        forward: list[dict[str, str]] = []
        reverse: dict[str, list[dict[str, str]]] = defaultdict(list)
        for dev in self.site.devices_upto(self.phase):
            for a in sorted(self.ix.by_device.get(dev.name, ()), key=lambda a: a.interface):
                if a.network == "inband":
                    name = (
                        dev.name
                        if a.interface in ("mgmt0", "mgmt")
                        else f"{dev.name}-{a.interface}"
                    )
                elif a.network in ("oob", "storage"):
                    name = f"{dev.name}-{a.interface}"
                elif a.network == "loopback":
                    name = f"{dev.name}-lo"
                else:
                    continue
                ip = _iface(a.address)[0]
                forward.append({"name": name, "type": "A", "value": ip})
                octets = ip.split(".")
                zone = f"{octets[1]}.{octets[0]}.in-addr.arpa"
                reverse[zone].append(
                    {
                        "name": f"{octets[3]}.{octets[2]}",
                        "type": "PTR",
                        "value": f"{name}.{self.domain}.",
                    }
                )
        forward.sort(key=lambda r: r["name"])
        zones = [_zone(self.domain, f"db.{self.domain}", forward)]
        for zname in sorted(reverse):
            recs = sorted(
                reverse[zname], key=lambda r: tuple(int(x) for x in r["name"].split(".")[::-1])
            )
            zones.append(_zone(zname, f"db.{zname}", recs))
        return zones

    def dhcp_context(self, d: Device) -> dict[str, Any]:
        pools = self.site.networks.pools
        ranges = []
        for net in ("inband", "oob"):
            if net not in pools:
                continue
            n = ipaddress.ip_network(pools[net].cidr)
            ranges.append(
                {
                    "tag": net,
                    "network": str(n),
                    "start": str(n.network_address),
                    "netmask": str(n.netmask),
                    "router": None,
                }
            )
        hosts = []
        for dev in self.site.devices_upto(self.phase):
            if dev.mac:
                addr = self.ix.primary(dev.name)
                if addr:
                    hosts.append({"mac": dev.mac.lower(), "address": addr, "name": dev.name})
            if dev.bmc is not None and dev.bmc.mac:
                addr = self.ix.primary(dev.name, "oob")
                if addr:
                    hosts.append(
                        {"mac": dev.bmc.mac.lower(), "address": addr, "name": f"{dev.name}-bmc"}
                    )
        ifaces = [nic["name"] for nic in self.interfaces(d) if nic["network"] == "inband"]
        return {
            "interfaces": ifaces or ["mgmt0"],
            "ranges": ranges,
            "hosts": sorted(hosts, key=lambda h: h["name"]),
            "lease_max": max(1000, len(hosts) * 2),
        }

    def prometheus_context(self) -> dict[str, Any]:
        jobs: dict[str, dict[tuple[tuple[str, str], ...], list[str]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for dev in self.site.devices_upto(self.phase):
            labels = (("cluster", dev.cluster or "site"), ("role", dev.role.value))
            fqdn = f"{dev.name}.{self.domain}"
            if dev.role in ("gpu_node", "service", "storage"):
                jobs["node"][labels].append(f"{fqdn}:9100")
            # Exporters are platform data: the accelerator's, and a routing switch's OS's.
            acc, _n, _m = self.site.accelerators_of(dev)
            exporter = acc.exporter if acc is not None else None
            if dev.name in self.routed_switches:
                nos = self.site.catalog.os_of(dev.model)
                exporter = nos.exporter if nos is not None and nos.linux else None
            if exporter is not None:
                jobs[exporter.job][labels].append(f"{fqdn}:{exporter.port}")
        out = []
        for name in sorted(jobs):
            groups = [
                {"targets": sorted(t), "labels": dict(k)} for k, t in sorted(jobs[name].items())
            ]
            out.append({"name": name, "groups": groups})
        return {"jobs": out}


def qos_context(q: S.Qos) -> dict[str, Any]:
    """The ``qos`` context key: the policy's figures, each class's ToS byte (DSCP << 2, what
    RDMA-CM takes) and the PFC priorities as the 8-entry 0/1 vector host tools take
    (``mlnx_qos --pfc 0,0,0,1,0,0,0,0``)."""
    return {
        "roce": {"priority": q.roce.priority, "dscp": q.roce.dscp, "tos": q.roce.tos},
        "cnp": {"priority": q.cnp.priority, "dscp": q.cnp.dscp, "tos": q.cnp.tos},
        "pfc": {
            "priorities": sorted(set(q.pfc.priorities)),
            "vector": [int(p in q.pfc.priorities) for p in range(8)],
            "headroom_kb": q.pfc.headroom_kb,
        },
        "ecn": {
            "min_kb": q.ecn.min_kb,
            "max_kb": q.ecn.max_kb,
            "probability": q.ecn.probability,
        },
    }


@cache
def _port_key(port: str) -> tuple[str, int]:  # a few hundred distinct names on a site
    digits = "".join(ch for ch in port if ch.isdigit())
    return (port.rstrip("0123456789"), int(digits) if digits else 0)


def _zone(name: str, file: str, records: list[dict[str, str]]) -> dict[str, Any]:
    # The serial follows the content, not the clock: same inventory, same bytes.
    digest = hashlib.sha256(repr(records).encode()).hexdigest()
    serial = int(digest[:8], 16) % 2_000_000_000 + 1
    return {"name": name, "file": file, "records": records, "serial": serial}
