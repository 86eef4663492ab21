"""The `vrp` checker: hkcompute's own grammar of the VRP configuration it renders, and the
file's meaning against the plan (hkcompute.lint.vrp).

Every ce9860-200 of the hkstp site's phase 1 (the Ascend a2 RoCE fabric, 48 switches) is
rendered, parsed and compared with the plan and the site's lossless policy; broken copies
of a leaf's file are each refused or reported at the right line or item."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from hkcompute import lint
from hkcompute.inventory.load import load_site
from hkcompute.lint import vrp
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_files
from hkcompute.render.renderer import checkers_for

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"


@pytest.fixture(scope="module")
def fabric():  # type: ignore[no-untyped-def]
    site = load_site(HKSTP).site
    assert site is not None
    ces = {d.name: d for d in site.devices_upto(1) if d.model == "ce9860-200"}
    files = {
        f.host: f.content.decode()
        for f in render_files(site, 1, "ascend*")
        if f.path == "/vrpcfg.cfg" and f.host in ces
    }
    assert len(ces) == 48 and set(files) == set(ces)
    plan = plan_for(site, 1)
    qos = {name: site.qos_of(d.cluster) for name, d in ces.items()}
    return plan, qos, files


@pytest.fixture(scope="module")
def leaf(fabric):  # type: ignore[no-untyped-def]
    plan, qos, files = fabric
    name = sorted(h for h in files if "leaf" in h)[0]
    return plan, qos[name], name, files[name]


def _judge(text: str, device: str, plan, qos) -> list[vrp.Problem]:  # type: ignore[no-untyped-def]
    return vrp.against_plan(vrp.parse(text), device, plan, qos)


def _line_of(text: str, line: str, nth: int = 0) -> int:
    """The 1-based number of the nth line that is exactly ``line``."""
    found = [i for i, x in enumerate(text.split("\n"), 1) if x == line]
    return found[nth]


def test_every_ce_switch_file_parses_and_matches_the_plan_exactly(fabric) -> None:  # type: ignore[no-untyped-def]
    plan, qos, files = fabric
    asn = {a.device: a.asn for a in plan.asns}
    for host, text in sorted(files.items()):
        cfg = vrp.parse(text)
        assert vrp.consistency(cfg) == [], host
        assert vrp.against_plan(cfg, host, plan, qos[host]) == [], host
        # The typed structure holds what the plan says, once each.
        assert cfg.sysname == host
        assert cfg.bgp is not None and cfg.bgp.asn == asn[host]
        p2p = [a for a in plan.addresses if a.device == host and a.network == "p2p"]
        assert len(cfg.bgp.peers) == len(p2p) > 0
        got = sorted(str(a) for _, _, a in cfg.addresses())
        want = sorted(
            str(ipaddress.ip_interface(a.address))
            for a in plan.addresses
            if a.device == host and a.network in ("p2p", "loopback", "compute")
        )
        assert got == want
    # The hkstp a2 fabric is lossless: its switches carry the policy.
    assert all(q is not None for q in qos.values())


def test_the_checker_is_registered_and_declared_for_the_file(fabric, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, files = fabric
    assert "vrp" in lint.names()
    assert checkers_for("/vrpcfg.cfg") == ("vrp",)
    assert lint.available("vrp") is None  # no program to install: always runs
    host, text = sorted(files.items())[0]
    tree = tmp_path / "hosts" / host
    tree.mkdir(parents=True)
    (tree / "vrpcfg.cfg").write_text(text)
    (res,) = lint.check_tree(tmp_path / "hosts")
    assert (res.kind, res.ok, res.host) == ("vrp", True, host)
    assert f"sysname {host}" in res.output


def test_a_misspelt_command_is_refused_with_its_line(leaf, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, _, text = leaf
    n = _line_of(text, " undo portswitch", 3)
    lines = text.split("\n")
    lines[n - 1] = " undo portswich"
    broken = "\n".join(lines)
    with pytest.raises(vrp.VrpError) as err:
        vrp.parse(broken)
    problem, *then = err.value.problems
    assert problem.line == n
    # The port stayed Layer 2, so its Layer 3 commands are refused after it.
    assert [(p.line, p.message.endswith("undo portswitch first")) for p in then] == [
        (n + 2, True),
        (n + 3, True),
    ]
    assert "'undo portswich' is not a command hkcompute writes in the interface view" in (
        problem.message
    )
    # And through the registered checker, as `hkcompute lint` reports it.
    f = tmp_path / "vrpcfg.cfg"
    f.write_text(broken)
    res = lint.check("vrp", [f], host_root=tmp_path)
    assert not res.ok
    assert res.output.startswith(f"{f}:{n}: 'undo portswich' is not a command")


def test_an_frr_line_is_refused_as_another_dialect(leaf) -> None:  # type: ignore[no-untyped-def]
    _, _, _, text = leaf
    lines = text.split("\n")
    n = next(i for i, x in enumerate(lines, 1) if x.startswith(" peer ") and "as-number" in x)
    lines.insert(n, " neighbor 10.32.0.1 remote-as 4200100000")
    lines.insert(0, "router bgp 4200000000")
    with pytest.raises(vrp.VrpError) as err:
        vrp.parse("\n".join(lines))
    by_line = {p.line: p.message for p in err.value.problems}
    assert set(by_line) == {1, n + 2}
    assert "FRR/Cisco syntax, not VRP" in by_line[1]
    assert "in the system view" in by_line[1]
    assert "'neighbor 10.32.0.1 remote-as 4200100000'" in by_line[n + 2]
    assert "in the bgp view: FRR/Cisco syntax" in by_line[n + 2]


def test_values_and_views_are_checked(leaf) -> None:  # type: ignore[no-untyped-def]
    _, _, _, text = leaf
    n = _line_of(text, " mtu 9000")
    lines = text.split("\n")
    lines[n - 1] = " mtu 9700"
    with pytest.raises(vrp.VrpError, match=rf"line {n}: mtu 9700 is out of range 46-9600"):
        vrp.parse("\n".join(lines))
    # A command in the wrong view: an address family line at the bgp view's depth.
    lines = text.split("\n")
    n = next(i for i, x in enumerate(lines, 1) if x.startswith("  maximum load-balancing"))
    lines[n - 1] = lines[n - 1][1:]
    with pytest.raises(vrp.VrpError) as err:
        vrp.parse("\n".join(lines))
    assert [p.line for p in err.value.problems] == [n]
    assert "belongs in the bgp ipv4-family unicast view" in err.value.problems[0].message
    # A prefix length where VRP takes a dotted mask.
    with pytest.raises(vrp.VrpError, match="a dotted mask"):
        vrp.parse(text.replace(" 255.255.255.254\n", "/31\n", 1))
    # No closing return.
    with pytest.raises(vrp.VrpError, match="does not end with 'return'"):
        vrp.parse(text.removesuffix("return\n"))


def test_a_missing_peer_is_reported_by_its_address_and_as(leaf) -> None:  # type: ignore[no-untyped-def]
    plan, qos, name, text = leaf
    cfg = vrp.parse(text)
    assert cfg.bgp is not None
    gone = cfg.bgp.peers[5]
    ip = str(gone.address)
    kept = [x for x in text.split("\n") if not x.startswith((f" peer {ip} ", f"  peer {ip} "))]
    assert len(kept) == len(text.split("\n")) - 5
    found = _judge("\n".join(kept), name, plan, qos)
    (problem,) = found
    assert problem.line is None
    assert problem.message == (
        f"BGP peer {ip} as-number {gone.asn} ({gone.description} swp2): missing"
    )


def test_a_duplicated_address_is_reported_with_both_lines(leaf) -> None:  # type: ignore[no-untyped-def]
    plan, qos, name, text = leaf
    cfg = vrp.parse(text)
    first, second = cfg.interfaces[0], cfg.interfaces[1]
    (l1, a1), (l2, a2) = first.addresses[0], second.addresses[0]
    lines = text.split("\n")
    lines[l2 - 1] = lines[l1 - 1]
    broken = "\n".join(lines)
    # The file contradicts itself: two interfaces in one subnet.
    (clash,) = vrp.consistency(vrp.parse(broken))
    assert clash.line == l2 and f"overlaps {a1.with_prefixlen}" in clash.message
    # Against the plan: the address twice, and the other one missing.
    by_msg = {p.message: p.line for p in _judge(broken, name, plan, qos)}
    assert by_msg == {
        f"p2p address {a1.with_prefixlen} of {name} swp{first.name.rsplit('/', 1)[1]}: "
        f"present 2 times (lines {l1}, {l2})": l2,
        f"p2p address {a2.with_prefixlen} of {name} swp{second.name.rsplit('/', 1)[1]}: "
        "missing": None,
    }
    # The checker, without the plan, refuses it too.
    assert [p.line for p in vrp.problems(broken)] == [l2]


def test_extra_and_duplicated_items_against_the_plan(leaf) -> None:  # type: ignore[no-untyped-def]
    plan, qos, name, text = leaf
    cfg = vrp.parse(text)
    assert cfg.bgp is not None
    peer = cfg.bgp.peers[0]
    # A peer the plan does not have, declared and enabled.
    extra = text.replace(
        f" peer {peer.address} as-number {peer.asn}\n",
        f" peer {peer.address} as-number {peer.asn}\n peer 10.99.0.1 as-number 65001\n",
    ).replace("  peer FABRIC enable\n", "  peer FABRIC enable\n  peer 10.99.0.1 enable\n")
    found = _judge(extra, name, plan, qos)
    assert [p.message for p in found] == ["BGP peer 10.99.0.1 is not in the plan"]
    assert found[0].line == _line_of(extra, " peer 10.99.0.1 as-number 65001")
    # A QoS command given twice on a port.
    n = _line_of(text, " qos pq 6")
    lines = text.split("\n")
    lines.insert(n, " qos pq 6")
    found = _judge("\n".join(lines), name, plan, qos)
    assert [(p.line, p.message.split(":")[-1]) for p in found] == [(n + 1, " present 2 times")]
    # The policy's ECN threshold changed in the file.
    changed = text.replace("low-limit 150000", "low-limit 160000")
    n = _line_of(
        changed, " ecn buffer-size low-limit 160000 high-limit 1500000 discard-percentage 100"
    )
    assert [(p.line, p.message) for p in _judge(changed, name, plan, qos)] == [
        (n - 1, "drop-profile roce: 150000 1500000 100 missing"),
        (n, "drop-profile roce: 160000 1500000 100 is not in the policy"),
    ]
    # And no QoS at all where the fabric is not lossless.
    assert any("not lossless" in p.message for p in _judge(text, name, plan, None))
