"""Catalogue references and platform fit (HK3xx, catalogue part).

The expander reports what it needs to build devices (a template's server, leaf and spine
models); ``naming`` reports a server's missing accelerator and a template's optional switch
sets. This module covers the rest of what the catalogue's platform fields link: a NIC line's
card, a template's kind of fabric and a switch's network OS, and whether a unit template's
switches and servers speak its fabric's protocol (a template whose leaves speak another
protocol than its fabric would plan, render and cable a fabric that cannot come up).
"""

from __future__ import annotations

from collections.abc import Iterator

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import at, broken_of, did_you_mean
from hkcompute.findings import Finding, Location, Severity, make, rule
from hkcompute.model import Site

E = Severity.ERROR

NIC_MODEL = rule(
    "HK312",
    E,
    "a NIC line names a card missing from the catalogue",
    "Add the card under catalog.nics, or fix (or drop) the NIC line's 'model'.",
)
SWITCH_PROTOCOL = rule(
    "HK313",
    E,
    "a fabric switch speaks another protocol than its fabric",
    "A fabric's leaves, spines and cores speak its protocol (catalog.fabrics): use a switch "
    "model of that protocol, or another fabric.",
)
SERVER_PROTOCOL = rule(
    "HK314",
    E,
    "a server's compute ports cannot run its fabric",
    "Use a server whose compute NIC (or integrated accelerator ports) runs the fabric's "
    "protocol, or change the template's fabric.",
)
FABRIC_KIND = rule(
    "HK315",
    E,
    "a unit template names a fabric kind missing from the catalogue",
    "Name an entry of catalog.fabrics (`hkcompute catalog` lists them), or add the kind there "
    "with its protocol and control.",
)
SWITCH_OS = rule(
    "HK316",
    E,
    "a switch model names a network OS missing from the catalogue",
    "Name an entry of catalog.switch_os (`hkcompute catalog` lists them), or add the OS "
    "there with the files its switches get.",
)
FABRIC_MANAGER_MODEL = rule(
    "HK329",
    E,
    "a fabric kind's fabric manager names a server missing from the catalogue",
    "Name the appliance's entry of catalog.servers in fabric_manager.model, or add it there "
    "with its ports, power and rack units.",
)
NO_SWITCH_OS = rule(
    "HK317",
    Severity.WARNING,
    "a routing fabric switch has no network OS, so it gets no configuration",
    "Give the switch model an 'os' (an entry of catalog.switch_os) whose files configure it.",
)


def _fallback(site: Site, kind: str, name: str) -> Location:
    return site.catalog.locs.get((kind, name), Location("<catalog>"))


@register("catalog")
def check_catalog(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    yield from _nic_models(site)
    yield from _fabric_kinds(site)
    yield from _switch_oses(site)
    yield from _fabric_protocols(site)


def _fabric_kinds(site: Site) -> Iterator[Finding]:
    kinds = site.catalog.fabrics
    broken = broken_of(site)
    for name, kind in kinds.items():
        fm = kind.fabric_manager
        if fm is None or fm.model in site.catalog.servers or broken.has("servers", fm.model):
            continue
        yield make(
            FABRIC_MANAGER_MODEL,
            f"fabric {name!r}: fabric_manager model {fm.model!r} is not in catalog.servers",
            at(
                site,
                ("catalog", "fabrics", name, "fabric_manager", "model"),
                _fallback(site, "fabrics", name),
            ),
            hint=did_you_mean(fm.model, site.catalog.servers),
            subject=name,
        )
    for tname, tpl in site.templates.items():
        if tpl.fabric in kinds or broken.has("fabrics", tpl.fabric):
            continue
        yield make(
            FABRIC_KIND,
            f"unit template {tname!r}: fabric {tpl.fabric!r} is not in catalog.fabrics",
            at(site, ("unit_templates", tname, "fabric"), Location("<site>")),
            hint=did_you_mean(tpl.fabric, kinds),
            subject=tname,
        )


def _switch_oses(site: Site) -> Iterator[Finding]:
    cat = site.catalog
    broken = broken_of(site)
    for name, sw in cat.switches.items():
        if sw.os is None or sw.os in cat.switch_os or broken.has("switch_os", sw.os):
            continue
        yield make(
            SWITCH_OS,
            f"switch {name!r}: os {sw.os!r} is not in catalog.switch_os",
            at(site, ("catalog", "switches", name, "os"), _fallback(site, "switches", name)),
            hint=did_you_mean(sw.os, cat.switch_os),
            subject=name,
        )
    # A switch of a routing fabric with no OS would plan addresses and sessions that no
    # file ever configures: said once per template role, where the model is chosen.
    for tname, tpl in site.templates.items():
        kind = cat.fabrics.get(tpl.fabric)
        if kind is None or not kind.routed:
            continue
        for role in ("leaf", "spine"):
            model = getattr(tpl, role)
            got = cat.switches.get(model)
            if got is not None and got.os is None:
                yield make(
                    NO_SWITCH_OS,
                    f"unit template {tname!r}: {role} {model!r} names no network OS; its "
                    "switches get no configuration",
                    at(site, ("unit_templates", tname, role), Location("<site>")),
                    subject=tname,
                )


def _nic_models(site: Site) -> Iterator[Finding]:
    cat = site.catalog
    broken = broken_of(site)
    for kind, entries in (("servers", cat.servers), ("storage", cat.storage)):
        for name, entry in entries.items():
            for i, nic in enumerate(entry.nics):
                if nic.model is None or nic.model in cat.nics or broken.has("nics", nic.model):
                    continue
                yield make(
                    NIC_MODEL,
                    f"{kind[:-1] if kind == 'servers' else kind} {name!r}: {nic.network} NIC "
                    f"model {nic.model!r} is not in catalog.nics",
                    at(
                        site,
                        ("catalog", kind, name, "nics", i, "model"),
                        _fallback(site, kind, name),
                    ),
                    hint=did_you_mean(nic.model, cat.nics),
                    subject=name,
                )


def _fabric_protocols(site: Site) -> Iterator[Finding]:
    cat = site.catalog
    for tname, tpl in site.templates.items():
        kind = cat.fabrics.get(tpl.fabric)
        if kind is None:
            continue  # HK315
        want = kind.protocol
        for role in ("leaf", "spine"):
            model = getattr(tpl, role)
            got = cat.switch_protocol(model)
            if got is not None and got != want:
                yield make(
                    SWITCH_PROTOCOL,
                    f"unit template {tname!r}: {role} {model!r} is {got}, the fabric is "
                    f"{tpl.fabric} ({want})",
                    at(site, ("unit_templates", tname, role), Location("<site>")),
                    subject=tname,
                )
        can = cat.compute_protocols(tpl.server)
        if can and want not in can:
            yield make(
                SERVER_PROTOCOL,
                f"unit template {tname!r}: server {tpl.server!r} has {'/'.join(can)} compute "
                f"ports, the fabric is {tpl.fabric} ({want})",
                at(site, ("unit_templates", tname, "server"), Location("<site>")),
                subject=tname,
            )
    for c in site.clusters:
        core_kind = cat.fabrics.get(c.fabric)
        if c.core is None or core_kind is None:
            continue
        want = core_kind.protocol
        got = cat.switch_protocol(c.core.model)
        if got is not None and got != want:
            yield make(
                SWITCH_PROTOCOL,
                f"cluster {c.name!r}: core {c.core.model!r} is {got}, the fabric is "
                f"{c.fabric} ({want})",
                c.loc,
                subject=c.name,
            )
