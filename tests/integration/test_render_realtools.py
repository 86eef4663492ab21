"""Rendered files are accepted by the programs that will read them (issue: rendering).

The lab site is checked whole; the full Science Park site is rendered for phase 1 and a
slice is checked: every services, storage and subnet-manager host, and for each cluster and
server model the first node, plus one leaf and one spine of each fabric.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from hkcompute import lint
from hkcompute.inventory.load import load_site
from hkcompute.model import Device, Site
from hkcompute.render.pipeline import render_site

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.tools


def _need_tools() -> None:
    missing = {k: r for k in lint.names() if (r := lint.available(k)) is not None}
    if missing:
        reason = "; ".join(f"{k}: {r}" for k, r in sorted(missing.items()))
        if os.environ.get("CI") == "true" or os.environ.get("HKCOMPUTE_REQUIRE_TOOLS"):
            pytest.fail(f"tools missing in CI: {reason}")
        pytest.skip(f"tools missing (run scripts/setup-debian.sh): {reason}")


def _failures(results: Iterable[lint.ToolResult]) -> list[str]:
    return [f"{r.kind} {r.path}:\n{r.output[-1200:]}" for r in results if not r.ok]


def test_lab_render_passes_every_tool(tmp_path: Path) -> None:
    _need_tools()
    site = load_site(ROOT / "inventories" / "lab").site
    assert site is not None
    render_site(site, 1, tmp_path / "out")
    results = lint.lint_output(tmp_path / "out").results  # what render --lint runs
    kinds = {r.kind for r in results}
    assert {
        "bind-conf",
        "bind-zone",
        "dnsmasq",
        "frr",
        "frr-bgpd",
        "prometheus",
        "prometheus-rules",
        "chrony",
        "sshd",
        "netplan",
        "slurm",
        "slurm-gres",
        "slurm-topology",
    } <= kinds
    assert not _failures(results), "\n".join(_failures(results))


def _sample(site: Site, phase: int) -> list[Device]:
    picked: dict[tuple[str, ...], Device] = {}
    for d in site.devices_upto(phase):
        if d.role in ("service", "storage"):
            key: tuple[str, ...] = (d.name,)
        elif d.role == "gpu_node":
            key = ("node", d.cluster or "", d.model)
        elif d.role in ("leaf", "spine", "core"):
            key = (d.role, d.cluster or "")
        else:
            continue
        picked.setdefault(key, d)
    return list(picked.values())


def test_full_site_slice_passes_every_tool(tmp_path: Path) -> None:
    _need_tools()
    site = load_site(ROOT / "inventories" / "hkstp").site
    assert site is not None
    # Phase 3: every platform of the site is there (Cumulus leaves of the 910C units among
    # them; phase 1 has only MLNX-OS and VRP switches, whose files no offline program reads).
    out = tmp_path / "out"
    render_site(site, 3, out)
    hosts = out / "hosts"
    sample = _sample(site, 3)
    assert len(sample) >= 6
    view = tmp_path / "slice"
    view.mkdir()
    for d in sample:
        if (hosts / d.name).is_dir():  # an InfiniBand leaf, say, gets no files
            shutil.copytree(hosts / d.name, view / d.name)
    assert len(list(view.iterdir())) >= 4
    results = lint.check_tree(view)
    assert {"frr", "ifupdown2", "netplan", "slurm", "sshd", "chrony"} <= {r.kind for r in results}
    assert not _failures(results), "\n".join(_failures(results))
