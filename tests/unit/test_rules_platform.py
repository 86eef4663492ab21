"""Platform fit rules (hkcompute/checks/platform_fit.py): integrated ports against devices
(HK318), a NIC line against its card (HK319, HK326), a leaf's cages against the node NIC speed
(HK420), an IPoIB MTU against its mode (HK327), a platform file's lint checkers (HK328). Each
fires at the YAML line that causes it and stays quiet on the corrected line. Also: duplicate
BMC addresses (HK503) and BMC MACs (HK112), which other modules already report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute.checks import platform_fit
from hkcompute.findings import RULES, Finding, Severity
from hkcompute.inventory.load import load_site
from hkcompute.validate import validate

from .conftest import LAB, MINIMAL_FILES, codes, only

Run = Callable[..., list[Finding]]

# The minimal site's catalogue in block style, so each field tested has a line of its own.
# node-a is the template's server; npu-a is a catalogued server no template uses (catalogue
# rules look at every entry).
CATALOG = """\
catalog:
  servers:
    node-a:
      vendor: nvidia
      accelerator: H100-SXM
      accelerators: 8
      cpu_cores: 64
      memory_gb: 1024
      power_kw: 10
      rack_units: 4
      nics:
        - network: compute
          count: 2
          speed_gbps: 400
    npu-a:
      vendor: huawei
      accelerator: Ascend-910B
      accelerators: 8
      cpu_cores: 64
      memory_gb: 1024
      power_kw: 6
      rack_units: 4
      nics:
        - network: compute
          count: 8
          speed_gbps: 200
  switches:
    sw:
      vendor: test
      kind: ethernet
      os: frr-linux
      ports: 32
      speed_gbps: 400
      power_kw: 0.5
      rack_units: 1
"""

UNITS = str(MINIMAL_FILES["units.yaml"])


@pytest.fixture
def run(tmp_path: Path, write_site: Callable[..., Path]) -> Run:
    """``run(catalog=..., **files)``: the minimal site with the catalogue above (or the one
    given) and ``files`` replaced ("units_yaml" stands for units.yaml), validated."""

    def go(catalog: str = CATALOG, **changes: str | None) -> list[Finding]:
        files = {**MINIMAL_FILES, "catalog.yaml": catalog}
        for key, text in changes.items():
            files[key.replace("_yaml", ".yaml")] = text
        return validate(write_site(tmp_path, files)).findings

    return go


def line_of(text: str, needle: str, after: str = "") -> int:
    """The 1-based line of the first ``needle`` at or below the first line holding ``after``."""
    lines = text.splitlines()
    start = next(i for i, t in enumerate(lines) if after in t)
    return 1 + next(i for i in range(start, len(lines)) if needle in lines[i])


def where(fs: list[Finding], code: str) -> list[tuple[str, int]]:
    """(file name, line) of each finding with ``code``."""
    return [(Path(f.location.path).name, f.location.line) for f in only(fs, code)]


def test_the_base_site_is_clean(run: Run) -> None:
    assert run() == []


def test_rules_have_titles_hints_and_are_errors() -> None:
    for r in (
        platform_fit.INTEGRATED_PORTS,
        platform_fit.NIC_SPEED,
        platform_fit.NIC_PORTS,
        platform_fit.IPOIB_MTU,
        platform_fit.UNKNOWN_CHECKER,
        platform_fit.CAGE_SPEED,
    ):
        assert RULES[r.code] is r
        assert r.severity is Severity.ERROR and r.title and r.hint


def test_a_bundled_entry_is_located_in_the_bundled_file() -> None:
    # The site's locator knows only the site's YAML: asked about a bundled entry it would
    # answer with the site's own ``catalog:`` line, which is not where the entry is.
    site = load_site(LAB).site
    assert site is not None
    bundled = platform_fit._where(site, "servers", "dgx-h100", "nics", 0, "count")
    assert bundled.path.endswith("data/catalog/servers.yaml") and bundled.line > 0
    own = platform_fit._where(site, "servers", "lab-nv", "nics", 0, "count")
    assert own.path.endswith("catalog.yaml") and "data" not in own.path and own.line == 13


# --- HK318: integrated ports against the devices they serve ------------------------------------


def test_integrated_ports_fewer_than_devices(run: Run) -> None:
    # An Ascend 910B node of 8 NPUs, one port each, written with 2 compute ports.
    cat = CATALOG.replace("          count: 8\n", "          count: 2\n")
    fs = run(catalog=cat)
    line = line_of(cat, "count: 2", after="npu-a:")
    assert where(fs, "HK318") == [("catalog.yaml", line)]
    (f,) = only(fs, "HK318")
    assert "'npu-a'" in f.message and "need 8 compute ports" in f.message and "give 2" in f.message


def test_integrated_ports_that_match_are_quiet(run: Run) -> None:
    # Two dies a port (Ascend 910C): 16 devices on 8 ports is the Atlas 800T A3.
    cat = CATALOG.replace(
        "accelerator: Ascend-910B\n      accelerators: 8",
        "accelerator: Ascend-910C\n      accelerators: 16",
    )
    assert "Ascend-910C" in cat
    assert "HK318" not in codes(run(catalog=cat))
    # ... and the 910C counted per die on 16 ports is wrong by the same rule.
    bad = cat.replace("          count: 8\n", "          count: 16\n")
    assert where(run(catalog=bad), "HK318") == [
        ("catalog.yaml", line_of(bad, "count: 16", after="npu-a:"))
    ]


def test_integrated_ports_without_a_compute_line_fall_back_to_the_server(run: Run) -> None:
    cat = CATALOG.replace(
        "        - network: compute\n          count: 8\n          speed_gbps: 200\n",
        "        - {network: oob, count: 1, speed_gbps: 1}\n",
    )
    assert where(run(catalog=cat), "HK318") == [("catalog.yaml", line_of(cat, "npu-a:"))]


# --- HK319, HK326: a NIC line against its card ---------------------------------------------------

CX6 = "          speed_gbps: 400\n    npu-a:"  # the end of node-a's compute line


def _with_card(speed: int, count: int) -> str:
    return CATALOG.replace("          count: 2\n", f"          count: {count}\n").replace(
        CX6, f"          speed_gbps: {speed}\n          model: cx6dx-2x100g\n    npu-a:"
    )


def test_nic_line_faster_than_its_card(run: Run) -> None:
    cat = _with_card(200, 2)
    fs = run(catalog=cat)
    assert where(fs, "HK319") == [("catalog.yaml", line_of(cat, "speed_gbps: 200"))]
    (f,) = only(fs, "HK319")
    assert "200G" in f.message and "cx6dx-2x100g" in f.message and "100G" in f.message
    assert "HK326" not in codes(fs)


def test_nic_line_ports_not_whole_cards(run: Run) -> None:
    cat = _with_card(100, 3)
    fs = run(catalog=cat)
    assert where(fs, "HK326") == [("catalog.yaml", line_of(cat, "count: 3"))]
    assert "HK319" not in codes(fs)


def test_nic_line_that_fits_its_card_is_quiet(run: Run) -> None:
    fs = run(catalog=_with_card(100, 2))
    assert not codes(fs) & {"HK319", "HK326"}
    # a lower rate than the card's is allowed (a 100G card run at 50G)
    assert not codes(run(catalog=_with_card(50, 4))) & {"HK319", "HK326"}


def test_storage_nic_line_is_checked_too(run: Run) -> None:
    storage = (
        "  storage:\n"
        "    st-a:\n"
        "      vendor: test\n"
        "      usable_tb: 100\n"
        "      read_gbytes_s: 10\n"
        "      power_kw: 1\n"
        "      rack_units: 2\n"
        "      nics:\n"
        "        - {network: storage, count: 1, speed_gbps: 100, model: cx6dx-2x100g}\n"
    )
    cat = CATALOG + storage
    assert where(run(catalog=cat), "HK326") == [("catalog.yaml", line_of(cat, "st-a:") + 7)]
    assert "HK326" not in codes(run(catalog=cat.replace("count: 1,", "count: 2,")))


# --- HK420: the leaf's cages against the node NIC speed --------------------------------------

CAGES = (
    "      rack_units: 1\n"
    "      cages:\n"
    "        - {{count: 32, form_factor: osfp, speed_gbps: 400{more}}}\n"
)


def _leaf_cages(more: str = "", node_speed: int = 100) -> str:
    cat = CATALOG.replace("          speed_gbps: 400\n", f"          speed_gbps: {node_speed}\n")
    return cat.replace("      rack_units: 1\n", CAGES.format(more=more))


def test_leaf_cages_cannot_run_the_node_speed(run: Run) -> None:
    # 100G node NICs on a leaf whose cages are all 400G, with no 4x100G breakout.
    fs = run(catalog=_leaf_cages(", breakouts: [4x200G]"))
    leaf_line = line_of(UNITS, "leaf: sw")
    assert where(fs, "HK420") == [("units.yaml", leaf_line)]
    (f,) = only(fs, "HK420")
    assert "100G" in f.message and "200G, 400G" in f.message and "'sw'" in f.message


@pytest.mark.parametrize(
    ("more", "node_speed"),
    [
        (", breakouts: [4x100G]", 100),  # the breakout runs it
        ("", 400),  # the cage as run
    ],
)
def test_leaf_cages_that_run_the_node_speed_are_quiet(run: Run, more: str, node_speed: int) -> None:
    assert "HK420" not in codes(run(catalog=_leaf_cages(more, node_speed)))


def test_leaf_without_cages_is_not_judged(run: Run) -> None:
    cat = CATALOG.replace("          speed_gbps: 400\n", "          speed_gbps: 100\n")
    assert "HK420" not in codes(run(catalog=cat))


# --- HK327: IPoIB MTU against its mode -----------------------------------------------------


def _fabric(mode: str, mtu: int) -> str:
    return CATALOG + (
        "  fabrics:\n"
        "    ib-lab:\n"
        "      protocol: infiniband\n"
        "      control: subnet-manager\n"
        "      ipoib:\n"
        f"        mode: {mode}\n"
        f"        mtu: {mtu}\n"
    )


@pytest.mark.parametrize(
    ("mode", "mtu", "top"),
    [("datagram", 9000, 4092), ("datagram", 4093, 4092), ("connected", 65535, 65520)],
)
def test_ipoib_mtu_above_its_mode(run: Run, mode: str, mtu: int, top: int) -> None:
    cat = _fabric(mode, mtu)
    fs = run(catalog=cat)
    assert where(fs, "HK327") == [("catalog.yaml", line_of(cat, f"mtu: {mtu}"))]
    (f,) = only(fs, "HK327")
    assert f"{mode}-mode maximum of {top}" in f.message
    if mode == "datagram":
        assert "4096 bytes less the 4-byte IPoIB header" in f.message


@pytest.mark.parametrize(("mode", "mtu"), [("datagram", 4092), ("connected", 9000)])
def test_ipoib_mtu_within_its_mode_is_quiet(run: Run, mode: str, mtu: int) -> None:
    assert "HK327" not in codes(run(catalog=_fabric(mode, mtu)))


# --- HK328: platform files name registered lint checkers ---------------------------------------


def _platform_files(acc_checker: str, os_checker: str) -> str:
    return CATALOG + (
        "  accelerators:\n"
        "    Acme-X1:\n"
        "      vendor: acme\n"
        "      bf16_dense_tflops: 500\n"
        "      memory_gb: 96\n"
        "      power_w: 600\n"
        "      gres: xpu\n"
        "      device_prefix: /dev/acme\n"
        "      files:\n"
        "        - path: /etc/acme/gres.conf\n"
        "          template: node/acme/gres.conf.j2\n"
        "          checkers:\n"
        "            - slurm-gres\n"
        f"            - {acc_checker}\n"
        "  switch_os:\n"
        "    acme-os:\n"
        "      vendor: acme\n"
        "      linux: true\n"
        "      files:\n"
        "        routed:\n"
        "          - path: /etc/frr/frr.conf\n"
        "            template: switch/frr/frr.conf.j2\n"
        f"            checkers: [frr, {os_checker}]\n"
    )


def test_platform_file_names_an_unknown_checker(run: Run) -> None:
    cat = _platform_files("slurm-gress", "frr-bgp")
    fs = run(catalog=cat)
    assert sorted(where(fs, "HK328")) == [
        ("catalog.yaml", line_of(cat, "- slurm-gress")),
        ("catalog.yaml", line_of(cat, "frr-bgp]")),
    ]
    by_subject = {f.subject: f for f in only(fs, "HK328")}
    assert by_subject["Acme-X1"].hint == "did you mean 'slurm-gres'?"
    assert "'frr-bgp'" in by_subject["acme-os"].message


def test_platform_files_with_registered_checkers_are_quiet(run: Run) -> None:
    assert "HK328" not in codes(run(catalog=_platform_files("slurm", "frr-bgpd")))


# --- HK503, HK112: one BMC address or MAC given to two devices (other modules' rules) ----------


@pytest.mark.parametrize(("second", "fires"), [("192.168.0.50", True), ("192.168.0.51", False)])
def test_two_devices_with_one_bmc_address(run: Run, second: str, fires: bool) -> None:
    devices = (
        "devices:\n"
        "  - {name: su1-n01, addresses: {oob: 192.168.0.50}}\n"
        f"  - {{name: su1-n02, addresses: {{oob: {second}}}}}\n"
    )
    fs = run(devices_yaml=devices)
    assert where(fs, "HK503") == ([("devices.yaml", 3)] if fires else [])


@pytest.mark.parametrize(
    ("second", "fires"), [("b8:3f:d2:00:0a:01", True), ("b8:3f:d2:00:0a:02", False)]
)
def test_two_devices_with_one_bmc_mac(run: Run, second: str, fires: bool) -> None:
    devices = (
        "devices:\n"
        '  - {name: su1-n01, bmc: {mac: "b8:3f:d2:00:0a:01"}}\n'
        f'  - {{name: su1-n02, bmc: {{mac: "{second}"}}}}\n'
    )
    fs = run(devices_yaml=devices)
    assert where(fs, "HK112") == ([("devices.yaml", 3)] if fires else [])
    if fires:
        assert "su1-n02's BMC" in only(fs, "HK112")[0].message
