"""Build every link of a site: compute, storage, in-band and out-of-band, plus explicit links.

Port names (render, deploy and the lab build on them; never change them lightly):

* servers and storage: ``fab0..fab{rails-1}`` compute NIC of rail r, ``stor0..`` storage
  NICs, ``mgmt0..`` in-band NICs, ``bmc`` the out-of-band port (one).
* switches: front ports ``swp1..swpN`` (1-based, N = ports of the model), ``eth0`` the
  management port (cabled to an out-of-band switch, 1 Gb/s).

Port layout (fixed by the template, so a later phase never moves a cable):

* leaf (rail r of a unit): ``swp1..swp{node_slots}`` down to node slot 1..node_slots (empty
  slots stay free), then uplinks in spine order: uplink k to spine j on
  ``swp{node_slots + 1 + j*U + k}`` with U = node_slots / oversubscription / spines_per_group
  (HK411 if not whole; rounded down, at least 1).
* spine: down ports are reserved for the full group: the leaf of rail r of the unit at
  position p in its group, uplink k, on ``swp{1 + (p*rails + r)*U + k}``; core uplinks follow
  on ``swp{units_per_group*rails*U + 1 + k}``.
* core: uplinks are numbered across the cluster, n = (g*spines_per_group + j)*C + k for
  uplink k of spine j of group g (C = core uplinks per spine); n goes to core ``n % cores`` on
  port ``n // cores + 1`` (cores fill evenly; a new group only appends).
* a unit's storage leaves, in-band and OOB switches: the node NICs of one network are numbered
  q = slot * nics + i; NIC q goes to switch ``q % count`` on port ``q // count + 1``, so two
  NICs of a node land on two switches. The OOB switches then take the unit's switches'
  ``eth0`` (leaves, storage leaves, in-band switches) after all node slots.
* a fabric manager's appliances (``hkcompute.topology.manager_ports``): ``fab{p}`` of
  appliance a is connection q = a*ports + p, on ``swp{node_slots}`` (the last slot) of the leaf
  of rail ``q % rails`` of the cluster's unit ``q // rails``; that slot holds no node.
* a cluster's network racks, with OOB switches in the template: the appliances' ``bmc``, the
  cores' and spines' ``eth0`` in that order, in blocks of the model's access ports, on the
  racks' own OOB switches (``<cluster>-oob01``..), which uplink like a unit's OOB switches
  (one port to each site-level OOB switch, after their access ports).
* site-level switches (storage spines, and in-band/OOB switches outside any unit): their ports
  are handed out in allocation order (``plan.order``): a unit's storage leaves take
  U_s = min(free ports, down ports / oversubscription) // spines uplinks on every storage
  spine, its in-band/OOB switches one uplink per site-level in-band/OOB switch; explicit
  servers, storage and the appliances' in-band NICs spread round-robin; explicit switches, and
  spines and cores of a cluster whose template has no OOB switches, put ``eth0`` on the
  site-level OOB switches. An owner only uses site-level switches of its own
  phase or earlier, so a switch added later never re-spreads what an earlier phase cabled.

Explicit ``links`` add to what is built; one whose a-end names a port that a built link uses
replaces that link.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from hkcompute.findings import Finding, Location, make
from hkcompute.model import ClusterInfo, Device, Site
from hkcompute.plan import codes as R
from hkcompute.plan.cabling import Choice, OpticChooser, cable_of, link_length, round_up_dm
from hkcompute.plan.ends import Ends
from hkcompute.plan.optics import End
from hkcompute.plan.order import CORE, DEVICE, GROUP, UNIT, Owner
from hkcompute.plan.records import (
    ACCESS,
    EXPLICIT,
    LEAF_SPINE,
    NODE_LEAF,
    SPINE_CORE,
    UPLINK,
    Link,
)
from hkcompute.plan.topology import Topology, build_topology
from hkcompute.schema import Nic, Optic, UnitTemplate
from hkcompute.topology import INBAND, LEAF, OOB, STORAGE_LEAF, unit_switch_sets

MGMT_PORT = "eth0"
MGMT_SPEED = 1.0
NIC_PREFIX = {"compute": "fab", "storage": "stor", "inband": "mgmt"}
PREFIX_NETWORK = {"fab": "compute", "stor": "storage", "mgmt": "inband", "bmc": "oob"}
_PORT_RE = re.compile(r"^([a-z]+)(\d*)$")


def nic_count(nics: list[Nic], network: str) -> int:
    return sum(n.count for n in nics if n.network == network)


def nic_speed(nics: list[Nic], network: str) -> float | None:
    speeds = [float(n.speed_gbps) for n in nics if n.network == network]
    return max(speeds) if speeds else None


@dataclass
class Ports:
    """What a device's model offers: switch ports and speed, or NICs per network."""

    switch_ports: int = 0
    switch_speed: float = 0.0
    nics: dict[str, tuple[int, float]] = field(default_factory=dict)
    # A server model that lists no NICs at all is taken to have one compute NIC per rail at
    # the leaf's speed (and nothing else); its ports are then not checked.
    described: bool = True

    @property
    def is_switch(self) -> bool:
        return self.switch_ports > 0

    def speed(self, port: str) -> float | None:
        """Speed of ``port``, or None when the model has no such port."""
        if self.is_switch:
            if port == MGMT_PORT:
                return MGMT_SPEED
            m = _PORT_RE.match(port)
            if (
                m
                and m.group(1) == "swp"
                and m.group(2)
                and 1 <= int(m.group(2)) <= self.switch_ports
            ):
                return self.switch_speed
            return None
        m = _PORT_RE.match(port)
        if not m:
            return None
        net = PREFIX_NETWORK.get(m.group(1))
        if net is None:
            return None
        count, speed = self.nics.get(net, (0, 0.0))
        idx = int(m.group(2)) if m.group(2) else 0
        if net == "oob":
            return speed if count and not m.group(2) else None
        return speed if idx < count and m.group(2) else None


def ports_by_model(site: Site) -> dict[str, Ports]:
    cat = site.catalog
    out: dict[str, Ports] = {}
    for name, sw in cat.switches.items():
        out[name] = Ports(sw.ports, float(sw.speed_gbps))
    for name, srv in cat.servers.items():
        out[name] = Ports(
            nics={
                n.network: (nic_count(srv.nics, n.network), nic_speed(srv.nics, n.network) or 0.0)
                for n in srv.nics
            },
            described=bool(srv.nics),
        )
    for name, st in cat.storage.items():
        out[name] = Ports(
            nics={
                n.network: (nic_count(st.nics, n.network), nic_speed(st.nics, n.network) or 0.0)
                for n in st.nics
            }
        )
    return out


class FabricBuilder:
    def __init__(
        self,
        site: Site,
        phase: int | None,
        owners: list[Owner],
        chooser: OpticChooser | None = None,
        topology: Topology | None = None,
    ) -> None:
        self.site = site
        self.phase = phase
        self.owners = owners
        self.topology = topology or build_topology(site)
        self.chooser = chooser or OpticChooser(site.catalog.optics)
        self.ports = ports_by_model(site)
        self.links: list[Link] = []
        self.agg = R.Aggregator()
        self.findings: list[Finding] = []
        self._next_port: dict[str, int] = {}
        self._rr: dict[str, int] = {}
        self.ends = Ends(site, self.topology)
        self._memo: dict[tuple[str, int, str, int, float, End, End], tuple[float, Choice]] = {}
        self.site_switches: dict[str, list[Device]] = {"storage": [], "inband": [], "oob": []}
        for d in site.devices.values():
            if d.cluster is None and d.unit is None:
                net = {
                    "storage_spine": "storage",
                    "inband_switch": "inband",
                    "oob_switch": "oob",
                }.get(d.role)
                if net is not None:
                    self.site_switches[net].append(d)

    # --- helpers ---------------------------------------------------------------------------
    def present(self, d: Device | None) -> bool:
        return d is not None and (self.phase is None or d.phase <= self.phase)

    def add(
        self,
        a: Device,
        a_port: str,
        b: Device,
        b_port: str,
        network: str,
        speed: float,
        kind: str,
        cluster: str | None,
    ) -> None:
        # Memoised: between racks the length depends on the racks alone, so a site has few
        # distinct cases; only same-rack runs depend on the U positions. The parts depend on
        # what plugs in at each end as well.
        protocol = self.ends.protocol(a, b)
        ea = self.ends.end(a, a_port, protocol)
        eb = self.ends.end(b, b_port, protocol)
        mk = (
            (a.rack, 0, b.rack, 0, speed, ea, eb)
            if a.rack != b.rack
            else (a.rack, a.u, b.rack, b.u, speed, ea, eb)
        )
        got = self._memo.get(mk)
        if got is None:
            length = link_length(self.site.racks.get(a.rack), a.u, self.site.racks.get(b.rack), b.u)
            got = self._memo[mk] = (length, self.chooser.choose(speed, length, ea, eb))
        length, ch = got
        if ch.optic is None:
            self.agg.add(
                R.NO_OPTIC,
                f"{a.model}>{b.model}:{speed}",
                f"no {speed:g} Gb/s {protocol} part in the catalogue fits both ends and reaches "
                f"{length:.1f} m ({a.name}:{a_port} - {b.name}:{b_port}; longest reach of "
                f"fitting parts {self.chooser.max_reach(speed, ea, eb):g} m)",
                a.loc,
                a.name,
            )
        self.links.append(
            self._link(
                a,
                a_port,
                b,
                b_port,
                network,
                speed,
                ch,
                length,
                max(a.phase, b.phase),
                kind,
                cluster,
                a.loc,
                protocol,
            )
        )

    def _link(
        self,
        a: Device,
        a_port: str,
        b: Device,
        b_port: str,
        network: str,
        speed: float,
        ch: Choice,
        length: float,
        phase: int,
        kind: str,
        cluster: str | None,
        loc: Location,
        protocol: str,
    ) -> Link:
        """The link record, with the cage and sub-port of each switch end."""
        ac, asub = self.ends.cage(a, a_port)
        bc, bsub = self.ends.cage(b, b_port)
        return Link(
            a.name,
            a_port,
            b.name,
            b_port,
            network,
            speed,
            ch.optic,
            ch.cable,
            length,
            phase,
            kind,
            cluster,
            loc,
            protocol,
            form_factor_of(self.site.catalog.optics, ch.optic),
            ac,
            asub,
            bc,
            bsub,
        )

    def next_port(self, sw: Device) -> str:
        n = self._next_port.get(sw.name, 0) + 1
        self._next_port[sw.name] = n
        return f"swp{n}"

    def tops(self, network: str, phase: int) -> list[Device]:
        """Site-level switches of ``network`` that exist by ``phase``: an owner only ever
        cables to switches of its own phase or earlier, so a switch added in a later phase
        changes nothing of an earlier one (it is cabled by explicit links, if at all)."""
        return [d for d in self.site_switches[network] if d.phase <= phase]

    def round_robin(self, network: str, phase: int) -> Device | None:
        """The next site-level switch of ``network`` (None when the site has none)."""
        sws = self.tops(network, phase)
        if not sws:
            return None
        q = self._rr.get(network, 0)
        self._rr[network] = q + 1
        return sws[q % len(sws)]

    def dev(self, name: str) -> Device | None:
        d = self.site.devices.get(name)
        return d if self.present(d) else None

    # --- the builders --------------------------------------------------------------------------
    def build(self) -> tuple[list[Link], list[Finding]]:
        checked: set[str] = set()
        managed: set[int] = set()
        for o in self.owners:
            if self.phase is not None and o.phase > self.phase:
                break  # owners are sorted by phase: the rest come later
            if o.cluster is not None and id(o.cluster) not in managed:
                managed.add(id(o.cluster))  # the cluster's first owner (its core or group)
                self.network_racks(o.cluster)
            if o.kind == UNIT and o.cluster is not None and o.unit is not None:
                if o.cluster.name not in checked:
                    checked.add(o.cluster.name)
                    self.check_template(o.cluster)
                self.unit(o)
            elif o.kind == GROUP and o.cluster is not None and o.group is not None:
                self.group(o.cluster, o.group, o.phase)
            elif o.kind == CORE and o.cluster is not None:
                self.core(o.cluster, o.phase)
            elif o.kind == DEVICE and o.device is not None:
                self.explicit_device(o.device)
        self.explicit_links()
        self.findings.extend(self.agg.findings())
        return self.links, self.findings

    def check_template(self, c: ClusterInfo) -> None:
        tpl = c.template
        ct = self.topology.of(c)
        u, exact = ct.uplinks_per_spine, ct.exact
        if not exact:
            self.findings.append(
                make(
                    R.UPLINK_RATIO,
                    f"cluster {c.name!r}: node_slots {tpl.node_slots} / "
                    f"oversubscription {tpl.oversubscription:g} / spines_per_group "
                    f"{tpl.spines_per_group} is not a whole number; planning {u} uplink(s) per "
                    f"leaf and spine",
                    c.loc,
                    subject=c.name,
                )
            )
        srv = self.site.catalog.servers.get(tpl.server)
        if srv is not None and srv.nics and nic_count(srv.nics, "compute") < tpl.rails:
            self.findings.append(
                make(
                    R.NIC_SHORT,
                    f"cluster {c.name!r}: server {tpl.server!r} has "
                    f"{nic_count(srv.nics, 'compute')} compute NIC(s) for {tpl.rails} rails",
                    c.loc,
                    subject=c.name,
                )
            )

    def unit(self, o: Owner) -> None:
        c, unit = o.cluster, o.unit
        assert c is not None and unit is not None
        tpl = c.template
        ut = self.topology.unit(c, unit)
        srv = self.site.catalog.servers.get(tpl.server)
        tpl_nics = srv.nics if srv is not None else []
        spines = [self.dev(name) for name in ut.spines]
        sets = {s.short: [self.dev(name) for name in names] for s, names in ut.sets}
        leaves = sets[LEAF]
        n_per = {net: nic_count(tpl_nics, net) for net in ("storage", "inband", "oob")}
        leaf_model = self.ports.get(tpl.leaf)
        leaf_speed = leaf_model.switch_speed if leaf_model is not None else 0.0
        for slot, node_name in enumerate(ut.nodes):
            node = self.dev(node_name)
            if node is None:
                continue
            p = self.ports.get(node.model)
            nics = p.nics if p is not None else {}
            count, speed = nics.get("compute", (0, 0.0))
            if p is not None and not p.described:
                count, speed = tpl.rails, leaf_speed
            for r in range(min(tpl.rails, count)):
                leaf = leaves[r]
                if leaf is not None:
                    self.add(
                        node, f"fab{r}", leaf, f"swp{slot + 1}", "compute", speed, NODE_LEAF, c.name
                    )
            for net, short in (("storage", STORAGE_LEAF), ("inband", INBAND), ("oob", OOB)):
                sws = sets.get(short)
                if not sws:
                    continue
                count, speed = nics.get(net, (0, 0.0))
                per = max(n_per[net], 1)
                for i in range(min(count, per)):
                    q = slot * per + i
                    sw = sws[q % len(sws)]
                    if sw is None:
                        continue
                    port = "bmc" if net == "oob" else f"{NIC_PREFIX[net]}{i}"
                    self.add(node, port, sw, f"swp{q // len(sws) + 1}", net, speed, ACCESS, c.name)
        # The fabric manager's appliances on the last slot's leaf ports of the first units.
        ct = self.topology.of(c)
        for mp in ct.manager_ports:
            if mp.unit != unit.index:
                continue
            fm, leaf = self.dev(ct.managers[mp.appliance]), leaves[mp.rail]
            if fm is None or leaf is None:
                continue
            p = self.ports.get(fm.model)
            speed = p.nics.get("compute", (0, 0.0))[1] if p is not None else 0.0
            self.add(
                fm, f"fab{mp.port}", leaf, f"swp{mp.leaf_port}", "compute", speed, NODE_LEAF, c.name
            )
        # Leaf uplinks: the full set even when the unit is partly filled.
        for r, leaf in enumerate(leaves):
            if leaf is None or leaf.model not in self.ports:
                continue  # an unknown model is reported where it is named
            speed = self.ports[leaf.model].switch_speed
            for j, _k, leaf_port, spine_port in ut.uplinks[r]:
                spine = spines[j]
                if spine is not None:
                    self.add(
                        leaf, leaf_port, spine, spine_port, "compute", speed, LEAF_SPINE, c.name
                    )
        # The unit's switches' management ports, after every node slot of the OOB switches.
        oobs = sets.get(OOB)
        if oobs:
            q = tpl.node_slots * max(n_per["oob"], 1)
            for s, _names in ut.sets:
                if s.short == OOB:
                    continue
                for sw in sets[s.short]:
                    target = oobs[q % len(oobs)]
                    if sw is not None and target is not None:
                        self.add(
                            sw,
                            MGMT_PORT,
                            target,
                            f"swp{q // len(oobs) + 1}",
                            "oob",
                            MGMT_SPEED,
                            ACCESS,
                            c.name,
                        )
                    q += 1
        self.unit_uplinks(c, sets, o.phase)

    def unit_uplinks(
        self, c: ClusterInfo, sets: dict[str, list[Device | None]], phase: int
    ) -> None:
        """A unit's storage leaves, in-band and OOB switches up to the site-level switches."""
        tpl = c.template
        for net, short in (("storage", STORAGE_LEAF), ("inband", INBAND), ("oob", OOB)):
            tops = self.tops(net, phase)
            sws = sets.get(short)
            if not tops or not sws:
                continue
            per = 1
            if net == "storage" and tpl.storage_leaves is not None:
                model = self.site.catalog.switches.get(tpl.storage_leaves.model)
                srv = self.site.catalog.servers.get(tpl.server)
                down = math.ceil(
                    tpl.node_slots * nic_count(srv.nics if srv else [], "storage") / len(sws)
                )
                free = (model.ports if model else 0) - down
                per = max(1, min(free, math.ceil(down / tpl.oversubscription)) // len(tops))
            for j, sw in enumerate(sws):
                base = self._uplink_base(sw, tpl, net, short, j)
                for top in tops:
                    for k in range(per):
                        port = f"swp{base + k}" if sw is not None else ""
                        tport = self.next_port(top)  # taken even if sw is absent: stable
                        if sw is not None and self.present(top):
                            speed = (
                                self.ports[sw.model].switch_speed if sw.model in self.ports else 0.0
                            )
                            self.add(sw, port, top, tport, net, speed, UPLINK, c.name)
                    base += per

    def _uplink_base(
        self, sw: Device | None, tpl: UnitTemplate, net: str, short: str, j: int
    ) -> int:
        """First uplink port of a unit switch: right after its reserved down ports."""
        srv = self.site.catalog.servers.get(tpl.server)
        nics = srv.nics if srv else []
        sset = {
            STORAGE_LEAF: tpl.storage_leaves,
            INBAND: tpl.inband_switches,
            OOB: tpl.oob_switches,
        }[short]
        count = sset.count if sset else 1
        per = max(nic_count(nics, net), 1)
        down = math.ceil(tpl.node_slots * per / count)
        if short == OOB:
            n_sw = sum(s.n for s in unit_switch_sets(tpl) if s.short != OOB)
            down = math.ceil((tpl.node_slots * per + n_sw) / count)
        return down + 1

    def group(self, c: ClusterInfo, g: int, phase: int) -> None:
        ct = self.topology.of(c)
        gt = ct.groups[g]
        spines = [self.dev(name) for name in gt.spines]
        cores = [self.dev(name) for name in ct.cores]
        for up in gt.core_uplinks:
            spine, core = spines[up.spine], cores[up.core]
            if spine is None or core is None or spine.model not in self.ports:
                continue
            speed = self.ports[spine.model].switch_speed
            self.add(spine, up.spine_port, core, up.core_port, "compute", speed, SPINE_CORE, c.name)
        if ct.oob:
            return  # their eth0 is on the network racks' OOB switches (network_racks)
        for spine in spines:
            self.mgmt_to_site_oob(spine, phase)

    def core(self, c: ClusterInfo, phase: int) -> None:
        ct = self.topology.of(c)
        if ct.oob:
            return
        for name in ct.cores:
            self.mgmt_to_site_oob(self.dev(name), phase)

    def network_racks(self, c: ClusterInfo) -> None:
        """The management of a cluster's network racks, cabled once: every management port
        there (the appliances' BMCs, the cores' and spines' ``eth0``) on the racks' OOB
        switches, and those switches up to the site-level OOB switches as a unit's are (one
        uplink to each, after the access ports). Without OOB switches in the template, the
        appliances' BMCs go to the site-level OOB switches as an explicit server's do. The
        appliances' in-band NICs go to the site-level in-band switches, as an explicit
        server's do."""
        ct = self.topology.of(c)
        for m in ct.mgmt:
            d, sw = self.dev(m.device), self.dev(ct.oob[m.switch])
            if d is None or sw is None:
                continue
            speed = MGMT_SPEED
            if m.port == "bmc":
                p = self.ports.get(d.model)
                speed = p.nics.get("oob", (0, MGMT_SPEED))[1] if p is not None else MGMT_SPEED
            self.add(d, m.port, sw, m.switch_port, "oob", speed, ACCESS, c.name)
        for name in ct.oob:
            sw = self.site.devices.get(name)
            if sw is None:
                continue
            base = ct.oob_uplink_base
            for top in self.tops("oob", sw.phase):
                tport = self.next_port(top)  # taken even if sw is absent: stable
                if self.present(sw) and self.present(top):
                    speed = self.ports[sw.model].switch_speed if sw.model in self.ports else 0.0
                    self.add(sw, f"swp{base}", top, tport, "oob", speed, UPLINK, c.name)
                base += 1
        for name in ct.managers:
            fm = self.site.devices.get(name)
            p = self.ports.get(fm.model) if fm is not None else None
            if fm is None or p is None:
                continue
            nets = ("inband",) if ct.oob else ("inband", "oob")
            for net in nets:
                count, speed = p.nics.get(net, (0, 0.0))
                for i in range(count if net != "oob" else min(count, 1)):
                    target = self.round_robin(net, fm.phase)
                    if target is None:
                        break
                    port = self.next_port(target)
                    if self.present(fm) and self.present(target):
                        name_ = "bmc" if net == "oob" else f"{NIC_PREFIX[net]}{i}"
                        self.add(fm, name_, target, port, net, speed, ACCESS, c.name)

    def mgmt_to_site_oob(self, sw: Device | None, phase: int) -> None:
        target = self.round_robin("oob", phase)
        if target is None:
            return
        port = self.next_port(target)  # reserved even when sw is absent, for stability
        if sw is not None and self.present(target) and sw.name != target.name:
            self.add(sw, MGMT_PORT, target, port, "oob", MGMT_SPEED, ACCESS, sw.cluster)

    def explicit_device(self, d: Device) -> None:
        if not self.present(d):
            return
        p = self.ports.get(d.model)
        if p is None:
            return
        if p.is_switch:
            if d.role != "oob_switch":
                self.mgmt_to_site_oob(d, d.phase)
            return
        for net in ("storage", "inband", "oob"):
            count, speed = p.nics.get(net, (0, 0.0))
            for i in range(count if net != "oob" else min(count, 1)):
                target = self.round_robin(net, d.phase)
                if target is None:
                    break
                port = self.next_port(target)
                if self.present(target):
                    name = "bmc" if net == "oob" else f"{NIC_PREFIX[net]}{i}"
                    self.add(d, name, target, port, net, speed, ACCESS, None)

    # --- explicit links ------------------------------------------------------------------------
    def explicit_links(self) -> None:
        if not self.site.links:
            return
        made: list[Link] = []
        replaced: set[tuple[str, str]] = set()
        for li in self.site.links:
            spec = li.spec
            a_name, a_port = spec.a.split(":", 1)
            b_name, b_port = spec.b.split(":", 1)
            a, b = self.site.devices.get(a_name), self.site.devices.get(b_name)
            missing = [n for n, d in ((a_name, a), (b_name, b)) if d is None]
            if missing or a is None or b is None:
                self.findings.append(
                    make(
                        R.UNKNOWN_DEVICE,
                        f"link {spec.a} - {spec.b}: no device "
                        f"{', '.join(repr(m) for m in missing)}",
                        li.loc,
                        subject=spec.a,
                    )
                )
                continue
            phase = max(a.phase, b.phase, spec.phase or 0)
            if self.phase is not None and phase > self.phase:
                continue
            pa, pb = self.ports.get(a.model), self.ports.get(b.model)
            sa = pa.speed(a_port) if pa else None
            sb = pb.speed(b_port) if pb else None
            speed = (
                float(spec.speed_gbps)
                if spec.speed_gbps
                else min((s for s in (sa, sb) if s is not None), default=0.0)
            )
            length = (
                float(spec.length_m)
                if spec.length_m
                else link_length(self.site.racks.get(a.rack), a.u, self.site.racks.get(b.rack), b.u)
            )
            protocol = self.ends.protocol(a, b)
            if spec.optic:
                parts = spec.optic.split("+")
                first = self.site.catalog.optics.get(parts[0])
                ch = Choice(
                    spec.optic,
                    cable_of(first) if first is not None else "none",
                    parts[0],
                    parts[-1],
                )
            else:
                ea = self.ends.end(a, a_port, protocol)
                eb = self.ends.end(b, b_port, protocol)
                ch = self.chooser.choose(speed, length, ea, eb)
                if ch.optic is None:
                    self.findings.append(
                        make(
                            R.NO_OPTIC,
                            f"link {spec.a} - {spec.b}: no {speed:g} Gb/s {protocol} part "
                            f"fits both ends and reaches {length:.1f} m",
                            li.loc,
                            subject=spec.a,
                        )
                    )
            replaced.add((a_name, a_port))
            made.append(
                self._link(
                    a,
                    a_port,
                    b,
                    b_port,
                    spec.network,
                    speed,
                    ch,
                    round_up_dm(length),
                    phase,
                    EXPLICIT,
                    a.cluster or b.cluster,
                    li.loc,
                    protocol,
                )
            )
        if replaced:
            self.links = [
                x
                for x in self.links
                if (x.a, x.a_port) not in replaced and (x.b, x.b_port) not in replaced
            ]
        self.links.extend(made)


def form_factor_of(optics: dict[str, Optic], optic: str | None) -> str:
    """The plugs of a link's parts, as its optic is written (``osfp``, or ``a+b`` when the
    two ends' parts differ); "" when no part was chosen or a part has no form factor."""
    if not optic:
        return ""
    got = []
    for name in optic.split("+"):
        o = optics.get(name)
        got.append(o.form_factor or "" if o is not None else "")
    return got[0] if len(set(got)) == 1 else "+".join(got)


def build_links(
    site: Site,
    phase: int | None,
    owners: list[Owner],
    chooser: OpticChooser | None = None,
    topology: Topology | None = None,
) -> tuple[list[Link], list[Finding]]:
    return FabricBuilder(site, phase, owners, chooser, topology).build()
