"""Cable lengths and optic choice at the edges of reach, and the plan's CLI outputs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import hkcompute.checks.addressing
import hkcompute.checks.fabric  # noqa: F401  (registers the HK4xx/HK5xx checks)
from hkcompute.cli.main import app
from hkcompute.inventory.schema import Optic
from hkcompute.model import RackInfo
from hkcompute.plan.cabling import OpticChooser, length_bin, link_length, round_up_dm
from hkcompute.validate import validate

from .plan_sites import roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]
runner = CliRunner()

OPTICS = {
    "400g-dac": Optic(speed_gbps=400, reach_m=3, fibre="copper", kind="dac", cost_usd=150),
    "400g-aoc": Optic(speed_gbps=400, reach_m=30, fibre="mmf", kind="aoc", cost_usd=500),
    "400g-sr8": Optic(speed_gbps=400, reach_m=100, fibre="mmf", kind="transceiver", cost_usd=650),
    "400g-dr4": Optic(speed_gbps=400, reach_m=500, fibre="smf", kind="transceiver", cost_usd=800),
    "100g-sr4": Optic(speed_gbps=100, reach_m=100, fibre="mmf", kind="transceiver", cost_usd=120),
}


def rack(name: str, x: float, y: float) -> RackInfo:
    return RackInfo(name, "h1", 1, "A", x, y, 48, 40.0, "air")


@pytest.mark.parametrize(
    ("length", "optic"),
    [
        (3.0, "400g-dac"),  # exactly at reach
        (4.0, "400g-aoc"),  # one metre past: the next cheapest that reaches
        (30.0, "400g-aoc"),
        (31.0, "400g-sr8"),  # 2 x 650 for a transceiver pair
        (100.0, "400g-sr8"),
        (101.0, "400g-dr4"),
        (500.0, "400g-dr4"),
        (501.0, None),  # nothing reaches
    ],
)
def test_cheapest_optic_that_reaches(length: float, optic: str | None) -> None:
    assert OpticChooser(OPTICS).choose(400, length).optic == optic


def test_cable_kinds() -> None:
    ch = OpticChooser(OPTICS)
    assert ch.choose(400, 2.0).cable == "dac"
    assert ch.choose(400, 50.0).cable == "mmf"
    assert ch.choose(400, 200.0).cable == "smf"
    assert ch.choose(200, 2.0).optic is None  # no optic of that speed at all


def test_lengths() -> None:
    a, b = rack("r1", 0, 0), rack("r2", 10, 5)
    # 10 + 5 m across the floor, 2 m up at each end, 10 % slack: 19 + 1.9
    assert link_length(a, 1, b, 20) == 20.9
    # adjacent racks: 0.6 + 4 = 4.6 m, slack at least 1 m
    assert link_length(a, 1, rack("r3", 0.6, 0), 1) == 5.6
    # same rack, U1 to U5: 4 x 0.04445 + 2 x 0.5 = 1.18 m, + 1 m slack, rounded up
    assert link_length(a, 1, a, 5) == 2.2
    assert round_up_dm(2.30000000001) == 2.3
    assert round_up_dm(2.31) == 2.4
    assert length_bin(3.0) == "3m" and length_bin(3.1) == "5m"


LINK = '  - {{a: "su1-leaf1:swp20", b: "su2-leaf1:swp20", network: compute{more}}}\n'


def links_yaml(more: str) -> str:
    return "links:\n" + LINK.format(more=more)


@pytest.mark.parametrize(
    ("more", "code"),
    [
        (", optic: 400g-dac, length_m: 3", None),
        (", optic: 400g-dac, length_m: 4", "HK406"),
        (", optic: 400g-sr8, length_m: 100", None),
        (", optic: 400g-sr8, length_m: 101", "HK405"),
        (", optic: 400g-sr8+400g-dr4", "HK408"),
        (", optic: 100g-sr4", "HK410"),
        (", optic: nope", "HK409"),
        (", length_m: 20000", "HK407"),
    ],
)
def test_reach_rules_on_explicit_links(
    tmp_path: Path, write_site: Writer, more: str, code: str | None
) -> None:
    v = validate(write_site(tmp_path, roce_files(links_yaml=links_yaml(more))))
    got = {f.code for f in v.findings}
    if code is None:
        assert got == set()
    else:
        assert code in got
        hit = next(f for f in v.findings if f.code == code)
        assert Path(hit.location.path).name == "links.yaml" and hit.location.line == 2


@pytest.fixture
def site_dir(tmp_path: Path, write_site: Writer) -> Path:
    return write_site(tmp_path, roce_files())


def test_cabling_csv_columns(site_dir: Path) -> None:
    result = runner.invoke(app, ["cabling", str(site_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # The first ten columns keep their places; protocol, form factor and cages come after.
    assert lines[0] == (
        "a_device,a_port,b_device,b_port,network,speed_gbps,optic,cable,length_m,phase,"
        "protocol,form_factor,a_cage,a_cage_port,b_cage,b_cage_port"
    )
    # The test switch describes no cages, so the cage columns stay empty.
    assert lines[1] == (
        "su1-n01,fab0,su1-leaf1,swp1,compute,400,400g-aoc,aoc,5.6,1,ethernet,qsfp-dd,,,,"
    )
    assert len(lines) == 1 + 32
    assert all(len(r) == 16 for r in csv.reader(io.StringIO(result.stdout)))


def test_addresses_csv_and_json(site_dir: Path) -> None:
    result = runner.invoke(app, ["addresses", str(site_dir)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "device,interface,network,address"
    assert "su1-leaf1,swp5,p2p,10.3.0.0/31" in lines
    assert not any(",asn,bgp," in line for line in lines)  # ASNs come from `asns`
    data = json.loads(runner.invoke(app, ["addresses", str(site_dir), "-f", "json"]).stdout)
    assert {"device": "c1-g01-spine01", "asn": 65500, "tier": "spine"} in data["asns"]
    assert set(data["addresses"][0]) == {"device", "interface", "network", "address"}


def test_bom_and_diff(site_dir: Path) -> None:
    data = json.loads(runner.invoke(app, ["bom", str(site_dir), "-f", "json"]).stdout)
    total = data["total"]
    assert total["nodes"] == {"node-a": 8}
    assert total["switches"] == {"sw": 6}
    # An AOC is a cable with its ends built on: counted once, as a cable, not also as optics.
    assert total["transceivers"] == {}
    assert total["cables"] == {"400g-aoc 7m": 32}
    assert total["fibres"] == {}
    result = runner.invoke(app, ["diff", str(site_dir), "--from-phase", "1", "--to-phase", "2"])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.stdout


def test_plan_summary(site_dir: Path) -> None:
    result = runner.invoke(app, ["plan", str(site_dir), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["links"] == 32 and data["asns"] == 6
