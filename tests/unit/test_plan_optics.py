"""Parts that fit both ends of a link: protocol, cage, twin-port modules, reach; and how the
BOM counts them (twin-port modules per cage, assemblies as cables, fibres by grade)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hkcompute.checks.addressing
import hkcompute.checks.fabric  # noqa: F401  (registers the HK4xx/HK5xx checks)
from hkcompute.cli.main import app
from hkcompute.inventory.schema import Optic
from hkcompute.model import Device
from hkcompute.plan import build_plan
from hkcompute.plan.bom import build_bom
from hkcompute.plan.cabling import OpticChooser
from hkcompute.plan.ends import Ends
from hkcompute.plan.optics import NIC, SWITCH, End
from hkcompute.plan.records import Plan
from hkcompute.validate import validate

from .plan_sites import CATALOG, CLUSTER, TEMPLATE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]
runner = CliRunner()

CX7 = End(NIC, "infiniband", "osfp", 1)
QM9700 = End(SWITCH, "infiniband", "osfp", 2)
ETH_NIC = End(NIC, "ethernet", "qsfp-dd", 1)
ETH_SW = End(SWITCH, "ethernet", "qsfp-dd", 1)


@pytest.fixture(scope="module")
def optics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Optic]:
    """The bundled catalogue's optics, as a site sees them."""
    from .conftest import _write_site

    v = validate(_write_site(tmp_path_factory.mktemp("optics"), roce_files()))
    assert v.site is not None
    return v.site.catalog.optics


@pytest.fixture(scope="module")
def chooser(optics: dict[str, Optic]) -> OpticChooser:
    return OpticChooser(optics)


@pytest.mark.parametrize(
    ("a", "b", "length", "want"),
    [
        # HCA to NDR switch: single-port flat-top OSFP at the HCA, twin-port at the switch.
        (CX7, QM9700, 2.0, "ndr-sr4+800g-2xsr4"),  # no InfiniBand DAC fits: optics even here
        (CX7, QM9700, 50.0, "ndr-sr4+800g-2xsr4"),  # multimode at its 50 m reach
        (CX7, QM9700, 50.1, "ndr-dr4+800g-dr8"),  # past it: single mode, 100 m
        (CX7, QM9700, 100.1, None),  # no single-port InfiniBand part reaches: a finding
        # Switch to switch: twin-port modules at both ends, the cheapest that reaches.
        (QM9700, QM9700, 30.0, "800g-2xsr4"),
        (QM9700, QM9700, 60.0, "800g-dr8"),
        (QM9700, QM9700, 200.0, "800g-2xdr4"),
        # Ethernet QSFP-DD ends keep the Ethernet parts: the DAC while it is long enough.
        (ETH_NIC, ETH_SW, 3.0, "400g-dac"),
        (ETH_NIC, ETH_SW, 3.1, "400g-aoc"),
    ],
)
def test_parts_fit_both_ends(
    chooser: OpticChooser, a: End, b: End, length: float, want: str | None
) -> None:
    assert chooser.choose(400, length, a, b).optic == want


def test_infiniband_links_never_get_ethernet_only_parts(
    chooser: OpticChooser, optics: dict[str, Optic]
) -> None:
    for a, b, lengths in (
        (CX7, QM9700, (1.0, 5.0, 20.0, 45.0, 80.0, 100.0)),
        (QM9700, QM9700, (1.0, 5.0, 20.0, 45.0, 80.0, 300.0, 2000.0)),
    ):
        for length in lengths:
            ch = chooser.choose(400, length, a, b)
            assert ch.optic is not None
            for part in ch.optic.split("+"):
                assert "infiniband" in optics[part].protocols
                assert optics[part].reach_m >= length


def test_switch_ports_map_to_cages_and_sub_ports(tmp_path: Path, write_site: Writer) -> None:
    v = validate(write_site(tmp_path, roce_files()))
    assert v.site is not None
    ends = Ends(v.site)

    def dev(model: str) -> Device:
        return Device("x", "leaf", model, "r01", 1, 1, 1, "in_service", "h1")  # type: ignore[arg-type]

    assert [ends.cage(dev("qm9700"), f"swp{n}") for n in (1, 2, 3, 64)] == [
        (1, 1),
        (1, 2),
        (2, 1),
        (32, 2),
    ]
    # Two cage groups: the QSFP28 uplinks of an SN2410 are numbered on after its 48 SFP28.
    assert ends.cage(dev("sn2410"), "swp49") == (49, 1)
    assert ends.cage(dev("sn2410"), "eth0") == (0, 0)
    assert ends.cage(dev("sw"), "swp1") == (0, 0)  # no cages described


IB_CATALOG = CATALOG.replace(
    "        - {network: compute, count: 2, speed_gbps: 400}",
    "        - {network: compute, count: 2, speed_gbps: 400, model: cx7-400g-osfp}",
).replace(
    "      kind: ethernet\n      os: frr-linux\n      ports: 32\n      speed_gbps: 400\n",
    "      kind: infiniband\n      ports: 32\n      speed_gbps: 400\n"
    "      cages:\n"
    "        - {count: 16, form_factor: osfp, ports_per_cage: 2, speed_gbps: 400}\n",
)


def test_infiniband_site_cabling_and_bom(tmp_path: Path, write_site: Writer) -> None:
    assert IB_CATALOG.count("cx7-400g-osfp") == 1 and "ports_per_cage: 2" in IB_CATALOG
    files = roce_files(
        catalog_yaml=IB_CATALOG,
        units_yaml=TEMPLATE.replace("fabric: roce", "fabric: infiniband") + CLUSTER,
    )
    v = validate(write_site(tmp_path, files))
    assert v.site is not None and v.findings == []
    plan = build_plan(v.site)
    leaf = [x for x in plan.links if x.kind == "node-leaf"]
    up = [x for x in plan.links if x.kind == "leaf-spine"]
    assert {x.optic for x in leaf} == {"ndr-sr4+800g-2xsr4"}
    assert {x.optic for x in up} == {"800g-2xsr4"}
    assert {x.protocol for x in plan.links} == {"infiniband"}
    bom = build_bom(v.site, plan).total()
    # One single-port module per HCA port; one twin-port module per switch cage in use:
    # the leaves' node ports and uplinks pair up in cages, as do the spines' down ports.
    cages = {(x.a, x.a_cage) for x in up} | {(x.b, x.b_cage) for x in up}
    cages |= {(x.b, x.b_cage) for x in leaf}
    assert bom["transceivers"] == {"ndr-sr4": len(leaf), "800g-2xsr4": len(cages)}
    assert len(cages) * 2 == len(leaf) + 2 * len(up)  # every cage carries two links
    assert bom["cables"] == {}  # transceivers only: no assembly
    assert sum(bom["fibres"].values()) == len(plan.links)
    assert all(k.startswith("mmf OM4 ") for k in bom["fibres"])
    # The CSV places each switch end on its cage: swp1 and swp2 share cage 1.
    result = runner.invoke(app, ["cabling", str(tmp_path / "site")])
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    first = next(r for r in rows if r["b_port"] == "swp2" and r["a_port"] == "fab0")
    assert (first["protocol"], first["form_factor"]) == ("infiniband", "osfp")
    assert (first["b_cage"], first["b_cage_port"], first["a_cage"]) == ("1", "2", "")


def test_bom_counts_assemblies_as_cables_only(tmp_path: Path, write_site: Writer) -> None:
    v = validate(write_site(tmp_path, roce_files()))
    assert v.site is not None
    plan = build_plan(v.site)
    bom = build_bom(v.site, Plan(plan.site, None, links=plan.links)).total()
    assert bom["transceivers"] == {} and bom["fibres"] == {}
    assert sum(bom["cables"].values()) == len(plan.links)


def _ib_site(tmp_path: Path, write_site: Writer, links: str | None = None) -> set[str]:
    files = roce_files(
        catalog_yaml=IB_CATALOG,
        units_yaml=TEMPLATE.replace("fabric: roce", "fabric: infiniband") + CLUSTER,
    )
    if links is not None:
        files["links.yaml"] = links
    return {f.code for f in validate(write_site(tmp_path, files)).findings}


@pytest.mark.parametrize(
    ("optic", "fires"),
    [
        # swp1 shares cage 1 with swp2, whose built link takes the multimode twin-port module.
        ("ndr-sr4+800g-2xsr4", False),
        ("ndr-dr4+800g-dr8", True),
    ],
)
def test_a_twin_port_cage_takes_one_module(
    tmp_path: Path, write_site: Writer, optic: str, fires: bool
) -> None:
    link = (
        'links:\n  - {a: "su1-n01:fab0", b: "su1-leaf1:swp1", network: compute, '
        f"optic: {optic}}}\n"
    )
    assert ("HK419" in _ib_site(tmp_path, write_site, link)) is fires


def test_no_fitting_part_is_a_finding(tmp_path: Path, write_site: Writer) -> None:
    # Ethernet-only 400G parts: an InfiniBand fabric finds nothing that fits (HK407).
    cat = IB_CATALOG.replace("model: cx7-400g-osfp", "model: cx6dx-2x100g")
    files = roce_files(
        catalog_yaml=cat,
        units_yaml=TEMPLATE.replace("fabric: roce", "fabric: infiniband") + CLUSTER,
    )
    got = {f.code for f in validate(write_site(tmp_path, files)).findings}
    assert "HK407" in got


# --- copper between NDR switches, and the Ascend compute ports -----------------------------

QM9700_WHOLE = End(SWITCH, "infiniband", "osfp", 2, whole_cage=True)
SN5600 = End(SWITCH, "ethernet", "osfp", 2)
ATLAS_A3 = End(NIC, "ethernet", "qsfp112", 1)


@pytest.mark.parametrize(
    ("a", "b", "length", "want"),
    [
        # Both cages go whole to one cage of the other switch: the twin-port DAC to its 2 m.
        (QM9700_WHOLE, QM9700_WHOLE, 1.5, "800g-2x400g-dac"),
        (QM9700_WHOLE, QM9700_WHOLE, 2.0, "800g-2x400g-dac"),
        (QM9700_WHOLE, QM9700_WHOLE, 2.1, "800g-2xsr4"),  # beyond the DAC: optics
        # A cage split over two peers cannot take one cable, however short.
        (QM9700, QM9700, 1.0, "800g-2xsr4"),
        (QM9700_WHOLE, QM9700, 1.0, "800g-2xsr4"),
        # An HCA never takes the twin-port cable (the splitter is not in the catalogue).
        (CX7, QM9700_WHOLE, 1.0, "ndr-sr4+800g-2xsr4"),
    ],
)
def test_twin_port_dac_where_the_cages_and_length_allow(
    chooser: OpticChooser, a: End, b: End, length: float, want: str
) -> None:
    assert chooser.choose(400, length, a, b).optic == want


def test_the_ascend_end_gets_an_ethernet_part_of_its_cage(
    chooser: OpticChooser, optics: dict[str, Optic]
) -> None:
    for length in (1.0, 5.0, 13.0, 50.0, 80.0, 300.0):
        ch = chooser.choose(400, length, ATLAS_A3, SN5600)
        assert ch.a is not None and ch.b is not None, length
        at_npu = optics[ch.a]
        assert at_npu.form_factor == "qsfp112" and "ethernet" in at_npu.protocols
        assert at_npu.part != "MMA4Z00-NS400" and ch.a != "ndr-sr4"
        assert optics[ch.b].ports_per_module == 2 and optics[ch.b].reach_m >= length
    assert chooser.choose(400, 10.0, ATLAS_A3, SN5600).optic == "400g-sr4-qsfp112+800g-2xsr4"
    # 910B: 200GE QSFP56 on the CE9860's QSFP56 cages.
    a2, ce = End(NIC, "ethernet", "qsfp56", 1), End(SWITCH, "ethernet", "qsfp56", 1)
    assert chooser.choose(200, 10.0, a2, ce).optic == "200g-sr4"


def test_ascend_servers_name_their_integrated_ports(tmp_path: Path, write_site: Writer) -> None:
    v = validate(write_site(tmp_path, roce_files()))
    assert v.site is not None
    ends = Ends(v.site)
    for model, ff in (("atlas-800t-a3", "qsfp112"), ("atlas-800t-a2", "qsfp56")):
        node = Device("x", "gpu_node", model, "r02", 1, 1, 1, "in_service", "h1")  # type: ignore[arg-type]
        e = ends.end(node, "fab0", "ethernet")
        assert (e.kind, e.form_factor, e.ports_per_cage) == (NIC, ff, 1)
        assert v.site.catalog.nics[v.site.catalog.servers[model].nics[0].model or ""].protocols == [
            "ethernet"
        ]


def _ib_plan(tmp_path: Path, write_site: Writer) -> tuple[object, Plan]:
    files = roce_files(
        catalog_yaml=IB_CATALOG,
        units_yaml=TEMPLATE.replace("fabric: roce", "fabric: infiniband") + CLUSTER,
    )
    v = validate(write_site(tmp_path, files))
    assert v.site is not None
    return v.site, build_plan(v.site)


def test_leaf_uplink_cages_are_whole(tmp_path: Path, write_site: Writer) -> None:
    site, plan = _ib_plan(tmp_path, write_site)
    ends = Ends(site)  # type: ignore[arg-type]
    up = [x for x in plan.links if x.kind == "leaf-spine"]
    leaf = [x for x in plan.links if x.kind == "node-leaf"]
    devs = site.devices  # type: ignore[attr-defined]
    # Two uplinks from each leaf to each spine, in one cage at both ends: whole.
    assert all(ends.end(devs[x.a], x.a_port, "infiniband").whole_cage for x in up)
    assert all(ends.end(devs[x.b], x.b_port, "infiniband").whole_cage for x in up)
    # A leaf's node ports go to two nodes: never whole (and a NIC end is not a cage).
    assert not any(ends.end(devs[x.b], x.b_port, "infiniband").whole_cage for x in leaf)
    # At 5 m between racks the DAC does not reach: optics, as before.
    assert {x.optic for x in up} == {"800g-2xsr4"}


def _with_dac(plan: Plan, links: list) -> Plan:  # type: ignore[type-arg]
    dac = [x._replace(optic="800g-2x400g-dac", cable="dac", length_m=1.5) for x in links]
    return Plan(plan.site, None, links=dac)


def test_bom_counts_a_dac_as_a_cable_never_as_optics(tmp_path: Path, write_site: Writer) -> None:
    site, plan = _ib_plan(tmp_path, write_site)
    up = [x for x in plan.links if x.kind == "leaf-spine"]
    bom = build_bom(site, _with_dac(plan, up[:1])).total()  # type: ignore[arg-type]
    assert bom["cables"] == {"800g-2x400g-dac 2m": 1}
    assert bom["transceivers"] == {} and bom["fibres"] == {}


def test_bom_counts_a_twin_port_dac_once_per_cage(tmp_path: Path, write_site: Writer) -> None:
    site, plan = _ib_plan(tmp_path, write_site)
    up = [x for x in plan.links if x.kind == "leaf-spine"]
    bom = build_bom(site, _with_dac(plan, up)).total()  # type: ignore[arg-type]
    assert sum(bom["cables"].values()) * 2 == len(up)
