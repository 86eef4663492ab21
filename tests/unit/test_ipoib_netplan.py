"""IPoIB in netplan: an InfiniBand node's compute interfaces carry the fabric kind's IPoIB
mode (``infiniband-mode``, netplan 0.105 and later) and MTU; nothing else does, and netplan's
own generator accepts the file (when it is installed here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from hkcompute import lint
from hkcompute.model import Site
from hkcompute.render.pipeline import render_files
from hkcompute.validate import validate

from .plan_sites import roce_files
from .test_ib_partitions import IB_CATALOG, IB_UNITS, SM_HOST, TENANTS

Writer = Callable[[Path, dict[str, str | None]], Path]
NODE = "su1-n01"
NETPLAN = "/etc/netplan/60-hkcompute.yaml"


def site_of(tmp_path: Path, write_site: Writer, catalog: str, units: str) -> Site:
    v = validate(write_site(tmp_path, roce_files(catalog_yaml=catalog, units_yaml=units)), 1)
    assert v.site is not None
    return v.site


def netplan_text(site: Site, host: str = NODE) -> str:
    (f,) = [f for f in render_files(site, 1, host) if f.path == NETPLAN]
    return f.content.decode()


def ethernets(text: str) -> dict[str, dict[str, object]]:
    doc = yaml.safe_load(text)
    return doc["network"]["ethernets"]  # type: ignore[no-any-return]


def ib_site(tmp_path: Path, write_site: Writer, ipoib: str) -> Site:
    catalog = IB_CATALOG.replace("ipoib: {mode: datagram, mtu: 4092}", f"ipoib: {ipoib}")
    files = roce_files(catalog_yaml=catalog, units_yaml=IB_UNITS, tenants_yaml=TENANTS)
    v = validate(write_site(tmp_path, files), 1)
    assert v.site is not None
    return v.site


def test_datagram_mode_on_every_hca_and_nowhere_else(tmp_path: Path, write_site: Writer) -> None:
    nics = ethernets(netplan_text(ib_site(tmp_path, write_site, "{mode: datagram, mtu: 4092}")))
    fabric = {n: v for n, v in nics.items() if n.startswith("fab")}
    assert sorted(fabric) == ["fab0", "fab1"]
    for nic in fabric.values():
        assert nic["infiniband-mode"] == "datagram" and nic["mtu"] == 4092
    assert all("infiniband-mode" not in v for n, v in nics.items() if n not in fabric)


def test_connected_mode_and_its_mtu(tmp_path: Path, write_site: Writer) -> None:
    site = ib_site(tmp_path, write_site, "{mode: connected, mtu: 65520}")
    nics = ethernets(netplan_text(site))
    assert (nics["fab0"]["infiniband-mode"], nics["fab0"]["mtu"]) == ("connected", 65520)
    # the broadcast group is still datagram: 4096 bytes (code 5) whatever the mode
    (f,) = [f for f in render_files(site, 1, SM_HOST) if f.path.endswith("partitions.conf")]
    assert "Default=0x7fff, ipoib, mtu=5, defmember=full" in f.content.decode()


def test_a_roce_node_gets_no_infiniband_mode(tmp_path: Path, write_site: Writer) -> None:
    text = netplan_text(site_of(tmp_path, write_site, *_roce()))
    assert "infiniband-mode" not in text
    assert ethernets(text)["fab0"]["mtu"] == 9000


def _roce() -> tuple[str, str]:
    files = roce_files()
    return str(files["catalog.yaml"]), str(files["units.yaml"])


def test_netplan_generate_accepts_it(tmp_path: Path, write_site: Writer) -> None:
    site = ib_site(tmp_path / "s", write_site, "{mode: datagram, mtu: 4092}")
    etc = tmp_path / "host" / "etc" / "netplan"
    etc.mkdir(parents=True)
    (etc / "60-hkcompute.yaml").write_text(netplan_text(site))
    got = lint.check("netplan", [etc])
    if got.skipped and not lint.tools_required():
        pytest.skip(got.output)
    assert got.ok, got.output
    # and it is the key netplan knows: a wrong value is refused by name
    (etc / "60-hkcompute.yaml").write_text(
        netplan_text(site).replace("infiniband-mode: datagram", "infiniband-mode: bogus", 1)
    )
    bad = lint.check("netplan", [etc])
    assert not bad.ok and "infiniband-mode" in bad.output
