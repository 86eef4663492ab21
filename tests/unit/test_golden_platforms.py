"""One host of every platform of the bundled site, reviewed in diffs: tests/golden/platforms/.

The lab's golden tree (tests/golden/lab) holds the twin's platforms; this one holds the
production site's others, one host each: every node platform (HGX H800 air and liquid,
Atlas 800T A2 and A3), the UFM appliance, a storage node, and a routing switch of every
network OS that gets files (CloudEngine VRP, Cumulus). Files every host of the site shares
(slurm.conf, gres.conf, topology.conf, cgroup.conf) are the site's, not a platform's: they
are left out here (the lab tree has them).

Set HKCOMPUTE_UPDATE_GOLDEN=1 to rewrite the tree after an intended change."""

from __future__ import annotations

from pathlib import Path

import pytest

from hkcompute.inventory.load import load_site
from hkcompute.model import Device, Site
from hkcompute.plan import plan_for
from hkcompute.render.renderer import Renderer

from .golden import assert_matches_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "platforms"
PHASE = 3


def _platform_hosts(site: Site) -> list[Device]:
    """The first device of each (role, model) that gets a platform's files."""
    seen: dict[tuple[str, str], Device] = {}
    for d in site.devices_upto(PHASE):
        if d.role in ("gpu_node", "storage", "fabric_manager", "leaf"):
            seen.setdefault((d.role.value, d.model), d)
    return sorted(seen.values(), key=lambda d: d.name)


@pytest.fixture(scope="module")
def rendered() -> dict[str, bytes]:
    site = load_site(ROOT / "inventories" / "hkstp").site
    assert site is not None
    r = Renderer(site, plan_for(site, PHASE), PHASE)
    out: dict[str, bytes] = {}
    for d in _platform_hosts(site):
        specs, ctx = r.plan_host(d)
        if ctx is None:
            continue
        for f in r.render_host(d, [s for s in specs if s.shared is None], ctx):
            out[f"{f.host}{f.path}"] = f.content
    return out


def test_every_platform_is_there(rendered: dict[str, bytes]) -> None:
    paths = {rel.split("/", 1)[1] for rel in rendered}
    for platform_file in (
        "etc/nvidia/fabricmanager.cfg",  # HGX
        "etc/hccn.conf",  # Atlas
        "opt/ufm/files/conf/opensm/partitions.conf",  # UFM appliance
        "vrpcfg.cfg",  # CloudEngine
        "etc/network/interfaces",  # Cumulus
        "etc/frr/frr.conf",  # Cumulus' BGP
        "etc/cumulus/datapath/qos/qos_features.conf",  # Cumulus' lossless QoS
    ):
        assert platform_file in paths, platform_file


def test_platform_hosts_match_golden_files(rendered: dict[str, bytes]) -> None:
    assert_matches_golden(rendered, GOLDEN)
