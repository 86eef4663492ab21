"""Address allocation from the site's pools, stable across phases.

Every owner (see ``plan.order``) takes a block of fixed size from each pool, in allocation
order; a block's size depends only on the unit template, so a later phase never moves an
earlier address. Inside a block an address is a pure function of the device's place:

* ``oob`` (flat: hosts carry the pool's prefix): a unit takes one address per unit switch
  (``eth0``; leaves, storage leaves, in-band, OOB switches in that order) then one per node
  slot (``bmc``); a spine group one per spine, a core one per core, an explicit device one
  (``bmc`` for servers and storage, ``eth0`` for switches).
* ``inband`` (flat): one per node slot (``mgmt0``; a second in-band port is cabled for
  redundancy and bonded by render), one per explicit server or storage with in-band NICs.
* ``storage`` (flat): one per storage NIC (``stor0``, ``stor1``...), per node slot.
* ``loopback``: a /32 per Ethernet switch on ``lo`` (switches that hold no IP keep their slot
  unused).
* ``compute``: per unit and rail a subnet of 2^k addresses, 2^k >= node_slots + 3 (network,
  gateway, broadcast). A routed (BGP) fabric: the leaf owns the gateway (first host) on
  ``vlan100`` and advertises the subnet; node slot s gets host s + 2 on ``fab{r}``. A
  subnet-managed fabric: the same layout for IP over it, no gateway. A platform whose
  devices share a port (``devices_per_port`` k > 1) gets k addresses per port: die N of
  slot s on rail r = N // k takes host s * k + N % k + 2 on ``npu{N}``, in a subnet sized
  for node_slots * k.
* ``p2p`` (routed fabrics only): a /31 per leaf-spine and spine-core link, lower address on
  the lower tier (leaf, then spine), on the link's switch ports.

The management of a cluster's network racks (the fabric manager's appliances: ``bmc`` and
``mgmt0``; the racks' OOB switches: ``eth0`` and a loopback) is numbered from the top of the
``oob``, ``inband`` and ``loopback`` pools downwards, cluster after cluster in the order
written, whatever the phase planned: so it moves none of the blocks above, which were handed
out before it existed. An appliance's IP over the fabric is the address of the node slot it
takes (host ``node_slots + 1`` of the rail's subnet, on ``fab{p}``).

Explicit addresses in the inventory are reserved first (all phases, so planning an early phase
already steps round a later explicit one) and win: the device's own slot stays unused, and an
auto address that would hit someone else's explicit one is replaced by one taken from the top
of the pool downwards.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field

from hkcompute.findings import Finding, Location, make
from hkcompute.model import ClusterInfo, Device, Site, Unit
from hkcompute.plan import codes as R
from hkcompute.plan.fabric import MGMT_PORT, nic_count
from hkcompute.plan.locate import find_text
from hkcompute.plan.order import CORE, DEVICE, GROUP, UNIT, Owner
from hkcompute.plan.records import Address
from hkcompute.plan.topology import Topology, build_topology

LEAF_SVI = "vlan100"
LOOPBACK_IF = "lo"
FLAT = frozenset({"oob", "inband", "storage"})
POOLS = ("oob", "inband", "storage", "compute", "loopback", "p2p")
EXPLICIT_IF = {"loopback": LOOPBACK_IF, "inband": "mgmt0", "storage": "stor0"}


def fmt_ip(value: int, version: int) -> str:
    if version == 4:
        return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return str(ipaddress.IPv6Address(value))


# The compute address of each die of a platform whose dies share a port (hccn.conf's N).
DIE_IF = "npu"


def compute_subnet_size(node_slots: int) -> int:
    """Addresses per rail subnet: node slots + network + gateway + broadcast, a power of 2."""
    return 1 << math.ceil(math.log2(node_slots + 3))


@dataclass
class Pool:
    name: str
    version: int
    base: int
    size: int
    prefix: int
    cursor: int = 0
    overflow: bool = False
    wanted: int = 0
    reserved: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, cidr: str) -> Pool:
        net = ipaddress.ip_network(cidr)
        flat = name in FLAT
        bits = 32 if net.version == 4 else 128
        # A flat pool is one subnet: its network address (and broadcast, v4) are not hosts.
        start = 1 if flat and net.prefixlen < bits - 1 else 0
        return cls(
            name,
            net.version,
            int(net.network_address),
            net.num_addresses,
            net.prefixlen,
            cursor=start,
        )

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def limit(self) -> int:
        """One past the last usable offset."""
        flat = self.name in FLAT and self.prefix < self.bits - 1
        return self.size - 1 if flat and self.version == 4 else self.size

    def take(self, size: int, align: int = 1) -> int | None:
        """Offset of a new block, or None when the pool is exhausted (then it keeps counting
        what would have been needed, for the finding)."""
        start = -(-self.cursor // align) * align
        self.cursor = start + size
        self.wanted = max(self.wanted, self.cursor)
        if self.cursor > self.limit:
            self.overflow = True
            return None
        return start

    def cidr(self) -> str:
        return f"{fmt_ip(self.base, self.version)}/{self.prefix}"


class Allocator:
    def __init__(
        self, site: Site, phase: int | None, owners: list[Owner], topology: Topology | None = None
    ) -> None:
        self.site = site
        self.phase = phase
        self.owners = owners
        self.topology = topology or build_topology(site)
        self.rows: list[Address] = []
        self.findings: list[Finding] = []
        self.pools: dict[str, Pool] = {}
        self.missing: set[str] = set()
        for name in POOLS:
            spec = site.networks.pools.get(name)  # type: ignore[call-overload]
            if spec is not None:
                self.pools[name] = Pool.of(name, spec.cidr)
        self.spill: list[tuple[str, str, str, int, int]] = []
        # One past the lowest offset the network racks' management took from the top, by pool.
        self.top: dict[str, int] = {}
        self.explicit: dict[tuple[str, str], tuple[int, int]] = {}
        self.switch_kind = {n: m.kind for n, m in site.catalog.switches.items()}

    # --- helpers ---------------------------------------------------------------------------
    def present(self, d: Device | None) -> bool:
        return d is not None and (self.phase is None or d.phase <= self.phase)

    def pool(self, name: str, need: int) -> Pool | None:
        p = self.pools.get(name)
        if p is None and need > 0:
            self.missing.add(name)
        return p

    def emit(
        self,
        d: Device,
        iface: str,
        pool: Pool,
        offset: int,
        prefix: int | None = None,
        phase: int | None = None,
    ) -> None:
        value = pool.base + offset
        if prefix is None:  # flat pools: hosts of one subnet; loopbacks: host routes
            prefix = pool.prefix if pool.name in FLAT else pool.bits
        owner = pool.reserved.get(value)
        if owner is not None and owner != d.name:
            self.spill.append((d.name, iface, pool.name, phase or d.phase, prefix))
            return
        self.rows.append(
            Address(
                d.name,
                iface,
                pool.name,
                f"{fmt_ip(value, pool.version)}/{prefix}",
                phase or d.phase,
            )
        )

    def flat_one(
        self, d: Device | None, iface: str, pool: Pool | None, base: int | None, i: int
    ) -> None:
        if pool is None or base is None or d is None or not self.present(d):
            return
        if (d.name, pool.name) in self.explicit and iface == self.explicit_iface(d, pool.name):
            return  # the explicit address wins; this slot stays unused
        self.emit(d, iface, pool, base + i)

    def explicit_iface(self, d: Device, net: str) -> str:
        if net == "oob":
            return MGMT_PORT if d.model in self.switch_kind else "bmc"
        return EXPLICIT_IF[net]

    def dev(self, name: str) -> Device | None:
        d = self.site.devices.get(name)
        return d if self.present(d) else None

    def holds_ip(self, d: Device | None) -> bool:
        """A switch that holds IP addresses of its own (a loopback): an Ethernet one."""
        sw = self.site.catalog.switches.get(d.model) if d is not None else None
        return sw is not None and sw.holds_ip

    def routed(self, c: ClusterInfo) -> bool:
        """Whether the cluster's fabric routes (BGP): its leaves own the rails' gateways and
        its switch links get /31s; a subnet-managed fabric's get neither."""
        kind = self.site.fabric_of(c.name)
        return kind is not None and kind.routed

    # --- explicit addresses ----------------------------------------------------------------
    def reserve_explicit(self) -> None:
        seen: dict[tuple[int, int], str] = {}
        for d in self.site.devices.values():
            for net, text in d.addresses:
                try:
                    iface = ipaddress.ip_interface(text)
                except ValueError:
                    continue  # the schema reported it
                value, version = int(iface.ip), iface.version
                key = (version, value)
                if key in seen and seen[key] != d.name:
                    self.findings.append(
                        make(
                            R.ADDRESS_TWICE,
                            f"{iface.ip} is given to {seen[key]!r} and {d.name!r}",
                            d.loc,
                            subject=d.name,
                        )
                    )
                    continue
                seen[key] = d.name
                pool = self.pools.get(net)
                prefix = iface.network.prefixlen
                if pool is not None:
                    if "/" not in text and net != "loopback":
                        prefix = pool.prefix
                    if version != pool.version or not (pool.base <= value < pool.base + pool.size):
                        self.findings.append(
                            make(
                                R.OUTSIDE_POOL,
                                f"{d.name}: {net} address {text} is outside pool {pool.cidr()}",
                                d.loc,
                                subject=d.name,
                            )
                        )
                    else:
                        pool.reserved[value] = d.name
                self.explicit[(d.name, net)] = (value, prefix)
                if self.present(d):
                    self.rows.append(
                        Address(
                            d.name,
                            self.explicit_iface(d, net),
                            net,
                            f"{fmt_ip(value, version)}/{prefix}",
                            d.phase,
                        )
                    )

    # --- owners ------------------------------------------------------------------------------
    def run(self) -> tuple[list[Address], list[Finding], dict[str, Pool]]:
        self.reserve_explicit()
        self.network_racks()
        for o in self.owners:
            if self.phase is not None and o.phase > self.phase:
                break
            if o.kind == UNIT and o.cluster is not None and o.unit is not None:
                self.unit(o.cluster, o.unit)
            elif o.kind == GROUP and o.cluster is not None and o.group is not None:
                self.group(o.cluster, o.group)
            elif o.kind == CORE and o.cluster is not None:
                self.core(o.cluster)
            elif o.kind == DEVICE and o.device is not None:
                self.device(o.device)
        for net, top in self.top.items():
            p = self.pools[net]
            p.wanted = max(p.wanted, p.cursor + p.limit - top)
            if p.cursor > top:
                p.overflow = True
        self.place_spill()
        for name in sorted(self.missing):
            self.findings.append(
                make(
                    R.POOL_MISSING,
                    f"networks.pools.{name} is needed by the plan but not defined",
                    self.networks_loc("pools:"),
                    subject=name,
                )
            )
        for p in self.pools.values():
            if p.overflow:
                self.findings.append(
                    make(
                        R.POOL_SMALL,
                        f"pool {p.name} {p.cidr()} has {p.limit:,} usable addresses; "
                        f"the plan needs {p.wanted:,} (blocks sized for full units, aligned)",
                        self.networks_loc(p.cidr()),
                        subject=p.name,
                    )
                )
        return self.rows, self.findings, self.pools

    def from_top(self, d: Device, iface: str, net: str) -> None:
        """The next address down from the top of pool ``net`` (stepping round explicit
        ones), given to ``d`` when it is present; taken either way, so the others keep theirs
        whichever phase is planned."""
        pool = self.pool(net, 1)
        if pool is None:
            return
        off = self.top.get(net, pool.limit) - 1
        while off >= 0 and pool.base + off in pool.reserved:
            off -= 1
        self.top[net] = off
        if off < 0:
            pool.overflow = True
            return
        if self.present(d) and not (
            (d.name, net) in self.explicit and iface == self.explicit_iface(d, net)
        ):
            self.emit(d, iface, pool, off)

    def network_racks(self) -> None:
        """Every cluster's appliances (``bmc``, ``mgmt0``) and network-rack OOB switches
        (``eth0``, ``lo``), from the top of the pools down (module docstring)."""
        cat = self.site.catalog
        for c in self.site.clusters:
            ct = self.topology.of(c)
            for name in ct.managers:
                d = self.site.devices.get(name)
                srv = cat.servers.get(d.model) if d is not None else None
                if d is None or srv is None:
                    continue
                if nic_count(srv.nics, "oob"):
                    self.from_top(d, "bmc", "oob")
                if nic_count(srv.nics, "inband"):
                    self.from_top(d, "mgmt0", "inband")
            for name in ct.oob:
                d = self.site.devices.get(name)
                if d is None:
                    continue
                self.from_top(d, MGMT_PORT, "oob")
                if self.holds_ip(d):
                    self.from_top(d, LOOPBACK_IF, "loopback")

    def networks_loc(self, *needles: str) -> Location:
        return find_text(self.site, *(needles or ("networks:",)))

    def unit(self, c: ClusterInfo, unit: Unit) -> None:
        tpl = c.template
        srv = self.site.catalog.servers.get(tpl.server)
        nics = srv.nics if srv else []
        ut = self.topology.unit(c, unit)
        sw_names = ut.switches
        slots = tpl.node_slots
        nodes = [self.dev(name) for name in ut.nodes]
        switches = [self.dev(n) for n in sw_names]
        # oob: switches, then node slots
        n_oob = 1 if nic_count(nics, "oob") else 0
        pool = self.pool("oob", len(sw_names) + slots * n_oob)
        if pool is not None:
            base = pool.take(len(sw_names) + slots * n_oob)
            for i, sw in enumerate(switches):
                self.flat_one(sw, MGMT_PORT, pool, base, i)
            if n_oob:
                for s, node in enumerate(nodes):
                    self.flat_one(node, "bmc", pool, base, len(sw_names) + s)
        n_in = 1 if nic_count(nics, "inband") else 0
        pool = self.pool("inband", slots * n_in)
        if pool is not None and n_in:
            base = pool.take(slots)
            for s, node in enumerate(nodes):
                self.flat_one(node, "mgmt0", pool, base, s)
        n_st = nic_count(nics, "storage")
        pool = self.pool("storage", slots * n_st)
        if pool is not None and n_st:
            base = pool.take(slots * n_st)
            for s, node in enumerate(nodes):
                for i in range(n_st):
                    self.flat_one(node, f"stor{i}", pool, base, s * n_st + i)
        pool = self.pool("loopback", len(sw_names))
        if pool is not None:
            base = pool.take(len(sw_names))
            for i, sw in enumerate(switches):
                if self.holds_ip(sw):
                    self.flat_one(sw, LOOPBACK_IF, pool, base, i)
        self.compute(c, ut.leaves, nodes, unit.index)
        if self.routed(c):
            self.leaf_p2p(c, unit)

    def compute(
        self, c: ClusterInfo, leaves: tuple[str, ...], nodes: list[Device | None], index: int = -1
    ) -> None:
        tpl = c.template
        # Dies that share a port (an Atlas 800T A3 module's two 910C dies) each take an
        # address on the port's rail: npu<N> for die N, as hccn_tool numbers them (0..15).
        acc = self.site.catalog.platform(tpl.server)
        per = acc.devices_per_port if acc is not None and acc.nics_integrated else 1
        size = compute_subnet_size(tpl.node_slots * per)
        pool = self.pool("compute", size * tpl.rails)
        if pool is None:
            return
        base = pool.take(size * tpl.rails, size)
        if base is None:
            return
        prefix = pool.bits - int(math.log2(size))
        routed = self.routed(c)
        for r in range(tpl.rails):
            sub = base + r * size
            leaf = self.dev(leaves[r])
            if routed and leaf is not None:
                self.emit(leaf, LEAF_SVI, pool, sub + 1, prefix)
            for s, node in enumerate(nodes):
                if node is None:
                    continue
                if per == 1:
                    self.emit(node, f"fab{r}", pool, sub + 2 + s, prefix)
                    continue
                for j in range(per):
                    self.emit(node, f"{DIE_IF}{r * per + j}", pool, sub + 2 + s * per + j, prefix)
        # An appliance on the unit's kept slot: that slot's address on each rail it takes.
        ct = self.topology.of(c)
        for mp in ct.manager_ports:
            fm = self.dev(ct.managers[mp.appliance]) if mp.unit == index else None
            if fm is not None and nodes[mp.leaf_port - 1] is None:
                self.emit(
                    fm, f"fab{mp.port}", pool, base + mp.rail * size + 1 + mp.leaf_port, prefix
                )

    def leaf_p2p(self, c: ClusterInfo, unit: Unit) -> None:
        """A /31 per leaf uplink, on the very ports the cabling gives it (both read the
        unit's ``Topology``): block index i = the uplink's place in (rail, spine, k) order."""
        tpl = c.template
        ut = self.topology.unit(c, unit)
        per_rail = tpl.spines_per_group * self.topology.of(c).uplinks_per_spine
        pool = self.pool("p2p", tpl.rails * per_rail * 2)
        if pool is None:
            return
        base = pool.take(tpl.rails * per_rail * 2, 2)
        if base is None:
            return
        spines = [self.dev(name) for name in ut.spines]
        for r, leaf_name in enumerate(ut.leaves):
            leaf = self.dev(leaf_name)
            if leaf is None:
                continue
            for i, (j, _k, leaf_port, spine_port) in enumerate(ut.uplinks[r], r * per_rail):
                spine = spines[j]
                if spine is None:
                    continue
                off = base + 2 * i
                phase = max(leaf.phase, spine.phase)
                self.emit(leaf, leaf_port, pool, off, pool.bits - 1, phase)
                self.emit(spine, spine_port, pool, off + 1, pool.bits - 1, phase)

    def group(self, c: ClusterInfo, g: int) -> None:
        ct = self.topology.of(c)
        gt = ct.groups[g]
        spines = [self.dev(name) for name in gt.spines]
        self.switch_blocks(spines)
        # core_uplinks is empty without cores or core uplinks (then no block is taken)
        if not self.routed(c) or not gt.core_uplinks:
            return
        size = len(gt.core_uplinks) * 2
        pool = self.pool("p2p", size)
        if pool is None:
            return
        base = pool.take(size, 2)
        if base is None:
            return
        cores = [self.dev(name) for name in ct.cores]
        for up in gt.core_uplinks:
            sp, core = spines[up.spine], cores[up.core]
            if sp is None or core is None:
                continue
            phase = max(sp.phase, core.phase)
            self.emit(sp, up.spine_port, pool, base + 2 * up.n, pool.bits - 1, phase)
            self.emit(core, up.core_port, pool, base + 2 * up.n + 1, pool.bits - 1, phase)

    def core(self, c: ClusterInfo) -> None:
        self.switch_blocks([self.dev(name) for name in self.topology.of(c).cores])

    def switch_blocks(self, switches: list[Device | None]) -> None:
        """A block of management addresses (``eth0``) and one of loopbacks for a set of
        switches (a spine group, a core): one slot per switch, used or not, so a switch
        that appears later never moves the others. InfiniBand switches keep their loopback
        slot unused."""
        n = len(switches)
        pool = self.pool("oob", n)
        if pool is not None:
            base = pool.take(n)
            for j, sw in enumerate(switches):
                self.flat_one(sw, MGMT_PORT, pool, base, j)
        pool = self.pool("loopback", n)
        if pool is not None:
            base = pool.take(n)
            for j, sw in enumerate(switches):
                if self.holds_ip(sw):
                    self.flat_one(sw, LOOPBACK_IF, pool, base, j)

    def device(self, d: Device) -> None:
        cat = self.site.catalog
        model = cat.servers.get(d.model) or cat.storage.get(d.model)
        nics = model.nics if model is not None else []
        is_switch = d.model in cat.switches
        pool = self.pool("oob", 1)
        if pool is not None and (is_switch or nic_count(nics, "oob")):
            self.flat_one(d, MGMT_PORT if is_switch else "bmc", pool, pool.take(1), 0)
        if nic_count(nics, "inband"):
            pool = self.pool("inband", 1)
            if pool is not None:
                self.flat_one(d, "mgmt0", pool, pool.take(1), 0)
        n_st = nic_count(nics, "storage")
        if n_st:
            pool = self.pool("storage", n_st)
            if pool is not None:
                base = pool.take(n_st)
                for i in range(n_st):
                    self.flat_one(d, f"stor{i}", pool, base, i)
        if self.holds_ip(d):
            pool = self.pool("loopback", 1)
            if pool is not None:
                self.flat_one(d, LOOPBACK_IF, pool, pool.take(1), 0)

    def place_spill(self) -> None:
        """Addresses displaced by someone's explicit one, from the top of their pool down."""
        tops: dict[str, int] = dict(self.top)  # below the network racks' management
        for name, iface, net, phase, prefix in self.spill:
            pool = self.pools[net]
            off = tops.get(net, pool.limit) - 1
            while off >= pool.cursor and pool.base + off in pool.reserved:
                off -= 1
            tops[net] = off
            if off < pool.cursor:
                pool.overflow = True
                continue
            self.rows.append(
                Address(
                    name, iface, net, f"{fmt_ip(pool.base + off, pool.version)}/{prefix}", phase
                )
            )


def allocate(
    site: Site, phase: int | None, owners: list[Owner], topology: Topology | None = None
) -> tuple[list[Address], list[Finding], dict[str, Pool]]:
    return Allocator(site, phase, owners, topology).run()


def check_pools(site: Site) -> list[Finding]:
    """Pools that overlap, and ASN ranges that overlap (both are errors)."""
    out: list[Finding] = []
    nets = []
    for name in POOLS:
        spec = site.networks.pools.get(name)  # type: ignore[call-overload]
        if spec is None:
            continue
        try:
            nets.append((name, ipaddress.ip_network(spec.cidr)))
        except ValueError:
            continue  # the schema reported it
    for i, (na, a) in enumerate(nets):
        for nb, b in nets[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                out.append(
                    make(
                        R.POOL_OVERLAP,
                        f"pools {na} ({a}) and {nb} ({b}) overlap",
                        find_text(site, str(b)),
                        subject=nb,
                    )
                )
    ranges = sorted((r.first, r.last, t) for t, r in site.networks.asn.items())
    for i, (fa, la, ta) in enumerate(ranges):
        for fb, lb, tb in ranges[i + 1 :]:
            if fb <= la and fa <= lb:
                out.append(
                    make(
                        R.ASN_OVERLAP,
                        f"ASN ranges {ta} ({fa}-{la}) and {tb} ({fb}-{lb}) overlap",
                        find_text(site, "asn:"),
                        subject=tb,
                    )
                )
    return out


def check_unique(site: Site, rows: list[Address]) -> list[Finding]:
    """No address handed out twice (by the plan, or by explicit entries with the plan)."""
    seen: dict[str, Address] = {}
    out: list[Finding] = []
    for a in rows:
        ip = a.address.split("/", 1)[0]
        first = seen.get(ip)
        if first is None:
            seen[ip] = a
        elif first.device != a.device or first.interface != a.interface:
            dev = site.devices.get(a.device)
            out.append(
                make(
                    R.ADDRESS_TWICE,
                    f"{ip} is assigned to {first.device} "
                    f"{first.interface} and {a.device} {a.interface}",
                    dev.loc if dev else find_text(site, ip),
                    subject=a.device,
                )
            )
    return out
