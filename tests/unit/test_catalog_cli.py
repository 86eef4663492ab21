"""`hkcompute catalog`, and a made-up vendor and switch OS added by a site alone.

A site adds an accelerator vendor and a switch OS in its own `catalog:` without a change to
hkcompute's code: the listing shows them (located at their lines), and validate accepts a
site that uses them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.validate import validate

from .conftest import LAB

# A vendor and a switch OS hkcompute has never heard of, as a site would write them.
MADE_UP = """\
  accelerators:
    Acme-X1:
      vendor: acme
      bf16_dense_tflops: 500
      fp8_dense_tflops: 1000
      memory_gb: 96
      power_w: 600
      gres: xpu
      device_prefix: /dev/acme
      control_files: [/dev/acmectl]
      software:
        - {name: acme-driver, what: Acme driver}
      exporter: {name: acme-exporter, job: acme, port: 9555}
      nics_integrated: true
      nic_protocol: ethernet
      source: "test fixture: a made-up vendor"
  nics: {}
"""
SERVER = """\
    lab-acme:
      vendor: acme
      accelerator: Acme-X1
      accelerators: 2
      cpu_cores: 16
      memory_gb: 128
      nics:
        - {network: compute, count: 2, speed_gbps: 100}
        - {network: inband, count: 1, speed_gbps: 25}
        - {network: oob, count: 1, speed_gbps: 1}
      power_kw: 2.0
      rack_units: 2
"""
SWITCH = """\
    acme-switch:
      vendor: acme
      kind: ethernet
      ports: 32
      speed_gbps: 100
      power_kw: 0.4
      rack_units: 1
      os: acme-nos
      cages:
        - {count: 32, form_factor: qsfp28, speed_gbps: 100, breakouts: [4x25G]}
      management: [ethernet, console]
      source: "test fixture: a made-up switch OS"
"""


def made_up_site(tmp_path: Path) -> Path:
    """A copy of the lab whose nodes and switches are the made-up parts."""
    site = tmp_path / "acme-lab"
    shutil.copytree(LAB, site)
    cat = site / "catalog.yaml"
    text = cat.read_text()
    text = text.replace("  servers:\n", MADE_UP + "  servers:\n" + SERVER, 1)
    text = text.replace("  switches:\n", "  switches:\n" + SWITCH, 1)
    cat.write_text(text)
    fab = site / "fabric.yaml"
    fab.write_text(
        fab.read_text()
        .replace("server: lab-nv", "server: lab-acme")
        .replace("leaf: lab-switch", "leaf: acme-switch")
        .replace("spine: lab-switch", "spine: acme-switch")
    )
    return site


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_a_site_of_a_made_up_vendor_and_switch_os_validates(tmp_path: Path) -> None:
    site = made_up_site(tmp_path)
    code, out = run("validate", str(site), "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["ok"] and doc["summary"]["errors"] == 0, doc["findings"]
    # ... and the site does use them: its nodes and fabric switches are the made-up parts.
    built = validate(site).site
    assert built is not None
    models = {(d.role.value, d.model) for d in built.devices.values()}
    assert {("gpu_node", "lab-acme"), ("leaf", "acme-switch"), ("spine", "acme-switch")} <= models


def test_the_listing_shows_the_sites_own_parts_where_they_are_written(tmp_path: Path) -> None:
    site = made_up_site(tmp_path)
    code, out = run("catalog", str(site), "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["site"] == "lab"
    kinds = {k: {r["name"]: r for r in rows} for k, rows in doc["kinds"].items()}
    acme = kinds["accelerators"]["Acme-X1"]
    assert acme["origin"] == "site" and acme["vendor"] == "acme" and acme["gres"] == "xpu"
    assert acme["exporter"] == {"name": "acme-exporter", "job": "acme", "port": 9555}
    assert acme["location"].startswith(f"{site / 'catalog.yaml'}:")
    sw = kinds["switches"]["acme-switch"]
    assert (sw["origin"], sw["os"], sw["kind"]) == ("site", "acme-nos", "ethernet")
    assert sw["cages"] == [
        {
            "count": 32,
            "form_factor": "qsfp28",
            "ports_per_cage": 1,
            "speed_gbps": 100.0,
            "breakouts": ["4x25G"],
        }
    ]
    platform = kinds["servers"]["lab-acme"]["platform"]
    assert platform == {
        "compute_protocols": ["ethernet"],
        "nics_integrated": True,
        "gres": "xpu",
        "device_files": ["/dev/acme0", "/dev/acme1", "/dev/acmectl"],
        "exporter": {"name": "acme-exporter", "job": "acme", "port": 9555},
    }
    # The bundled parts are all still there, and marked as such.
    assert kinds["switches"]["qm9700"]["origin"] == "bundled"
    assert "location" not in kinds["switches"]["qm9700"]


def test_without_a_site_it_lists_the_bundled_parts_with_every_field() -> None:
    code, out = run("catalog", "--format", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["site"] is None
    assert list(doc["kinds"]) == [
        "accelerators",
        "servers",
        "nics",
        "switches",
        "optics",
        "storage",
    ]
    ndr = next(r for r in doc["kinds"]["optics"] if r["name"] == "ndr-sr4")
    for field in ("protocols", "form_factor", "lanes", "ports_per_module", "connector"):
        assert field in ndr
    assert ndr["reach_by_grade"] == {"OM3": 30.0, "OM4": 50.0}
    assert all(r["origin"] == "bundled" for rows in doc["kinds"].values() for r in rows)


def test_the_text_listing_groups_by_kind_and_is_deterministic() -> None:
    code, out = run("catalog")
    assert code == 0
    assert out.startswith("bundled catalogue\n")
    heads = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert heads[1:] == [
        "accelerators (7)",
        "servers (5)",
        "nics (3)",
        "switches (6)",
        "optics (21)",
        "storage (2)",
    ]
    assert "      os: mlnx-os" in out
    assert run("catalog")[1] == out


def test_a_bad_format_or_a_missing_site_exits_2() -> None:
    assert run("catalog", "--format", "xml")[0] == 2
    result = CliRunner().invoke(app, ["catalog", "no/such/site"])
    assert result.exit_code == 2
    assert "no such site" in result.stderr
