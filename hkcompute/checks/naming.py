"""Names and references that the expander does not already check (HK3xx, references part).

The expander reports what it needs to build devices (racks, templates, server models, ...).
What it leaves alone is checked here: tenants, phases named anywhere, halls of clusters and
energy assets, the optional switch sets of unit templates, accelerators of servers, and
hostnames as DNS labels.

A reference shared by many devices (a unit's tenant, say) is reported once, at the line that
states it, rather than once per expanded node: a site of 8,000 nodes must not print 8,000
copies of one typo.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator

from hkcompute.checks import CheckContext, register
from hkcompute.findings import (
    DUPLICATE_NAME,
    Finding,
    Location,
    Severity,
    make,
    rule,
)
from hkcompute.inventory.parse import CATALOG_KINDS, Broken
from hkcompute.model import Device, Site, Unit

E, W = Severity.ERROR, Severity.WARNING

UNKNOWN_TENANT = rule(
    "HK301",
    E,
    "tenant not defined",
    "Add the tenant under 'tenants:', or fix the name on the device, unit or cluster.",
)
TENANT_CLUSTER = rule(
    "HK302",
    E,
    "tenant names a cluster that does not exist",
    "List only clusters defined under 'clusters:' in the tenant's 'clusters'.",
)
TENANT_PHASE = rule(
    "HK303",
    E,
    "tenant names a phase that does not exist",
    "List only phase ids defined under 'phases:' in the tenant's 'phases'.",
)
UNKNOWN_PHASE = rule(
    "HK304", E, "phase not defined", "Every 'phase:' must be the id of an entry under 'phases:'."
)
CLUSTER_HALL = rule(
    "HK305",
    E,
    "cluster hall not defined",
    "Set the cluster's 'hall' to a hall defined under 'halls:'.",
)
ENERGY_HALL = rule(
    "HK306",
    E,
    "energy asset hall not defined",
    "Set the asset's 'hall' to a hall defined under 'halls:', or leave it out for site-wide.",
)
TEMPLATE_SWITCH = rule(
    "HK307",
    E,
    "unit template names a switch model missing from the catalogue",
    "Add the model under catalog.switches, or use one that is there.",
)
SERVER_ACCEL = rule(
    "HK308",
    E,
    "server names an accelerator missing from the catalogue",
    "Add the accelerator under catalog.accelerators, or fix the server's 'accelerator'.",
)
BAD_HOSTNAME = rule(
    "HK309",
    E,
    "hostname is not a valid DNS label",
    "A hostname is 1-63 of a-z, 0-9 and '-', not starting or ending with '-', and the "
    "fully qualified name at most 253 characters; shorten the unit or device name.",
)
OVERRIDE_REF = rule(
    "HK310",
    E,
    "device override points at a model or rack that does not exist",
    "An entry under 'devices:' that overrides an expanded device must name a catalogue "
    "model of the right kind and a defined rack.",
)
HOST_GROUP_CLASH = rule(
    "HK311",
    W,
    "device named like a cluster or unit",
    "Clusters and units become Ansible groups, which share one namespace with hosts; "
    "rename the device or the group.",
)

_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_ROLE_KIND = {
    "gpu_node": "servers",
    "service": "servers",
    "fabric_manager": "servers",
    "storage": "storage",
}

Locate = Callable[[Iterable[str | int]], Location]


def locator(site: Site) -> Locate | None:
    """The expander's path -> Location function of the written YAML, when it provides one."""
    return site.locate


def broken_of(site: Site) -> Broken:
    """What the loader could not build (errors already reported); empty for a site made in
    code. Checks skip references to it: a second finding would only echo the first."""
    b = site.broken
    return b if isinstance(b, Broken) else Broken()


def planned_on_broken(site: Site) -> frozenset[str]:
    """Devices whose catalogue model is broken, and the clusters holding them: the plan of
    their ports, links and addresses is built without the model's figures, so what the plan
    rules find about them (subject = one of these names) only echoes the model's error."""
    broken = broken_of(site)
    if not broken.any(*CATALOG_KINDS):
        return frozenset()
    out: set[str] = set()
    for d in site.devices.values():
        if broken.model(d.model):
            out.add(d.name)
            if d.cluster is not None:
                out.add(d.cluster)
    if out:  # a cluster's fabric is one plan: its other devices' findings follow as well
        out.update(d.name for d in site.devices.values() if d.cluster in out)
    return frozenset(out)


def at(site: Site, path: tuple[str | int, ...], fallback: Location) -> Location:
    """The location of ``path`` in the site's YAML, or ``fallback`` when unknown."""
    fn = locator(site)
    if fn is None:
        return fallback
    try:
        return fn(path)
    except Exception:  # a locator is a convenience: never let it break a check
        return fallback


def present(ctx: CheckContext, phase: int) -> bool:
    """Whether something of ``phase`` exists in the build asked for (ctx.phase)."""
    return ctx.phase is None or phase <= ctx.phase


def did_you_mean(name: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _inherited(units: dict[str, Unit], d: Device, attr: str) -> bool:
    """Whether a device's ``attr`` is the one of its unit (so already checked on the unit)."""
    unit = units.get(d.unit) if d.unit is not None else None
    return unit is not None and getattr(unit, attr) == getattr(d, attr)


@register("references")
def check_references(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    broken = broken_of(site)
    tenants = site.tenants
    phase_ids = set(site.phase_ids)
    cluster_names = {c.name for c in site.clusters}
    units = {u.name: u for c in site.clusters for u in c.units}
    cluster_locs = {c.name: c.loc for c in reversed(site.clusters)}

    def tenant_ref(name: str | None, where: Location, whose: str) -> Iterator[Finding]:
        if name is None or name in tenants or broken.has("tenants", name):
            return
        yield make(
            UNKNOWN_TENANT,
            f"{whose}: tenant {name!r} is not defined",
            where,
            hint=did_you_mean(name, tenants),
            subject=name,
        )

    def phase_ref(pid: int, where: Location, whose: str) -> Iterator[Finding]:
        if pid in phase_ids or broken.has("phases", pid):
            return
        shown = ", ".join(map(str, site.phase_ids)) or "none"
        yield make(
            UNKNOWN_PHASE,
            f"{whose}: phase {pid} is not defined (phases: {shown})",
            where,
            subject=whose,
        )

    # --- tenants ---------------------------------------------------------------------------
    for c in site.clusters:
        for tname in c.tenants:
            yield from tenant_ref(tname, c.loc, f"cluster {c.name!r}")
        for u in c.units:
            if present(ctx, u.phase):
                yield from tenant_ref(u.tenant, u.loc, f"unit {u.name!r}")
    for d in site.devices.values():
        if d.tenant is not None and present(ctx, d.phase) and not _inherited(units, d, "tenant"):
            yield from tenant_ref(d.tenant, d.loc, f"device {d.name!r}")
    for t in tenants.values():
        for cname in t.spec.clusters:
            if cname not in cluster_names and not broken.has("clusters", cname):
                yield make(
                    TENANT_CLUSTER,
                    f"tenant {t.name!r}: cluster {cname!r} is not defined",
                    t.loc,
                    hint=did_you_mean(cname, cluster_names),
                    subject=t.name,
                )
        for pid in t.spec.phases:
            if pid not in phase_ids and not broken.has("phases", pid):
                yield make(
                    TENANT_PHASE,
                    f"tenant {t.name!r}: phase {pid} is not defined "
                    f"(phases: {', '.join(map(str, site.phase_ids)) or 'none'})",
                    t.loc,
                    subject=t.name,
                )

    # --- phases: always checked, whatever ctx.phase (an undefined phase escapes filtering) --
    for h in site.halls.values():
        yield from phase_ref(h.phase, h.loc, f"hall {h.name!r}")
    seen_rack_locs: set[tuple[Location, int]] = set()
    for r in site.racks.values():
        # A range of racks shares one line: report it once.
        if (r.loc, r.phase) not in seen_rack_locs:
            seen_rack_locs.add((r.loc, r.phase))
            yield from phase_ref(r.phase, r.loc, f"rack {r.name!r}")
    for u in units.values():
        yield from phase_ref(u.phase, u.loc, f"unit {u.name!r}")
    seen_dev_locs: set[tuple[Location, int]] = set()
    for d in site.devices.values():
        if d.phase in phase_ids or _inherited(units, d, "phase"):
            continue
        rack = site.racks.get(d.rack)
        if d.unit is None and d.cluster is None and rack is not None and rack.phase == d.phase:
            continue  # most likely the rack's phase, taken by default: reported on the rack
        if d.cluster is not None and d.unit is None and d.loc == cluster_locs.get(d.cluster):
            continue  # spines and cores take their units' phase: reported there
        if (d.loc, d.phase) not in seen_dev_locs:
            seen_dev_locs.add((d.loc, d.phase))
            yield from phase_ref(d.phase, d.loc, f"device {d.name!r}")
    for e in site.energy:
        yield from phase_ref(e.spec.phase, e.loc, f"energy asset {e.spec.name!r}")

    # --- halls -----------------------------------------------------------------------------
    for c in site.clusters:
        if c.hall not in site.halls and not broken.has("halls", c.hall):
            yield make(
                CLUSTER_HALL,
                f"cluster {c.name!r}: hall {c.hall!r} is not defined",
                c.loc,
                hint=did_you_mean(c.hall, site.halls),
                subject=c.name,
            )
    for e in site.energy:
        hall = e.spec.hall
        if hall is not None and hall not in site.halls and not broken.has("halls", hall):
            yield make(
                ENERGY_HALL,
                f"energy asset {e.spec.name!r}: hall {hall!r} is not defined",
                e.loc,
                hint=did_you_mean(hall, site.halls),
                subject=e.spec.name,
            )

    # --- catalogue references --------------------------------------------------------------
    switches = site.catalog.switches
    for tname, tpl in site.templates.items():
        for key in ("storage_leaves", "inband_switches", "oob_switches"):
            sset = getattr(tpl, key)
            if sset is None or sset.model in switches or broken.has("switches", sset.model):
                continue
            where = at(
                site,
                ("unit_templates", tname, key, "model"),
                Location(site.files[0] if site.files else "<site>"),
            )
            yield make(
                TEMPLATE_SWITCH,
                f"unit template {tname!r}: {key} model {sset.model!r} is not in catalog.switches",
                where,
                hint=did_you_mean(sset.model, switches),
                subject=tname,
            )
    accelerators = site.catalog.accelerators
    for sname, server in site.catalog.servers.items():
        acc = server.accelerator
        if acc and acc not in accelerators and not broken.has("accelerators", acc):
            where = site.catalog.locs.get(("servers", sname), Location("<catalog>"))
            yield make(
                SERVER_ACCEL,
                f"server {sname!r}: accelerator {acc!r} is not in catalog.accelerators",
                where,
                hint=did_you_mean(acc, accelerators),
                subject=sname,
            )

    # --- overrides of expanded devices (the expander takes them as written) ----------------
    yield from _overrides(ctx)


def _overrides(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    cat = site.catalog
    broken = broken_of(site)
    by_cluster: dict[str, list[Device]] = {}
    for d in site.devices.values():
        if d.cluster is not None and present(ctx, d.phase):
            by_cluster.setdefault(d.cluster, []).append(d)
    done: set[str] = set()
    for c in site.clusters:
        if c.name in done:
            continue  # a duplicate cluster name: reported by check_duplicates
        done.add(c.name)
        tpl = c.template
        # The model the expander gave each role: the template's (the expander reports those).
        expected = {"gpu_node": tpl.server, "leaf": tpl.leaf, "spine": tpl.spine}
        for role, sset in (
            ("storage_leaf", tpl.storage_leaves),
            ("inband_switch", tpl.inband_switches),
            ("oob_switch", tpl.oob_switches),
        ):
            if sset is not None:
                expected[role] = sset.model
        if c.core is not None:
            expected["core"] = c.core.model
        fabric = cat.fabrics.get(tpl.fabric)
        if fabric is not None and fabric.fabric_manager is not None:
            expected["fabric_manager"] = fabric.fabric_manager.model  # catalog_refs' to report
        planned_racks = set(c.network_racks)
        for u in c.units:
            planned_racks.update(u.network_racks, u.node_racks)
        for d in by_cluster.get(c.name, []):
            # Models the template states are the expander's to report; a changed one is ours.
            if d.model != expected.get(d.role) and not broken.model(d.model):
                kind = cat.model_kind(d.model)
                want = _ROLE_KIND.get(d.role, "switches")
                if kind is None:
                    yield make(
                        OVERRIDE_REF,
                        f"device {d.name!r}: model {d.model!r} is not in the catalogue",
                        d.loc,
                        hint=did_you_mean(d.model, [*cat.servers, *cat.switches, *cat.storage]),
                        subject=d.name,
                    )
                elif kind != want:
                    yield make(
                        OVERRIDE_REF,
                        f"device {d.name!r} has role {d.role!r} but model "
                        f"{d.model!r} is in catalog.{kind}, not catalog.{want}",
                        d.loc,
                        subject=d.name,
                    )
            if (
                d.rack not in planned_racks
                and d.rack not in site.racks
                and not broken.has("racks", d.rack)
            ):
                yield make(
                    OVERRIDE_REF,
                    f"device {d.name!r}: rack {d.rack!r} is not defined",
                    d.loc,
                    hint=did_you_mean(d.rack, site.racks),
                    subject=d.name,
                )


@register("hostnames")
def check_hostnames(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    domain = site.info.domain
    # Many devices of one unit share a line: report the first bad name per line, with a count.
    bad: dict[Location, list[tuple[Device, str]]] = {}
    for d in site.devices.values():
        if not present(ctx, d.phase):
            continue
        why = None
        if len(d.name) > 63:
            why = f"is {len(d.name)} characters (at most 63)"
        elif not _DNS_LABEL.fullmatch(d.name):
            why = "is not a DNS label (a-z, 0-9 and '-', no '-' at either end)"
        elif len(d.name) + 1 + len(domain) > 253:
            why = f"with domain {domain!r} is longer than 253 characters"
        if why is not None:
            bad.setdefault(d.loc, []).append((d, why))
    for loc, items in bad.items():
        d, why = items[0]
        more = f" (and {len(items) - 1} more from this line)" if len(items) > 1 else ""
        yield make(BAD_HOSTNAME, f"hostname {d.name!r} {why}{more}", loc, subject=d.name)

    # Hosts share Ansible's namespace with groups (clusters, units).
    groups: dict[str, str] = {}
    for c in site.clusters:
        groups.setdefault(c.name, "cluster")
        for u in c.units:
            groups.setdefault(u.name, "unit")
    for d in site.devices.values():
        kind = groups.get(d.name)
        if kind is not None and present(ctx, d.phase):
            yield make(
                HOST_GROUP_CLASH,
                f"device {d.name!r} has the name of a {kind}",
                d.loc,
                subject=d.name,
            )


@register("duplicates")
def check_duplicates(ctx: CheckContext) -> Iterator[Finding]:
    """Duplicates the expander does not catch: clusters and energy assets."""
    site = ctx.site
    first: dict[str, Location] = {}
    for c in site.clusters:
        if c.name in first:
            yield make(
                DUPLICATE_NAME,
                f"cluster {c.name!r} is defined twice (first at {first[c.name]})",
                c.loc,
                subject=c.name,
            )
        else:
            first[c.name] = c.loc
    first = {}
    for e in site.energy:
        if e.spec.name in first:
            yield make(
                DUPLICATE_NAME,
                f"energy asset {e.spec.name!r} is defined twice (first at {first[e.spec.name]})",
                e.loc,
                subject=e.spec.name,
            )
        else:
            first[e.spec.name] = e.loc
