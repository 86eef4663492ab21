"""The fabric manager's slot and the network racks' management, on a small InfiniBand site.

The site is plan_sites.py's two units (4 node slots, 2 rails, 2 spines in r01) on InfiniBand,
with a fabric kind of two 1-port appliances: they take slot 4 of su1 (leaf1:swp4, leaf2:swp4)
and stand in r01 after the spines, then one OOB switch (model ``ob``, 48 x 1G) for the four
management ports there (2 appliance BMCs, 2 spines' eth0).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import hkcompute.checks.addressing
import hkcompute.checks.fabric  # noqa: F401  (registers the HK4xx/HK5xx checks)
from hkcompute.findings import Finding
from hkcompute.model import Site
from hkcompute.plan import Plan, build_plan
from hkcompute.plan.assign import assign
from hkcompute.validate import validate

from .plan_sites import CATALOG, CLUSTER, TEMPLATE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]

IB_CATALOG = (
    CATALOG.replace(
        "      kind: ethernet\n      os: frr-linux\n      ports: 32",
        "      kind: infiniband\n      os: mlnx-os\n      ports: 32",
    )
    + """\
    ob:
      vendor: test
      kind: ethernet
      os: frr-linux
      ports: 48
      speed_gbps: 1
      power_kw: 0.1
      rack_units: 1
  fabrics:
    ib-fm:
      protocol: infiniband
      control: subnet-manager
      subnet_managers: 2
      ipoib: {mode: datagram, mtu: 4092}
      fabric_manager: {model: ufm-enterprise-3.1, count: 2}
"""
)
IB_TEMPLATE = TEMPLATE.replace("fabric: roce", "fabric: ib-fm") + (
    "    oob_switches: {model: ob, count: 1}\n"
)
# su1 gives its slot 4 to the appliances: 3 nodes.
IB_CLUSTER = CLUSTER.replace('racks: "r[02-03]", nodes: 4', 'racks: "r[02-03]", nodes: 3')


def load(
    tmp_path: Path, write_site: Writer, *, template: str = IB_TEMPLATE, cluster: str = IB_CLUSTER
) -> tuple[Site, list[Finding]]:
    files = roce_files(catalog_yaml=IB_CATALOG, units_yaml=template + cluster)
    v = validate(write_site(tmp_path, files))
    assert v.site is not None
    return v.site, v.findings


@pytest.fixture
def ib(tmp_path: Path, write_site: Writer) -> tuple[Site, Plan, list[Finding]]:
    site, findings = load(tmp_path, write_site)
    return site, build_plan(site), findings


def test_the_site_is_clean(ib: tuple[Site, Plan, list[Finding]]) -> None:
    assert ib[2] == []


def test_appliances_stand_in_the_network_rack_after_the_spines(
    ib: tuple[Site, Plan, list[Finding]],
) -> None:
    site, _plan, _f = ib
    at = {n: (site.devices[n].rack, site.devices[n].u) for n in ("c1-fm01", "c1-fm02")}
    assert at == {"c1-fm01": ("r01", 3), "c1-fm02": ("r01", 4)}  # spines at U1, U2
    oob = site.devices["c1-oob01"]
    assert (oob.role, oob.model, oob.rack, oob.u) == ("oob_switch", "ob", "r01", 5)
    assert "su1-n04" not in site.devices  # the kept slot holds no node


def test_appliance_cables_land_on_the_kept_slots_leaf_ports(
    ib: tuple[Site, Plan, list[Finding]],
) -> None:
    _site, plan, _f = ib
    fm = sorted(
        (x.a, x.a_port, x.b, x.b_port, x.speed_gbps, x.protocol)
        for x in plan.links
        if x.a.startswith("c1-fm") and x.network == "compute"
    )
    # One cable per appliance fabric port: appliance i on the leaf of rail i, last slot.
    assert fm == [
        ("c1-fm01", "fab0", "su1-leaf1", "swp4", 400.0, "infiniband"),
        ("c1-fm02", "fab0", "su1-leaf2", "swp4", 400.0, "infiniband"),
    ]
    # Nothing else on those leaf ports, and su2's slot 4 stays a node's.
    ends = [(x.b, x.b_port) for x in plan.links] + [(x.a, x.a_port) for x in plan.links]
    assert ends.count(("su1-leaf1", "swp4")) == 1
    assert ("su2-n04", "fab0", "su2-leaf1", "swp4") in {
        (x.a, x.a_port, x.b, x.b_port) for x in plan.links
    }


def test_appliances_get_the_slots_addresses_and_management_ones(
    ib: tuple[Site, Plan, list[Finding]],
) -> None:
    _site, plan, _f = ib
    got = {(a.device, a.interface): a.address for a in plan.addresses}
    # IPoIB: slot 4 of su1 is host 2 + 3 of each rail's /29 (10.2.0.0/29, 10.2.0.8/29).
    assert got[("c1-fm01", "fab0")] == "10.2.0.5/29"
    assert got[("c1-fm02", "fab0")] == "10.2.0.13/29"
    # BMC and in-band from the top of their pools, then the network rack's OOB switch.
    assert got[("c1-fm01", "bmc")] == "192.168.0.254/24"
    assert got[("c1-fm02", "bmc")] == "192.168.0.253/24"
    assert got[("c1-fm01", "mgmt0")] == "10.0.0.254/24"
    assert got[("c1-oob01", "eth0")] == "192.168.0.252/24"
    # The spines' and units' blocks are where they were before the appliances existed.
    assert got[("c1-g01-spine01", "eth0")] == "192.168.0.1/24"
    assert got[("su1-leaf1", "eth0")] == "192.168.0.3/24"


def test_the_subnet_manager_master_is_the_first_appliance(
    ib: tuple[Site, Plan, list[Finding]],
) -> None:
    site, _plan, _f = ib
    a = assign(site, None)
    assert a.subnet_managers == {"c1-fm01": 14, "c1-fm02": 13}
    # An appliance is not a services host, and Ansible does not manage it.
    assert not any("c1-fm" in n for hosts in a.services.values() for n in hosts)
    assert not any(n.startswith("c1-fm") for n in a.managed)


def test_every_spine_and_appliance_has_an_oob_link(
    ib: tuple[Site, Plan, list[Finding]],
) -> None:
    site, plan, _f = ib
    oob = {(x.a, x.a_port): (x.b, x.b_port) for x in plan.links if x.network == "oob"}
    spines = [d.name for d in site.devices.values() if d.role in ("spine", "core")]
    assert spines == ["c1-g01-spine01", "c1-g01-spine02"]
    assert oob[("c1-fm01", "bmc")] == ("c1-oob01", "swp1")
    assert oob[("c1-fm02", "bmc")] == ("c1-oob01", "swp2")
    assert oob[("c1-g01-spine01", "eth0")] == ("c1-oob01", "swp3")
    assert oob[("c1-g01-spine02", "eth0")] == ("c1-oob01", "swp4")


def test_a_full_first_unit_is_hk108(tmp_path: Path, write_site: Writer) -> None:
    _site, findings = load(tmp_path, write_site, cluster=CLUSTER)  # su1 asks for 4 nodes
    hits = [f for f in findings if f.code == "HK108"]
    assert len(hits) == 1
    assert "su1" in hits[0].message and "kept for the 2 ufm-enterprise-3.1" in hits[0].message


def test_the_bundled_kind_takes_four_leaf_ports(tmp_path: Path, write_site: Writer) -> None:
    # infiniband-ufm: 4 one-port appliances over 2 rails fill slot 4 of su1 and of su2.
    cluster = IB_CLUSTER.replace('racks: "r[04-05]", nodes: 4', 'racks: "r[04-05]", nodes: 3')
    site, findings = load(
        tmp_path,
        write_site,
        template=IB_TEMPLATE.replace("fabric: ib-fm", "fabric: infiniband-ufm"),
        cluster=cluster,
    )
    assert [f.code for f in findings if f.severity == "error"] == []
    plan = build_plan(site)
    fm = sorted(
        (x.a, x.b, x.b_port)
        for x in plan.links
        if x.a.startswith("c1-fm") and x.network == "compute"
    )
    assert fm == [
        ("c1-fm01", "su1-leaf1", "swp4"),
        ("c1-fm02", "su1-leaf2", "swp4"),
        ("c1-fm03", "su2-leaf1", "swp4"),
        ("c1-fm04", "su2-leaf2", "swp4"),
    ]


def test_without_a_fabric_manager_the_spines_keep_the_subnet_manager(
    tmp_path: Path, write_site: Writer
) -> None:
    template = IB_TEMPLATE.replace("fabric: ib-fm", "fabric: infiniband")
    site, findings = load(tmp_path, write_site, template=template, cluster=CLUSTER)
    assert [f.code for f in findings if f.severity == "error"] == []
    assert not any(n.startswith("c1-fm") for n in site.devices)
    assert assign(site, None).subnet_managers == {"c1-g01-spine01": 14, "c1-g01-spine02": 13}
    # The spines' eth0 still gets a network-rack OOB switch (the template has OOB switches).
    plan = build_plan(site)
    oob = {(x.a, x.a_port): x.b for x in plan.links if x.network == "oob"}
    assert oob[("c1-g01-spine01", "eth0")] == oob[("c1-g01-spine02", "eth0")] == "c1-oob01"
