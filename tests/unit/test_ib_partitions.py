"""OpenSM tenant partitions by port GUID, from the GUID map discovery records.

The site is plan_sites.py's two units on InfiniBand (the spines run the subnet manager), su1
for tenant t1 and su2 for t2: 4 nodes each, 2 HCA ports (fab0, fab1) a node. The GUID map
is written where ``hkcompute cabling verify --ibnetdiscover`` writes it, in its own format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute.asbuilt import guids as G
from hkcompute.errors import InputError
from hkcompute.findings import Finding
from hkcompute.inventory.load import load_site
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_files, render_site
from hkcompute.validate import validate

from .plan_sites import CATALOG, CLUSTER, TEMPLATE, roce_files

Writer = Callable[[Path, dict[str, str | None]], Path]

IB_CATALOG = (
    CATALOG.replace(
        "      kind: ethernet\n      os: frr-linux\n      ports: 32",
        "      kind: infiniband\n      os: mlnx-os\n      ports: 32",
    )
    + """\
  fabrics:
    ib-sm:
      protocol: infiniband
      control: subnet-manager
      subnet_managers: 2
      ipoib: {mode: datagram, mtu: 4092}
"""
)
IB_UNITS = TEMPLATE.replace("fabric: roce", "fabric: ib-sm") + CLUSTER.replace(
    "    network_racks: r01\n", "    network_racks: r01\n    tenants: [t1, t2]\n"
).replace("nodes: 4}\n      - {name: su2", "nodes: 4, tenant: t1}\n      - {name: su2").replace(
    'racks: "r[04-05]", nodes: 4}', 'racks: "r[04-05]", nodes: 4, tenant: t2}'
)
TENANTS = """\
tenants:
  - {name: t1, kind: local, residency: HK, phases: [1], clusters: [c1]}
  - {name: t2, kind: local, residency: HK, phases: [1], clusters: [c1]}
"""
SM_HOST = "c1-g01-spine01"
NODES = [f"su{u}-n0{n}" for u in (1, 2) for n in range(1, 5)]


@pytest.fixture
def site_dir(tmp_path: Path, write_site: Writer) -> Path:
    files = roce_files(catalog_yaml=IB_CATALOG, units_yaml=IB_UNITS, tenants_yaml=TENANTS)
    return write_site(tmp_path, files)


def guid_of(node: str, port: str) -> str:
    """A made-up port GUID, one per node and port (NVIDIA's OUI, as ibnetdiscover shows)."""
    return f"0x946dae0300{NODES.index(node):04x}{int(port[3:]):02x}"


def full_map() -> dict[str, dict[str, str]]:
    return {n: {p: guid_of(n, p) for p in ("fab0", "fab1")} for n in NODES}


def write_map(site_dir: Path, guids: dict[str, dict[str, str]]) -> Path:
    path = G.default_path(site_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(G.render(guids, "t", "fabric.txt"))
    return path


def load(site_dir: Path) -> tuple[Site, list[Finding]]:
    v = validate(site_dir, 1)
    assert v.site is not None
    # the site's own files are clean (the bundled catalogue is other tests' business)
    errors = [f for f in v.findings if f.severity == "error" and str(site_dir) in f.location.path]
    assert errors == [], errors
    return v.site, v.findings


def partitions_conf(site: Site) -> str:
    (f,) = [f for f in render_files(site, 1, SM_HOST) if f.path.endswith("/opensm/partitions.conf")]
    return f.content.decode()


def partitions(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (pkey, members) of every partition the file defines, as OpenSM reads it:
    comments dropped, a definition running to its ';' over as many lines as it takes."""
    body = " ".join(line.split("#", 1)[0] for line in text.splitlines())
    out = {}
    for stmt in filter(None, (s.strip() for s in body.split(";"))):
        head, _, members = stmt.partition(":")
        name, _, rest = head.partition("=")
        out[name.strip()] = (
            rest.split(",")[0].strip(),
            [m.strip() for m in members.split(",") if m.strip()],
        )
    return out


def hk421(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.code == "HK421"]


def test_before_discovery_only_the_default_partition_and_a_warning_per_tenant(
    site_dir: Path,
) -> None:
    site, findings = load(site_dir)
    assert site.guids is None
    text = partitions_conf(site)
    got = partitions(text)
    assert list(got) == ["Default"]
    assert got["Default"] == ("0x7fff", ["ALL_CAS=full", "ALL_SWITCHES=full", "SELF=full"])
    # IPoIB datagram at 4092 needs a 4096-byte broadcast group (IBTA MTU code 5).
    assert "Default=0x7fff, ipoib, mtu=5, defmember=full :" in text
    # No node named as a member in a comment either: the left-out tenants are said by name.
    assert "su1-n01" not in text
    assert "# t1 (0x0100): left out, 8 of 8 port GUIDs not recorded" in text
    warns = hk421(findings)
    assert [(f.severity, f.subject, f.location.path.endswith("tenants.yaml")) for f in warns] == [
        ("warning", "t1", True),
        ("warning", "t2", True),
    ]
    assert [f.location.line for f in warns] == [2, 3]
    assert "no GUID map yet for its 8 HCA ports on 4 nodes" in warns[0].message
    assert "hkcompute cabling verify SITE --phase 1 --ibnetdiscover FILE" in warns[0].hint


def test_with_a_full_map_each_tenant_lists_exactly_its_port_guids(site_dir: Path) -> None:
    write_map(site_dir, full_map())
    site, findings = load(site_dir)
    assert site.guids is not None and site.guids.get("su1-n01", "fab1") == guid_of(
        "su1-n01", "fab1"
    )
    assert hk421(findings) == []
    text = partitions_conf(site)
    got = partitions(text)
    assert got["Default"][1][0] == "ALL_CAS=full"
    for tenant, unit, pkey in (("t1", "su1", "0x0100"), ("t2", "su2", "0x0101")):
        want = [
            f"{guid_of(n, p)}=full" for n in NODES if n.startswith(unit) for p in ("fab0", "fab1")
        ]
        assert got[tenant] == (pkey, want)
    assert f"t1=0x0100, ipoib, mtu=5, defmember=full :\n  {guid_of('su1-n01', 'fab0')}=full,\n" in (
        text
    )
    # OpenSM reads a line into 4096 bytes: one member a line keeps any tenant under it.
    assert max(map(len, text.splitlines())) < 200
    assert "): left out" not in text


def test_one_missing_guid_leaves_its_tenant_out_and_names_the_node_and_port(
    site_dir: Path,
) -> None:
    guids = full_map()
    del guids["su1-n02"]["fab1"]
    write_map(site_dir, guids)
    site, findings = load(site_dir)
    got = partitions(partitions_conf(site))
    # t1 is left out whole; t2 keeps its key (keys do not move when a partition is left out).
    assert sorted(got) == ["Default", "t2"]
    assert got["t2"][0] == "0x0101"
    assert got["Default"][1][0] == "ALL_CAS=full"
    assert all(guid_of("su1-n01", "fab0") not in m for _k, ms in got.values() for m in ms)
    (f,) = hk421(findings)
    assert f.severity == "warning" and f.subject == "su1-n02"
    assert f.message.startswith("su1-n02 fab1: no port GUID in ")
    assert "partition t1 (0x0100) of cluster c1 is left out" in f.message
    # at the node's unit line
    assert f.location.path.endswith("units.yaml")
    units = (site_dir / "units.yaml").read_text().splitlines()
    assert "name: su1" in units[f.location.line - 1]


def test_a_node_missing_from_the_map_is_one_finding_with_its_ports(site_dir: Path) -> None:
    guids = full_map()
    del guids["su2-n04"]
    write_map(site_dir, guids)
    _site, findings = load(site_dir)
    assert [f.message.split(":")[0] for f in hk421(findings)] == ["su2-n04 fab0, fab1"]


def test_guid_map_is_read_as_written() -> None:
    guids = full_map()
    text = G.render(guids, "t", "fabric.txt")
    m = G.parse(text, "g.yaml")
    assert m.guids == guids and m.path == "g.yaml"
    assert m.lines[("su1-n01", "fab0")] == 5
    # a hand-written GUID without quotes (YAML's int) and in capitals is the same GUID
    assert G.parse("guids:\n  n1: {fab0: 0x946DAE0300000001}\n").get("n1", "fab0") == (
        "0x946dae0300000001"
    )
    assert G.parse("guids: {}\n").guids == {}


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("guids:\n  n1: {fab0: nope}\n", "g.yaml:2", "is not a port GUID"),
        ("guids:\n  n1: {fab0: '0x1', fab1: '0x1'}\n", "g.yaml:2", "is also n1 fab0's"),
        ("guids:\n  n1: [fab0]\n", "g.yaml:2", "map each port"),
        ("other: 1\n", "g.yaml:1", "unknown key"),
        ("guids: {\n", "g.yaml:", "not valid YAML"),
    ],
)
def test_a_malformed_map_is_file_and_line(text: str, where: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        G.parse(text, "g.yaml")
    assert str(exc.value.location).startswith(where) and says in exc.value.message


def test_the_loader_carries_the_map_and_refuses_a_broken_one(site_dir: Path) -> None:
    path = write_map(site_dir, full_map())
    loaded = load_site(site_dir)
    assert loaded.site is not None and loaded.site.guids is not None
    assert loaded.site.guids.path.endswith(".asbuilt/guids.yaml")
    path.write_text("guids:\n  su1-n01: {fab0: zz}\n")
    with pytest.raises(InputError, match=re.escape("guids.yaml:2")):
        load_site(site_dir)


def test_the_partition_members_are_the_nodes_fabric_ports(site_dir: Path) -> None:
    """Every compute cable end of a node is an HCA port the partition needs."""
    from hkcompute.checks.guids import tenant_partitions

    site, _ = load(site_dir)
    parts = tenant_partitions(site, plan_for(site, 1), 1, "c1")
    assert [(p.tenant, p.pkey, len(p.nodes), len(p.ports)) for p in parts] == [
        ("t1", "0x0100", 4, 8),
        ("t2", "0x0101", 4, 8),
    ]
    assert parts[0].ports[:3] == (("su1-n01", "fab0"), ("su1-n01", "fab1"), ("su1-n02", "fab0"))


def test_a_tree_rendered_before_discovery_is_rendered_again_after_it(
    site_dir: Path, tmp_path: Path
) -> None:
    """The map is an input of the render: its key and the subnet managers' fingerprints."""
    out = tmp_path / "out"
    site, _ = load(site_dir)
    render_site(site, 1, out)
    conf = next(out.glob(f"hosts/{SM_HOST}/**/partitions.conf"))
    assert "t1=" not in conf.read_text()
    again = render_site(load(site_dir)[0], 1, out)  # nothing changed: nothing rendered
    assert again.write is not None and not again.write.changed
    write_map(site_dir, full_map())
    site, _ = load(site_dir)
    render_site(site, 1, out)
    assert partitions(conf.read_text())["t1"][1][0] == f"{guid_of('su1-n01', 'fab0')}=full"
