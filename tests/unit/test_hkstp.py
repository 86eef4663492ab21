"""The bundled Hong Kong Science Park site: validates cleanly and is the full size."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from hkcompute.capacity import SiteCapacity, capacity
from hkcompute.model import Site
from hkcompute.validate import Validation, validate

HKSTP = Path(__file__).resolve().parents[2] / "inventories" / "hkstp"


@pytest.fixture(scope="module")
def validation() -> Validation:
    return validate(HKSTP)


@pytest.fixture(scope="module")
def site(validation: Validation) -> Site:
    assert validation.site is not None
    return validation.site


@pytest.fixture(scope="module")
def cap(site: Site) -> SiteCapacity:
    return capacity(site)


def test_validates_with_zero_errors(validation: Validation) -> None:
    errors = [
        f"{f.location}: {f.code} {f.message}" for f in validation.findings if f.severity == "error"
    ]
    assert errors == []
    assert validation.ok


def test_phase_one_due_end_of_2023(site: Site) -> None:
    first = site.phase(site.phase_ids[0])
    assert first is not None
    assert first.id == 1 and first.due == dt.date(2023, 12, 31)
    assert all(d.status in ("in_service", "failed") for d in site.devices.values() if d.phase == 1)


def test_reaches_the_2030_target(site: Site, cap: SiteCapacity) -> None:
    assert site.info.target.pflops == 40_000 and site.info.target.year == 2030
    final = cap.phases[-1]
    assert final.cumulative_pflops >= 40_000
    assert final.gap_pflops == 0
    # Every phase meets its own cumulative target and the targets never decrease.
    assert all(p.target_met for p in cap.phases)
    targets = [p.target_pflops for p in cap.phases]
    assert targets == sorted(targets)


def test_full_size_and_two_vendors(cap: SiteCapacity) -> None:
    final = cap.phases[-1]
    assert final.cumulative_nodes_total >= 5_000
    assert set(final.cumulative_nodes) == {"nvidia", "huawei"}
    assert final.cumulative_nodes["nvidia"] >= 4_000
    assert final.cumulative_nodes["huawei"] >= 2_000
    assert set(final.cumulative_accelerators["huawei"]) == {"Ascend-910B", "Ascend-910C"}


def test_power_and_energy_are_plausible(cap: SiteCapacity) -> None:
    for p in cap.phases:
        pue = p.cumulative_facility_power_kw / p.cumulative_it_power_kw
        assert 1.2 <= pue <= 1.4
        assert 0 < p.renewable_share < 0.2
        runtime = p.storage_runtime_min
        assert runtime is not None and runtime >= 10
