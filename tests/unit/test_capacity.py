"""Capacity arithmetic, checked by hand on a tiny two-phase site, and the CLI's JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.capacity import PhaseCapacity, SiteCapacity, capacity
from hkcompute.cli.main import app
from hkcompute.inventory.load import load_site
from hkcompute.model import Site

WriteSite = Callable[[Path, dict[str, str | None]], Path]

# Phase 1: two hgx-h800 nodes (8 x H800, 989 TFLOPS dense BF16, 10.2 kW) and one
# ddn-ai400x2 (3.0 kW, 1,000 TB, 90 GB/s) in hall h1 (PUE 1.5), 10 kW solar, 20 kWh UPS.
# Phase 2: a failed hgx-h800 and an atlas-800t-a2 (8 x 910B at 320, 5.6 kW) in hall h2
# (PUE 1.2), 5 kW wind, 30 kWh battery.
TINY: dict[str, str | None] = {
    "site.yaml": """\
        site:
          name: tiny
          location: test bench
          target: {pflops: 100, precision: bf16-dense, year: 2030}
        phases:
          - {id: 1, name: one, due: 2026-06-30, target_pflops: 15}
          - {id: 2, name: two, due: 2027-06-30, target_pflops: 30}
        networks:
          pools:
            oob: {cidr: 192.168.0.0/24}
            inband: {cidr: 10.0.0.0/24}
            storage: {cidr: 10.1.0.0/24}
            compute: {cidr: 10.2.0.0/24}
            loopback: {cidr: 10.3.0.0/24}
            p2p: {cidr: 10.4.0.0/24}
        """,
    "facility.yaml": """\
        halls:
          - {name: h1, feed_mw: 1, cooling: air, pue: 1.5, phase: 1}
          - {name: h2, feed_mw: 1, cooling: liquid, pue: 1.2, phase: 2}
        racks:
          - {name: r1, hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}
          - {name: r2, hall: h2, phase: 2, row: A, x_m: 0, y_m: 0, power_kw: 45}
        """,
    "devices.yaml": """\
        devices:
          - {name: "n[1-2]", role: gpu_node, model: hgx-h800, rack: r1, u: 2, per_rack: 2,
             phase: 1, status: in_service}
          - {name: stor1, role: storage, model: ddn-ai400x2, rack: r1, u: 20, phase: 1,
             status: in_service}
          - {name: n3, role: gpu_node, model: hgx-h800, rack: r2, u: 2, phase: 2,
             status: failed}
          - {name: a1, role: gpu_node, model: atlas-800t-a2, rack: r2, u: 10, phase: 2}
        """,
    "energy.yaml": """\
        energy:
          - {name: solar1, kind: solar, phase: 1, kw: 10}
          - {name: ups1, kind: ups, hall: h1, phase: 1, kwh: 20}
          - {name: wind2, kind: wind, phase: 2, kw: 5}
          - {name: bess2, kind: battery, phase: 2, kwh: 30}
        """,
}


@pytest.fixture
def tiny(tmp_path: Path, write_site: WriteSite) -> Path:
    return write_site(tmp_path, TINY)


def _site(path: Path) -> Site:
    loaded = load_site(path)
    assert loaded.site is not None
    assert [f for f in loaded.findings if f.severity == "error"] == []
    return loaded.site


def _phases(path: Path) -> tuple[PhaseCapacity, PhaseCapacity]:
    cap = capacity(_site(path))
    assert [p.phase for p in cap.phases] == [1, 2]
    return cap.phases[0], cap.phases[1]


def test_phase_one_by_hand(tiny: Path) -> None:
    p1, _ = _phases(tiny)
    assert p1.pflops == pytest.approx(2 * 8 * 989 / 1000)  # 15.824
    assert p1.to_dict()["pflops"] == 15.824
    assert p1.cumulative_pflops == pytest.approx(15.824)
    assert p1.accelerators == {"nvidia": {"H800-SXM": 16}}
    assert p1.nodes == {"nvidia": 2}
    assert p1.it_power_kw == pytest.approx(2 * 10.2 + 3.0)  # 23.4
    assert p1.cumulative_facility_power_kw == pytest.approx(23.4 * 1.5)  # 35.1
    assert p1.storage_usable_tb == 1000
    assert p1.storage_read_gbytes_s == 90
    assert p1.target_met
    assert p1.gap_pflops == pytest.approx(100 - 15.824)
    assert p1.progress_pct == pytest.approx(15.824)


def test_failed_devices_give_no_pflops_but_draw_power(tiny: Path) -> None:
    _, p2 = _phases(tiny)
    # Only the Atlas node counts: 8 x 320 TFLOPS; the failed H800 node adds nothing.
    assert p2.pflops == pytest.approx(2.56)
    assert p2.cumulative_pflops == pytest.approx(15.824 + 2.56)
    assert p2.accelerators == {"huawei": {"Ascend-910B": 8}}
    assert p2.cumulative_accelerators == {"huawei": {"Ascend-910B": 8}, "nvidia": {"H800-SXM": 16}}
    assert p2.cumulative_nodes == {"huawei": 1, "nvidia": 3}
    assert p2.excluded_nodes == 1 and p2.cumulative_excluded_nodes == 1
    assert p2.it_power_kw == pytest.approx(10.2 + 5.6)
    assert p2.cumulative_it_power_kw == pytest.approx(23.4 + 15.8)
    # Facility power applies each device's own hall PUE.
    assert p2.cumulative_facility_power_kw == pytest.approx(23.4 * 1.5 + 15.8 * 1.2)
    assert not p2.target_met
    assert p2.phase_gap_pflops == pytest.approx(30 - 18.384)


def test_renewable_share_and_runtime_formulas(tiny: Path) -> None:
    p1, p2 = _phases(tiny)
    assert p1.renewable_kw == 10
    assert p1.renewable_share == pytest.approx(10 / 35.1)
    assert p1.storage_runtime_min == pytest.approx(20 / 23.4 * 60)
    # Phase 2: solar and wind together over cumulative facility power; UPS and battery
    # together over cumulative IT power.
    assert p2.renewable_kw == 15
    assert p2.renewable_share == pytest.approx(15 / (35.1 + 18.96))
    assert p2.stored_energy_kwh == 50
    assert p2.storage_runtime_min == pytest.approx(50 / 39.2 * 60)


def test_phase_filter_keeps_cumulative_figures(tiny: Path) -> None:
    cap = capacity(_site(tiny), phase=2)
    assert [p.phase for p in cap.phases] == [2]
    assert cap.phases[0].cumulative_pflops == pytest.approx(18.384)


def test_empty_phase_has_no_runtime_and_no_share() -> None:
    p = PhaseCapacity(
        phase=1,
        name="x",
        due="2030-01-01",
        target_pflops=1,
        site_target_pflops=1,
        pflops=0,
        cumulative_pflops=0,
        accelerators={},
        cumulative_accelerators={},
        nodes={},
        cumulative_nodes={},
        excluded_nodes=0,
        cumulative_excluded_nodes=0,
        devices=0,
        cumulative_devices=0,
        it_power_kw=0,
        cumulative_it_power_kw=0,
        facility_power_kw=0,
        cumulative_facility_power_kw=0,
        renewable_kw=5,
        stored_energy_kwh=5,
        storage_usable_tb=0,
        cumulative_storage_usable_tb=0,
        storage_read_gbytes_s=0,
        cumulative_storage_read_gbytes_s=0,
    )
    assert p.storage_runtime_min is None
    assert p.renewable_share == 0.0
    assert p.to_dict()["storage_runtime_min"] is None
    assert p.gap_pflops == 1


def test_to_dict_keys_are_stable(tiny: Path) -> None:
    cap = capacity(_site(tiny))
    d = cap.to_dict()
    assert isinstance(cap, SiteCapacity)
    assert d["precision"] == "bf16-dense"
    assert d["site_target_pflops"] == 100
    keys = set(d["phases"][0])
    assert {
        "pflops",
        "cumulative_pflops",
        "target_pflops",
        "site_target_pflops",
        "gap_pflops",
        "precision",
        "it_power_kw",
        "facility_power_kw",
        "renewable_share",
        "storage_runtime_min",
        "accelerators",
        "nodes",
        "storage_usable_tb",
        "storage_read_gbytes_s",
        "progress_pct",
    } <= keys
    assert json.loads(json.dumps(d)) == d


def test_cli_json(tiny: Path) -> None:
    result = CliRunner().invoke(app, ["capacity", str(tiny), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["site"] == "tiny"
    p1, p2 = data["phases"]
    assert p1["pflops"] == 15.824
    assert p2["cumulative_pflops"] == 18.384
    assert p2["accelerators"] == {"huawei": {"Ascend-910B": 8}}
    assert p1["storage_runtime_min"] == round(20 / 23.4 * 60, 2)


def test_cli_phase_and_text(tiny: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["capacity", str(tiny), "--phase", "2", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert [p["phase"] for p in json.loads(result.stdout)["phases"]] == [2]
    text = runner.invoke(app, ["capacity", str(tiny)])
    assert text.exit_code == 0, text.output
    assert "cum. PFLOPS" in text.stdout and "18.384" in text.stdout
    assert "site target: 100 PFLOPS bf16-dense by 2030" in text.stdout


def test_cli_unknown_phase_is_usage_error(tiny: Path) -> None:
    result = CliRunner().invoke(app, ["capacity", str(tiny), "--phase", "9"])
    assert result.exit_code == 2
