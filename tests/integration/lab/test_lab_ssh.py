"""hostkeys and preflight against the container twin, through the CLI: keys are recorded
only by an explicit scan, a changed key is refused and reported, preflight checks hosts."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.lab
runner = CliRunner()


@pytest.fixture(scope="module")
def lab(
    docker_client: Any,
    lab_site: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path]]:
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_down, lab_up
    from hkcompute.plan import plan_for

    root = tmp_path_factory.mktemp("ssh")
    site_dir = root / "site"
    shutil.copytree(ROOT / "inventories" / "lab", site_dir)
    text = (site_dir / "site.yaml").read_text()
    name = lab_site + "s"
    (site_dir / "site.yaml").write_text(re.sub(r"(?m)^  name: lab$", f"  name: {name}", text))
    site = load_site(site_dir).site
    assert site is not None
    lab_down("lab")
    state = root / "state"
    lab_up(build_layout(site, plan_for(site, 1), 1), state)
    try:
        yield site_dir, state
    finally:
        lab_down(name, state)


def test_hostkeys_scan_records_new_keys_and_refuses_changed_ones(lab: tuple[Path, Path]) -> None:
    site_dir, state = lab
    kh = state / "known_hosts"
    kh.unlink()  # lab up recorded them; start as an operator would, with nothing on record
    args = ["hostkeys", str(site_dir), "--phase", "1", "--state-dir", str(state)]
    res = runner.invoke(app, [*args, "--scan"])
    assert res.exit_code == 0, res.output
    assert res.output.count(" new") >= 10
    recorded = kh.read_text()
    assert recorded.count("[127.0.0.1]:") >= 10
    res = runner.invoke(app, [*args, "--scan"])
    assert res.exit_code == 0, res.output
    assert "0 new key(s) recorded; 0 problem(s)" in res.output
    assert res.output.count("same") >= 10
    # Swap one host's key for another's: the scan reports it and does not accept it.
    lines = recorded.splitlines()
    first, second = lines[0].split(" "), lines[-1].split(" ")
    lines[0] = " ".join([first[0], second[1], second[2]])
    kh.write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, [*args, "--scan"])
    assert res.exit_code == 1
    assert "changed" in res.output
    assert kh.read_text() == "\n".join(lines) + "\n", "a changed key is never written"
    # and paramiko refuses to connect to that host
    res = runner.invoke(
        app,
        [
            "preflight",
            str(site_dir),
            "--phase",
            "1",
            "--lab",
            "--state-dir",
            str(state),
            "--format",
            "json",
        ],
    )
    doc = json.loads(res.stdout)
    refused = [h for h in doc if not h["ok"]]
    assert len(refused) == 1 and refused[0]["mismatches"][0]["check"] == "host key"
    kh.write_text(recorded)


def test_preflight_on_the_lab(lab: tuple[Path, Path]) -> None:
    site_dir, state = lab
    res = runner.invoke(
        app,
        [
            "preflight",
            str(site_dir),
            "--phase",
            "1",
            "--lab",
            "--state-dir",
            str(state),
            "--format",
            "json",
        ],
    )
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, doc
    assert len(doc) == 10
    assert all(h["facts"]["os"] == "debian-12" for h in doc)
    # Without --lab the hardware checks apply: a container has no accelerators.
    res = runner.invoke(
        app,
        [
            "preflight",
            str(site_dir),
            "--phase",
            "1",
            "--limit",
            "lab-su1-n01",
            "--state-dir",
            str(state),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 1
    checks = {m["check"] for m in json.loads(res.stdout)[0]["mismatches"]}
    assert "gpu count" in checks
