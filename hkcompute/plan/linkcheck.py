"""Checks over the plan's links: ports, speeds, port counts, optics, reach and fibre.

Built links are right by construction unless the catalogue or an explicit entry says
otherwise; the checks still run over every link (they are what proves it), memoised where a
site has few distinct cases (optic, speed, length).
"""

from __future__ import annotations

from hkcompute.findings import Finding, Rule, make
from hkcompute.model import Site
from hkcompute.plan import codes as R
from hkcompute.plan.fabric import Ports, ports_by_model
from hkcompute.plan.optics import port_speed
from hkcompute.plan.records import Link


def _optic_problems(site: Site, optic: str, speed: float, length: float) -> list[tuple[Rule, str]]:
    parts = optic.split("+")
    out: list[tuple[Rule, str]] = []
    found = []
    for name in parts:
        o = site.catalog.optics.get(name)
        if o is None:
            out.append((R.UNKNOWN_OPTIC, f"optic {name!r} is not in the catalogue"))
            continue
        found.append((name, o))
        # A twin-port module serves two ports: what must match the link is each port's speed.
        if port_speed(o) != float(speed):
            out.append(
                (
                    R.OPTIC_SPEED,
                    f"optic {name!r} is {port_speed(o):g} Gb/s a port on a {speed:g} Gb/s link",
                )
            )
        if length > o.reach_m:
            r = R.BEYOND_REACH if o.kind == "transceiver" else R.CABLE_TOO_LONG
            what = "reaches" if o.kind == "transceiver" else f"({o.kind}) is at most"
            out.append((r, f"{length:.1f} m is beyond {name!r}, which {what} {o.reach_m:g} m"))
    if len(found) == 2 and found[0][1].fibre != found[1][1].fibre:
        out.append(
            (
                R.FIBRE_MISMATCH,
                f"{found[0][0]!r} ({found[0][1].fibre}) at one end, "
                f"{found[1][0]!r} ({found[1][1].fibre}) at the other",
            )
        )
    return out


def check_links(site: Site, links: list[Link]) -> list[Finding]:
    agg = R.Aggregator()
    findings: list[Finding] = []
    ports = ports_by_model(site)
    devices = site.devices
    used: dict[tuple[str, str], Link] = {}
    per_device: dict[str, int] = {}  # a plain dict: Counter's += was a tenth of this loop
    memo: dict[tuple[str, float, float], list[tuple[Rule, str]]] = {}
    speed_memo: dict[tuple[str, str], float | None] = {}

    # What each device needs, looked up once per device rather than once per link end:
    # (model, its ports when they are described, else None). Devices not in the site: None.
    dev_info: dict[str, tuple[str, Ports | None] | None] = {}

    def info(name: str) -> tuple[str, Ports | None] | None:
        dev = devices.get(name)
        if dev is None:
            got = None
        else:
            mp = ports.get(dev.model)
            got = (dev.model, mp if mp is not None and mp.described else None)
        dev_info[name] = got
        return got

    def where_of(link: Link) -> str:
        return f"{link.a}:{link.a_port} - {link.b}:{link.b_port}"

    # A twin-port module sits in a cage and serves both its ports: (device, cage) -> the
    # part and the first link through it, so a second link asking another part is caught.
    cage_part: dict[tuple[str, int], tuple[str, Link]] = {}
    optics = site.catalog.optics

    def twin_parts(link: Link) -> None:
        parts = (link.optic or "").split("+")
        for dev_name, cage, part in (
            (link.a, link.a_cage, parts[0]),
            (link.b, link.b_cage, parts[-1]),
        ):
            o = optics.get(part)
            if cage == 0 or o is None or o.ports_per_module < 2:
                continue
            had = cage_part.setdefault((dev_name, cage), (part, link))
            if had[0] != part:
                findings.append(
                    make(
                        R.TWIN_CAGE_MIXED,
                        f"{dev_name} cage {cage}: {where_of(had[1])} takes {had[0]!r}, "
                        f"{where_of(link)} takes {part!r}",
                        link.loc,
                        subject=dev_name,
                    )
                )

    used_get = used.get
    count_get = per_device.get
    for link in links:
        for dev_name, port in ((link.a, link.a_port), (link.b, link.b_port)):
            key = (dev_name, port)
            first = used_get(key)
            if first is not None:
                findings.append(
                    make(
                        R.PORT_REUSED,
                        f"{dev_name}:{port} is used by {where_of(link)} and by "
                        f"{first.a}:{first.a_port} - {first.b}:{first.b_port}",
                        link.loc,
                        subject=dev_name,
                    )
                )
            else:
                used[key] = link
            di = dev_info[dev_name] if dev_name in dev_info else info(dev_name)
            if di is None:
                continue
            per_device[dev_name] = count_get(dev_name, 0) + 1
            model, described = di
            if described is None:
                continue
            sk = (model, port)
            if sk in speed_memo:
                sp = speed_memo[sk]
            else:
                sp = speed_memo[sk] = described.speed(port)
            if sp is None:
                agg.add(
                    R.BAD_PORT,
                    f"{model}:{port[:3]}",
                    f"{where_of(link)}: {dev_name} ({model}) has no port {port!r}",
                    link.loc,
                    dev_name,
                )
            elif sp != link.speed_gbps:
                agg.add(
                    R.SPEED_MISMATCH,
                    f"{model}:{sp}:{link.speed_gbps}",
                    f"{where_of(link)}: {dev_name}:{port} runs at {sp:g} Gb/s, the link "
                    f"at {link.speed_gbps:g} Gb/s",
                    link.loc,
                    dev_name,
                )
        if link.optic:
            twin_parts(link)
            mk = (link.optic, link.speed_gbps, link.length_m)
            probs = memo.get(mk)
            if probs is None:
                probs = memo[mk] = _optic_problems(site, link.optic, link.speed_gbps, link.length_m)
            for rule, msg in probs:
                agg.add(rule, f"{link.optic}:{msg}", f"{where_of(link)}: {msg}", link.loc, link.a)
    for name, n in per_device.items():
        dev = devices[name]
        sw = site.catalog.switches.get(dev.model)
        if sw is not None and n > sw.ports + 1:  # + the management port
            findings.append(
                make(
                    R.TOO_MANY_LINKS,
                    f"{name} ({dev.model}) has {n} links for {sw.ports} ports "
                    "and a management port",
                    dev.loc,
                    subject=name,
                )
            )
    findings.extend(agg.findings())
    return findings
