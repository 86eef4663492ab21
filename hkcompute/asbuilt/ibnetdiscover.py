"""Read the topology text ``ibnetdiscover`` prints (infiniband-diags).

The file is a list of node blocks, switches first, then CAs (and routers)::

    vendid=0x2c9
    devid=0xd2f0
    sysimgguid=0xfc6a1c0300e2a0c0
    switchguid=0xfc6a1c0300e2a0c0(fc6a1c0300e2a0c0)
    Switch  64 "S-fc6a1c0300e2a0c0"     # "MF0;lab-su1-leaf1:MQM9700/U1" enhanced port 0 lid 2 lmc 0
    [1]     "H-946dae03006e1234"[1](946dae03006e1234)       # "lab-su1-n01 mlx5_0" lid 5 4xNDR
    [33]    "S-fc6a1c0300e2a1c0"[1]         # "MF0;lab-g01-spine01:MQM9700/U1" lid 3 4xNDR

    caguid=0x946dae03006e1234
    Ca      1 "H-946dae03006e1234"          # "lab-su1-n01 mlx5_0"
    [1](946dae03006e1234)   "S-fc6a1c0300e2a0c0"[1]         # lid 5 lmc 0 "MF0;..." lid 2 4xNDR

A port line is ``[port](own port GUID, CAs only) "<remote node>"[remote port](remote port
GUID, when the remote is no switch)`` and a comment; ``-g`` adds ``[ext N]`` after port
numbers and chassis headers, which are read and skipped. Each link appears from both ends.
Node names (``S-``/``H-``/``R-`` and the node GUID) are ibnetdiscover's own; the inventory
names come from the node descriptions (see ``names``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hkcompute.asbuilt.names import UNKNOWN_PREFIX, Resolver, ib_hca_port, ib_switch_port
from hkcompute.asbuilt.observed import Discovery, DiscoveryError, End, Sighting

MEDIUM = "infiniband"
_NUM = r"([0-9]{1,6})"
_EXT = r"(?:\[ext [0-9]{1,6}\])?"
_NAME = r'"([SHR]-[0-9a-fA-F]{1,16})"'
_NODE = re.compile(r"^(Switch|Ca|Rt)\s+" + _NUM + r"\s+" + _NAME + r'\s*(?:#\s*"(.*)"(.*))?$')
_PORT = re.compile(
    r"^\["
    + _NUM
    + r"\]"
    + _EXT
    + r"(?:\(([0-9a-fA-F]{1,16})\))?\s+"
    + _NAME
    + r"\["
    + _NUM
    + r"\]"
    + _EXT
    + r"\s*(?:\(([0-9a-fA-F]{1,16})\))?\s*(?:#(.*))?$"
)
_QUOTED = re.compile(r'"(.*)"')
_IDS = re.compile(r"^(vendid|devid|sysimgguid|switchguid|caguid|rtguid)=\S+")
_SKIP = re.compile(r"^(#|Chassis [0-9]+|Non-Chassis Nodes|Hostname:)")
MAX_PORT = 4096


@dataclass
class Node:
    name: str  # "S-<guid>", ibnetdiscover's own
    kind: str  # Switch, Ca, Rt
    desc: str
    line: int


@dataclass
class PortLink:
    node: str
    port: int
    guid: str | None  # this port's GUID (CAs)
    remote: str
    remote_port: int
    remote_guid: str | None
    remote_desc: str
    line: int


@dataclass
class Topology:
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[PortLink] = field(default_factory=list)


def _guid(hex_digits: str | None) -> str | None:
    return None if hex_digits is None else f"0x{int(hex_digits, 16):016x}"


def parse(text: str, source: str) -> Topology:
    topo = Topology()
    current: Node | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or _SKIP.match(line) or _IDS.match(line):
            continue
        m = _NODE.match(line)
        if m:
            kind, _n, name, desc, _rest = m.groups()
            current = Node(name, kind, desc or "", no)
            if name in topo.nodes:
                raise DiscoveryError(
                    f"node {name} appears twice (first on line {topo.nodes[name].line})",
                    location=f"{source}:{no}",
                )
            topo.nodes[name] = current
            continue
        m = _PORT.match(line)
        if m:
            if current is None:
                raise DiscoveryError(
                    "a port line before any Switch or Ca line", location=f"{source}:{no}"
                )
            port, own, remote, rport, rguid, comment = m.groups()
            if not (1 <= int(port) <= MAX_PORT and 1 <= int(rport) <= MAX_PORT):
                raise DiscoveryError(
                    f"port number out of range in {line[:60]!r}", location=f"{source}:{no}"
                )
            q = _QUOTED.search(comment or "")
            topo.links.append(
                PortLink(
                    current.name,
                    int(port),
                    _guid(own),
                    remote,
                    int(rport),
                    _guid(rguid),
                    q.group(1) if q else "",
                    no,
                )
            )
            continue
        raise DiscoveryError(
            f"not a line of ibnetdiscover's topology output: {line[:80]!r}",
            location=f"{source}:{no}",
        )
    if not topo.nodes:
        raise DiscoveryError(
            "no Switch or Ca node: expected the output of ibnetdiscover", location=source
        )
    return topo


@dataclass
class Mapped:
    discovery: Discovery
    guids: dict[str, dict[str, str]]  # device -> plan port -> port GUID (HCAs)


def to_inventory(topo: Topology, resolver: Resolver, source: str) -> Mapped:
    """Sightings between inventory names, the devices seen, and the HCA port GUIDs."""
    descs = {n.name: n.desc for n in topo.nodes.values()}
    kinds = {n.name: n.kind for n in topo.nodes.values()}
    for pl in topo.links:  # a remote node without a block of its own: its port line says
        descs.setdefault(pl.remote, pl.remote_desc)
        kinds.setdefault(pl.remote, {"S": "Switch", "H": "Ca", "R": "Rt"}[pl.remote[0]])

    def end(node: str, port: int) -> End:
        desc = descs.get(node, "")
        if kinds[node] == "Switch":
            dev = resolver.ib_switch(desc)
            return End(dev or UNKNOWN_PREFIX + (desc or node), ib_switch_port(port))
        host, hca = resolver.ib_ca(desc)
        if host is None:
            return End(UNKNOWN_PREFIX + (desc or node), f"{port}")
        return End(host, ib_hca_port(hca, port))

    disc = Discovery()
    for n in topo.nodes.values():
        e = end(n.name, 1)
        if not e.device.startswith(UNKNOWN_PREFIX):
            disc.collected.add((e.device, MEDIUM))
    unnamed = sorted(
        f"{n} {descs[n]!r}"
        for n, k in kinds.items()
        if k != "Switch" and end(n, 1).device.startswith(UNKNOWN_PREFIX)
    )
    if unnamed:
        disc.notes.append(
            f"{len(unnamed)} HCA(s) in {source} have no inventory host name in "
            f"their node description (first: {unnamed[0]}): their GUIDs are "
            "left out of the GUID map"
        )
    guids: dict[str, dict[str, str]] = {}
    for pl in topo.links:
        local, remote = end(pl.node, pl.port), end(pl.remote, pl.remote_port)
        disc.sightings.append(Sighting(local, remote, f"{source}:{pl.line}"))
        for node, e, guid in ((pl.node, local, pl.guid), (pl.remote, remote, pl.remote_guid)):
            if guid and kinds[node] != "Switch" and not e.device.startswith(UNKNOWN_PREFIX):
                guids.setdefault(e.device, {}).setdefault(e.port, guid)
    return Mapped(disc, guids)
