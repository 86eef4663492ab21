"""Who does what: which services host runs which service, which switches are InfiniBand
subnet managers, which devices Ansible manages. Decided here, once per plan, and carried on
the plan (``Plan.assignments``); render, deploy and verify read these decisions instead of
making them again.
"""

from __future__ import annotations

from hkcompute.model import Device, Site
from hkcompute.plan.records import Assignments, Plan
from hkcompute.schema import SERVICES

# What Ansible manages: servers, and fabric switches that run a Linux NOS (RoCE) or host an
# InfiniBand subnet manager.
MANAGED_ROLES = ("gpu_node", "storage", "service", "leaf", "spine", "core")
UNMANAGED_STATUSES = ("retired", "failed")
# OpenSM priorities: the master, then the standby.
SM_PRIORITIES = (14, 13)


def services_of(site: Site, phase: int | None) -> dict[str, tuple[str, ...]]:
    """Which service node runs what: as declared, else the first service node runs all."""
    nodes = [d for d in site.devices_upto(phase) if d.role == "service"]
    out: dict[str, list[str]] = {s: [] for s in SERVICES}
    out["login"] = []
    declared = any(d.services for d in nodes)
    for d in nodes:
        for s in d.services if declared else (SERVICES if d is nodes[0] else ()):
            out.setdefault(s, []).append(d.name)
    return {s: tuple(names) for s, names in out.items()}


def subnet_managers_of(site: Site, phase: int | None) -> dict[str, int]:
    """Two subnet managers per InfiniBand cluster: the first two cores, else the first two
    spines (priority 14 is the master, 13 the standby)."""
    out: dict[str, int] = {}
    by_cluster: dict[str, list[Device]] = {}
    for d in site.devices_upto(phase):
        if d.cluster is not None and d.role in ("spine", "core"):
            by_cluster.setdefault(d.cluster, []).append(d)
    for c in site.clusters:
        if c.fabric != "infiniband":
            continue
        devs = by_cluster.get(c.name, [])
        picks = [d for d in devs if d.role == "core"][:2] or [d for d in devs if d.role == "spine"][
            :2
        ]
        for prio, d in zip(SM_PRIORITIES, picks, strict=False):
            out[d.name] = prio
    return out


def managed_of(site: Site, phase: int | None, subnet_managers: dict[str, int]) -> tuple[str, ...]:
    """Servers and storage in service, RoCE fabric switches, and InfiniBand switches that
    host a subnet manager (the rest of an InfiniBand fabric runs no Linux to manage)."""
    out = []
    for d in site.devices_upto(phase):
        if d.role not in MANAGED_ROLES or d.status in UNMANAGED_STATUSES:
            continue
        if d.role in ("leaf", "spine", "core"):
            c = site.cluster(d.cluster or "")
            if c is None:
                continue
            if c.fabric != "roce" and d.name not in subnet_managers:
                continue
        out.append(d.name)
    return tuple(out)


def assign(site: Site, phase: int | None) -> Assignments:
    sm = subnet_managers_of(site, phase)
    return Assignments(phase, services_of(site, phase), sm, managed_of(site, phase, sm))


def assignments_of(site: Site, plan: Plan, phase: int | None) -> Assignments:
    """The plan's assignments when it was built for ``phase``; else (a plan assembled by hand,
    or one of another phase read up to ``phase``) the same decisions made for ``phase``."""
    got = plan.assignments
    if got is not None and got.phase == phase:
        return got
    return assign(site, phase)
