"""Platform fit: whether the catalogue's parts can work together as written (HK318, HK319,
HK326-HK328, HK420).

``catalog_refs`` checks that names resolve and protocols agree; this module checks the
figures behind them: integrated accelerator ports against the devices they serve, a NIC line
against its card, a node's NIC speed against its leaf's cages, an IPoIB MTU against its mode,
and a platform file's lint checkers against the registry. Each of these plans, renders and
cables without complaint, then fails on the floor (a link that never comes up, an interface
the driver refuses, a ``render --lint`` that cannot run), so it is caught here, at the
catalogue or template line that causes it. Code asks the catalogue (``nics_integrated``,
``devices_per_port``, cage speeds, ``IPOIB_MAX_MTU``), never a vendor or protocol name.
"""

from __future__ import annotations

from collections.abc import Iterator

from hkcompute import lint
from hkcompute import schema as S
from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import at, did_you_mean
from hkcompute.findings import Finding, Location, Severity, make, rule
from hkcompute.model import Site

E = Severity.ERROR

INTEGRATED_PORTS = rule(
    "HK318",
    E,
    "a server's integrated compute ports do not match its accelerators",
    "With integrated ports each port serves 'devices_per_port' devices: set the compute NIC "
    "line's count to accelerators / devices_per_port, or correct the server's 'accelerators' "
    "or the accelerator's 'devices_per_port'.",
)
NIC_SPEED = rule(
    "HK319",
    E,
    "a NIC line runs faster than its card",
    "Lower the NIC line's speed_gbps to the card's speed (or a lower rate it supports), or "
    "name a faster card in its 'model'.",
)
NIC_PORTS = rule(
    "HK326",
    E,
    "a NIC line's port count is not whole cards",
    "A NIC line's count counts ports: make it a multiple of the card's 'ports', or name a "
    "card with that many ports.",
)
IPOIB_MTU = rule(
    "HK327",
    E,
    "an IPoIB MTU is above the largest its mode carries",
    "Lower catalog.fabrics.<kind>.ipoib.mtu to the mode's maximum (datagram 4092, connected "
    "65520), or change the mode.",
)
UNKNOWN_CHECKER = rule(
    "HK328",
    E,
    "a platform file names a lint checker that does not exist",
    "Name a registered hkcompute.lint checker (docs/checkers.md lists them), or drop the "
    "entry; a new kind of file needs a checker module in hkcompute/lint first.",
)
CAGE_SPEED = rule(
    "HK420",
    E,
    "a leaf's cages cannot run its nodes' compute NIC speed",
    "Use a leaf model whose cages run the node NIC speed (a cage group's speed_gbps or a "
    "breakout such as 4x100G), or a server whose compute NICs run a speed the leaf has.",
)

# Why each IPoIB mode stops where it does, for the message (the figures are IPOIB_MAX_MTU).
_IPOIB_WHY = {
    "datagram": "one IB packet of 4096 bytes less the 4-byte IPoIB header",
    "connected": "the RFC 4755 limit the Linux driver takes",
}


def _where(site: Site, kind: str, name: str, *path: str | int) -> Location:
    """A field of a catalogue entry. The site's locator knows only the site's own YAML: for a
    bundled entry it would answer with some site ancestor (the site's ``catalog:``), so the
    bundled entry's own line is used instead."""
    entry = site.catalog.locs.get((kind, name), Location("<catalog>"))
    loc = at(site, ("catalog", kind, name, *path), entry)
    return loc if loc.path == entry.path else entry


def _gbps(x: float) -> str:
    return f"{x:g}G"


@register("platform_fit")
def check_platform_fit(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    yield from _integrated_ports(site)
    yield from _nic_lines(site)
    yield from _cage_fits(site)
    yield from _ipoib_mtus(site)
    yield from _checkers(site)


def _integrated_ports(site: Site) -> Iterator[Finding]:
    # The plan cables one compute port per rail and hccn.conf numbers one address per port:
    # with integrated ports the port count follows from the devices, so a mismatch gives
    # devices with no port or ports with no device.
    cat = site.catalog
    for name, server in cat.servers.items():
        acc = cat.platform(name)
        if acc is None or not acc.nics_integrated:
            continue
        lines = [i for i, nic in enumerate(server.nics) if nic.network == "compute"]
        ports = sum(server.nics[i].count for i in lines)
        if ports * acc.devices_per_port == server.accelerators:
            continue
        want = server.accelerators / acc.devices_per_port
        yield make(
            INTEGRATED_PORTS,
            f"server {name!r}: {server.accelerators} {server.accelerator} devices, "
            f"{acc.devices_per_port} to each integrated port, need {want:g} compute ports; "
            f"its compute NIC lines give {ports}",
            _where(site, "servers", name, "nics", lines[0], "count")
            if lines
            else _where(site, "servers", name),
            subject=name,
        )


def _nic_lines(site: Site) -> Iterator[Finding]:
    # The card's protocol against the fabric is HK314 (catalog_refs); here the line's own
    # figures against the card it names. A card not catalogued is HK312.
    cat = site.catalog
    entries: list[tuple[str, str, list[S.Nic]]] = [
        ("servers", n, s.nics) for n, s in cat.servers.items()
    ] + [("storage", n, s.nics) for n, s in cat.storage.items()]
    for kind, name, nics in entries:
        what = "server" if kind == "servers" else "storage"
        for i, nic in enumerate(nics):
            card = cat.nics.get(nic.model) if nic.model is not None else None
            if card is None:
                continue
            if nic.speed_gbps > card.speed_gbps:
                yield make(
                    NIC_SPEED,
                    f"{what} {name!r}: {nic.network} NIC line runs {_gbps(nic.speed_gbps)}, "
                    f"card {nic.model!r} runs at most {_gbps(card.speed_gbps)}",
                    _where(site, kind, name, "nics", i, "speed_gbps"),
                    subject=name,
                )
            if nic.count % card.ports:
                yield make(
                    NIC_PORTS,
                    f"{what} {name!r}: {nic.network} NIC line counts {nic.count} ports, card "
                    f"{nic.model!r} has {card.ports} a card",
                    _where(site, kind, name, "nics", i, "count"),
                    subject=name,
                )


def _port_speeds(cage: S.CageGroup) -> set[float]:
    """The port speeds a cage group runs: as run, or split by a breakout ("4x200G": 200)."""
    return {float(cage.speed_gbps)} | {float(b.split("x", 1)[1][:-1]) for b in cage.breakouts}


def _cage_fits(site: Site) -> Iterator[Finding]:
    # A node's compute port is cabled to its rail's leaf: if no cage of the leaf runs the
    # NIC's speed, the link cannot come up. Only leaves whose cages are described.
    cat = site.catalog
    for tname, tpl in site.templates.items():
        server = cat.servers.get(tpl.server)
        leaf = cat.switches.get(tpl.leaf)
        if server is None or leaf is None or not leaf.cages:
            continue
        runs: set[float] = set().union(*(_port_speeds(c) for c in leaf.cages))
        speeds = sorted({n.speed_gbps for n in server.nics if n.network == "compute"})
        for speed in speeds:
            if float(speed) in runs:
                continue
            yield make(
                CAGE_SPEED,
                f"unit template {tname!r}: server {tpl.server!r} has {_gbps(speed)} compute "
                f"NICs, leaf {tpl.leaf!r} cages run "
                f"{', '.join(_gbps(s) for s in sorted(runs))} (as run or by breakout), so the "
                "node links cannot come up; change the template's leaf or the server",
                at(site, ("unit_templates", tname, "leaf"), Location("<site>")),
                subject=tname,
            )


def _ipoib_mtus(site: Site) -> Iterator[Finding]:
    # The IPoIB driver refuses an MTU above its mode's maximum, so the node's rendered
    # interface would not come up with the address plan's MTU.
    for name, kind in site.catalog.fabrics.items():
        ipoib = kind.ipoib
        if ipoib is None:
            continue
        top = S.IPOIB_MAX_MTU[ipoib.mode]
        if ipoib.mtu <= top:
            continue
        yield make(
            IPOIB_MTU,
            f"fabric {name!r}: IPoIB mtu {ipoib.mtu} is above the {ipoib.mode}-mode maximum "
            f"of {top} ({_IPOIB_WHY.get(ipoib.mode, 'the mode limit')})",
            _where(site, "fabrics", name, "ipoib", "mtu"),
            subject=name,
        )


def _checkers(site: Site) -> Iterator[Finding]:
    # render --lint looks each name up in the registry: an unknown one would fail there, on
    # every render, rather than once here at the line that names it.
    known = lint.names()
    cat = site.catalog
    files: list[tuple[str, str, tuple[str | int, ...], list[S.RenderFile]]] = [
        ("accelerators", n, ("files",), a.files) for n, a in cat.accelerators.items()
    ] + [
        ("switch_os", n, ("files", fn), fs)
        for n, o in cat.switch_os.items()
        for fn, fs in o.files.items()
    ]
    for kind, name, path, entries in files:
        for i, rf in enumerate(entries):
            for j, checker in enumerate(rf.checkers):
                if checker in known:
                    continue
                yield make(
                    UNKNOWN_CHECKER,
                    f"{kind} {name!r}: file {rf.path} names lint checker {checker!r}, which "
                    "is not registered",
                    _where(site, kind, name, *path, i, "checkers", j),
                    hint=did_you_mean(checker, known),
                    subject=name,
                )
