"""The site's topology, built once: per cluster, its cores, its fabric manager's appliances and
the leaf ports they take, the network racks' OOB switches and the management ports they take;
per spine group, its spines and their core uplinks; per unit, its nodes, switch sets, leaves,
its group's spines and the leaf <-> spine port pairs. Cabling (``plan.fabric``), addressing
(``plan.addressing``), ASNs (``plan.asn``) and the Slurm topology (``render.slurm``) read it,
so the names and port formulas of ``hkcompute.topology`` are applied in one place and every
reader agrees on them.

Names are listed whether or not the device exists (yet, or at all): blocks of ports and
addresses are reserved for the full template, and each reader decides what is present.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from hkcompute import topology as T
from hkcompute.model import Catalog, ClusterInfo, Site, Unit
from hkcompute.schema import UnitTemplate


class Uplink(NamedTuple):
    """Leaf uplink ``k`` to spine ``j`` of its group: the leaf's and the spine's port."""

    spine: int
    k: int
    leaf_port: str
    spine_port: str


class CoreUplink(NamedTuple):
    """Uplink ``k`` of spine ``j`` of a group to core ``core`` (an index into the cluster's
    cores); ``n`` numbers the uplinks within the group (j * core uplinks per spine + k)."""

    spine: int
    k: int
    n: int
    spine_port: str
    core: int
    core_port: str


@dataclass(frozen=True, slots=True)
class UnitTopology:
    unit: Unit
    nodes: tuple[str, ...]  # by node slot, the template's full count
    sets: tuple[tuple[T.SwitchSet, tuple[str, ...]], ...]  # switch sets, in placement order
    spines: tuple[str, ...]  # the spines of its group
    # Per rail, the leaf's uplinks in (spine, k) order. The same ports for every unit at one
    # position of a group: shared by reference, not rebuilt per unit.
    uplinks: tuple[tuple[Uplink, ...], ...]

    @property
    def leaves(self) -> tuple[str, ...]:
        """The leaf of each rail (the first switch set)."""
        return self.sets[0][1]

    @property
    def switches(self) -> list[str]:
        """Every switch of the unit, set after set (the order of its address blocks)."""
        return [name for _s, names in self.sets for name in names]


@dataclass(frozen=True, slots=True)
class GroupTopology:
    group: int
    spines: tuple[str, ...]
    units: tuple[str, ...]  # its units, in the order written
    core_uplinks: tuple[CoreUplink, ...]  # none when the cluster has no core


class MgmtPort(NamedTuple):
    """A management port in a cluster's network racks (an appliance's ``bmc``, a core's or
    spine's ``eth0``) and where it lands: OOB switch ``switch`` (an index into
    ``ClusterTopology.oob``), port ``switch_port``."""

    device: str
    port: str
    switch: int
    switch_port: str


@dataclass(frozen=True, slots=True)
class ClusterTopology:
    cluster: ClusterInfo
    uplinks_per_spine: int  # U: each leaf's uplinks to each spine of its group
    exact: bool  # whether node_slots / oversubscription / spines is whole
    cores: tuple[str, ...]
    groups: dict[int, GroupTopology]
    units: tuple[UnitTopology, ...]  # by ``Unit.index``
    # The fabric manager's appliances, and where their fabric ports land (the last slot of
    # the first units' leaves); none when the fabric kind has no fabric manager.
    managers: tuple[str, ...] = ()
    manager_ports: tuple[T.ManagerPort, ...] = ()
    # The OOB switches of the network racks, every management port there, and the first port
    # of their uplinks (after the access ports). None without OOB switches in the template.
    oob: tuple[str, ...] = ()
    mgmt: tuple[MgmtPort, ...] = ()
    oob_uplink_base: int = 0


class Topology:
    """Every cluster's topology; looked up by the cluster object (names need not be unique
    in a broken inventory, objects are)."""

    def __init__(self, clusters: tuple[ClusterTopology, ...]) -> None:
        self.clusters = clusters
        self._by_id = {id(ct.cluster): ct for ct in clusters}

    def of(self, cluster: ClusterInfo) -> ClusterTopology:
        return self._by_id[id(cluster)]

    def unit(self, cluster: ClusterInfo, unit: Unit) -> UnitTopology:
        return self._by_id[id(cluster)].units[unit.index]


def _uplinks(tpl: UnitTemplate, u: int, pos: int) -> tuple[tuple[Uplink, ...], ...]:
    return tuple(
        tuple(
            Uplink(
                j,
                k,
                f"swp{T.leaf_uplink_port(tpl, u, j, k)}",
                f"swp{T.spine_down_port(tpl, u, pos, r, k)}",
            )
            for j in range(tpl.spines_per_group)
            for k in range(u)
        )
        for r in range(tpl.rails)
    )


def _core_uplinks(tpl: UnitTemplate, cores: int, g: int) -> tuple[CoreUplink, ...]:
    c = tpl.core_uplinks_per_spine
    if not cores or not c:
        return ()
    out = []
    for j in range(tpl.spines_per_group):
        for k in range(c):
            ci, port = T.core_port(tpl, cores, g, j, k)
            out.append(
                CoreUplink(j, k, j * c + k, f"swp{T.spine_core_port(tpl, k)}", ci, f"swp{port}")
            )
    return tuple(out)


def _management(
    c: ClusterInfo, catalog: Catalog | None, cores: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[T.ManagerPort, ...], tuple[str, ...], tuple[MgmtPort, ...], int]:
    """The appliances, their fabric ports, the network racks' OOB switches, the management
    ports they take (appliances' BMCs, cores, then each group's spines) and their uplink base:
    the same devices ``inventory.expand`` places, by the same formulas."""
    if catalog is None:
        return (), (), (), (), 0
    tpl = c.template
    kind = catalog.fabrics.get(tpl.fabric)
    fm = kind.fabric_manager if kind is not None else None
    managers: tuple[str, ...] = ()
    ports: tuple[T.ManagerPort, ...] = ()
    dev_ports: list[tuple[str, str]] = []
    if fm is not None:
        server = catalog.servers.get(fm.model)
        nics = server.nics if server is not None else []
        n = sum(x.count for x in nics if x.network == "compute")
        managers = tuple(T.fabric_manager_name(c.name, j) for j in range(fm.count))
        ports = T.manager_ports(tpl, fm.count, n) if n else ()
        if any(x.network == "oob" for x in nics):
            dev_ports += [(name, "bmc") for name in managers]
    dev_ports += [(name, "eth0") for name in cores]
    for g in range(c.groups):
        dev_ports += [(T.spine_name(c.name, g, j), "eth0") for j in range(tpl.spines_per_group)]
    sset = tpl.oob_switches
    model = catalog.switches.get(sset.model) if sset is not None and sset.count else None
    if model is None or not dev_ports:
        return managers, ports, (), (), 0
    per = max(T.access_ports(model), 1)
    mgmt = []
    for i, (name, port) in enumerate(dev_ports):
        sw, sp = T.oob_port(per, i)
        mgmt.append(MgmtPort(name, port, sw, f"swp{sp}"))
    oob = tuple(T.cluster_oob_name(c.name, j) for j in range(-(-len(dev_ports) // per)))
    return managers, ports, oob, tuple(mgmt), per + 1


def cluster_topology(c: ClusterInfo, catalog: Catalog | None = None) -> ClusterTopology:
    """``catalog`` (the site's) adds the network racks' management: the fabric manager's
    appliances and the OOB switches (without it, none)."""
    tpl = c.template
    u, exact = T.uplinks_per_spine(tpl)
    n_cores = c.core.count if c.core else 0
    groups: dict[int, GroupTopology] = {}
    members: dict[int, list[str]] = {}
    for unit in c.units:
        members.setdefault(unit.group, []).append(unit.name)
    for g in sorted(members):
        spines = tuple(T.spine_name(c.name, g, j) for j in range(tpl.spines_per_group))
        groups[g] = GroupTopology(g, spines, tuple(members[g]), _core_uplinks(tpl, n_cores, g))
    sets = T.unit_switch_sets(tpl)
    by_pos: dict[int, tuple[tuple[Uplink, ...], ...]] = {}
    units = []
    for unit in c.units:
        pos = unit.index % tpl.units_per_group
        uplinks = by_pos.get(pos)
        if uplinks is None:
            uplinks = by_pos[pos] = _uplinks(tpl, u, pos)
        units.append(
            UnitTopology(
                unit,
                tuple(T.node_name(unit.name, s) for s in range(tpl.node_slots)),
                tuple(
                    (s, tuple(T.unit_switch_name(unit.name, s.short, j) for j in range(s.n)))
                    for s in sets
                ),
                groups[unit.group].spines,
                uplinks,
            )
        )
    cores = tuple(T.core_name(c.name, j) for j in range(n_cores))
    managers, mports, oob, mgmt, base = _management(c, catalog, cores)
    return ClusterTopology(
        c, u, exact, cores, groups, tuple(units), managers, mports, oob, mgmt, base
    )


def build_topology(site: Site) -> Topology:
    return Topology(tuple(cluster_topology(c, site.catalog) for c in site.clusters))
