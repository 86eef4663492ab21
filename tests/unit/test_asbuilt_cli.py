"""`hkcompute cabling verify` end to end on files shaped as lldpcli and ibnetdiscover write
them (made from the plan, then miscabled), and `hkcompute cabling` unchanged."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.plan import plan_for
from hkcompute.plan.records import Link
from hkcompute.validate import load_valid_site

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab"
HKSTP = REPO / "inventories" / "hkstp"
runner = CliRunner()


def _links(site: Path, phase: int) -> list[Link]:
    s, _ = load_valid_site(site, phase)
    return plan_for(s, phase).links_upto(phase)


def _neighbour(port: str, remote: str, rport: str) -> dict[str, object]:
    return {
        port: {
            "via": "LLDP",
            "rid": "1",
            "age": "0 day, 00:01:00",
            "chassis": {
                remote: {
                    "id": {"type": "mac", "value": "02:42:ac:1d:00:02"},
                    "descr": "Debian GNU/Linux 12",
                    "mgmt-ip": "10.9.0.1",
                    "capability": [{"type": "Router", "enabled": True}],
                }
            },
            "port": {"id": {"type": "ifname", "value": rport}, "descr": rport, "ttl": "20"},
        }
    }


def write_lldp(folder: Path, links: list[tuple[str, str, str, str]]) -> Path:
    """One lldpcli JSON per device, seen from both ends, in lldpd's own shapes: a dict keyed
    by interface for one neighbour, a list of single-key dicts for several."""
    folder.mkdir(parents=True, exist_ok=True)
    per: dict[str, list[dict[str, object]]] = defaultdict(list)
    for a, ap, b, bp in links:
        per[a].append(_neighbour(ap, b, bp))
        per[b].append(_neighbour(bp, a, ap))
    for dev, ns in per.items():
        ifaces: object = ns[0] if len(ns) == 1 else ns
        (folder / f"{dev}.json").write_text(json.dumps({"lldp": {"interface": ifaces}}, indent=2))
    return folder


def _swap_b(
    links: list[tuple[str, str, str, str]], i: int, j: int
) -> list[tuple[str, str, str, str]]:
    out = list(links)
    (a1, p1, b1, q1), (a2, p2, b2, q2) = out[i], out[j]
    out[i], out[j] = (a1, p1, b2, q2), (a2, p2, b1, q1)
    return out


def test_cabling_keeps_its_default_and_lists_both_commands() -> None:
    plain = runner.invoke(app, ["cabling", str(LAB), "--phase", "1"])
    listed = runner.invoke(app, ["cabling", "list", str(LAB), "--phase", "1"])
    assert plain.exit_code == listed.exit_code == 0
    assert plain.stdout == listed.stdout and plain.stdout.startswith("a_device,a_port,")
    assert runner.invoke(app, ["cabling", "--phase", "1", str(LAB)]).stdout == plain.stdout
    helped = runner.invoke(app, ["cabling", "-h"])
    assert helped.exit_code == 0 and " list " in helped.stdout and " verify " in helped.stdout


def test_lab_cabled_as_planned_then_a_swapped_pair(tmp_path: Path) -> None:
    planned = [(x.a, x.a_port, x.b, x.b_port) for x in _links(LAB, 1)]
    good = write_lldp(tmp_path / "good", planned)
    res = runner.invoke(app, ["cabling", "verify", str(LAB), "--phase", "1", "--lldp", str(good)])
    assert res.exit_code == 0, res.output
    assert f"{len(planned)} planned links: {len(planned)} ok" in res.stdout
    # leaf1 swp5 and swp6 both go to spine01: cross them at the spine
    i = planned.index(("lab-su1-leaf1", "swp5", "lab-g01-spine01", "swp1"))
    j = planned.index(("lab-su1-leaf1", "swp6", "lab-g01-spine01", "swp2"))
    bad = write_lldp(tmp_path / "bad", _swap_b(planned, i, j))
    args = ["cabling", "verify", str(LAB), "--phase", "1", "--lldp", str(bad)]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    swaps = [ln for ln in res.stdout.splitlines() if ln.startswith("swap ")]
    assert len(swaps) == 1 and "lab-su1-leaf1 swp5 - lab-g01-spine01 swp1" in swaps[0]
    assert "swap the two cables in lab-su1-leaf1 swp5 and swp6" in res.stdout
    assert "miswired" not in res.stdout.split("\n", 1)[1]
    doc = json.loads(runner.invoke(app, [*args, "--format", "json"]).stdout)
    assert doc["ok"] is False and doc["summary"]["swapped"] == 2
    assert doc["summary"]["ok"] == len(planned) - 2
    (row,) = [r for r in doc["links"] if r["status"] == "swap"]
    assert row["swap_with"] == {
        "a": {"device": "lab-su1-leaf1", "port": "swp6"},
        "b": {"device": "lab-g01-spine01", "port": "swp2"},
    }
    csv_out = runner.invoke(app, [*args, "--format", "csv"]).stdout.splitlines()
    assert csv_out[0].startswith("status,a_device,a_port,b_device,b_port,network")
    assert len(csv_out) == 1 + len(planned) - 1  # every link, the swap on one row
    # scope: only the spine02 links, all fine
    res = runner.invoke(app, [*args, "--devices", "lab-g01-spine02"])
    assert res.exit_code == 0 and "4 planned links: 4 ok" in res.stdout


def test_devices_without_data_are_not_collected_not_missing(tmp_path: Path) -> None:
    planned = [(x.a, x.a_port, x.b, x.b_port) for x in _links(LAB, 1)]
    folder = write_lldp(tmp_path / "l", planned)
    for dev in ("lab-su1-n04", "lab-su1-leaf2"):
        (folder / f"{dev}.json").unlink()
    (folder / "not-a-device.json").write_text("{}")
    res = runner.invoke(app, ["cabling", "verify", str(LAB), "--phase", "1", "--lldp", str(folder)])
    assert res.exit_code == 1
    assert "0 missing, 1 unverified" in res.stdout  # n04 fab1 - leaf2 swp4: no end answered
    assert "lab-su1-leaf2: no ethernet discovery data" in res.stdout
    assert "not-a-device.json" in res.stderr


def test_malformed_lldp_is_file_and_line_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "l"
    folder.mkdir()
    (folder / "lab-su1-leaf1.json").write_text('{\n  "lldp": {\n    "interface": [1]\n')
    res = runner.invoke(app, ["cabling", "verify", str(LAB), "--phase", "1", "--lldp", str(folder)])
    assert res.exit_code == 2
    assert f"{folder / 'lab-su1-leaf1.json'}:4" in res.stderr and "Traceback" not in res.output
    res = runner.invoke(app, ["cabling", "verify", str(LAB), "--phase", "1"])
    assert res.exit_code == 2 and "--lldp DIR" in res.stderr


def ibnet_text(links: list[tuple[str, str, str, str]]) -> str:
    """ibnetdiscover's topology text for ``links`` (switch swpN = port N, node fab<r> = the
    HCA mlx5_<r>), switches first, every link from both ends, as the tool prints it."""
    guid: dict[str, str] = {}

    def node(dev: str, port: str) -> tuple[str, int, str]:
        if port.startswith("swp"):
            g = guid.setdefault(dev, f"{0xFC6A1C0300000000 + len(guid):016x}")
            return f"S-{g}", int(port[3:]), f"MF0;{dev}:MQM9700/U1"
        key = f"{dev} mlx5_{port[3:]}"
        g = guid.setdefault(key, f"{0x946DAE0300000000 + len(guid):016x}")
        return f"H-{g}", 1, key

    ports: dict[str, list[tuple[int, str, int, str]]] = defaultdict(list)
    desc: dict[str, str] = {}
    for a, ap, b, bp in links:
        (na, pa, da), (nb, pb, db) = node(a, ap), node(b, bp)
        desc[na], desc[nb] = da, db
        ports[na].append((pa, nb, pb, db))
        ports[nb].append((pb, na, pa, da))
    out = ["#", "# Topology file: generated on Tue Jun  3 10:00:00 2025", "#"]
    for name in sorted(ports, key=lambda n: (n[0] != "S", n)):
        g = name[2:]
        out.append("")
        if name[0] == "S":
            out += [
                "vendid=0x2c9",
                "devid=0xd2f0",
                f"sysimgguid=0x{g}",
                f"switchguid=0x{g}({g})",
                f'Switch\t64 "{name}"\t\t# "{desc[name]}" enhanced port 0 lid 2 lmc 0',
            ]
            for p, rn, rp, rd in sorted(ports[name]):
                tail = f"({rn[2:]}) " if rn[0] == "H" else ""
                out.append(f'[{p}]\t"{rn}"[{rp}]{tail}\t\t# "{rd}" lid 7 4xNDR')
        else:
            out += [
                "vendid=0x2c9",
                "devid=0x1021",
                f"sysimgguid=0x{g}",
                f"caguid=0x{g}",
                f'Ca\t1 "{name}"\t\t# "{desc[name]}"',
            ]
            for p, rn, rp, rd in sorted(ports[name]):
                out.append(f'[{p}]({g}) \t"{rn}"[{rp}]\t\t# lid 9 lmc 0 "{rd}" lid 2 4xNDR')
    return "\n".join(out) + "\n"


def test_ibnetdiscover_of_a_miscabled_fabric(tmp_path: Path) -> None:
    scope = "h800a-su01-leaf1"
    mine = [x for x in _links(HKSTP, 1) if scope in (x.a, x.b)]
    planned = [(x.a, x.a_port, x.b, x.b_port) for x in mine if x.network == "compute"]
    i = planned.index(("h800a-su01-n01", "fab0", scope, "swp1"))
    j = planned.index(("h800a-su01-n02", "fab0", scope, "swp2"))
    gone = planned.index(("h800a-su01-n03", "fab0", scope, "swp3"))
    floor = [x for k, x in enumerate(_swap_b(planned, i, j)) if k != gone]
    fabric = tmp_path / "fabric.txt"
    fabric.write_text(ibnet_text(floor))
    site = tmp_path / "hkstp"
    shutil.copytree(HKSTP, site)
    res = runner.invoke(
        app,
        [
            "cabling",
            "verify",
            str(site),
            "--phase",
            "1",
            "--ibnetdiscover",
            str(fabric),
            "--devices",
            scope,
        ],
    )
    assert res.exit_code == 1, res.output
    lines = res.stdout.splitlines()
    assert f"{len(mine)} planned links: {len(planned) - 3} ok, 2 in swapped pairs" in lines[0]
    # the leaf's management port is Ethernet: no LLDP given, so it is unverified
    assert "1 missing, 1 unverified" in lines[0] and len(mine) == len(planned) + 1
    assert any(
        ln.startswith("swap ") and "h800a-su01-n01 fab0 - h800a-su01-leaf1 swp1" in ln
        for ln in lines
    )
    assert "swap the two cables in h800a-su01-leaf1 swp1 and swp2" in res.stdout
    assert any(ln.startswith("missing ") and "h800a-su01-n03 fab0" in ln for ln in lines)
    gmap = site / ".asbuilt" / "guids.yaml"
    assert f"to {gmap}" in res.stderr
    doc = yaml.safe_load(gmap.read_text())["guids"]
    assert "h800a-su01-n03" not in doc and doc["h800a-su01-n01"]["fab0"].startswith("0x946d")
    # the site still loads: the map sits where the loader does not look
    assert runner.invoke(app, ["validate", str(site)]).exit_code == 0


@pytest.mark.parametrize("junk", ["Switch 64 nonsense\n", '[1] "S-1"[2]\n'])
def test_malformed_ibnetdiscover_exit_2(tmp_path: Path, junk: str) -> None:
    f = tmp_path / "f.txt"
    f.write_text("# ok\n" + junk)
    res = runner.invoke(
        app,
        [
            "cabling",
            "verify",
            str(LAB),
            "--phase",
            "1",
            "--ibnetdiscover",
            str(f),
            "--guids",
            str(tmp_path / "g.yaml"),
        ],
    )
    assert res.exit_code == 2 and f"{f}:2" in res.stderr


def test_runbook_cabling_stage_verifies_against_discovery() -> None:
    from hkcompute.report.runbook import build_runbook

    for site, ib in ((LAB, False), (HKSTP, True)):
        s, _ = load_valid_site(site, 1)
        stage = next(x for x in build_runbook(s, 1, "SITE").stages if x.key == "cabling")
        cmds = [c.cmd for c in stage.commands]
        assert "hkcompute cabling verify SITE --phase 1 --collect" in cmds
        ibcmd = "hkcompute cabling verify SITE --phase 1 --ibnetdiscover ibnetdiscover.txt"
        assert (ibcmd in cmds) is ib
        assert any("run it again" in c.good for c in stage.commands)
