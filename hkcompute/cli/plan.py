"""`hkcompute plan|cabling|addresses|bom|diff`: the plan of a site, as data on stdout.

The row commands print nothing but data (no summary line on stderr either), so their output
can be piped or parsed as it is.

CSV is the default for the row commands (spreadsheets and the cabling crew); JSON for scripts.
The ``addresses`` CSV holds IP addresses only (an IPAM import reads every row as one); the
switches' ASNs come from ``asns``. The ``addresses`` JSON still carries them as a separate
``asns`` list, which no address parser reads.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

import typer

from hkcompute.cli.common import boundary, emit, resolve_site
from hkcompute.errors import InputError, UsageError
from hkcompute.inventory.gitref import site_at
from hkcompute.inventory.load import load_site
from hkcompute.model import Site
from hkcompute.plan import Plan, plan_for
from hkcompute.plan.bom import SECTIONS, build_bom, natural
from hkcompute.plan.diff import PhaseDiff, diff_lock, diff_phases
from hkcompute.plan.records import ADDRESS_COLUMNS, CABLING_COLUMNS
from hkcompute.validate import LOCK_CODES, load_valid_site


class RowFormat(StrEnum):
    csv = "csv"
    json = "json"


class TableFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


class TextFormat(StrEnum):
    text = "text"
    json = "json"


SiteArg = Annotated[str, typer.Argument(help="site folder (or name under inventories/)")]
PhaseOpt = Annotated[int | None, typer.Option(help="the site as built up to phase N")]


def _load(site: str, phase: int | None) -> tuple[Site, Plan]:
    path = resolve_site(site)
    s, _findings = load_valid_site(path, phase)
    return s, plan_for(s, phase)


def _csv(header: tuple[str, ...], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def _dump(obj: object) -> str:
    return json.dumps(obj, indent=2, sort_keys=False)


@boundary
def cabling_cmd(
    site: SiteArg,
    phase: PhaseOpt = None,
    fmt: Annotated[RowFormat, typer.Option("--format", "-f")] = RowFormat.csv,
) -> None:
    """One row per cable: a_device,a_port,b_device,b_port,network,speed_gbps,optic,cable,
    length_m,phase. The default of `hkcompute cabling`: `hkcompute cabling SITE` runs it.

    Example: hkcompute cabling list inventories/hkstp --phase 1 > cabling.csv
    """
    s, plan = _load(site, phase)
    if fmt is RowFormat.csv:
        emit(_csv(CABLING_COLUMNS, [x.row() for x in plan.links]))
    else:
        emit(
            _dump(
                {
                    "site": s.info.name,
                    "phase": phase,
                    "links": [
                        {
                            "a_device": x.a,
                            "a_port": x.a_port,
                            "b_device": x.b,
                            "b_port": x.b_port,
                            "network": x.network,
                            "speed_gbps": _num(x.speed_gbps),
                            "optic": x.optic,
                            "cable": x.cable,
                            "length_m": x.length_m,
                            "phase": x.phase,
                            "kind": x.kind,
                        }
                        for x in plan.links
                    ],
                }
            )
        )


@boundary
def addresses_cmd(
    site: SiteArg,
    phase: PhaseOpt = None,
    fmt: Annotated[RowFormat, typer.Option("--format", "-f")] = RowFormat.csv,
) -> None:
    """One row per IP address: device,interface,network,address (with prefix length).

    Example: hkcompute addresses inventories/lab --phase 1
    """
    s, plan = _load(site, phase)
    if fmt is RowFormat.csv:
        emit(_csv(ADDRESS_COLUMNS, [x.row() for x in plan.addresses]))
    else:
        emit(
            _dump(
                {
                    "site": s.info.name,
                    "phase": phase,
                    "addresses": [
                        dict(zip(ADDRESS_COLUMNS, x.row(), strict=True)) for x in plan.addresses
                    ],
                    "asns": [{"device": x.device, "asn": x.asn, "tier": x.tier} for x in plan.asns],
                }
            )
        )


ASN_COLUMNS = ("device", "asn", "role", "unit")


@boundary
def asns_cmd(
    site: SiteArg,
    phase: PhaseOpt = None,
    fmt: Annotated[RowFormat, typer.Option("--format", "-f")] = RowFormat.csv,
) -> None:
    """One row per BGP speaker, sorted by device: device,asn,role (leaf, spine or core),unit
    (empty when the switch belongs to no scalable unit).

    Example: hkcompute asns inventories/lab --phase 1
    """
    s, plan = _load(site, phase)
    # The plan lists ASNs in allocation order; people and diffs want them by device name.
    asns = sorted(plan.asns, key=lambda a: (natural(a.device), a.device))
    units = {x.device: d.unit for x in asns if (d := s.devices.get(x.device)) is not None}
    if fmt is RowFormat.csv:
        emit(
            _csv(
                ASN_COLUMNS,
                [(x.device, str(x.asn), x.tier, units.get(x.device) or "") for x in asns],
            )
        )
    else:
        emit(
            _dump(
                {
                    "site": s.info.name,
                    "phase": phase,
                    "asns": [
                        {
                            "device": x.device,
                            "asn": x.asn,
                            "role": x.tier,
                            "unit": units.get(x.device),
                        }
                        for x in asns
                    ],
                }
            )
        )


@boundary
def bom_cmd(
    site: SiteArg,
    phase: PhaseOpt = None,
    fmt: Annotated[TableFormat, typer.Option("--format", "-f")] = TableFormat.text,
) -> None:
    """Counts of nodes, storage, switches, optics and cables, per phase and in total.

    Example: hkcompute bom inventories/hkstp --phase 1 --format json
    """
    s, plan = _load(site, phase)
    bom = build_bom(s, plan)
    if fmt is TableFormat.json:
        emit(_dump({"site": s.info.name, "phase": phase, **bom.to_dict()}))
        return
    phases = sorted(bom.phases)
    total = bom.total()
    if fmt is TableFormat.csv:
        rows: list[tuple[str, str, str, str]] = []
        for p in phases:
            for sec in SECTIONS:
                rows.extend(
                    (str(p), sec, item, str(n))
                    for item, n in sorted(bom.phases[p][sec].items(), key=lambda kv: natural(kv[0]))
                )
        for sec in SECTIONS:
            rows.extend(
                ("total", sec, item, str(total[sec][item]))
                for item in sorted(total[sec], key=natural)
            )
        emit(_csv(("phase", "section", "item", "count"), rows))
        return
    heads = [f"phase {p}" for p in phases] + ["total"]
    lines = [f"bill of materials: {s.info.name}" + (f" up to phase {phase}" if phase else "")]
    for sec in SECTIONS:
        items = sorted(total[sec], key=natural)
        if not items:
            continue
        width = max(len(i) for i in items)
        lines.append("")
        lines.append(f"{sec:<{width}}  " + "  ".join(f"{h:>9}" for h in heads))
        for item in items:
            counts = [bom.phases[p][sec].get(item, 0) for p in phases] + [total[sec][item]]
            lines.append(f"{item:<{width}}  " + "  ".join(f"{n:>9,}" for n in counts))
    emit("\n".join(lines))


@boundary
def diff_cmd(
    site: SiteArg,
    from_phase: Annotated[int, typer.Option("--from-phase", help="phase A (already built)")],
    to_phase: Annotated[int, typer.Option("--to-phase", help="phase B (to add)")],
    base: Annotated[
        str | None,
        typer.Option("--base", help="also compare with the plan of the inventory at this git ref"),
    ] = None,
    fmt: Annotated[TextFormat, typer.Option("--format", "-f")] = TextFormat.text,
) -> None:
    """What phase B adds to A, and a check that nothing of A changes (exit 1 if it does):
    against SITE/hkcompute.lock when there is one, and the inventory at --base REF if given.

    Example: hkcompute diff inventories/hkstp --from-phase 1 --to-phase 2
    """
    if from_phase >= to_phase:
        raise UsageError("--from-phase must be below --to-phase")
    path = resolve_site(site)
    # Moves of what is locked are this command's to report, not a reason to stop.
    s, _f = load_valid_site(path, to_phase, tolerate=LOCK_CODES)
    if from_phase not in s.phase_ids:
        raise UsageError(f"phase {from_phase} is not defined")
    d = diff_phases(s, plan_for(s, from_phase), plan_for(s, to_phase))
    locked = diff_lock(s, to_phase)
    against: PhaseDiff | None = None
    if base is not None:
        with site_at(base, path) as old_path:
            old = load_site(old_path, base=old_path.parent).site
            if old is None:
                raise InputError(f"--base: the inventory at {base} cannot be loaded")
            against = diff_phases(s, plan_for(old, from_phase), plan_for(s, to_phase))
    stable = d.stable and (locked is None or locked.stable) and (against is None or against.stable)
    if fmt is TextFormat.json:
        doc: dict[str, object] = {"site": s.info.name, **d.to_dict(), "stable": stable}
        doc["lock"] = locked.to_dict() if locked is not None else None
        if against is not None:
            doc["base"] = {"ref": base, "stable": against.stable, "changed": against.changed}
        emit(_dump(doc))
    else:
        out = [f"{s.info.name}: phase {to_phase} over phase {from_phase} adds"]
        out.append(
            f"  devices: {len(d.devices):,} ("
            + ", ".join(f"{m} {n:,}" for m, n in sorted(d.devices_by_model.items()))
            + ")"
        )
        out.append(
            f"  links: {sum(d.links_by_network.values()):,} ("
            + ", ".join(f"{k} {n:,}" for k, n in sorted(d.links_by_network.items()))
            + ")"
        )
        out.append(
            f"  addresses: {sum(d.addresses_by_network.values()):,} ("
            + ", ".join(f"{k} {n:,}" for k, n in sorted(d.addresses_by_network.items()))
            + f"), ASNs: {d.asns:,}"
        )
        out.append(
            f"  rack power: {sum(d.rack_power_kw.values()):,.1f} kW over "
            f"{len(d.rack_power_kw):,} racks"
        )
        if d.stable:
            # Only the inventory agreeing with itself: the lock and --base say what is built.
            out.append(f"  phase {from_phase} unchanged: every link, address and ASN is the same")
        else:
            out.append(f"  CHANGED in phase {from_phase} ({len(d.changed)}):")
            out.extend(f"    {c}" for c in d.changed[:200])
        if locked is not None:
            out.extend(locked.lines())
        if against is not None:
            if against.stable:
                out.append(f"  phase {from_phase} unchanged against {base}")
            else:
                out.append(f"  CHANGED against {base} ({len(against.changed)}):")
                out.extend(f"    {c}" for c in against.changed[:200])
        emit("\n".join(out))
    raise typer.Exit(0 if stable else 1)


@boundary
def plan_cmd(
    site: SiteArg,
    phase: PhaseOpt = None,
    fmt: Annotated[TextFormat, typer.Option("--format", "-f")] = TextFormat.text,
) -> None:
    """A summary of the plan: devices, links by network, addresses, ASNs, and timings.

    Example: hkcompute plan inventories/hkstp --phase 2
    """
    t0 = time.perf_counter()
    s, plan = _load(site, phase)
    elapsed = time.perf_counter() - t0
    by_net: dict[str, int] = {}
    for x in plan.links:
        by_net[x.network] = by_net.get(x.network, 0) + 1
    addr: dict[str, int] = {}
    for a in plan.addresses:
        addr[a.network] = addr.get(a.network, 0) + 1
    devices = sum(1 for _ in s.devices_upto(phase))
    summary = {
        "site": s.info.name,
        "phase": phase,
        "devices": devices,
        "links": len(plan.links),
        "links_by_network": dict(sorted(by_net.items())),
        "addresses": len(plan.addresses),
        "addresses_by_network": dict(sorted(addr.items())),
        "asns": len(plan.asns),
        "seconds": {
            "load_validate_plan": round(elapsed, 3),
            **{k: round(v, 3) for k, v in plan.timings.items()},
        },
    }
    if fmt is TextFormat.json:
        emit(_dump(summary))
        return
    upto = f" up to phase {phase}" if phase else ""
    emit(
        "\n".join(
            [
                f"plan of {s.info.name}{upto}: {devices:,} devices, {len(plan.links):,} links, "
                f"{len(plan.addresses):,} addresses, {len(plan.asns):,} ASNs",
                "  links: " + ", ".join(f"{k} {n:,}" for k, n in sorted(by_net.items())),
                "  addresses: " + ", ".join(f"{k} {n:,}" for k, n in sorted(addr.items())),
                f"  load + validate + plan: {elapsed:.2f} s (plan: links "
                f"{plan.timings.get('links_s', 0):.2f} s, "
                f"addresses {plan.timings.get('addresses_s', 0):.2f} s)",
            ]
        )
    )


def register(app: typer.Typer) -> None:
    from hkcompute.cli.cabling import DefaultGroup, verify_cmd

    app.command("plan")(plan_cmd)
    # A group whose default is `list`, so `hkcompute cabling SITE` prints the plan as before.
    cabling = typer.Typer(
        cls=DefaultGroup,
        no_args_is_help=True,
        help="The plan's cables (list, the default) and a check of them "
        "against what the devices see (verify).",
    )
    cabling.command("list")(cabling_cmd)
    cabling.command("verify")(verify_cmd)
    app.add_typer(cabling, name="cabling")
    app.command("addresses")(addresses_cmd)
    app.command("asns")(asns_cmd)
    app.command("bom")(bom_cmd)
    app.command("diff")(diff_cmd)
