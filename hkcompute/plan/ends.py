"""The ends of a link as the catalogue describes them: which cage or NIC a port is, so the
plan picks parts that plug into it (``plan.optics``), and where a twin-port cage's port sits
(cage and sub-port, for the cabling sheet and the BOM's module count).

Switch front ports ``swpN`` are numbered across the model's cage groups in catalogue order:
port N lies in cage ``(N - 1) // ports_per_cage + 1`` of its group, sub-port
``(N - 1) % ports_per_cage + 1`` (swp1 and swp2 of a QM9700 are cage 1, ports 1 and 2), with
the cages of later groups numbered on after the earlier ones.
"""

from __future__ import annotations

import re

from hkcompute.model import Device, Site
from hkcompute.plan.optics import NIC, SWITCH, End

MGMT_PORT = "eth0"
_SWP = re.compile(r"^swp(\d+)$")
PREFIX_NETWORK = {"fab": "compute", "stor": "storage", "mgmt": "inband", "bmc": "oob"}
_NIC_PORT = re.compile(r"^([a-z]+)\d*$")
# A switch's management port: an RJ45 Ethernet port on every model the catalogue holds.
MGMT_END = End(None, "ethernet", "rj45", 1)


class Ends:
    """Looks up ends per (model, port); memoised because a site repeats few models."""

    def __init__(self, site: Site) -> None:
        self.cat = site.catalog
        self._cage: dict[tuple[str, str], tuple[int, int, End | None]] = {}
        self._nic: dict[tuple[str, str, str | None], End] = {}

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
            e = self._switch_port(d.model, port)[2]
            return e if e is not None else End(SWITCH, protocol, None)
        m = _NIC_PORT.match(port)
        network = PREFIX_NETWORK.get(m.group(1)) if m else None
        key = (d.model, protocol, network)
        got = self._nic.get(key)
        if got is None:
            got = self._nic[key] = self._host_end(d.model, protocol, network)
        return got

    def _host_end(self, model: str, protocol: str, network: str | None) -> End:
        srv = self.cat.servers.get(model)
        if srv is not None and network == "compute" and srv.accelerator:
            acc = self.cat.accelerators.get(srv.accelerator)
            if acc is not None and acc.nics_integrated:
                # The port is part of the accelerator: its cage is not in the catalogue.
                return End(NIC, protocol, None, 1)
        st = self.cat.storage.get(model)
        nics = srv.nics if srv is not None else st.nics if st is not None else []
        for n in nics:
            if n.network == network and n.model is not None:
                card = self.cat.nics.get(n.model)
                if card is not None:
                    return End(NIC, protocol, card.form_factor, 1)
        return End(NIC, protocol, None, 1)
