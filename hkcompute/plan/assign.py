"""Who does what: which services host runs which service, which switches (or fabric-manager
appliances) host their fabric's subnet managers, which devices Ansible manages. Decided here,
once per plan, and carried on the plan (``Plan.assignments``); render, deploy and verify read
these decisions instead of making them again.
"""

from __future__ import annotations

from hkcompute import topology as T
from hkcompute.model import Device, Site
from hkcompute.plan.records import Assignments, Plan
from hkcompute.schema import SERVICES, SwitchFunction

# What Ansible manages: servers, and fabric switches whose network OS is a Linux one (Ansible
# reaches them over SSH and places their files) and that get files: routing switches and
# subnet manager hosts.
MANAGED_ROLES = ("gpu_node", "storage", "service", "leaf", "spine", "core")
UNMANAGED_STATUSES = ("retired", "failed")
# OpenSM priorities: the master, then the standby.
SM_PRIORITIES = (14, 13)


def fabric_managers_of(site: Site, phase: int | None) -> dict[str, list[Device]]:
    """Each cluster's fabric-manager appliances present by ``phase``, in order (role
    ``fabric_manager``: servers that run the fabric's subnet manager, nothing else)."""
    out: dict[str, list[Device]] = {}
    for c in site.clusters:
        kind = site.fabric_of(c.name)
        fm = kind.fabric_manager if kind is not None else None
        if fm is None:
            continue
        for j in range(fm.count):
            d = site.devices.get(T.fabric_manager_name(c.name, j))
            if d is not None and d.cluster == c.name and (phase is None or d.phase <= phase):
                out.setdefault(c.name, []).append(d)
    return out


def services_of(site: Site, phase: int | None) -> dict[str, tuple[str, ...]]:
    """Which service node runs what: as declared, else the first service node runs all. A
    fabric manager's appliance is no services host."""
    appliances = {d.name for devs in fabric_managers_of(site, phase).values() for d in devs}
    nodes = [
        d for d in site.devices_upto(phase) if d.role == "service" and d.name not in appliances
    ]
    out: dict[str, list[str]] = {s: [] for s in SERVICES}
    out["login"] = []
    declared = any(d.services for d in nodes)
    for d in nodes:
        for s in d.services if declared else (SERVICES if d is nodes[0] else ()):
            out.setdefault(s, []).append(d.name)
    return {s: tuple(names) for s, names in out.items()}


def subnet_managers_of(site: Site, phase: int | None) -> dict[str, int]:
    """As many subnet managers per cluster as its fabric kind wants (``subnet_managers``):
    the fabric manager's appliances when the kind has one (UFM runs the subnet manager), else
    the first cores, else the first spines (priority 14 is the master, 13 the standby, then
    lower)."""
    out: dict[str, int] = {}
    appliances = fabric_managers_of(site, phase)
    by_cluster: dict[str, list[Device]] = {}
    for d in site.devices_upto(phase):
        if d.cluster is not None and d.role in ("spine", "core"):
            by_cluster.setdefault(d.cluster, []).append(d)
    for c in site.clusters:
        kind = site.fabric_of(c.name)
        if kind is None or not kind.has_subnet_manager or not kind.subnet_managers:
            continue
        devs = by_cluster.get(c.name, [])
        want = kind.subnet_managers
        if kind.fabric_manager is not None:
            picks = appliances.get(c.name, [])[:want]
        else:
            picks = [d for d in devs if d.role == "core"][:want] or [
                d for d in devs if d.role == "spine"
            ][:want]
        for i, d in enumerate(picks):
            out[d.name] = SM_PRIORITIES[i] if i < len(SM_PRIORITIES) else max(1, 12 - i)
    return out


def managed_of(site: Site, phase: int | None, subnet_managers: dict[str, int]) -> tuple[str, ...]:
    """Servers and storage in service (not fabric-manager appliances), and fabric switches on
    a Linux network OS that get files: the routing switches of a BGP fabric, and subnet
    manager hosts. Switches on a vendor OS (configured by its own tools), the rest of a
    subnet-managed fabric and vendor appliances have no Linux for Ansible to manage."""
    out = []
    appliances = {d.name for devs in fabric_managers_of(site, phase).values() for d in devs}
    for d in site.devices_upto(phase):
        if d.role not in MANAGED_ROLES or d.status in UNMANAGED_STATUSES:
            continue
        if d.name in appliances:
            continue  # a vendor appliance, configured by its own tools (UFM's CLI)
        if d.role in ("leaf", "spine", "core"):
            kind = site.fabric_of(d.cluster)
            nos = site.catalog.os_of(d.model)
            if kind is None or nos is None or not nos.linux:
                continue
            function: SwitchFunction = "routed" if kind.routed else "subnet_manager"
            if function == "subnet_manager" and d.name not in subnet_managers:
                continue
            if not nos.files.get(function):
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
