"""Exports other tools read: the YAML Ansible inventory, the addresses CSV, the ASN list."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.deploy.ansible_inventory import write_yaml_inventory
from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for

LAB = Path(__file__).resolve().parents[2] / "inventories" / "lab"
runner = CliRunner()
needs_ansible = pytest.mark.skipif(
    shutil.which("ansible-inventory") is None, reason="ansible-core missing"
)


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _ansible_inventory(path: Path, *args: str) -> str:
    done = subprocess.run(
        ["ansible-inventory", "-i", str(path), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # A file Ansible cannot parse is only a warning to it (and an empty inventory).
    assert "[WARNING]" not in done.stderr, done.stderr
    return done.stdout


def _graph(text: str) -> dict[str, set[str]]:
    """`ansible-inventory --graph`: '@all:', '  |--@group:', '  |  |--host' lines."""
    groups: dict[str, set[str]] = {}
    current = ""
    for line in text.splitlines():
        item = line.lstrip(" |").removeprefix("--")
        if item.startswith("@"):
            current = item[1:].rstrip(":")
            groups.setdefault(current, set())
        elif item:
            groups[current].add(item)
    return groups


@pytest.fixture(scope="module")
def lab_exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The JSON on stdout and the --out YAML of the lab, phase 1, from the same command
    line (its own state folder, so a running lab's connections file cannot leak in)."""
    tmp = tmp_path_factory.mktemp("inv")
    common = [
        "ansible-inventory",
        str(LAB),
        "--phase",
        "1",
        "--render-dir",
        "/srv/render",
        "--state-dir",
        str(tmp / "state"),
    ]
    doc = json.loads(_ok(common))
    out = tmp / "out" / "lab.yaml"  # the folder does not exist yet: the command makes it
    _ok([*common, "--out", str(out)])
    return doc, out


@needs_ansible
def test_yaml_inventory_graph_has_the_json_groups_and_hosts(
    lab_exports: tuple[dict[str, Any], Path],
) -> None:
    doc, path = lab_exports
    graph = _graph(_ansible_inventory(path, "--graph"))
    expected = {g: set(v["hosts"]) for g, v in doc.items() if g not in ("_meta", "all")}
    assert set(graph) == {"all", "ungrouped", *expected}
    assert graph["ungrouped"] == set() and graph["all"] == set()
    for group, hosts in expected.items():
        assert graph[group] == hosts, group
    assert {"gpu_node", "fabric", "slurm", "vendor_nvidia"} <= set(graph)


@needs_ansible
def test_yaml_inventory_list_equals_the_json_export(
    lab_exports: tuple[dict[str, Any], Path],
) -> None:
    doc, path = lab_exports
    theirs = json.loads(_ansible_inventory(path, "--list", "--export"))
    theirs["_meta"].pop("profile", None)
    assert theirs["_meta"]["hostvars"]["lab-svc1"] == doc["_meta"]["hostvars"]["lab-svc1"]
    assert theirs["_meta"]["hostvars"]["lab-svc1"]["hk_slurm_role"] == "controller"
    assert theirs == doc


def test_yaml_inventory_is_owner_only_and_byte_stable(
    lab_exports: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    _doc, path = lab_exports
    assert path.stat().st_mode & 0o777 == 0o600
    again = tmp_path / "again.yml"
    _ok(
        [
            "ansible-inventory",
            str(LAB),
            "--phase",
            "1",
            "--render-dir",
            "/srv/render",
            "--state-dir",
            str(tmp_path / "state"),
            "--out",
            str(again),
        ]
    )
    assert again.read_bytes() == path.read_bytes()
    assert not list(path.parent.glob(".*.tmp")), "the atomic write left its temporary file"


@needs_ansible
def test_yaml_inventory_keeps_vault_secrets_encrypted(tmp_path: Path) -> None:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    plain = "munge-key-0123456789"
    lib = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(b"pw"))])
    cipher = lib.encrypt(plain).decode()
    # The shape deploy gives the inventory (secrets.ansible_value under all.vars).
    doc = {
        "_meta": {"hostvars": {"h1": {"hk_role": "service"}}},
        "all": {
            "children": ["ungrouped", "service"],
            "vars": {"hk_secret_munge": {"__ansible_vault": cipher}},
        },
        "service": {"hosts": ["h1"]},
    }
    path = write_yaml_inventory(doc, tmp_path / "v.yaml")
    text = path.read_text()
    assert plain not in text and "!vault |" in text
    theirs = json.loads(_ansible_inventory(path, "--list"))
    # Ansible reads it back as the same ciphertext, decrypted only when a task uses it.
    got = theirs["_meta"]["hostvars"]["h1"]["hk_secret_munge"]["__ansible_vault"]
    assert got.strip() == cipher.strip()


@pytest.mark.parametrize("name", ["folder", "inv.json", "file.yaml/inv.yaml"])
def test_ansible_inventory_out_errors_exit_2(tmp_path: Path, name: str) -> None:
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "file.yaml").write_text("x")
    target = tmp_path / ("folder.yaml" if name == "folder" else name)
    result = runner.invoke(
        app,
        [
            "ansible-inventory",
            str(LAB),
            "--phase",
            "1",
            "--state-dir",
            str(tmp_path / "state"),
            "--out",
            str(target),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    assert (tmp_path / "file.yaml").read_text() == "x"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_addresses_csv_holds_only_ip_addresses() -> None:
    rows = _rows(_ok(["addresses", str(LAB), "--phase", "1"]))
    assert rows[0] == ["device", "interface", "network", "address"]
    assert len(rows) > 1
    for device, interface, network, address in rows[1:]:
        # Every address carries its prefix length, as an IPAM import expects.
        assert "/" in address, (device, interface, network, address)
        ipaddress.ip_interface(address)  # raises on an ASN or anything else
    assert not any(r[2] == "bgp" or r[1] == "asn" for r in rows[1:])


def test_asns_one_row_per_bgp_speaker_as_planned() -> None:
    site = load_site(LAB).site
    assert site is not None
    planned = plan_for(site, 1).asns
    assert planned, "the lab's RoCE fabric has BGP speakers"
    rows = _rows(_ok(["asns", str(LAB), "--phase", "1"]))
    assert rows[0] == ["device", "asn", "role", "unit"]
    body = rows[1:]
    assert [r[0] for r in body] == sorted(r[0] for r in body)
    assert len({r[0] for r in body}) == len(body) == len(planned)
    assert {(r[0], int(r[1]), r[2]) for r in body} == {(a.device, a.asn, a.tier) for a in planned}
    assert all(r[3] == (site.devices[r[0]].unit or "") for r in body)
    data = json.loads(_ok(["asns", str(LAB), "--phase", "1", "--format", "json"]))
    assert [(x["device"], x["asn"], x["role"]) for x in data["asns"]] == [
        (r[0], int(r[1]), r[2]) for r in body
    ]
    assert _ok(["asns", str(LAB), "--phase", "1"]) == _ok(["asns", str(LAB), "--phase", "1"])
