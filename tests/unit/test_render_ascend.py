"""An Atlas 800T A3 node's NPU addresses: one per die, as hccn_tool numbers them.

The bundled site's phase-3 a3 units hold Atlas 800T A3 nodes: 8 modules of two Ascend 910C
dies, 16 NPUs to the driver and scheduler, on 8 x 400GE ports (two dies a port). Each die
is configured on its own (hccn_tool -i 0..15), so each gets an address on its port's rail."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_files

HKSTP = Path(__file__).resolve().parents[2] / "inventories" / "hkstp"


@pytest.fixture(scope="module")
def a3():  # type: ignore[no-untyped-def]
    site = load_site(HKSTP).site
    assert site is not None
    node = next(d for d in site.devices_upto(3) if d.model == "atlas-800t-a3")
    files = {f.path: f.content.decode() for f in render_files(site, 3, node.name)}
    return site, plan_for(site, 3), node, files


def _hccn(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_every_die_has_its_own_address_on_its_ports_rail(a3) -> None:  # type: ignore[no-untyped-def]
    *_, files = a3
    conf = _hccn(files["/etc/hccn.conf"])
    dies = sorted(int(k.split("_")[1]) for k in conf if k.startswith("address_"))
    assert dies == list(range(16))
    addresses = {conf[f"address_{n}"] for n in dies}
    assert len(addresses) == 16
    # The two dies of module m share port m, so both sit on rail m's subnet, behind the
    # same leaf gateway, which the health check pings.
    for m in range(8):
        a, b = (
            ipaddress.ip_interface(f"{conf[f'address_{n}']}/{conf[f'netmask_{n}']}")
            for n in (2 * m, 2 * m + 1)
        )
        assert a.network == b.network
        assert conf[f"gateway_{2 * m}"] == conf[f"gateway_{2 * m + 1}"]
        assert conf[f"netdetect_{2 * m}"] == conf[f"gateway_{2 * m}"]
        assert ipaddress.ip_address(conf[f"gateway_{2 * m}"]) in a.network
    # Rails differ from module to module.
    nets = {
        ipaddress.ip_interface(f"{conf[f'address_{2 * m}']}/{conf[f'netmask_{2 * m}']}").network
        for m in range(8)
    }
    assert len(nets) == 8


def test_the_dies_addresses_are_the_accelerators_not_the_os(a3) -> None:  # type: ignore[no-untyped-def]
    # NPU ports are configured through hccn_tool, not netplan: no OS interface for them.
    _site, plan, node, files = a3
    netplan = files["/etc/netplan/60-hkcompute.yaml"]
    assert "npu" not in netplan and "fab" not in netplan
    mine = [a for a in plan.addresses if a.device == node.name and a.network == "compute"]
    assert sorted(a.interface for a in mine) == sorted(f"npu{n}" for n in range(16))


def test_slurm_counts_sixteen_npus(a3) -> None:  # type: ignore[no-untyped-def]
    *_, files = a3
    gres = files["/etc/slurm/gres.conf"]
    line = next(x for x in gres.splitlines() if "Type=910c" in x)
    assert "Name=npu" in line and "File=/dev/davinci[0-15]" in line
    assert "Gres=npu:910c:16" in files["/etc/slurm/slurm.conf"]
