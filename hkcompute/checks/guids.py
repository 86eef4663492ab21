"""HK421: the tenant partitions of a subnet-managed fabric, and the port GUIDs they lack.

OpenSM admits a port to a partition by its port GUID, which no inventory knows: discovery
finds them (``hkcompute cabling verify --ibnetdiscover`` writes ``.asbuilt/guids.yaml``, the
loader carries it as ``Site.guids``). ``tenant_partitions`` is what the subnet manager's
``partitions.conf`` is rendered from (``ContextBuilder.subnet_manager``) and what this rule
reads, so the two agree: a tenant's partition lists every HCA port of every node of the tenant
in the cluster (its compute links), and is left out of the file while any of those GUIDs is
unknown, since a partition naming part of a tenant would cut the rest off its own traffic.
Every node stays a full member of the default partition (``ALL_CAS``), so a site carries
traffic before discovery: this is a warning. Without a map, one finding per tenant partition;
with one, one per node that lacks a GUID, naming its ports.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import planned_on_broken
from hkcompute.findings import Finding, Severity, make, rule
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.plan.records import Plan

MISSING_GUID = rule(
    "HK421",
    Severity.WARNING,
    "an HCA port's GUID is not recorded, so its tenant partition is left out",
    "Record the fabric's port GUIDs: run `hkcompute cabling verify SITE --phase N "
    "--ibnetdiscover FILE` with FILE the output of ibnetdiscover (it writes "
    "SITE/.asbuilt/guids.yaml); until then the tenant's nodes are in the default partition only.",
)

PKEY_BASE = 0x100  # the first tenant partition's key; the default partition is 0x7fff
NODE_ROLE = "gpu_node"
_DIGITS = re.compile(r"(\d+)")


def _natural(s: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (0, p) for p in _DIGITS.split(s) if p)


@dataclass(frozen=True)
class Partition:
    """One tenant's partition of a cluster. ``ports`` are every (node, HCA port) of the
    tenant's nodes there, nodes by name and ports in natural order; ``guids`` their port
    GUIDs in that order when every one is known (else empty), ``missing`` the ports whose
    GUID is not."""

    cluster: str
    tenant: str
    pkey: str
    nodes: tuple[str, ...]
    ports: tuple[tuple[str, str], ...]
    guids: tuple[str, ...]
    missing: tuple[tuple[str, str], ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def tenant_partitions(site: Site, plan: Plan, phase: int | None, cluster: str) -> list[Partition]:
    """The tenant partitions of ``cluster`` as built up to ``phase``, by tenant name. Keys
    are given in that order to every tenant with nodes, rendered or not, so a partition
    left out for a missing GUID never moves another's key."""
    c = site.cluster(cluster)
    if c is None:
        return []
    members: dict[str, list[str]] = defaultdict(list)
    for dev in site.devices_upto(phase):
        if dev.cluster == c.name and dev.role == NODE_ROLE:
            tenant = dev.tenant or (c.tenants[0] if c.tenants else None)
            if tenant:
                members[tenant].append(dev.name)
    if not members:
        return []
    wanted = {n for names in members.values() for n in names}
    # A node's HCA ports: its ends of the fabric's cables (what ibnetdiscover sees).
    ports: dict[str, list[str]] = defaultdict(list)
    for link in plan.links_upto(phase):
        if link.network != "compute":
            continue
        if link.a in wanted:
            ports[link.a].append(link.a_port)
        if link.b in wanted:
            ports[link.b].append(link.b_port)
    gmap = site.guids
    out = []
    for i, tenant in enumerate(sorted(members)):
        nodes = tuple(sorted(members[tenant]))
        mine = tuple(
            (n, p) for n in nodes for p in sorted(dict.fromkeys(ports.get(n, ())), key=_natural)
        )
        found = [gmap.get(n, p) if gmap is not None else None for n, p in mine]
        missing = tuple(np for np, g in zip(mine, found, strict=True) if g is None)
        guids = () if missing else tuple(g for g in found if g is not None)
        out.append(Partition(c.name, tenant, f"0x{PKEY_BASE + i:04x}", nodes, mine, guids, missing))
    return out


@register("guids")
def check(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    clusters = [
        c.name
        for c in site.clusters
        if (k := site.fabric_of(c.name)) is not None and k.has_subnet_manager
    ]
    if not clusters:
        return
    echoes = planned_on_broken(site)
    plan = plan_for(site, ctx.phase)
    gmap = site.guids
    for cluster in clusters:
        for part in tenant_partitions(site, plan, ctx.phase, cluster):
            if part.complete or cluster in echoes:
                continue
            what = f"partition {part.tenant} ({part.pkey}) of cluster {cluster}"
            if gmap is None:
                first = site.devices[part.nodes[0]]
                t = site.tenants.get(part.tenant)
                where = t.loc if t is not None and t.loc.line else first.loc
                last = max(site.devices[n].phase for n in part.nodes)
                yield make(
                    MISSING_GUID,
                    f"{what} is left out of the subnet manager's partitions.conf: no GUID map "
                    f"yet for its {len(part.missing):,} HCA ports on {len(part.nodes):,} nodes",
                    where,
                    hint=_hint(last),
                    subject=part.tenant,
                )
                continue
            by_node: dict[str, list[str]] = defaultdict(list)
            for node, port in part.missing:
                by_node[node].append(port)
            for node, node_ports in by_node.items():
                d = site.devices[node]
                yield make(
                    MISSING_GUID,
                    f"{node} {', '.join(node_ports)}: no port GUID in {gmap.path}, so {what} "
                    "is left out of the subnet manager's partitions.conf",
                    d.loc,
                    hint=_hint(d.phase),
                    subject=node,
                )


def _hint(phase: int) -> str:
    return MISSING_GUID.hint.replace("--phase N", f"--phase {phase}")
