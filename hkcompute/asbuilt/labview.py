"""What the container lab does differently from a floor, undone before the comparison.

* Interfaces: the lab renames each container interface to its planned port (``lab up``
  records the engine's own names in ``ifnames.json``); an interface still under its engine
  name (``eth3``) is read as the planned port it stands for.
* Leaf segments: a leaf's node-facing ports are one bridge per leaf in the lab (the leaf's
  ``vlan100`` and every node NIC cabled to that leaf; see ``hkcompute.lab.layout``), so a
  node sees the leaf's ``vlan100`` and the other nodes of the segment. The leaf end is read as
  the leaf port the plan gives that node (the lab has no per-port wiring on that side to
  check), and node-to-node sightings across a segment are dropped: no cable joins them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hkcompute.asbuilt.observed import End, Sighting
from hkcompute.plan.records import Link

if TYPE_CHECKING:
    from hkcompute.lab.layout import Layout


@dataclass(frozen=True)
class Segment:
    leaf: End  # the leaf's one interface on the segment (vlan100)
    members: frozenset[End]  # the node ports on it


def segments_of(layout: Layout) -> list[Segment]:
    by_net: dict[str, list[tuple[str, str, bool]]] = {}
    for h in layout.hosts:
        for p in h.ports:
            by_net.setdefault(p.network, []).append((h.name, p.name, h.is_switch))
    kinds = {n.name: n.kind for n in layout.networks}
    out = []
    for net, ports in sorted(by_net.items()):
        if kinds.get(net) != "segment":
            continue
        leaves = [End(d, p) for d, p, sw in ports if sw]
        if len(leaves) != 1:
            continue
        out.append(Segment(leaves[0], frozenset(End(d, p) for d, p, sw in ports if not sw)))
    return out


def lab_sightings(
    sightings: Iterable[Sighting],
    links: Iterable[Link],
    segments: Iterable[Segment],
    engine_names: Mapping[str, Mapping[str, str]],
) -> list[Sighting]:
    """``engine_names``: host -> planned port -> the engine's interface name."""
    planned = {h: {eng: port for port, eng in names.items()} for h, names in engine_names.items()}

    def named(e: End) -> End:
        return End(e.device, planned.get(e.device, {}).get(e.port, e.port))

    leaf_of = {s.leaf: s for s in segments}
    member = {m for s in segments for m in s.members}
    toward: dict[tuple[str, str, str], str] = {}  # (leaf, node, node port) -> leaf port
    toward_dev: dict[tuple[str, str], str] = {}  # (leaf, node) -> first leaf port
    for x in links:
        for (sw, sw_port), (dev, dev_port) in (
            ((x.b, x.b_port), (x.a, x.a_port)),
            ((x.a, x.a_port), (x.b, x.b_port)),
        ):
            toward[(sw, dev, dev_port)] = sw_port
            toward_dev.setdefault((sw, dev), sw_port)

    def leaf_port(leaf: End, node: End) -> End:
        port = toward.get((leaf.device, node.device, node.port)) or toward_dev.get(
            (leaf.device, node.device)
        )
        return End(leaf.device, port) if port else leaf

    out = []
    for s in sightings:
        local, remote = named(s.local), named(s.remote)
        if local in leaf_of and remote not in leaf_of:
            local = leaf_port(local, remote)
        elif remote in leaf_of and local not in leaf_of:
            remote = leaf_port(remote, local)
        elif local in member and remote in member:
            continue  # two nodes on one segment: the lab's bridge, not a cable
        out.append(Sighting(local, remote, s.source))
    return out
