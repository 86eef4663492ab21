"""NVIDIA Spectrum switches on Cumulus Linux get Cumulus' own configuration.

The hkstp site's phase-3 units have sn5600-400 leaves (`os: cumulus`). Cumulus Linux brings up
interfaces with ifupdown2 from /etc/network/interfaces and runs BGP in FRR, so such a leaf
gets /etc/network/interfaces (loopback, routed /31 ports, the node ports in a VLAN-aware
bridge, the rail gateway's SVI) besides FRR's files, whose frr.conf then holds only routing.
The lab twin's OS, frr-linux, keeps its FRR-only files unchanged."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from hkcompute.inventory.load import bundled_catalog, load_site
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_files
from hkcompute.render.renderer import Renderer

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"
LAB = ROOT / "inventories" / "lab"
PHASE = 3


@pytest.fixture(scope="module")
def hkstp():  # type: ignore[no-untyped-def]
    loaded = load_site(HKSTP)
    assert loaded.site is not None
    site = loaded.site
    leaf = next(d for d in site.devices_upto(PHASE) if d.role == "leaf" and d.model == "sn5600-400")
    files = {f.path: f.content.decode() for f in render_files(site, PHASE, leaf.name)}
    return site, plan_for(site, PHASE), leaf, files


def stanzas(text: str) -> dict[str, list[str]]:
    """The `iface` stanzas of an interfaces file: name -> its option lines, stripped."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("iface "):
            name = line.split()[1]
            assert name not in out, f"two stanzas for {name}"
            current = out[name] = [line]
        elif line.startswith("auto "):
            current = None
        else:
            assert current is not None and raw.startswith("    "), raw
            current.append(line)
    return out


def autos(text: str) -> list[str]:
    return [w for line in text.splitlines() if line.startswith("auto ") for w in line.split()[1:]]


def test_a_cumulus_leaf_gets_interfaces_and_frr(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, _, leaf, files = hkstp
    # (and, its fabric being lossless, Cumulus' two QoS files: tests/unit/test_switch_qos.py)
    assert set(files) == {
        "/etc/network/interfaces",
        "/etc/frr/frr.conf",
        "/etc/frr/daemons",
        "/etc/mlx/datapath/qos/qos_infra.conf",
        "/etc/cumulus/datapath/qos/qos_features.conf",
    }
    spec = {f.path: f for f in bundled_catalog().switch_os["cumulus"].files["routed"]}
    interfaces = spec["/etc/network/interfaces"]
    assert (interfaces.mode, interfaces.owner, interfaces.group) == ("0644", "root", "root")
    assert interfaces.checkers == ["ifupdown2"]
    # FRR's files stay FRR's (mode 640, owned by frr), frr.conf first.
    assert next(iter(spec)) == "/etc/frr/frr.conf"
    assert spec["/etc/frr/frr.conf"].owner == "frr"
    text = files["/etc/network/interfaces"]
    assert text.startswith("# Managed by hkcompute (site hkstp): do not edit by hand")
    assert f"{leaf.name} (leaf, sn5600-400), Cumulus Linux" in text
    # Every stanza is brought up at boot and by `ifreload -a`.
    assert sorted(autos(text)) == sorted(stanzas(text))


def test_loopback_holds_the_planned_32(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    (lo,) = [a for a in plan.addresses if a.device == leaf.name and a.network == "loopback"]
    assert ipaddress.ip_interface(lo.address).network.prefixlen == 32
    assert stanzas(files["/etc/network/interfaces"])["lo"] == [
        "iface lo inet loopback",
        f"address {lo.address}",
    ]


def test_every_planned_31_on_its_swp_port_with_the_fabric_mtu(hkstp) -> None:  # type: ignore[no-untyped-def]
    site, plan, leaf, files = hkstp
    mtu = site.fabric_of(leaf.cluster).mtu
    assert mtu == 9000
    ifaces = stanzas(files["/etc/network/interfaces"])
    p2p = [a for a in plan.addresses if a.device == leaf.name and a.network == "p2p"]
    assert len(p2p) == 64  # 16 spines x 4 uplinks
    for a in p2p:
        assert a.interface.startswith("swp")
        assert ipaddress.ip_interface(a.address).network.prefixlen == 31
        lines = ifaces[a.interface]
        assert f"address {a.address}" in lines, a.interface
        assert f"mtu {mtu}" in lines, a.interface
        assert not any(x.startswith("bridge-") for x in lines), a.interface
    # Routed ports carry one address each, and no other swp port carries one.
    routed = {n for n, lines in ifaces.items() if any(x.startswith("address ") for x in lines)}
    assert {n for n in routed if n.startswith("swp")} == {a.interface for a in p2p}


def test_node_ports_are_access_ports_of_a_vlan_aware_bridge(hkstp) -> None:  # type: ignore[no-untyped-def]
    site, plan, leaf, files = hkstp
    mtu = site.fabric_of(leaf.cluster).mtu
    ifaces = stanzas(files["/etc/network/interfaces"])
    access = sorted(
        (x.b_port if x.b == leaf.name else x.a_port)
        for x in plan.links
        if x.kind == "node-leaf" and leaf.name in (x.a, x.b)
    )
    assert len(access) == 64
    for port in access:
        assert ifaces[port] == [
            f"iface {port}",
            ifaces[port][1],  # alias: the node and its port
            "bridge-access 100",
            f"mtu {mtu}",
        ]
        assert re.fullmatch(r"alias \S+ \S+", ifaces[port][1])
    bridges = [n for n, lines in ifaces.items() if "bridge-vlan-aware yes" in lines]
    assert bridges == ["br_default"]
    bridge = ifaces["br_default"]
    (ports,) = [x for x in bridge if x.startswith("bridge-ports ")]
    assert sorted(ports.split()[1:]) == access
    assert "bridge-vids 100" in bridge
    # No address on the bridge itself: the SVI holds it.
    assert not any(x.startswith("address") for x in bridge)


def test_vlan100_svi_holds_the_rail_gateway(hkstp) -> None:  # type: ignore[no-untyped-def]
    site, plan, leaf, files = hkstp
    (gw,) = [a for a in plan.addresses if a.device == leaf.name and a.network == "compute"]
    assert gw.interface == "vlan100"
    svi = stanzas(files["/etc/network/interfaces"])["vlan100"]
    assert f"address {gw.address}" in svi
    assert "vlan-id 100" in svi
    assert "vlan-raw-device br_default" in svi
    assert f"mtu {site.fabric_of(leaf.cluster).mtu}" in svi


def test_management_port_stays_in_the_management_vrf(hkstp) -> None:  # type: ignore[no-untyped-def]
    # The file replaces Cumulus' own whole: the out-of-band port keeps its DHCP address in the
    # mgmt VRF, or the switch would drop off the management network on `ifreload -a`.
    _, _, _, files = hkstp
    ifaces = stanzas(files["/etc/network/interfaces"])
    assert ifaces["mgmt"] == [
        "iface mgmt",
        "address 127.0.0.1/8",
        "address ::1/128",
        "vrf-table auto",
    ]
    assert ifaces["eth0"][0] == "iface eth0 inet dhcp" and "vrf mgmt" in ifaces["eth0"]


def test_frr_has_every_bgp_peer_and_no_interface_addresses(hkstp) -> None:  # type: ignore[no-untyped-def]
    _, plan, leaf, files = hkstp
    frr = files["/etc/frr/frr.conf"]
    asn = {a.device: a.asn for a in plan.asns}
    addr = {(a.device, a.interface): a.address for a in plan.addresses}
    lo = addr[(leaf.name, "lo")]
    assert f"\nrouter bgp {asn[leaf.name]}\n" in frr
    assert f"\n bgp router-id {ipaddress.ip_interface(lo).ip}\n" in frr
    peers = set()
    for link in plan.links:
        if link.kind != "leaf-spine" or leaf.name not in (link.a, link.b):
            continue
        theirs, port = (link.b, link.b_port) if link.a == leaf.name else (link.a, link.a_port)
        ip = ipaddress.ip_interface(addr[(theirs, port)]).ip
        assert f"\n neighbor {ip} remote-as {asn[theirs]}\n" in frr
        assert f"\n neighbor {ip} peer-group FABRIC\n" in frr
        peers.add(str(ip))
    assert len(peers) == 64
    assert set(re.findall(r"^ neighbor (\d+\.\d+\.\d+\.\d+) remote-as ", frr, re.M)) == peers
    (gw,) = [a for a in plan.addresses if a.device == leaf.name and a.network == "compute"]
    for net in (lo, str(ipaddress.ip_interface(gw.address).network)):
        assert f"\n  network {net}\n" in frr
    # Addresses are ifupdown2's on Cumulus: zebra is given none.
    assert not re.search(r"^interface |^ ip address ", frr, re.M)


def test_frr_bgp_is_the_frr_linux_design_line_for_line(hkstp) -> None:  # type: ignore[no-untyped-def]
    site, plan, leaf, files = hkstp
    renderer = Renderer(site, plan, PHASE)
    ctx = renderer.b.switch(leaf)
    linux = renderer.env.get_template("switch/frr/frr.conf.j2").render(ctx)
    cumulus = files["/etc/frr/frr.conf"]
    assert cumulus == renderer.env.get_template("switch/cumulus/frr.conf.j2").render(ctx)

    def bgp(text: str) -> str:
        return text[text.index("ip prefix-list LOCAL") :]

    assert bgp(cumulus) == bgp(linux)
    # Only the interface stanzas are left out: the lines before them are the same too.
    header = cumulus[: cumulus.index("ip prefix-list")].splitlines()
    assert [x for x in header if not x.startswith("! Cumulus Linux:")] == linux[
        : linux.index("interface lo")
    ].splitlines()


def test_frr_linux_of_the_lab_twin_is_unchanged() -> None:
    cat = bundled_catalog()
    routed = cat.switch_os["frr-linux"].files["routed"]
    assert [(f.path, f.template, f.mode, f.owner, f.checkers) for f in routed] == [
        ("/etc/frr/frr.conf", "switch/frr/frr.conf.j2", "0640", "frr", ["frr", "frr-bgpd"]),
        ("/etc/frr/daemons", "switch/frr/daemons.j2", "0640", "frr", ["frr-daemons"]),
    ]
    site = load_site(LAB).site
    assert site is not None
    leaf = next(d for d in site.devices_upto(1) if d.role == "leaf")
    files = {f.path: f.content.decode() for f in render_files(site, 1, leaf.name)}
    assert set(files) == {"/etc/frr/frr.conf", "/etc/frr/daemons"}
    assert "\ninterface lo\n ip address " in files["/etc/frr/frr.conf"]
