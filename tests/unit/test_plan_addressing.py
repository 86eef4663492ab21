"""Addresses and ASNs: stability across phases, explicit addresses, pool findings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import hkcompute.checks.addressing
import hkcompute.checks.fabric  # noqa: F401  (registers the HK4xx/HK5xx checks)
from hkcompute.findings import Finding
from hkcompute.model import Site
from hkcompute.plan import Plan, build_plan
from hkcompute.plan.diff import diff_phases
from hkcompute.validate import validate

from .plan_sites import CLUSTER, SITE, TEMPLATE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]


def load(root: Path, write_site: Writer, **changes: str | None) -> tuple[Site, list[Finding]]:
    v = validate(write_site(root, roce_files(**changes)))
    assert v.site is not None
    return v.site, v.findings


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


def rows(plan: Plan, upto: int | None = None) -> tuple[list[tuple[str, ...]], ...]:
    return (
        [x.row() for x in plan.links_upto(upto)],
        [x.row() for x in plan.addresses_upto(upto)],
        [(x.device, str(x.asn)) for x in plan.asns_upto(upto)],
    )


PHASE1_ONLY = (
    TEMPLATE
    + """\
clusters:
  - name: c1
    template: pod
    hall: h1
    network_racks: r01
    units:
      - {name: su1, phase: 1, racks: "r[02-03]", nodes: 4}
"""
)

# Phase 2 adds: a cluster written *before* c1, a second unit of c1 and a service node.
WITH_PHASE2 = (
    TEMPLATE
    + """\
clusters:
  - name: c0
    template: pod
    hall: h1
    network_racks: r06
    units:
      - {name: sx1, phase: 2, racks: "r[07-08]", nodes: 2}
  - name: c1
    template: pod
    hall: h1
    network_racks: r01
    units:
      - {name: su1, phase: 1, racks: "r[02-03]", nodes: 4}
      - {name: su2, phase: 2, racks: "r[04-05]", nodes: 4}
devices:
  - {name: svc1, role: service, model: node-a, rack: r09, u: 10, phase: 2}
"""
)


def test_phase1_rows_do_not_change_when_phase2_is_added(tmp_path: Path, write_site: Writer) -> None:
    site_a, fa = load(tmp_path / "a", write_site, units_yaml=PHASE1_ONLY)
    site_b, fb = load(tmp_path / "b", write_site, units_yaml=WITH_PHASE2)
    assert fa == [] and fb == []
    plan_a, plan_b = build_plan(site_a), build_plan(site_b)
    assert rows(plan_a) == rows(plan_b, 1)
    assert len(plan_b.links) > len(plan_a.links)
    # and su2 of phase 2 still sits at its fixed place in the group (position 1)
    ends = {(x.a, x.a_port): (x.b, x.b_port) for x in plan_b.links}
    assert ends[("su2-leaf1", "swp5")] == ("c1-g01-spine01", "swp5")


def test_plan_of_a_phase_equals_that_phase_of_the_full_plan(
    tmp_path: Path, write_site: Writer
) -> None:
    site, _f = load(
        tmp_path,
        write_site,
        units_yaml=WITH_PHASE2
        + """\
  - {name: "su1-n[03-04]", phase: 3}
""",
    )
    p1, p3 = build_plan(site, 1), build_plan(site, 3)
    assert rows(p1) == rows(p3, 1)
    d = diff_phases(site, p1, p3)
    assert d.stable
    assert "su2-n01" in d.devices and "su1-n03" in d.devices and "svc1" in d.devices
    # the partly filled unit keeps every uplink in phase 1
    assert sum(x.a == "su1-leaf1" for x in p1.links) == 4  # 2 spines x U=2
    assert sum(x.b == "su1-leaf1" for x in p1.links) == 2  # nodes n01, n02


def test_explicit_address_wins_and_is_not_handed_out_twice(
    tmp_path: Path, write_site: Writer
) -> None:
    extra = """\
devices:
  - {name: su1-n01, addresses: {inband: 10.0.0.200/24}}
  - {name: svc1, role: service, model: node-a, rack: r09, u: 10, addresses: {inband: 10.0.0.2}}
"""
    site, findings = load(tmp_path, write_site, units_yaml=TEMPLATE + CLUSTER + extra)
    assert findings == []
    got = {
        (a.device, a.interface): a.address
        for a in build_plan(site).addresses
        if a.network == "inband"
    }
    assert got[("su1-n01", "mgmt0")] == "10.0.0.200/24"
    assert got[("svc1", "mgmt0")] == "10.0.0.2/24"  # the pool's prefix when none is written
    assert got[("su1-n02", "mgmt0")] == "10.0.0.254/24"  # displaced: from the top down
    assert got[("su1-n03", "mgmt0")] == "10.0.0.3/24"  # everyone else keeps their slot
    ips = [a.split("/")[0] for a in got.values()]
    assert len(ips) == len(set(ips))


def test_explicit_duplicate_address(tmp_path: Path, write_site: Writer) -> None:
    extra = """\
devices:
  - {name: su1-n01, addresses: {oob: 192.168.0.99/24}}
  - {name: su1-n02, addresses: {oob: 192.168.0.99/24}}
"""
    _site, findings = load(tmp_path, write_site, units_yaml=TEMPLATE + CLUSTER + extra)
    assert "HK503" in codes(findings)


def test_pool_too_small(tmp_path: Path, write_site: Writer) -> None:
    # 2 units x 2 rails x /29 = 32 addresses; a /28 has 16
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("10.2.0.0/24", "10.2.0.0/28")
    )
    hit = [f for f in findings if f.code == "HK502"]
    assert hit and "needs 32" in hit[0].message
    assert Path(hit[0].location.path).name == "site.yaml" and hit[0].location.line == 10


def test_pool_exactly_large_enough(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("10.2.0.0/24", "10.2.0.0/27")
    )
    assert "HK502" not in codes(findings)


def test_overlapping_pools(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("10.1.0.0/24", "10.2.0.128/25")
    )
    hit = [f for f in findings if f.code == "HK501"]
    assert len(hit) == 1 and "loopback" in hit[0].message and "compute" in hit[0].message


def test_missing_pool(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("    p2p: {cidr: 10.3.0.0/24}\n", "")
    )
    assert "HK505" in codes(findings)


def test_asn_ranges(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("last: 65100", "last: 65003")
    )
    hit = [f for f in findings if f.code == "HK506"]
    assert hit and "needs 4" in hit[0].message
    _site, findings = load(
        tmp_path, write_site, site_yaml=SITE.replace("first: 65500", "first: 65050")
    )
    assert "HK507" in codes(findings)


def test_site_switch_added_later_changes_nothing_earlier(
    tmp_path: Path, write_site: Writer
) -> None:
    from .plan_sites import CATALOG

    cat = CATALOG.replace(
        "        - {network: oob, count: 1, speed_gbps: 1}\n",
        "        - {network: oob, count: 1, speed_gbps: 1}\n"
        "        - {network: storage, count: 2, speed_gbps: 25}\n",
    )
    tpl = TEMPLATE + "    storage_leaves: {model: mg, count: 1}\n"
    phase1 = (
        PHASE1_ONLY.replace(TEMPLATE, tpl)
        + """\
devices:
  - {name: st1, role: storage_spine, model: mg, rack: r09, u: 1, phase: 1}
  - {name: svc1, role: service, model: node-a, rack: r09, u: 10, phase: 1}
"""
    )
    later = (
        phase1.replace(
            '      - {name: su1, phase: 1, racks: "r[02-03]", nodes: 4}\n',
            '      - {name: su1, phase: 1, racks: "r[02-03]", nodes: 4}\n'
            '      - {name: su2, phase: 2, racks: "r[04-05]", nodes: 4}\n',
        )
        + "  - {name: st2, role: storage_spine, model: mg, rack: r09, u: 2, phase: 2}\n"
        + "  - {name: svc2, role: service, model: node-a, rack: r09, u: 14, phase: 2}\n"
    )
    site_a, fa = load(tmp_path / "a", write_site, catalog_yaml=cat, units_yaml=phase1)
    site_b, fb = load(tmp_path / "b", write_site, catalog_yaml=cat, units_yaml=later)
    assert fa == [] and fb == []
    plan_a, plan_b = build_plan(site_a), build_plan(site_b)
    assert rows(plan_a) == rows(plan_b, 1)
    ends = {(x.a, x.a_port): (x.b, x.b_port) for x in plan_b.links}
    # su2's storage leaf spreads over both spines; su1's stays on st1 alone
    assert ends[("su2-sleaf1", "swp9")] == ("st1", "swp11")
    assert ends[("su2-sleaf1", "swp13")] == ("st2", "swp1")
    assert ends[("svc2", "stor1")][0] == "st2"
