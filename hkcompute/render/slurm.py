"""The Slurm context: nodes with their real CPU, memory and GRES, partitions per tenant and
phase, GRES per vendor, and a topology built from the fabric (pure, from the site model).

Rail-optimised units put every node on all of its unit's leaves (one per rail), so Slurm's
tree sees the *unit* as the leaf switch (all rails together), spine groups above it and the
core above those: jobs packed within a unit never cross a spine.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hkcompute import schema as S
from hkcompute.inventory.ranges import compress
from hkcompute.model import Device, Site
from hkcompute.plan.topology import Topology
from hkcompute.topology import group_label

# Leave the OS room: Slurm refuses a node whose RealMemory exceeds what it finds.
MEMORY_RESERVE = 0.95


def _gres_type(name: str, acc: S.Accelerator) -> str:
    """The Slurm GRES type of an accelerator: its catalogue ``gres_type``, else its model
    name in lower case up to the first '-' ('H800-SXM' -> 'h800')."""
    return acc.gres_type or name.lower().split("-")[0]


def slurm_context(
    site: Site, phase: int | None, controller: tuple[str, str], topology: Topology
) -> dict[str, Any]:
    nodes = [
        d for d in site.devices_upto(phase) if d.role == "gpu_node" and d.status not in ("retired",)
    ]
    by_model: dict[str, list[Device]] = defaultdict(list)
    for d in nodes:
        by_model[d.model].append(d)
    node_lines = []
    gres_lines = []
    gres_types: set[str] = set()
    for model in sorted(by_model):
        server = site.catalog.servers[model]
        names = compress([d.name for d in by_model[model]])
        acc_name = server.accelerator
        gres = None
        acc = site.catalog.accelerators.get(acc_name or "") if server.accelerators else None
        if acc_name and acc is not None:  # an unknown accelerator is HK308's finding
            kind = acc.gres
            prefix = acc.device_prefix
            gres_types.add(kind)
            gtype = _gres_type(acc_name, acc)
            gres = f"{kind}:{gtype}:{server.accelerators}"
            gres_lines.append(
                {
                    "names": names,
                    "name": kind,
                    "type": gtype,
                    "file": f"{prefix}[0-{server.accelerators - 1}]",
                }
            )
        node_lines.append(
            {
                "comment": f"{len(by_model[model])} x {model}: {server.sockets} x "
                f"{server.cpu_cores // server.sockets} cores, {server.memory_gb:g} GB"
                + (f", {server.accelerators} x {acc_name}" if acc_name else ""),
                "names": names,
                "sockets": server.sockets,
                "cores_per_socket": server.cpu_cores // server.sockets,
                "threads_per_core": server.threads_per_core,
                "memory_mb": int(server.memory_gb * 1024 * MEMORY_RESERVE),
                "gres": gres,
            }
        )
    partitions = _partitions(site, nodes)
    return {
        "cluster_name": site.info.name,
        "controller": {"name": controller[0], "address": controller[1]},
        "gres_types": sorted(gres_types),
        "nodes": node_lines,
        "gres": gres_lines,
        "partitions": partitions,
        "topology": _topology(topology, nodes),
    }


def _partitions(site: Site, nodes: list[Device]) -> list[dict[str, Any]]:
    """One partition per cluster (all its nodes) and one per tenant (the nodes of its units
    and clusters), and one per phase so a rollout can be tested in isolation."""
    parts: list[dict[str, Any]] = []
    by_cluster: dict[str, list[str]] = defaultdict(list)
    by_tenant: dict[str, list[str]] = defaultdict(list)
    by_phase: dict[int, list[str]] = defaultdict(list)
    tenant_clusters = {t.name: set(t.spec.clusters) for t in site.tenants.values()}
    for d in nodes:
        by_cluster[d.cluster or "misc"].append(d.name)
        by_phase[d.phase].append(d.name)
        if d.tenant:
            by_tenant[d.tenant].append(d.name)
    for tenant, clusters in tenant_clusters.items():
        for d in nodes:
            if d.cluster in clusters and d.tenant is None:
                by_tenant[tenant].append(d.name)
    first = True
    for name in sorted(by_cluster):
        parts.append(
            {
                "name": name,
                "nodes": compress(sorted(by_cluster[name])),
                "default": first,
                "allow_accounts": None,
            }
        )
        first = False
    for tenant in sorted(by_tenant):
        parts.append(
            {
                "name": f"t-{tenant}",
                "nodes": compress(sorted(set(by_tenant[tenant]))),
                "default": False,
                "allow_accounts": tenant,
            }
        )
    for ph in sorted(by_phase):
        parts.append(
            {
                "name": f"phase{ph}",
                "nodes": compress(sorted(by_phase[ph])),
                "default": False,
                "allow_accounts": None,
            }
        )
    return parts


def _topology(topology: Topology, nodes: list[Device]) -> list[dict[str, Any]]:
    """The plan's topology as Slurm's tree: a unit's leaves, its spine group, the core."""
    units: dict[str, list[str]] = defaultdict(list)
    for d in nodes:
        if d.unit:
            units[d.unit].append(d.name)
    out: list[dict[str, Any]] = []
    for ct in topology.clusters:
        c = ct.cluster
        groups: dict[int, list[str]] = defaultdict(list)
        for u in (ut.unit for ut in ct.units):
            if u.name in units:
                out.append(
                    {"name": f"{u.name}-leaves", "nodes": compress(units[u.name]), "switches": None}
                )
                groups[u.group].append(f"{u.name}-leaves")
        group_names = []
        for g in sorted(groups):
            gname = f"{group_label(c.name, g)}-spines"
            out.append({"name": gname, "nodes": None, "switches": compress(groups[g])})
            group_names.append(gname)
        if len(group_names) > 1:
            out.append({"name": f"{c.name}-core", "nodes": None, "switches": compress(group_names)})
    return out
