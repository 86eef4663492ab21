"""The plan's fabric on small sites with hand-computed answers (see plan_sites.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import hkcompute.checks.addressing
import hkcompute.checks.fabric  # noqa: F401  (registers the HK4xx/HK5xx checks)
from hkcompute.findings import Finding
from hkcompute.model import Site
from hkcompute.plan import Plan, build_plan
from hkcompute.plan.records import LEAF_SPINE, NODE_LEAF
from hkcompute.validate import validate

from .plan_sites import CLUSTER, TEMPLATE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]


def load(tmp_path: Path, write_site: Writer, **changes: str | None) -> tuple[Site, list[Finding]]:
    v = validate(write_site(tmp_path, roce_files(**changes)))
    assert v.site is not None
    return v.site, v.findings


def codes(findings: list[Finding]) -> set[str]:
    return {f.code for f in findings}


@pytest.fixture
def two_units(tmp_path: Path, write_site: Writer) -> tuple[Site, Plan, list[Finding]]:
    site, findings = load(tmp_path, write_site)
    return site, build_plan(site), findings


def test_two_unit_roce_is_clean(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, _plan, findings = two_units
    assert findings == []


def test_two_unit_roce_link_count(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, plan, _f = two_units
    # node-leaf: 2 units x 4 nodes x 2 rails = 16; leaf-spine: 2 units x 2 leaves x 2 spines
    # x U=2 = 16.
    assert sum(x.kind == NODE_LEAF for x in plan.links) == 16
    assert sum(x.kind == LEAF_SPINE for x in plan.links) == 16
    assert len(plan.links) == 32


def test_port_layout(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, plan, _f = two_units
    rows = {(x.a, x.a_port): (x.b, x.b_port) for x in plan.links}
    # node slot s on leaf port s+1; rail r to leaf r+1
    assert rows[("su1-n03", "fab1")] == ("su1-leaf2", "swp3")
    # leaf uplinks after the 4 node ports, in spine order, U=2 per spine
    assert rows[("su1-leaf1", "swp5")] == ("c1-g01-spine01", "swp1")
    assert rows[("su1-leaf1", "swp7")] == ("c1-g01-spine02", "swp1")
    # spine ports: (position in group * rails + rail) * U + k + 1
    assert rows[("su1-leaf2", "swp6")] == ("c1-g01-spine01", "swp4")
    assert rows[("su2-leaf1", "swp5")] == ("c1-g01-spine01", "swp5")
    assert rows[("su2-leaf2", "swp8")] == ("c1-g01-spine02", "swp8")


def test_asns(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, plan, _f = two_units
    assert {a.device: a.asn for a in plan.asns} == {
        "su1-leaf1": 65001,
        "su1-leaf2": 65002,
        "su2-leaf1": 65003,
        "su2-leaf2": 65004,
        "c1-g01-spine01": 65500,
        "c1-g01-spine02": 65500,
    }


def test_p2p_slash31(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, plan, _f = two_units
    p2p = {(a.device, a.interface): a.address for a in plan.addresses if a.network == "p2p"}
    assert len(p2p) == 32  # 16 leaf-spine links, two ends each
    assert p2p[("su1-leaf1", "swp5")] == "10.3.0.0/31"
    assert p2p[("c1-g01-spine01", "swp1")] == "10.3.0.1/31"
    assert p2p[("su1-leaf2", "swp5")] == "10.3.0.8/31"
    assert p2p[("c1-g01-spine01", "swp3")] == "10.3.0.9/31"
    # su2 starts a new block of rails x spines x U x 2 = 16 addresses
    assert p2p[("su2-leaf1", "swp5")] == "10.3.0.16/31"
    assert p2p[("c1-g01-spine01", "swp5")] == "10.3.0.17/31"
    assert p2p[("su2-leaf2", "swp8")] == "10.3.0.30/31"
    assert p2p[("c1-g01-spine02", "swp8")] == "10.3.0.31/31"


def test_compute_subnets_and_loopbacks(two_units: tuple[Site, Plan, list[Finding]]) -> None:
    _site, plan, _f = two_units
    got = {(a.device, a.interface): a.address for a in plan.addresses}
    # subnet per leaf: 4 slots + 3 -> 8 addresses (/29); the leaf is the gateway (.1)
    assert got[("su1-leaf1", "vlan100")] == "10.2.0.1/29"
    assert got[("su1-n01", "fab0")] == "10.2.0.2/29"
    assert got[("su1-n04", "fab1")] == "10.2.0.13/29"
    assert got[("su2-leaf1", "vlan100")] == "10.2.0.17/29"
    assert got[("c1-g01-spine01", "lo")] == "10.1.0.0/32"
    assert got[("su2-leaf2", "lo")] == "10.1.0.5/32"
    assert got[("su1-n01", "bmc")] == "192.168.0.5/24"
    assert got[("su2-n01", "mgmt0")] == "10.0.0.5/24"


def test_partly_filled_unit_keeps_full_uplinks(tmp_path: Path, write_site: Writer) -> None:
    site, _findings = load(
        tmp_path, write_site, units_yaml=TEMPLATE + CLUSTER.replace("nodes: 4}", "nodes: 1}")
    )
    plan = build_plan(site)
    assert sum(x.kind == LEAF_SPINE for x in plan.links) == 16
    assert sum(x.kind == NODE_LEAF for x in plan.links) == 4


def test_uplink_ratio_not_whole(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path,
        write_site,
        units_yaml=TEMPLATE.replace("spines_per_group: 2", "spines_per_group: 3") + CLUSTER,
    )
    assert "HK411" in codes(findings)


def test_port_reuse(tmp_path: Path, write_site: Writer) -> None:
    links = """\
        links:
          - {a: "su1-leaf1:swp20", b: "su2-leaf1:swp20", network: compute}
          - {a: "su1-leaf2:swp20", b: "su2-leaf1:swp20", network: compute}
        """
    _site, findings = load(tmp_path, write_site, links_yaml=links)
    reuse = [f for f in findings if f.code == "HK401"]
    assert len(reuse) == 1 and "su2-leaf1:swp20" in reuse[0].message
    assert Path(reuse[0].location.path).name == "links.yaml"
    assert reuse[0].location.line == 3


def test_explicit_link_overrides_built_one(tmp_path: Path, write_site: Writer) -> None:
    links = """\
        links:
          - {a: "su1-n01:fab0", b: "su1-leaf1:swp30", network: compute}
        """
    site, findings = load(tmp_path, write_site, links_yaml=links)
    assert findings == []
    plan = build_plan(site)
    ends = {(x.a, x.a_port): (x.b, x.b_port) for x in plan.links}
    assert ends[("su1-n01", "fab0")] == ("su1-leaf1", "swp30")
    assert len(plan.links) == 32


def test_speed_mismatch(tmp_path: Path, write_site: Writer) -> None:
    from .plan_sites import CATALOG

    _site, findings = load(
        tmp_path,
        write_site,
        catalog_yaml=CATALOG.replace(
            "{network: compute, count: 2, speed_gbps: 400}",
            "{network: compute, count: 2, speed_gbps: 200}",
        ),
    )
    hits = [f for f in findings if f.code == "HK402"]
    assert hits and "200 Gb/s" in hits[0].message and "400" in hits[0].message


def test_more_links_than_ports(tmp_path: Path, write_site: Writer) -> None:
    from .plan_sites import CATALOG

    # leaf: 4 node ports + 2 spines x 2 uplinks = 8 links on a 6-port switch
    _site, findings = load(
        tmp_path, write_site, catalog_yaml=CATALOG.replace("ports: 32", "ports: 6")
    )
    assert {"HK403", "HK404"} <= codes(findings)


def test_two_groups_without_core_are_not_connected(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(
        tmp_path,
        write_site,
        units_yaml=TEMPLATE.replace("units_per_group: 2", "units_per_group: 1") + CLUSTER,
    )
    assert "HK412" in codes(findings)


def test_two_groups_with_core_are_six_hops(tmp_path: Path, write_site: Writer) -> None:
    tpl = (
        TEMPLATE.replace("units_per_group: 2", "units_per_group: 1")
        + "    core_uplinks_per_spine: 2\n"
    )
    cluster = CLUSTER.replace(
        "    network_racks: r01\n", "    network_racks: r01\n    core: {model: sw, count: 2}\n"
    )
    site, findings = load(tmp_path, write_site, units_yaml=tpl + cluster)
    assert findings == []
    plan = build_plan(site)
    core = [x for x in plan.links if x.b.startswith("c1-core")]
    # 2 groups x 2 spines x 2 uplinks, dealt round 2 cores
    assert len(core) == 8
    assert {(x.a, x.a_port, x.b, x.b_port) for x in core if x.a == "c1-g02-spine01"} == {
        ("c1-g02-spine01", "swp5", "c1-core01", "swp3"),
        ("c1-g02-spine01", "swp6", "c1-core02", "swp3"),
    }
    asns = {a.device: a.asn for a in plan.asns}
    assert asns["c1-core01"] == asns["c1-core02"] == 65520
    assert asns["c1-g01-spine01"] == 65500 and asns["c1-g02-spine01"] == 65501


def test_inband_redundancy(tmp_path: Path, write_site: Writer) -> None:
    one = TEMPLATE + "    inband_switches: {model: mg, count: 1}\n" + CLUSTER
    _site, findings = load(tmp_path, write_site, units_yaml=one)
    assert "HK414" in codes(findings)
    two = TEMPLATE + "    inband_switches: {model: mg, count: 2}\n" + CLUSTER
    site, findings = load(tmp_path, write_site, units_yaml=two)
    assert "HK414" not in codes(findings)
    ends = {(x.a, x.a_port): (x.b, x.b_port) for x in build_plan(site).links}
    assert ends[("su1-n02", "mgmt0")] == ("su1-mgmt1", "swp2")
    assert ends[("su1-n02", "mgmt1")] == ("su1-mgmt2", "swp2")


def test_lab_plan() -> None:
    from .conftest import LAB

    v = validate(LAB)
    assert v.site is not None
    plan = build_plan(v.site)
    assert not [f for f in v.findings if f.code.startswith(("HK4", "HK5"))]
    assert len(plan.links) >= 16


def test_storage_islands_warn(tmp_path: Path, write_site: Writer) -> None:
    from .plan_sites import CATALOG

    cat = CATALOG.replace(
        "        - {network: oob, count: 1, speed_gbps: 1}\n",
        "        - {network: oob, count: 1, speed_gbps: 1}\n"
        "        - {network: storage, count: 1, speed_gbps: 25}\n",
    )
    tpl = TEMPLATE + "    storage_leaves: {model: mg, count: 1}\n"
    _site, findings = load(tmp_path, write_site, catalog_yaml=cat, units_yaml=tpl + CLUSTER)
    assert "HK418" in codes(findings)
    spine = "devices:\n  - {name: st1, role: storage_spine, model: mg, rack: r09, u: 1}\n"
    site, findings = load(tmp_path, write_site, catalog_yaml=cat, units_yaml=tpl + CLUSTER + spine)
    assert "HK418" not in codes(findings)
    ends = {(x.a, x.a_port): (x.b, x.b_port) for x in build_plan(site).links}
    # storage leaf: 4 node ports down, uplinks from swp5: min(44 free, 4 down) // 1 spine = 4
    assert ends[("su1-sleaf1", "swp5")] == ("st1", "swp1")
    assert ends[("su2-sleaf1", "swp8")] == ("st1", "swp8")
    assert ends[("su1-n03", "stor0")] == ("su1-sleaf1", "swp3")


def test_hop_count_beyond_a_spine(tmp_path: Path, write_site: Writer) -> None:
    # su1-leaf1 loses spine02 and su2-leaf1 loses spine01 (their uplinks re-cabled to the
    # other leaf of the unit): GPU nodes on them are then 5 hops apart, not 4.
    links = """\
        links:
          - {a: "su1-leaf1:swp7", b: "su1-leaf2:swp20", network: compute}
          - {a: "su1-leaf1:swp8", b: "su1-leaf2:swp21", network: compute}
          - {a: "su2-leaf1:swp5", b: "su2-leaf2:swp20", network: compute}
          - {a: "su2-leaf1:swp6", b: "su2-leaf2:swp21", network: compute}
        """
    _site, findings = load(tmp_path, write_site, links_yaml=links)
    hits = [f for f in findings if f.code == "HK413"]
    assert len(hits) == 1 and "5 hops" in hits[0].message and "at most 4" in hits[0].message


def test_infiniband_gets_ipoib_but_no_p2p_or_asn(tmp_path: Path, write_site: Writer) -> None:
    from .plan_sites import CATALOG

    cat = CATALOG.replace(
        "      kind: ethernet\n      os: frr-linux\n      ports: 32",
        "      kind: infiniband\n      os: mlnx-os\n      ports: 32",
    )
    site, findings = load(
        tmp_path,
        write_site,
        catalog_yaml=cat,
        units_yaml=TEMPLATE.replace("fabric: roce", "fabric: infiniband") + CLUSTER,
    )
    assert findings == []
    plan = build_plan(site)
    assert len(plan.links) == 32
    assert plan.asns == []
    nets = {a.network for a in plan.addresses}
    assert "p2p" not in nets and "loopback" not in nets
    got = {(a.device, a.interface): a.address for a in plan.addresses}
    assert got[("su1-n01", "fab0")] == "10.2.0.2/29"  # same layout as RoCE
    assert ("su1-leaf1", "vlan100") not in got  # no gateway on an IB leaf


def test_network_rack_oob_switches_take_every_spines_eth0(
    tmp_path: Path, write_site: Writer
) -> None:
    # With OOB switches in the template, the network racks get their own (the same model):
    # r01 holds the 2 spines at U1-U2, then c1-oob01 at U3 with both spines' eth0.
    site, _findings = load(
        tmp_path,
        write_site,
        units_yaml=TEMPLATE + "    oob_switches: {model: mg, count: 1}\n" + CLUSTER,
    )
    oob = site.devices["c1-oob01"]
    assert (oob.role, oob.model, oob.rack, oob.u, oob.cluster) == (
        "oob_switch",
        "mg",
        "r01",
        3,
        "c1",
    )
    plan = build_plan(site)
    mgmt = {(x.a, x.a_port): (x.b, x.b_port) for x in plan.links if x.network == "oob"}
    spines = [d.name for d in site.devices.values() if d.role in ("spine", "core")]
    assert all((s, "eth0") in mgmt for s in spines)
    assert mgmt[("c1-g01-spine02", "eth0")] == ("c1-oob01", "swp2")
    got = {(a.device, a.interface): a.address for a in plan.addresses}
    assert got[("c1-oob01", "eth0")] == "192.168.0.254/24"  # from the top of the pool


def test_without_template_oob_switches_spines_have_no_oob_switch(
    two_units: tuple[Site, Plan, list[Finding]],
) -> None:
    # The lab's shape: no OOB switches anywhere, so nothing is added to the network racks.
    site, plan, _f = two_units
    assert not any(d.role == "oob_switch" for d in site.devices.values())
    assert not any(x.network == "oob" for x in plan.links)
