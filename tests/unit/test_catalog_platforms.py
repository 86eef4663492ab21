"""Platform fields of the bundled catalogue, the capability accessors, and the catalogue
reference rules (HK312-HK314)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from hkcompute import schema as S
from hkcompute.cli.catalog import bundled
from hkcompute.model import Catalog
from hkcompute.validate import validate

from .conftest import LAB, codes, only

CAT: Catalog = bundled()


def test_every_bundled_part_cites_its_source() -> None:
    for kind in ("accelerators", "servers", "nics", "switches", "optics", "storage"):
        for name, part in getattr(CAT, kind).items():
            assert part.source.strip(), f"catalog.{kind}.{name} has no source"


@pytest.mark.parametrize("name", sorted(CAT.accelerators))
def test_every_bundled_accelerator_is_a_whole_platform(name: str) -> None:
    acc = CAT.accelerators[name]
    assert acc.software, "a node-side software stack"
    assert acc.exporter is not None, "the exporter that monitors it, with its port"
    assert acc.control_files, "the shared device files a job needs"
    assert acc.nics_integrated == (acc.nic_protocol is not None)


@pytest.mark.parametrize("name", sorted(CAT.switches))
def test_every_bundled_switch_names_its_os_cages_and_management(name: str) -> None:
    sw = CAT.switches[name]
    assert sw.os is not None and sw.cages and sw.management
    assert sum(c.count * c.ports_per_cage for c in sw.cages) == sw.ports


@pytest.mark.parametrize("name", sorted(CAT.optics))
def test_every_bundled_optic_describes_the_part(name: str) -> None:
    o = CAT.optics[name]
    assert o.protocols and o.form_factor and o.lanes and o.connector and o.fits
    assert o.power_w is not None
    if o.fibre != "copper" and o.kind == "transceiver":
        assert max(o.reach_by_grade.values()) == o.reach_m, "reach_m is the best grade's"


def test_quantum2_is_32_twin_port_osfp_cages_of_two_ndr_ports() -> None:
    qm = CAT.switches["qm9700"]
    assert (qm.protocol, qm.os, qm.cage_count, qm.ports) == ("infiniband", "mlnx-os", 32, 64)
    assert qm.cages[0].form_factor == "osfp" and qm.cages[0].ports_per_cage == 2


def test_capabilities_come_from_the_parts() -> None:
    # NVIDIA: separate ConnectX-7 cards that run either protocol; Ascend: RoCE in the NPU.
    assert CAT.compute_protocols("hgx-h800") == ("infiniband", "ethernet")
    assert not CAT.nics_integrated("hgx-h800")
    assert CAT.compute_protocols("atlas-800t-a2") == ("ethernet",)
    assert CAT.nics_integrated("atlas-800t-a2")
    assert CAT.compute_protocols("svc-2u") == ()
    assert CAT.os_name("sn4600c") == "cumulus" and CAT.os_name("nope") is None
    assert CAT.switch_protocol("ce9860-200") == "ethernet"
    ascend = CAT.platform("atlas-800t-a2")
    assert ascend is not None and ascend.gres == "npu"
    assert ascend.device_files(2) == (
        "/dev/davinci0",
        "/dev/davinci1",
        "/dev/davinci_manager",
        "/dev/devmm_svm",
        "/dev/hisi_hdc",
    )
    assert (ascend.exporter and (ascend.exporter.name, ascend.exporter.port)) == (
        "npu-exporter",
        8082,
    )
    nvidia = CAT.platform("dgx-h100")
    assert nvidia is not None and nvidia.exporter is not None
    assert (nvidia.exporter.job, nvidia.exporter.port) == ("dcgm", 9400)
    assert [s.what for s in nvidia.software] == ["NVIDIA driver", "fabric manager", "DCGM"]


def test_an_entry_without_an_exporter_is_watched_by_none() -> None:
    # Exporters are data: nothing is guessed from the GRES name any more.
    base = {"vendor": "x", "bf16_dense_tflops": 1, "memory_gb": 1, "power_w": 1}
    assert S.Accelerator(**base, gres="gpu", device_prefix="/dev/x").exporter is None


def test_inconsistent_parts_are_refused() -> None:
    with pytest.raises(ValidationError, match="cages carry 62 ports"):
        S.SwitchModel(
            vendor="v",
            kind="ethernet",
            ports=64,
            speed_gbps=100,
            power_kw=1,
            rack_units=1,
            cages=[{"count": 31, "form_factor": "qsfp28", "ports_per_cage": 2, "speed_gbps": 100}],
        )
    with pytest.raises(ValidationError, match="OS2 is not mmf"):
        S.Optic(
            speed_gbps=100,
            reach_m=100,
            fibre="mmf",
            kind="transceiver",
            cost_usd=1,
            reach_by_grade={"OS2": 100},
        )
    with pytest.raises(ValidationError, match="needs 'nic_protocol'"):
        S.Accelerator(
            vendor="v",
            bf16_dense_tflops=1,
            memory_gb=1,
            power_w=1,
            gres="npu",
            device_prefix="/dev/z",
            nics_integrated=True,
        )


# --- the reference rules, on a copy of the lab site ---------------------------------------


def _lab(tmp_path: Path, catalog_tail: str = "", fabric: tuple[str, str] = ("", "")) -> Path:
    site = tmp_path / "lab"
    shutil.copytree(LAB, site)
    cat = site / "catalog.yaml"
    cat.write_text(cat.read_text() + catalog_tail)
    if fabric[0]:
        fab = site / "fabric.yaml"
        fab.write_text(fab.read_text().replace(fabric[0], fabric[1]))
    return site


def test_the_lab_site_is_clean_of_the_catalogue_rules(tmp_path: Path) -> None:
    found = codes(validate(_lab(tmp_path)).findings)
    assert not found & {"HK312", "HK313", "HK314"}


def test_a_nic_line_naming_an_unknown_card_is_reported_at_its_line(tmp_path: Path) -> None:
    site = _lab(tmp_path)
    cat = site / "catalog.yaml"
    text = cat.read_text()
    cat.write_text(
        text.replace(
            "{network: compute, count: 2, speed_gbps: 100}",
            "{network: compute, count: 2, speed_gbps: 100, model: cx7-400g-osfq}",
            1,
        )
    )
    v = validate(site)
    [f] = only(v.findings, "HK312")
    line = 1 + next(i for i, t in enumerate(cat.read_text().splitlines()) if "osfq" in t)
    assert f.location.path.endswith("catalog.yaml") and f.location.line == line
    assert "cx7-400g-osfq" in f.message and f.hint == "did you mean 'cx7-400g-osfp'?"
    assert not v.ok


def test_a_switch_of_the_wrong_protocol_is_reported_at_the_template(tmp_path: Path) -> None:
    site = _lab(tmp_path, fabric=("fabric: roce", "fabric: infiniband"))
    v = validate(site)
    found = only(v.findings, "HK313")
    assert {f.message.split(":")[1].split()[0] for f in found} == {"leaf", "spine"}
    assert all(f.location.path.endswith("fabric.yaml") and f.location.line for f in found)


def test_a_server_whose_ports_cannot_run_the_fabric_is_reported(tmp_path: Path) -> None:
    # Ascend's integrated ports are RoCE: an InfiniBand template of them cannot come up.
    ib = ("server: lab-nv\n    fabric: roce", "server: atlas-800t-a2\n    fabric: infiniband")
    [f] = only(validate(_lab(tmp_path, fabric=ib)).findings, "HK314")
    assert "atlas-800t-a2" in f.message and "ethernet" in f.message
    assert f.location.path.endswith("fabric.yaml") and f.location.line == 4
    roce = ("server: lab-nv", "server: atlas-800t-a2")
    assert "HK314" not in codes(validate(_lab(tmp_path / "b", fabric=roce)).findings)


def test_an_atlas_800t_a3_is_sixteen_npu_dies_on_eight_400ge_ports() -> None:
    # The driver and the scheduler see each 910C die as an NPU (/dev/davinci0-15, npu:16);
    # the node's compute fabric is one 400GE port per module, eight, not one per die.
    cat = bundled()
    node = cat.servers["atlas-800t-a3"]
    die = cat.accelerators["Ascend-910C"]
    assert node.accelerators == 16
    files = die.device_files(node.accelerators)
    assert files[0] == "/dev/davinci0" and files[15] == "/dev/davinci15"
    assert "/dev/davinci16" not in files
    assert [(n.count, n.speed_gbps) for n in node.nics if n.network == "compute"] == [(8, 400)]
    # Halving the per-device figures keeps the node what it was: 6.4 PFLOPS, 1 TB of HBM.
    assert node.accelerators * die.bf16_dense_tflops == 6400
    assert node.accelerators * die.memory_gb == 1024
