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
      files:
        - {path: /etc/acme/xpu.conf, template: node/acme/xpu.conf.j2, mode: "0600"}
      source: "test fixture: a made-up vendor"
  nics: {}
  switch_os:
    acme-nos:
      vendor: acme
      linux: true
      files:
        routed:
          - {path: /etc/acme-nos/routing.cfg, template: switch/acme-nos/routing.cfg.j2}
      services: [{unit: acme-routed, port: 1790}]
      exporter: {name: acme-nos-exporter, job: acme-nos, port: 9556}
      source: "test fixture: a made-up switch OS"
"""
# The made-up platforms' templates, in the site's own templates/ folder.
TEMPLATES = {
    "node/acme/xpu.conf.j2": (
        "# {{ host.name }}\n{% for i in range(accel.count) %}xpu{{ i }} {{ accel.device_prefix }}"
        "{{ i }}\n{% endfor %}"
    ),
    "switch/acme-nos/routing.cfg.j2": (
        "hostname {{ host.name }}\nrouter-id {{ loopback | ip }}\nas {{ bgp.asn }}\n"
        "{% for p in bgp.peers %}peer {{ p.address }} as {{ p.asn }}\n{% endfor %}"
    ),
}
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


# Every kind of part, in the order the listing gives them.
KINDS = ["fabrics", "switch_os", "accelerators", "servers", "nics", "switches", "optics", "storage"]


def made_up_site(tmp_path: Path) -> Path:
    """A copy of the lab whose nodes and switches are the made-up parts."""
    site = tmp_path / "acme-lab"
    shutil.copytree(LAB, site)
    cat = site / "catalog.yaml"
    text = cat.read_text()
    text = text.replace("  servers:\n", MADE_UP + "  servers:\n" + SERVER, 1)
    text = text.replace("  switches:\n", "  switches:\n" + SWITCH, 1)
    cat.write_text(text)
    for name, text in TEMPLATES.items():
        (site / "templates" / name).parent.mkdir(parents=True, exist_ok=True)
        (site / "templates" / name).write_text(text)
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
    assert list(doc["kinds"]) == KINDS
    ndr = next(r for r in doc["kinds"]["optics"] if r["name"] == "ndr-sr4")
    for field in ("protocols", "form_factor", "lanes", "ports_per_module", "connector"):
        assert field in ndr
    assert ndr["reach_by_grade"] == {"OM3": 30.0, "OM4": 50.0}
    assert all(r["origin"] == "bundled" for rows in doc["kinds"].values() for r in rows)
    # The kinds of fabric and the network OSes are parts too, with what code asks of them.
    ib = next(r for r in doc["kinds"]["fabrics"] if r["name"] == "infiniband")
    assert (ib["protocol"], ib["control"], ib["ipoib"]) == (
        "infiniband",
        "subnet-manager",
        {"mode": "datagram", "mtu": 4092},
    )
    cumulus = next(r for r in doc["kinds"]["switch_os"] if r["name"] == "cumulus")
    assert cumulus["linux"] and cumulus["files"]["routed"][0]["path"] == "/etc/frr/frr.conf"
    vrp = next(r for r in doc["kinds"]["switch_os"] if r["name"] == "vrp")
    assert not vrp["linux"] and vrp["source"]


def test_the_text_listing_groups_by_kind_and_is_deterministic() -> None:
    code, out = run("catalog")
    assert code == 0
    assert out.startswith("bundled catalogue\n")
    heads = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert [h.split(" (")[0] for h in heads[1:]] == KINDS
    assert all(h.endswith(")") for h in heads[1:])
    assert "      os: mlnx-os" in out
    assert run("catalog")[1] == out


def test_a_bad_format_or_a_missing_site_exits_2() -> None:
    assert run("catalog", "--format", "xml")[0] == 2
    result = CliRunner().invoke(app, ["catalog", "no/such/site"])
    assert result.exit_code == 2
    assert "no such site" in result.stderr


def test_the_made_up_platforms_render_from_the_sites_own_templates(tmp_path: Path) -> None:
    # No package code knows acme: the node's stack file, the switch OS's file, the GRES, the
    # exporters' scrape jobs and the Ansible inventory all come from the site's catalogue.
    site = made_up_site(tmp_path)
    out = tmp_path / "out"
    code, text = run("render", str(site), "--phase", "1", "--out", str(out))
    assert code == 0, text
    node = next(p for p in (out / "hosts").iterdir() if p.name.endswith("n01"))
    xpu = node / "etc/acme/xpu.conf"
    assert xpu.read_text().splitlines()[1:] == ["xpu0 /dev/acme0", "xpu1 /dev/acme1"]
    assert xpu.stat().st_mode & 0o777 == 0o600
    leaf = next(p for p in (out / "hosts").iterdir() if "-leaf" in p.name)
    routing = (leaf / "etc/acme-nos/routing.cfg").read_text().splitlines()
    assert routing[0] == f"hostname {leaf.name}" and routing[2].startswith("as ")
    assert any(line.startswith("peer 10.") for line in routing), routing
    # ... and nothing of the OSes it replaced.
    assert not (leaf / "etc/frr").exists()
    assert not (node / "etc/nvidia").exists()
    slurm = (node / "etc/slurm/gres.conf").read_text()
    assert "Name=xpu" in slurm
    svc = next(p for p in (out / "hosts").iterdir() if (p / "etc/prometheus").exists())
    prom = (svc / "etc/prometheus/prometheus.yml").read_text()
    assert "job_name: acme" in prom and ":9555" in prom
    assert "job_name: acme-nos" in prom and ":9556" in prom
