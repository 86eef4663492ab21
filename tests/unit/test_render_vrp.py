"""Huawei CloudEngine (VRP) switches of the bundled site get their routed configuration.

The hkstp site's Ascend 910B (a2) units run a RoCE fabric of ce9860-200 leaves and spines,
whose network OS is `vrp`: each gets flash:/vrpcfg.cfg, the FRR design in VRP's dialect."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"
runner = CliRunner()


@pytest.fixture(scope="module")
def hkstp():  # type: ignore[no-untyped-def]
    loaded = load_site(HKSTP)
    assert loaded.site is not None
    site = loaded.site
    # The first leaf of an Atlas 800T A2 unit (the a2-air unit type): a ce9860-200.
    leaf = next(d for d in site.devices_upto(1) if d.role == "leaf" and d.model == "ce9860-200")
    files = render_files(site, 1, leaf.name)
    return site, plan_for(site, 1), leaf.name, files


def _config(files, host: str) -> str:  # type: ignore[no-untyped-def]
    return next(f.content.decode() for f in files if f.host == host and f.path == "/vrpcfg.cfg")


def _ifname(port: str) -> str:
    """The plan's swpN on a ce9860-200 (200GE ports, slot 1, subcard 0)."""
    assert port.startswith("swp"), port
    return f"200GE1/0/{port[3:]}"


def _mask(cidr: str) -> str:
    i = ipaddress.ip_interface(cidr)
    return f"{i.ip} {i.netmask}"


def _section(cfg: str, head: str) -> str:
    """The lines of one '#'-separated section of a VRP configuration, from its first line."""
    for block in cfg.split("\n#\n"):
        if block.startswith(head + "\n"):
            return block
    raise AssertionError(f"no section {head!r}")


def test_a_vrp_switch_gets_one_startup_configuration(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, _, leaf, files = hkstp
    assert [(f.host, f.path) for f in files] == [(leaf, "/vrpcfg.cfg")]


def test_sysname_loopback_and_router_id(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    cfg = _config(files, leaf)
    assert cfg.startswith(f"#\nsysname {leaf}\n")
    assert cfg.endswith("#\nreturn\n")
    lo = next(a.address for a in plan.addresses if a.device == leaf and a.network == "loopback")
    assert ipaddress.ip_interface(lo).network.prefixlen == 32
    assert _section(cfg, "interface LoopBack0") == (f"interface LoopBack0\n ip address {_mask(lo)}")
    bgp = _section(cfg, f"bgp {next(a.asn for a in plan.asns if a.device == leaf)}")
    assert f"\n router-id {ipaddress.ip_interface(lo).ip}\n" in bgp


def test_every_routed_port_is_layer3_with_its_31_and_jumbo_mtu(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    cfg = _config(files, leaf)
    p2p = [a for a in plan.addresses if a.device == leaf and a.network == "p2p"]
    assert len(p2p) == 64  # 16 spines x 4 uplinks
    for a in p2p:
        assert ipaddress.ip_interface(a.address).network.prefixlen == 31
        port = _section(cfg, f"interface {_ifname(a.interface)}")
        assert " undo portswitch\n" in port
        assert " mtu 9000\n" in port
        # (the port's lossless-RoCE lines follow: tests/unit/test_switch_qos.py)
        assert f"\n ip address {_mask(a.address)}\n" in port + "\n"
    # The other front-panel interfaces are the node ports, in the rail gateway's VLAN.
    access = [x for x in plan.links if x.kind == "node-leaf" and leaf in (x.a, x.b)]
    assert len(re.findall(r"^interface 200GE1/0/\d+$", cfg, re.M)) == len(p2p) + len(access)
    for x in access:
        port = _section(cfg, f"interface {_ifname(x.a_port if x.a == leaf else x.b_port)}")
        assert " port link-type access\n port default vlan 100" in port


def test_rail_subnet_gateway_is_a_vlanif(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    cfg = _config(files, leaf)
    (gw,) = [a for a in plan.addresses if a.device == leaf and a.network == "compute"]
    vlan = gw.interface.removeprefix("vlan")
    assert vlan.isdigit()
    assert f"\nvlan batch {vlan}\n" in cfg
    vlanif = _section(cfg, f"interface Vlanif{vlan}")
    assert f"\n ip address {_mask(gw.address)}" in vlanif
    assert " mtu 9000\n" in vlanif
    # The node subnet and the loopback are advertised, and only they leave a leaf.
    net = ipaddress.ip_interface(gw.address).network
    assert f"\n  network {net.network_address} {net.netmask}\n" in cfg
    assert f"permit {net.network_address} {net.prefixlen}\n" in cfg
    assert "route-policy FABRIC-OUT permit node 20" not in cfg


def test_every_planned_peer_with_its_as_and_ecmp(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    cfg = _config(files, leaf)
    asn = {a.device: a.asn for a in plan.asns}
    addr = {(a.device, a.interface): a.address for a in plan.addresses}
    bgp = _section(cfg, f"bgp {asn[leaf]}")
    peers = 0
    for link in plan.links:
        if leaf not in (link.a, link.b) or link.kind != "leaf-spine":
            continue
        theirs, their_port = (link.b, link.b_port) if link.a == leaf else (link.a, link.a_port)
        ip = ipaddress.ip_interface(addr[(theirs, their_port)]).ip
        assert f"\n peer {ip} as-number {asn[theirs]}\n" in bgp
        assert f"\n peer {ip} group FABRIC\n" in bgp
        assert f"\n  peer {ip} enable\n" in bgp
        peers += 1
    assert peers == 64
    assert len(re.findall(r"^ peer \S+ as-number ", bgp, re.M)) == peers
    assert "\n group FABRIC external\n" in bgp
    assert "\n ipv4-family unicast\n" in bgp
    assert "\n  maximum load-balancing ebgp 64\n" in bgp


def test_nothing_of_frr_or_the_plan_port_names_is_left(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, _, leaf, files = hkstp
    cfg = _config(files, leaf)
    assert "swp" not in cfg
    for frr in (
        "router bgp",
        "neighbor",
        "remote-as",
        "address-family",
        "prefix-list",
        "route-map",
        "exit",
        "frr ",
        "hostname",
        "interface lo\n",
        "vtysh",
    ):
        assert frr not in cfg, frr
    assert not re.search(r"^!", cfg, re.M)
    # VRP takes a dotted mask, never a prefix length after the address.
    assert not re.search(r"\d+\.\d+\.\d+\.\d+/\d+", cfg)


def test_cli_writes_the_ce_switch_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "render",
            str(HKSTP),
            "--phase",
            "1",
            "--out",
            str(out),
            "--host",
            "ascend-a-g01-spine0[12]",
        ],
    )
    assert res.exit_code == 0, res.output
    for spine in ("ascend-a-g01-spine01", "ascend-a-g01-spine02"):
        cfg = (out / "hosts" / spine / "vrpcfg.cfg").read_text()
        # A spine is a transit: it passes on what its leaves advertise.
        assert "route-policy FABRIC-OUT permit node 20" in cfg
        assert f"sysname {spine}" in cfg
    # No vendor program reads VRP offline: hkcompute's own VRP grammar judges it.
    res = runner.invoke(app, ["lint", str(out)])
    assert res.exit_code == 0, res.output
    assert "vrp" in res.output
