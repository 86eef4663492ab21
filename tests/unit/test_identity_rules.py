"""Rules on what names a box and where racks and ASNs stand: duplicate MACs (host or BMC) and
serials (HK112, HK113), two racks at one floor position (HK210), ASN ranges outside RFC 6996
private space (HK508). Each fires at the line that causes it, and stays quiet when unique."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute.findings import Finding, Severity
from hkcompute.validate import validate

from .plan_sites import FACILITY, SITE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]


def findings(tmp_path: Path, write_site: Writer, **changes: str) -> list[Finding]:
    return validate(write_site(tmp_path, roce_files(**changes))).findings


def only(fs: list[Finding], code: str) -> list[Finding]:
    return [f for f in fs if f.code == code]


@pytest.mark.parametrize(
    ("second", "code", "fires"),
    [
        ('mac: "B8:3F:D2:00:01:01"', "HK112", True),  # the same address in capitals
        ('mac: "b8:3f:d2:00:01:02"', "HK112", False),
        ('bmc: {mac: "b8:3f:d2:00:01:01"}', "HK112", True),  # a BMC with the host's MAC
        ("serial: sn-0001", "HK113", True),  # case and spacing do not make a new serial
        ("serial: SN-0002", "HK113", False),
    ],
)
def test_duplicate_identities(
    tmp_path: Path, write_site: Writer, second: str, code: str, fires: bool
) -> None:
    devices = (
        "devices:\n"
        '  - {name: su1-n01, serial: SN-0001, mac: "b8:3f:d2:00:01:01"}\n'
        f"  - {{name: su1-n02, {second}}}\n"
    )
    got = only(findings(tmp_path, write_site, devices_yaml=devices), code)
    assert bool(got) is fires
    if fires:
        (f,) = got
        assert f.severity is Severity.ERROR and f.hint
        assert Path(f.location.path).name == "devices.yaml" and f.location.line == 3
        assert "su1-n01" in f.message and f.subject == "su1-n02"


def test_two_racks_at_one_floor_position(tmp_path: Path, write_site: Writer) -> None:
    extra = "  - {name: r99, hall: h1, phase: 1, row: B, x_m: 0.6, y_m: 0, power_kw: 60}\n"
    got = only(findings(tmp_path, write_site, facility_yaml=FACILITY + extra), "HK210")
    (f,) = got
    assert "r99" in f.message and "'r02'" in f.message and f.hint
    assert Path(f.location.path).name == "facility.yaml" and f.location.line == 5


def test_racks_apart_are_quiet(tmp_path: Path, write_site: Writer) -> None:
    extra = "  - {name: r99, hall: h1, phase: 1, row: B, x_m: 0.6, y_m: 2.4, power_kw: 60}\n"
    assert only(findings(tmp_path, write_site, facility_yaml=FACILITY + extra), "HK210") == []


@pytest.mark.parametrize(
    ("core", "fires"),
    [
        ("{first: 65520, last: 65529}", False),
        ("{first: 4200000000, last: 4200000009}", False),
        ("{first: 65530, last: 65539}", True),  # runs past 65534 into reserved space
        ("{first: 3356, last: 3365}", True),  # public
    ],
)
def test_asn_ranges_are_private(tmp_path: Path, write_site: Writer, core: str, fires: bool) -> None:
    site = SITE.replace("core: {first: 65520, last: 65529}", f"core: {core}")
    got = only(findings(tmp_path, write_site, site_yaml=site), "HK508")
    assert bool(got) is fires
    if fires:
        (f,) = got
        assert f.severity is Severity.WARNING and f.hint and f.subject == "core"
        assert Path(f.location.path).name == "site.yaml"
        assert "core:" in site.splitlines()[f.location.line - 1]
