"""References the catalogue's platform kinds check: a template's kind of fabric (HK315), a
switch's network OS (HK316), a routing switch without one (HK317, a warning), a fabric
manager's appliance (HK329). Each fires at the line that names the missing entry and stays
quiet on the corrected one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute.findings import Finding
from hkcompute.validate import validate

from .conftest import MINIMAL_FILES, only
from .test_rules_platform import CATALOG, line_of, where

Run = Callable[..., list[Finding]]
UNITS = str(MINIMAL_FILES["units.yaml"])


@pytest.fixture
def run(tmp_path: Path, write_site: Callable[..., Path]) -> Run:
    def go(catalog: str = CATALOG, units: str = UNITS) -> list[Finding]:
        files = {**MINIMAL_FILES, "catalog.yaml": catalog, "units.yaml": units}
        return validate(write_site(tmp_path, files)).findings

    return go


def test_a_template_naming_an_unknown_kind_of_fabric(run: Run) -> None:
    units = UNITS.replace("fabric: roce", "fabric: rocee")
    fs = run(units=units)
    assert where(fs, "HK315") == [("units.yaml", line_of(units, "fabric: rocee"))]
    assert "'roce'" in (only(fs, "HK315")[0].hint or "")  # did you mean
    assert only(run(), "HK315") == []


def test_a_switch_naming_an_unknown_network_os(run: Run) -> None:
    cat = CATALOG.replace("os: frr-linux", "os: frr-linuz")
    fs = run(catalog=cat)
    assert where(fs, "HK316") == [("catalog.yaml", line_of(cat, "os: frr-linuz"))]
    assert only(run(), "HK316") == []


def test_a_routing_switch_without_an_os_gets_no_configuration(run: Run) -> None:
    cat = CATALOG.replace("      os: frr-linux\n", "")
    fs = run(catalog=cat)
    got = only(fs, "HK317")
    # Once per template role that names the model (leaf and spine), at the template.
    assert [(Path(f.location.path).name, f.severity.value) for f in got] == [
        ("units.yaml", "warning"),
        ("units.yaml", "warning"),
    ]
    assert {f.location.line for f in got} == {
        line_of(UNITS, "leaf: sw"),
        line_of(UNITS, "spine: sw"),
    }
    assert only(run(), "HK317") == []


def test_a_fabric_manager_naming_an_unknown_appliance(run: Run) -> None:
    kinds = """\
  fabrics:
    roce-fm:
      protocol: ethernet
      control: bgp
      fabric_manager:
        model: no-such-appliance
        count: 1
"""
    cat = CATALOG.replace("  switches:\n", kinds + "  switches:\n")
    units = UNITS.replace("fabric: roce", "fabric: roce-fm")
    fs = run(catalog=cat, units=units)
    assert where(fs, "HK329") == [("catalog.yaml", line_of(cat, "model: no-such-appliance"))]
    # The appliance's device is the kind's to name: no second finding on the device.
    assert only(fs, "HK310") == []
    good = cat.replace("model: no-such-appliance", "model: npu-a")
    assert only(run(catalog=good, units=units), "HK329") == []
