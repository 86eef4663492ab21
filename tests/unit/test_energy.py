"""Energy figures an auditor checks by hand: the renewable share is energy over energy (a
year of kWh, not nameplate kW), storage runtime respects a battery's power rating, and hall
feeds are sized with the design (peak) PUE while energy uses the annual one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.capacity import (
    CAPACITY_FACTORS,
    HOURS_PER_YEAR,
    PhaseCapacity,
    SiteCapacity,
    StoredAsset,
    capacity,
    carry_hours,
)
from hkcompute.cli.capacity import render_text
from hkcompute.cli.main import app
from hkcompute.findings import Finding
from hkcompute.inventory.load import load_site
from hkcompute.validate import validate

from .conftest import MINIMAL_FILES, codes, only
from .test_capacity import TINY, WriteSite


def _tiny(tmp_path: Path, write_site: WriteSite, energy: str) -> Path:
    files = dict(TINY)
    files["energy.yaml"] = "energy:\n" + energy
    return write_site(tmp_path, files)


def _phase(it_kw: float, stored: tuple[StoredAsset, ...], kwh: float) -> PhaseCapacity:
    return PhaseCapacity(
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
        it_power_kw=it_kw,
        cumulative_it_power_kw=it_kw,
        facility_power_kw=it_kw * 1.3,
        cumulative_facility_power_kw=it_kw * 1.3,
        renewable_kw=0,
        stored_energy_kwh=kwh,
        storage_usable_tb=0,
        cumulative_storage_usable_tb=0,
        storage_read_gbytes_s=0,
        cumulative_storage_read_gbytes_s=0,
        stored_assets=stored,
    )


# --- renewable share: energy over a year -----------------------------------------------------


def test_hong_kong_solar_default_is_an_energy_yield() -> None:
    # About 1,000-1,200 kWh per kWp a year in Hong Kong: a capacity factor of 0.11-0.14.
    assert 0.11 <= CAPACITY_FACTORS["solar"] <= 0.14
    assert 1000 <= CAPACITY_FACTORS["solar"] * HOURS_PER_YEAR <= 1200
    # A fuel cell's hours are the site's to state: none assumed.
    assert CAPACITY_FACTORS["fuel-cell"] == 0.0


def test_600_kw_of_solar_gives_600_x_f_x_8760_kwh(tmp_path: Path, write_site: WriteSite) -> None:
    path = _tiny(tmp_path, write_site, "  - {name: pv, kind: solar, phase: 1, kw: 600}\n")
    loaded = load_site(path)
    assert loaded.site is not None
    p1 = capacity(loaded.site).phases[0]
    f = CAPACITY_FACTORS["solar"]
    assert p1.renewable_energy_mwh_per_year == pytest.approx(600 * f * 8760 / 1000)
    # Facility energy: IT kW at full load all year x the hall's annual PUE (23.4 kW x 1.5).
    assert p1.it_energy_mwh_per_year == pytest.approx(23.4 * 8760 / 1000)
    assert p1.facility_energy_mwh_per_year == pytest.approx(23.4 * 1.5 * 8760 / 1000)
    # The share is energy over energy, capped at 1 (600 kW of solar on a 35 kW site).
    assert p1.renewable_share_energy == 1.0
    d = p1.to_dict()
    assert d["renewable_energy_mwh_per_year"] == round(600 * f * 8.76, 3)
    assert d["renewable_assets"][0]["capacity_factor_source"] == "default"


def test_share_is_energy_over_energy_and_stated_factor_wins(
    tmp_path: Path, write_site: WriteSite
) -> None:
    energy = (
        "  - {name: pv, kind: solar, phase: 1, kw: 5, capacity_factor: 0.13}\n"
        "  - {name: fc, kind: fuel-cell, phase: 2, kw: 2, capacity_factor: 0.5}\n"
        "  - {name: fc-unstated, kind: fuel-cell, phase: 2, kw: 100}\n"
    )
    loaded = load_site(_tiny(tmp_path, write_site, energy))
    assert loaded.site is not None
    p1, p2 = capacity(loaded.site).phases
    pv = 5 * 0.13 * 8760 / 1000
    assert p1.renewable_energy_mwh_per_year == pytest.approx(pv)
    assert p1.renewable_share_energy == pytest.approx(pv / (35.1 * 8.76))
    # The nameplate figure stays what it was, and says so: kW over kW.
    assert p1.renewable_share == pytest.approx(5 / 35.1)
    assert p1.to_dict()["renewable_share_basis"] == "nameplate kW over facility kW"
    # Phase 2: the fuel cell's stated hours count; the unstated one's 100 kW count none.
    fc = 2 * 0.5 * 8760 / 1000
    assert p2.renewable_energy_mwh_per_year == pytest.approx(pv + fc)
    facility = (35.1 + 18.96) * 8.76
    assert p2.facility_energy_mwh_per_year == pytest.approx(facility)
    assert p2.renewable_share_energy == pytest.approx((pv + fc) / facility)


def test_json_and_text_name_energy_and_power(tmp_path: Path, write_site: WriteSite) -> None:
    path = _tiny(tmp_path, write_site, "  - {name: pv, kind: solar, phase: 1, kw: 1}\n")
    result = CliRunner().invoke(app, ["capacity", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    p1 = json.loads(result.stdout)["phases"][0]
    for key in (
        "renewable_share",
        "renewable_share_energy",
        "it_energy_mwh_per_year",
        "facility_energy_mwh_per_year",
        "renewable_energy_mwh_per_year",
        "storage_runtime_min",
        "storage_load_covered",
    ):
        assert key in p1
    loaded = load_site(path)
    assert loaded.site is not None
    text = render_text(capacity(loaded.site), width=200)  # headers unfolded
    assert "renew. share (kW)" in text and "renew. share (energy)" in text
    assert "power (nameplate kW)" in text and "MWh/yr" in text


# --- batteries and UPS: both ratings ---------------------------------------------------------


def test_peak_shaving_battery_covers_7_percent_not_17_minutes() -> None:
    bess = StoredAsset("bess", "battery", kw=500, kwh=2000)
    p = _phase(7000, (bess,), 2000)
    # kWh alone would say 2,000 / 7,000 x 60 = 17.1 minutes; 500 kW cannot carry 7,000 kW.
    assert p.storage_runtime_min is None
    assert p.storage_load_covered == pytest.approx(500 / 7000)
    d = p.to_dict()
    assert d["storage_runtime_min"] is None
    assert d["storage_load_covered"] == 0.0714
    assert d["stored_assets"][0]["load_covered"] == 0.0714
    assert d["stored_assets"][0]["runtime_min"] is None
    cap_text = render_text(SiteCapacity("s", 1, 2030, "bf16-dense", (p,)), width=200)
    assert "covers 7.1%" in cap_text and "17.1" not in cap_text


def test_runtime_from_energy_and_power() -> None:
    # Unrated: kWh / IT kW, as before.
    assert carry_hours([(None, 2000)], 7000) == pytest.approx(2000 / 7000)
    # Rated at or above the load: the same.
    assert carry_hours([(8000, 1500)], 7000) == pytest.approx(1500 / 7000)
    # A UPS and a battery together: the battery gives its 500 kW for as long as the UPS
    # lasts (2,000 kWh at 500 kW is 4 hours), the UPS the rest, so 1,500 / 6,500 h.
    assert carry_hours([(8000, 1500), (500, 2000)], 7000) == pytest.approx(1500 / 6500)
    # Not 3,500 / 7,000 h: the battery cannot pour its energy out faster than 500 kW.
    assert carry_hours([(8000, 1500), (500, 2000)], 7000) < 3500 / 7000
    # Power short of the load: no runtime at all; a 0 kW asset delivers nothing.
    assert carry_hours([(6000, 1500), (500, 2000)], 7000) is None
    assert carry_hours([(0, 1000), (8000, 1500)], 7000) == pytest.approx(1500 / 7000)
    # A battery that runs out first: the other asset then carries the load on its own.
    # 7,000 kW from A (8,000 kW, 100 kWh) and B (7,000 kW, 7,000 kWh): B alone gives 1 h.
    t = carry_hours([(8000, 100), (7000, 7000)], 7000)
    assert t is not None and t == pytest.approx(7100 / 7000)


def test_a_rated_asset_in_a_site(tmp_path: Path, write_site: WriteSite) -> None:
    energy = "  - {name: bess, kind: battery, phase: 1, kw: 5, kwh: 20}\n"
    loaded = load_site(_tiny(tmp_path, write_site, energy))
    assert loaded.site is not None
    p1 = capacity(loaded.site).phases[0]
    assert p1.storage_runtime_min is None
    assert p1.storage_load_covered == pytest.approx(5 / 23.4)


# --- the feed: design PUE -------------------------------------------------------------------


def _facility(hall: str) -> str:
    return (
        f"halls:\n  - {hall}\nracks:\n"
        '  - {name: "r[01-03]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}\n'
    )


def _validate(tmp_path: Path, write_site: WriteSite, hall: str) -> list[Finding]:
    files = dict(MINIMAL_FILES)
    files["facility.yaml"] = _facility(hall)
    return validate(write_site(tmp_path, files), None).findings


def test_feed_uses_the_design_pue(tmp_path: Path, write_site: WriteSite) -> None:
    # 22.0 kW of IT: x 1.3 = 28.6 kW fits 30 kW; x design 1.4 = 30.8 kW does not.
    annual = "{name: h1, feed_mw: 0.03, cooling: air, pue: 1.3, phase: 1}"
    assert "HK204" not in codes(_validate(tmp_path / "a", write_site, annual))
    peak = "{name: h1, feed_mw: 0.03, cooling: air, pue: 1.3, design_pue: 1.4, phase: 1}"
    fs = _validate(tmp_path / "b", write_site, peak)
    msg = only(fs, "HK204")[0].message
    assert "design PUE 1.4" in msg and "30.8 kW" in msg and "30 kW feed" in msg


def test_energy_uses_the_annual_pue(tmp_path: Path, write_site: WriteSite) -> None:
    files = dict(TINY)
    files["facility.yaml"] = str(TINY["facility.yaml"]).replace(
        "pue: 1.5, phase: 1}", "pue: 1.5, design_pue: 1.8, phase: 1}"
    )
    loaded = load_site(write_site(tmp_path, files))
    assert loaded.site is not None
    assert loaded.site.halls["h1"].feed_pue == 1.8
    p1 = capacity(loaded.site).phases[0]
    assert p1.cumulative_facility_power_kw == pytest.approx(23.4 * 1.5)
    assert p1.facility_energy_mwh_per_year == pytest.approx(23.4 * 1.5 * 8.76)


def test_design_pue_below_annual_is_refused(tmp_path: Path, write_site: WriteSite) -> None:
    hall = "{name: h1, feed_mw: 1, cooling: air, pue: 1.3, design_pue: 1.2, phase: 1}"
    fs = _validate(tmp_path, write_site, hall)
    assert any("design_pue" in f.message for f in fs if f.severity == "error")
