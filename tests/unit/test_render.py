"""Rendering the lab site: golden files, determinism, strictness, --check, bad output dirs."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.errors import RenderError
from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for
from hkcompute.render.env import environment, render_template
from hkcompute.render.pipeline import render_files, render_site
from hkcompute.render.renderer import Renderer

from .golden import assert_matches_golden

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventories" / "lab"
GOLDEN = ROOT / "tests" / "golden" / "lab"
runner = CliRunner()


@pytest.fixture(scope="module")
def lab_site():  # type: ignore[no-untyped-def]
    loaded = load_site(LAB)
    assert loaded.site is not None
    return loaded.site


def test_lab_render_matches_golden_files(lab_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every rendered file of the lab is reviewed in diffs: tests/golden/lab/.

    Set HKCOMPUTE_UPDATE_GOLDEN=1 to rewrite the golden tree after an intended change."""
    files = render_files(lab_site, 1)
    assert_matches_golden({f"{f.host}{f.path}": f.content for f in files}, GOLDEN)


def test_what_each_role_gets(lab_site) -> None:  # type: ignore[no-untyped-def]
    files = {(f.host, f.path) for f in render_files(lab_site, 1)}
    assert ("lab-su1-n01", "/etc/nvidia/fabricmanager.cfg") in files
    assert ("lab-su1-n03", "/etc/hccn.conf") in files
    assert ("lab-su1-n03", "/etc/nvidia/fabricmanager.cfg") not in files
    assert ("lab-su1-leaf1", "/etc/frr/frr.conf") in files
    assert ("lab-g01-spine01", "/etc/frr/frr.conf") in files
    for path in (
        "/etc/bind/named.conf",
        "/etc/dnsmasq.d/hkcompute.conf",
        "/etc/prometheus/prometheus.yml",
        "/etc/slurm/slurm.conf",
    ):
        assert ("lab-svc1", path) in files


def test_leaf_config_peers_with_every_spine_on_planned_addresses(lab_site) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(lab_site, 1)
    frr = {
        f.host: f.content.decode()
        for f in render_files(lab_site, 1)
        if f.path == "/etc/frr/frr.conf"
    }
    leaf = frr["lab-su1-leaf1"]
    asn = {a.device: a.asn for a in plan.asns}
    assert f"router bgp {asn['lab-su1-leaf1']}" in leaf
    for link in plan.links:
        if link.a == "lab-su1-leaf1" and link.kind == "leaf-spine":
            peer = next(
                a for a in plan.addresses if a.device == link.b and a.interface == link.b_port
            )
            assert f"neighbor {peer.address.split('/')[0]} remote-as {asn[link.b]}" in leaf


def test_hccn_conf_has_every_npu_nic(lab_site) -> None:  # type: ignore[no-untyped-def]
    plan = plan_for(lab_site, 1)
    hccn = next(
        f.content.decode()
        for f in render_files(lab_site, 1)
        if f.host == "lab-su1-n03" and f.path == "/etc/hccn.conf"
    )
    fabs = sorted(
        (a for a in plan.addresses if a.device == "lab-su1-n03" and a.interface.startswith("fab")),
        key=lambda a: a.interface,
    )
    assert len(fabs) == 2
    for i, a in enumerate(fabs):
        assert f"address_{i}={a.address.split('/')[0]}" in hccn
    assert "netmask_0=255.255.255." in hccn


def test_render_is_deterministic(lab_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = tmp_path / "a", tmp_path / "b"
    render_site(lab_site, 1, a)
    render_site(lab_site, 1, b)
    for p in (a / "hosts").rglob("*"):
        if p.is_file():
            assert p.read_bytes() == (b / p.relative_to(a)).read_bytes()
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()


def test_missing_value_fails_naming_template_line_and_host(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("line one\nvalue: {{ host.missing_key }}\n")
    env = environment(str(tmp_path))
    with pytest.raises(RenderError) as info:
        render_template(env, "t.j2", {"host": {"name": "n1"}}, "n1")
    msg = str(info.value)
    assert "n1" in msg and "t.j2:2" in msg and "missing_key" in msg


def test_inventory_values_cannot_reach_python(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text("{{ v.__class__.__mro__[1].__subclasses__() }}")
    env = environment(str(tmp_path))
    with pytest.raises(RenderError, match="unsafe"):
        render_template(env, "t.j2", {"v": "x"}, "h")
    assert isinstance(env, jinja2.sandbox.SandboxedEnvironment)


def test_host_pattern_limits_the_render(lab_site) -> None:  # type: ignore[no-untyped-def]
    hosts = {f.host for f in render_files(lab_site, 1, "lab-su1-leaf*")}
    assert hosts == {"lab-su1-leaf1", "lab-su1-leaf2"}
    with pytest.raises(RenderError, match="no host matches"):
        Renderer(lab_site, plan_for(lab_site, 1), 1).render("nothing-*")


def test_cli_render_then_check(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["render", str(LAB), "--phase", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "hosts/lab-su1-leaf1/etc/frr/frr.conf").is_file()
    assert (out / "manifest.json").is_file()
    res = runner.invoke(app, ["render", str(LAB), "--phase", "1", "--out", str(out), "--check"])
    assert res.exit_code == 0, res.output
    frr = out / "hosts/lab-su1-leaf1/etc/frr/frr.conf"
    frr.chmod(0o644)
    frr.write_text("tampered\n")
    res = runner.invoke(app, ["render", str(LAB), "--phase", "1", "--out", str(out), "--check"])
    assert res.exit_code == 1
    assert "lab-su1-leaf1/etc/frr/frr.conf" in res.stdout


def test_cli_render_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = runner.invoke(app, ["render", str(LAB), "--phase", "1", "--out", str(blocker)])
    assert res.exit_code == 2
    assert "not a folder" in res.output
    assert "Traceback" not in res.output


def test_cli_render_unknown_phase(tmp_path: Path) -> None:
    res = runner.invoke(app, ["render", str(LAB), "--phase", "7", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "phase 7 is not defined" in res.output
