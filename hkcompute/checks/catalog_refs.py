"""Catalogue references and platform fit (HK3xx, catalogue part).

The expander reports what it needs to build devices (a template's server, leaf and spine
models); ``naming`` reports a server's missing accelerator and a template's optional switch
sets. This module covers the rest of what the catalogue's platform fields link: a NIC line's
card, and whether a unit template's switches and servers speak its fabric's protocol (an
InfiniBand template with an Ethernet leaf would plan, render and cable a fabric that cannot
come up).
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
    "An infiniband fabric needs switches of kind infiniband, a roce fabric switches of kind "
    "ethernet: use a switch model of the fabric's protocol.",
)
SERVER_PROTOCOL = rule(
    "HK314",
    E,
    "a server's compute ports cannot run its fabric",
    "Use a server whose compute NIC (or integrated accelerator ports) runs the fabric's "
    "protocol, or change the template's fabric.",
)

# What each template fabric runs on the wire.
FABRIC_PROTOCOL = {"infiniband": "infiniband", "roce": "ethernet"}


def _fallback(site: Site, kind: str, name: str) -> Location:
    return site.catalog.locs.get((kind, name), Location("<catalog>"))


@register("catalog")
def check_catalog(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    yield from _nic_models(site)
    yield from _fabric_protocols(site)


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
        want = FABRIC_PROTOCOL[tpl.fabric]
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
        if c.core is None:
            continue
        want = FABRIC_PROTOCOL[c.fabric]
        got = cat.switch_protocol(c.core.model)
        if got is not None and got != want:
            yield make(
                SWITCH_PROTOCOL,
                f"cluster {c.name!r}: core {c.core.model!r} is {got}, the fabric is "
                f"{c.fabric} ({want})",
                c.loc,
                subject=c.name,
            )
