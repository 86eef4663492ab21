"""`hkcompute cabling verify --collect` on the container twin: lldpd in every container, LLDP
across the lab's link networks; the lab is cabled as planned, then two cables are swapped and
exactly that swap is reported (exit 1).

The swap crosses two of spine01's cables: its interfaces swp1 and swp2 (each on its own link
network, to leaf1 swp5 and swp6) trade names, which is what moving two plugs on the spine does:
each network now reaches the spine on the other port. lldpd re-reads interface names, and
the old neighbours expire within the lab's LLDP TTL (20 s), so the check is polled.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.lab
runner = CliRunner()
WAIT_S = 90.0


@pytest.fixture(scope="module")
def lab(
    docker_client: Any,
    lab_site: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, str]]:
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_down, lab_up
    from hkcompute.plan import plan_for

    root = tmp_path_factory.mktemp("cabling")
    site_dir = root / "site"
    shutil.copytree(ROOT / "inventories" / "lab", site_dir)
    text = (site_dir / "site.yaml").read_text()
    name = lab_site + "c"
    (site_dir / "site.yaml").write_text(re.sub(r"(?m)^  name: lab$", f"  name: {name}", text))
    site = load_site(site_dir).site
    assert site is not None
    lab_down("lab")  # the bundled lab's networks would overlap this copy's
    state = root / "state"
    try:
        lab_up(build_layout(site, plan_for(site, 1), 1), state)
        yield site_dir, state, name
    finally:
        lab_down(name, state)


def _verify(site_dir: Path, state: Path) -> tuple[int, dict[str, Any]]:
    res = runner.invoke(
        app,
        [
            "cabling",
            "verify",
            str(site_dir),
            "--phase",
            "1",
            "--collect",
            "--state-dir",
            str(state),
            "--format",
            "json",
        ],
    )
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def _poll(site_dir: Path, state: Path, done: Any) -> tuple[int, dict[str, Any]]:
    deadline = time.monotonic() + WAIT_S
    while True:
        code, doc = _verify(site_dir, state)
        if done(code, doc) or time.monotonic() > deadline:
            return code, doc
        time.sleep(3)


def test_lab_is_cabled_as_planned_then_a_swap_is_reported(
    docker_client: Any, lab: tuple[Path, Path, str]
) -> None:
    site_dir, state, name = lab
    code, doc = _poll(site_dir, state, lambda c, _d: c == 0)
    assert code == 0, json.dumps(
        [r for r in doc["links"] if r["status"] != "ok"] if "links" in doc else doc, indent=1
    )
    assert doc["summary"]["planned"] == doc["summary"]["ok"] == 16
    assert doc["not_collected"] == {}

    spine = docker_client.containers.get(f"hk-{name}-lab-g01-spine01")
    swap = (
        "ip link set swp1 down && ip link set swp2 down && ip link set swp1 name hkx && "
        "ip link set swp2 name swp1 && ip link set hkx name swp2 && "
        "ip link set swp1 up && ip link set swp2 up"
    )
    rc, out = spine.exec_run(["sh", "-c", swap])
    assert rc == 0, out

    def swapped(c: int, d: dict[str, Any]) -> bool:
        return (
            c == 1
            and d["summary"]["swapped"] == 2
            and d["summary"]["ok"] == 14
            and d["summary"]["unexpected"] == 0
        )

    code, doc = _poll(site_dir, state, swapped)
    bad = [r for r in doc["links"] if r["status"] != "ok"]
    assert code == 1 and swapped(code, doc), json.dumps(bad, indent=1)
    (row,) = bad
    ends = {
        (row["a"]["device"], row["a"]["port"], row["b"]["device"], row["b"]["port"]),
        (
            row["swap_with"]["a"]["device"],
            row["swap_with"]["a"]["port"],
            row["swap_with"]["b"]["device"],
            row["swap_with"]["b"]["port"],
        ),
    }
    assert ends == {
        ("lab-su1-leaf1", "swp5", "lab-g01-spine01", "swp1"),
        ("lab-su1-leaf1", "swp6", "lab-g01-spine01", "swp2"),
    }
    text = runner.invoke(
        app,
        [
            "cabling",
            "verify",
            str(site_dir),
            "--phase",
            "1",
            "--collect",
            "--state-dir",
            str(state),
        ],
    )
    assert text.exit_code == 1
    assert [ln for ln in text.stdout.splitlines() if ln.startswith("swap ")] != []
    assert "lab-g01-spine01 swp1 and swp2" in text.stdout
