"""The ends of a link as the catalogue describes them: which cage or NIC a port is, so the
plan picks parts that plug into it (``plan.optics``), and where a twin-port cage's port sits
(cage and sub-port, for the cabling sheet and the BOM's module count).

Switch front ports ``swpN`` are numbered across the model's cage groups in catalogue order:
port N lies in cage ``(N - 1) // ports_per_cage + 1`` of its group, sub-port
``(N - 1) % ports_per_cage + 1`` (swp1 and swp2 of a QM9700 are cage 1, ports 1 and 2), with
the cages of later groups numbered on after the earlier ones.

A twin-port cage is *whole* when the template wires both its ports to the ports of one cage
of one other switch, sub-port to sub-port (a leaf's two uplinks to one spine: its swp33-34
to the spine's swp1-2): only such a cage can take a twin-port cable, which cannot split. The
pairs come from the site's topology (``plan.topology``: leaf-spine and spine-core uplinks);
a port an explicit link names is never part of a whole cage, since the link replaces what
the template wired there.

A host's compute port is its NIC line's card when the line names one (``model:``), also for
an accelerator whose ports are integrated (an Ascend NPU's RoCE ports, described as a card
by their cage); an integrated port without a card, or a line naming none, constrains
nothing.
"""

from __future__ import annotations

import re

from hkcompute.model import Device, Site
from hkcompute.plan.optics import NIC, SWITCH, End
from hkcompute.plan.topology import Topology, build_topology

MGMT_PORT = "eth0"
_SWP = re.compile(r"^swp(\d+)$")
PREFIX_NETWORK = {"fab": "compute", "stor": "storage", "mgmt": "inband", "bmc": "oob"}
_NIC_PORT = re.compile(r"^([a-z]+)\d*$")
# A switch's management port: an RJ45 Ethernet port on every model the catalogue holds.
MGMT_END = End(None, "ethernet", "rj45", 1)


class Ends:
    """Looks up ends per (model, port); memoised because a site repeats few models."""

    def __init__(self, site: Site, topology: Topology | None = None) -> None:
        self.site = site
        self.cat = site.catalog
        self._topology = topology
        self._cage: dict[tuple[str, str], tuple[int, int, End | None]] = {}
        self._nic: dict[tuple[str, str, str | None], End] = {}
        # (device, port) -> (peer, peer port) of the template's switch-to-switch links; built
        # on the first twin-port cage asked about.
        self._peers: dict[tuple[str, str], tuple[str, str]] | None = None
        self._whole: dict[tuple[str, int], bool] = {}

    def protocol(self, a: Device, b: Device) -> str:
        """The protocol a link runs: its switch's (the upper one when both are switches);
        Ethernet between two hosts (an explicit back-to-back link)."""
        for d in (b, a):
            sw = self.cat.switches.get(d.model)
            if sw is not None:
                return sw.kind
        return "ethernet"

    def cage(self, d: Device, port: str) -> tuple[int, int]:
        """(cage, sub-port) of a switch front port, (0, 0) when not a caged port."""
        c, s, _e = self._switch_port(d.model, port)
        return c, s

    def _switch_port(self, model: str, port: str) -> tuple[int, int, End | None]:
        key = (model, port)
        got = self._cage.get(key)
        if got is not None:
            return got
        got = (0, 0, None)
        sw = self.cat.switches.get(model)
        m = _SWP.match(port)
        if sw is not None and m is not None:
            n = int(m.group(1)) - 1
            first_cage = 0
            found = False
            for grp in sw.cages:
                span = grp.count * grp.ports_per_cage
                if n < span:
                    end = End(SWITCH, sw.kind, grp.form_factor, grp.ports_per_cage)
                    cage = first_cage + n // grp.ports_per_cage + 1
                    got = (cage, n % grp.ports_per_cage + 1, end)
                    found = True
                    break
                n -= span
                first_cage += grp.count
            if not found:
                # No cages described (or a port past them, a finding elsewhere): a switch
                # port of unknown form factor.
                got = (0, 0, End(SWITCH, sw.kind, None))
        self._cage[key] = got
        return got

    def end(self, d: Device, port: str, protocol: str) -> End:
        """What plugs in at ``d:port`` on a link running ``protocol``."""
        if d.model in self.cat.switches:
            if port == MGMT_PORT:
                return MGMT_END
            cage, _sub, e = self._switch_port(d.model, port)
            if e is None:
                return End(SWITCH, protocol, None)
            if (e.ports_per_cage or 1) > 1 and self.whole_cage(d, port, cage):
                return End(e.kind, e.protocol, e.form_factor, e.ports_per_cage, whole_cage=True)
            return e
        m = _NIC_PORT.match(port)
        network = PREFIX_NETWORK.get(m.group(1)) if m else None
        key = (d.model, protocol, network)
        got = self._nic.get(key)
        if got is None:
            got = self._nic[key] = self._host_end(d.model, protocol, network)
        return got

    def _host_end(self, model: str, protocol: str, network: str | None) -> End:
        srv = self.cat.servers.get(model)
        st = self.cat.storage.get(model)
        nics = srv.nics if srv is not None else st.nics if st is not None else []
        # The NIC line's card when it names one: a card proper, or an accelerator's
        # integrated ports described by their cage (the Atlas 800T A3's 400GE ports).
        for n in nics:
            if n.network == network and n.model is not None:
                card = self.cat.nics.get(n.model)
                if card is not None:
                    return End(NIC, protocol, card.form_factor, 1)
        # Otherwise (no card named, or integrated ports not described): any form factor.
        return End(NIC, protocol, None, 1)

    # --- twin-port cages wired whole -----------------------------------------------------------
    def whole_cage(self, d: Device, port: str, cage: int) -> bool:
        """Whether both ports of ``d``'s ``cage`` (the cage of ``port``) go to the ports of
        one cage of one peer switch, sub-port to sub-port (see the module docstring)."""
        key = (d.name, cage)
        got = self._whole.get(key)
        if got is None:
            got = self._whole[key] = self._is_whole(d, port)
        return got

    def _is_whole(self, d: Device, port: str) -> bool:
        m = _SWP.match(port)
        cage, sub, end = self._switch_port(d.model, port)
        if m is None or end is None or not end.ports_per_cage or cage == 0:
            return False
        peers = self._peer_map()
        first = int(m.group(1)) - (sub - 1)
        at: tuple[str, int] | None = None
        for s in range(end.ports_per_cage):
            peer = peers.get((d.name, f"swp{first + s}"))
            other = self.site.devices.get(peer[0]) if peer is not None else None
            if peer is None or other is None:
                return False
            pc, psub = self.cage(other, peer[1])
            if pc == 0 or psub != s + 1 or (at is not None and at != (peer[0], pc)):
                return False
            at = (peer[0], pc)
        return True

    def _peer_map(self) -> dict[tuple[str, str], tuple[str, str]]:
        if self._peers is not None:
            return self._peers
        topo = self._topology if self._topology is not None else build_topology(self.site)
        peers: dict[tuple[str, str], tuple[str, str]] = {}

        def pair(a: str, ap: str, b: str, bp: str) -> None:
            peers[(a, ap)] = (b, bp)
            peers[(b, bp)] = (a, ap)

        for ct in topo.clusters:
            for ut in ct.units:
                for leaf, ups in zip(ut.leaves, ut.uplinks, strict=False):
                    for up in ups:
                        pair(leaf, up.leaf_port, ut.spines[up.spine], up.spine_port)
            for gt in ct.groups.values():
                for cu in gt.core_uplinks:
                    pair(gt.spines[cu.spine], cu.spine_port, ct.cores[cu.core], cu.core_port)
        # An explicit link replaces the template's link at each of its ends: neither end, nor
        # the port the template paired it with, is then part of a whole cage.
        for li in self.site.links:
            for ref in (li.spec.a, li.spec.b):
                dev, _sep, p = ref.partition(":")
                old = peers.pop((dev, p), None)
                if old is not None:
                    peers.pop(old, None)
        self._peers = peers
        return peers
