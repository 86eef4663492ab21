"""Graph checks, sized so the full site stays fast (networkx where its algorithms earn
their keep: components and articulation points).

A compute fabric with thousands of leaves is not searched pair by pair: leaves with the same
set of switch neighbours ("twins", all leaves of a healthy spine group) are at distance 2 from
each other and at the same distance from everything else, so one representative per twin
class keeps every distance. Breadth-first search then runs from a handful of representatives
over a graph of spines, cores and those representatives. Hop counts count cables between two
GPU nodes: 2 on one leaf, 4 through a spine, 6 through the core.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx

from hkcompute.findings import Finding, make
from hkcompute.model import ClusterInfo, Site
from hkcompute.plan import codes as R
from hkcompute.plan.records import Link


def expected_hops(c: ClusterInfo, leaves_with_nodes: int, groups: int) -> int:
    if leaves_with_nodes <= 1:
        return 2
    return 4 if groups <= 1 else 6


def check_compute(site: Site, links: list[Link], phase: int | None) -> list[Finding]:
    findings: list[Finding] = []
    by_cluster: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        if link.network == "compute" and link.cluster is not None:
            by_cluster[link.cluster].append(link)
    for c in site.clusters:
        findings.extend(_check_cluster(site, c, by_cluster.get(c.name, []), phase))
    return findings


def _distances(src: str, nbrs: dict[str, set[str]], dropped: set[str]) -> dict[str, int]:
    """Breadth-first hop counts from ``src`` over the switch adjacency, without the dropped
    twins: the adjacency is already built, so no graph object is (that was half the time
    of this check on the full site)."""
    dist = {src: 0}
    frontier = [src]
    hops = 0
    while frontier:
        hops += 1
        nxt = []
        for u in frontier:
            for v in nbrs.get(u, ()):
                if v not in dist and v not in dropped:
                    dist[v] = hops
                    nxt.append(v)
        frontier = nxt
    return dist


def _check_cluster(
    site: Site, c: ClusterInfo, links: list[Link], phase: int | None
) -> list[Finding]:
    devices = site.devices
    out: list[Finding] = []
    nbrs: dict[str, set[str]] = defaultdict(set)  # switch -> switch neighbours
    node_leaves: dict[str, set[str]] = defaultdict(set)
    for link in links:
        da, db = devices.get(link.a), devices.get(link.b)
        if da is None or db is None:
            continue
        if da.is_switch and db.is_switch:
            nbrs[link.a].add(link.b)
            nbrs[link.b].add(link.a)
        elif db.is_switch:
            node_leaves[link.a].add(link.b)
        elif da.is_switch:
            node_leaves[link.b].add(link.a)
    # GPU nodes without any compute link, reported once per unit.
    isolated: dict[str, list[str]] = defaultdict(list)
    for d in site.devices_upto(phase):
        if d.cluster == c.name and d.role == "gpu_node" and d.name not in node_leaves:
            isolated[d.unit or c.name].append(d.name)
    for unit, names in isolated.items():
        first = devices[names[0]]
        out.append(
            make(
                R.NODE_ISOLATED,
                f"{len(names)} GPU node(s) of {unit} have no "
                f"compute-fabric link (first: {names[0]})",
                first.loc,
                subject=names[0],
            )
        )
    leaves_with_nodes = {leaf for ls in node_leaves.values() for leaf in ls}
    if len(leaves_with_nodes) <= 1:
        return out
    # Twin classes of leaves (every switch that takes nodes counts as a leaf here).
    classes: dict[frozenset[str], list[str]] = defaultdict(list)
    for leaf in sorted(leaves_with_nodes):
        classes[frozenset(nbrs.get(leaf, ()))].append(leaf)
    reps = {members[0]: key for key, members in classes.items()}
    dropped = {m for members in classes.values() for m in members[1:]}
    worst = 0
    pair = ("", "")
    unreachable: tuple[str, str] | None = None
    rep_list = sorted(reps)
    for key, members in classes.items():
        if len(members) > 1:
            if not key:
                unreachable = (members[0], members[1])
            elif worst < 2:
                worst, pair = 2, (members[0], members[1])
    for i, src in enumerate(rep_list):
        dist = _distances(src, nbrs, dropped)
        for dst in rep_list[i + 1 :]:
            hop = dist.get(dst)
            if hop is None:
                unreachable = unreachable or (src, dst)
            elif hop > worst:
                worst, pair = hop, (src, dst)
    groups = len({devices[x].group for x in leaves_with_nodes if x in devices})
    if unreachable is not None:
        a, b = unreachable
        out.append(
            make(
                R.NOT_CONNECTED,
                f"compute fabric of cluster {c.name!r}: no path from {a} to {b}",
                c.loc,
                subject=c.name,
            )
        )
        return out
    hops = worst + 2
    want = expected_hops(c, len(leaves_with_nodes), groups)
    if hops > want:
        out.append(
            make(
                R.HOP_COUNT,
                f"compute fabric of cluster {c.name!r}: GPU nodes on "
                f"{pair[0]} and {pair[1]} are {hops} hops apart; expected at most "
                f"{want}",
                c.loc,
                subject=c.name,
            )
        )
    return out


def check_inband(site: Site, links: list[Link], phase: int | None) -> list[Finding]:
    """No single switch whose loss cuts a node with two in-band uplinks off its network."""
    devices = site.devices
    out: list[Finding] = []
    node_sw: dict[str, list[str]] = defaultdict(list)
    g = nx.Graph()
    for link in links:
        if link.network != "inband":
            continue
        da, db = devices.get(link.a), devices.get(link.b)
        if da is None or db is None:
            continue
        if da.is_switch and db.is_switch:
            g.add_edge(link.a, link.b)
        elif db.is_switch:
            node_sw[link.a].append(link.b)
            g.add_node(link.b)
        elif da.is_switch:
            node_sw[link.b].append(link.a)
            g.add_node(link.a)
    dual = {n: set(sws) for n, sws in node_sw.items() if len(sws) >= 2}
    for n, sws in sorted(dual.items()):
        if len(sws) < 2:
            out.append(
                make(
                    R.NO_REDUNDANCY,
                    f"{n}: both in-band uplinks go to {min(sws)}",
                    devices[n].loc,
                    subject=n,
                )
            )
    if not dual or g.number_of_nodes() == 0:
        return out
    comp_of: dict[str, int] = {}
    comps = list(nx.connected_components(g))
    for i, comp in enumerate(comps):
        for sw in comp:
            comp_of[sw] = i
    for ap in sorted(nx.articulation_points(g)):
        comp = comps[comp_of[ap]]
        rest = g.subgraph(comp - {ap})
        parts = sorted(nx.connected_components(rest), key=len, reverse=True)
        main = parts[0] if parts else set()
        for n, sws in dual.items():
            if (
                ap in sws
                and len(sws) >= 2
                and not (sws - {ap}) & main
                and comp_of.get(next(iter(sws))) == comp_of[ap]
            ):
                out.append(
                    make(
                        R.NO_REDUNDANCY,
                        f"{n}: losing {ap} cuts it off the in-band network",
                        devices[n].loc,
                        subject=n,
                    )
                )
    return out


def check_storage(site: Site, links: list[Link]) -> list[Finding]:
    """The storage switches form one network (else a node may not reach its storage)."""
    devices = site.devices
    g = nx.Graph()
    for link in links:
        if link.network != "storage":
            continue
        da, db = devices.get(link.a), devices.get(link.b)
        if da is None or db is None:
            continue
        if da.is_switch and db.is_switch:
            g.add_edge(link.a, link.b)
        else:
            g.add_nodes_from(x.name for x in (da, db) if x.is_switch)
    if g.number_of_nodes() < 2:
        return []
    comps = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: c[0])
    if len(comps) == 1:
        return []
    first = devices[comps[1][0]]
    return [
        make(
            R.STORAGE_SPLIT,
            f"the storage switches form {len(comps)} separate networks "
            f"(e.g. {comps[0][0]} and {comps[1][0]} are not connected)",
            first.loc,
            subject=first.name,
        )
    ]
