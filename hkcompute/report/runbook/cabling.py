"""The cabling stages: plug by the plan, verify against discovery, the out-of-band network."""

from __future__ import annotations

from collections import Counter, defaultdict

from hkcompute.asbuilt.ibnetdiscover import MEDIUM as INFINIBAND
from hkcompute.plan import Plan
from hkcompute.plan.bom import build_bom
from hkcompute.plan.records import CABLING_COLUMNS
from hkcompute.report.runbook.facts import _counts, _csv, _Ctx
from hkcompute.report.runbook.records import (
    INLINE_CABLES,
    SPARES_PCT,
    Command,
    Stage,
    Table,
    _length_bin,
    _natural,
)


def _cabling(c: _Ctx) -> tuple[Stage, dict[str, str]]:
    rack_of = {d.name: d.rack for d in c.site.devices.values()}
    per_rack: dict[str, Counter[str]] = defaultdict(Counter)
    per_switch: dict[str, Counter[str]] = defaultdict(Counter)
    for x in c.links:
        kind = f"{x.cable} {_length_bin(x.length_m)}"
        per_rack[rack_of.get(x.a, "?")][kind] += 1
        if rack_of.get(x.b) != rack_of.get(x.a):
            per_rack[rack_of.get(x.b, "?")][kind] += 1
        for end in (x.a, x.b):
            dev = c.site.devices.get(end)
            if dev is not None and dev.is_switch:
                per_switch[end][x.network] += 1
    # The BOM's counting rules over this phase's cables only (the same code as `hkcompute
    # bom`, without counting every earlier phase's cables again).
    bom = build_bom(c.site, Plan(c.site.info.name, c.phase, links=c.links)).phases.get(c.phase, {})
    stock = []
    for sec in ("transceivers", "cables", "fibres"):
        for item, n in sorted(bom.get(sec, Counter()).items(), key=lambda kv: _natural(kv[0])):
            spare = max(1, -(-n * SPARES_PCT // 100))
            stock.append([sec, item, f"{n:,}", f"{spare:,}", f"{n + spare:,}"])
    tables = [
        Table(
            "Optics and cables to stock",
            ["kind", "item", "needed", f"spares ({SPARES_PCT}%)", "to stock"],
            stock,
        ),
        Table(
            "Cables per rack (both ends counted)",
            ["rack", "cables", "by type and length"],
            [[r, f"{sum(k.values()):,}", _counts(k)] for r, k in sorted(per_rack.items())],
            collapse=len(per_rack) > 30,
        ),
        Table(
            "Cables per switch",
            ["switch", "rack", "model", "new cables", "by network"],
            [
                [
                    s,
                    rack_of.get(s, "?"),
                    c.site.devices[s].model,
                    f"{sum(k.values()):,}",
                    _counts(k),
                ]
                for s, k in sorted(per_switch.items())
            ],
            collapse=len(per_switch) > 30,
        ),
    ]
    if len(c.links) <= INLINE_CABLES:
        tables.append(
            Table(
                "Every cable of this phase",
                list(CABLING_COLUMNS),
                [list(x.row()) for x in c.links],
                collapse=len(c.links) > 40,
            )
        )
    by_rack = sorted(c.links, key=lambda x: (rack_of.get(x.a, ""), x.a, _natural(x.a_port)))
    by_switch_rows: list[tuple[str, ...]] = []
    for x in c.links:
        for end, port, peer, pport in (
            (x.a, x.a_port, x.b, x.b_port),
            (x.b, x.b_port, x.a, x.a_port),
        ):
            dev = c.site.devices.get(end)
            if dev is not None and dev.is_switch:
                by_switch_rows.append(
                    (end, port, peer, pport, x.network, x.optic or "", x.cable, f"{x.length_m:.1f}")
                )
    by_switch_rows.sort(key=lambda r: (r[0], _natural(r[1])))
    files = {
        "cabling-by-rack.csv": _csv(
            [(rack_of.get(x.a, ""), *x.row()) for x in by_rack], ("rack", *CABLING_COLUMNS)
        ),
        "cabling-by-switch.csv": _csv(
            by_switch_rows,
            ("switch", "port", "peer", "peer_port", "network", "optic", "cable", "length_m"),
        ),
    }
    land = len(c.landing)
    return Stage(
        "cabling",
        "3. Cabling: cable lists per rack and per switch, optics",
        intro=[
            f"{len(c.links):,} cables in this phase. The full lists are `cabling-by-rack.csv` "
            "(pull and label, rack by rack) and `cabling-by-switch.csv` (patch, port by port) "
            "beside this runbook.",
            *(
                [
                    f"{land:,} of them land on equipment already in service (listed in the scope): "
                    "patch those ports only in the agreed change window, one switch at a time."
                ]
                if land
                else []
            ),
        ],
        tables=tables,
        commands=[
            Command(
                c.hk("cabling", "--phase", str(c.phase)) + " > cabling.csv",
                f"the rows with phase {c.phase} are the {len(c.links):,} cables "
                "above (the file also lists earlier phases' cables)",
            ),
            Command(
                c.hk("bom", "--phase", str(c.phase), "--format", "csv"),
                "optics and cables of the phase column = the 'needed' column above",
            ),
            *_verify_cabling(c),
        ],
        checklist=[
            "optics and cables received and counted against 'to stock'",
            "every cable labelled at both ends (device:port)",
            "every cable of cabling-by-rack.csv connected",
            "`hkcompute cabling verify` run after plugging; every port it listed "
            "fixed (swap, re-cable, connect) and the check run again until exit 0",
            "link lights on at both ends; fibre ends cleaned and inspected",
            *(["ports on in-service switches patched in the change window"] if land else []),
        ],
        gate=[
            "all cables of the phase connected and labelled",
            "no spare port left patched, no cable left unlabelled",
        ],
        rollback=[
            "Unpatch the new cables; on in-service switches, only the ports listed in "
            "cabling-by-switch.csv are touched, so unpatching them restores the "
            "previous state."
        ],
    ), files


def _verify_cabling(c: _Ctx) -> list[Command]:
    """Plug, check against what the devices see, fix the listed ports, check again: LLDP over
    SSH for Ethernet (as soon as hosts and switches answer; before that, `--lldp DIR` of
    answers gathered by hand), ibnetdiscover's file for an InfiniBand fabric."""
    phase = str(c.phase)
    ib = {
        x.name
        for x in c.site.clusters
        if (k := c.site.fabric_of(x.name)) is not None and k.protocol == INFINIBAND
    }
    cmds = [
        Command(
            c.hk("cabling verify", "--phase", phase, "--collect"),
            "exit 0: every Ethernet cable of the phase ok; otherwise fix the ports "
            "it lists (one line per swapped pair) and run it again",
        )
    ]
    if any(x.network == "compute" and x.cluster in ib for x in c.links):
        cmds.append(
            Command(
                c.hk("cabling verify", "--phase", phase, "--ibnetdiscover", "ibnetdiscover.txt"),
                "the file is `ibnetdiscover > ibnetdiscover.txt` on a host with an HCA; exit 0: "
                "every InfiniBand cable ok; it writes the HCA port GUIDs next to the inventory",
            )
        )
    return cmds


def _oob(c: _Ctx) -> Stage:
    oob = [d for d in c.new if d.role in ("oob_switch", "inband_switch")]
    addrs = Counter(a.network for a in c.plan.addresses if a.phase == c.phase)
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", "service", "--check", "--diff"),
            "exit 0; the differences are DHCP, DNS and monitoring entries for the "
            f"phase's {addrs.get('oob', 0):,} out-of-band and {addrs.get('inband', 0):,} "
            "in-band addresses; no host failed or unreachable",
        ),
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", "service", "--batch", "1"),
            "status ok on every services host, one at a time (the pairs stay redundant)",
            record="services",
        ),
    ]
    if c.prev is not None:
        rollback = [
            "The services hosts carry the earlier phases too: restore their previous "
            "configuration from the previous phase's tree:",
            f"`{c.back('service', '1')}` (renders phase {c.prev} and deploys it to the "
            "services hosts, one at a time)",
        ]
    else:
        rollback = [
            "First phase: stop the new services (DHCP, DNS) on the services hosts; "
            "nothing else depends on them yet."
        ]
    return Stage(
        "oob",
        "4. Out-of-band and provisioning network",
        intro=[
            f"{len(oob):,} management switches ({_counts(Counter(d.role.value for d in oob))}); "
            f"addresses of the phase: {_counts(addrs)}. The services hosts (DHCP, DNS, NTP) learn "
            "the new hosts before any of them boots."
        ],
        commands=cmds,
        checklist=[
            "management switches configured and reachable",
            f"every BMC of the phase answers on its out-of-band address "
            f"({addrs.get('oob', 0):,} addresses)",
            "DHCP hands the planned in-band address to each new host (leases checked)",
            "forward and reverse DNS resolve for a sample of new hosts",
        ],
        gate=[
            "services deploy run ok (run id recorded)",
            "BMCs reachable",
            "PXE/OS install network reaches every new server",
        ],
        rollback=rollback,
    )
