"""The site's lossless-RoCE policy (``qos:``, hkcompute/checks/qos.py): the schema's bounds,
the rules HK430-HK433 (each fires at the line that causes it, and is quiet on the corrected
policy), and the ``qos`` render context every host of a lossless fabric gets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute import schema as S
from hkcompute.checks import qos as Q
from hkcompute.findings import RULES, Finding, Severity
from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for
from hkcompute.render.context import ContextBuilder
from hkcompute.validate import validate

from .conftest import LAB, MINIMAL_FILES, only

Run = Callable[[str | None], list[Finding]]

# The vendors' defaults, written in block style so each figure has a line of its own.
POLICY = """\
qos:
  roce:
    priority: 3
    dscp: 26
  cnp:
    priority: 6
    dscp: 48
  pfc:
    priorities: [3]
  ecn:
    min_kb: 150
    max_kb: 1500
    probability: 100
"""


@pytest.fixture
def run(tmp_path: Path, write_site: Callable[..., Path]) -> Run:
    """``run(qos_text)``: the minimal site (a RoCE unit) with ``qos.yaml``, validated."""

    def go(text: str | None) -> list[Finding]:
        return validate(write_site(tmp_path, {**MINIMAL_FILES, "qos.yaml": text})).findings

    return go


def line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, t in enumerate(lines) if after in t)
    return 1 + next(i for i in range(start, len(lines)) if needle in lines[i])


def where(fs: list[Finding], code: str) -> list[tuple[str, int]]:
    return [(Path(f.location.path).name, f.location.line) for f in only(fs, code)]


def test_defaults_are_the_vendors() -> None:
    q = S.Qos()
    assert (q.roce.priority, q.roce.dscp, q.roce.tos) == (3, 26, 104)
    assert (q.cnp.priority, q.cnp.dscp) == (6, 48)
    assert q.pfc.priorities == [3] and q.pfc.headroom_kb is None
    assert (q.ecn.min_kb, q.ecn.max_kb, q.ecn.probability) == (150, 1500, 100)


def test_rules_are_registered_with_titles_and_hints() -> None:
    for r in (Q.PFC_OFF, Q.CNP_SHARES_ROCE, Q.ECN_BAND):
        assert RULES[r.code] is r and r.severity is Severity.ERROR and r.title and r.hint
    assert RULES[Q.PFC_NOT_LOSSLESS.code].severity is Severity.WARNING


def test_the_written_defaults_and_no_policy_are_quiet(run: Run) -> None:
    assert run(POLICY) == []
    assert run(None) == []


@pytest.mark.parametrize(
    ("old", "new", "after"),
    [("dscp: 26", "dscp: 64", "roce:"), ("dscp: 48", "dscp: -1", "cnp:")],
)
def test_a_dscp_outside_0_63_is_a_bad_value(run: Run, old: str, new: str, after: str) -> None:
    text = POLICY.replace(old, new)
    fs = run(text)
    assert where(fs, "HK102") == [("qos.yaml", line_of(text, "dscp:", after))]


def test_a_priority_outside_0_7_is_a_bad_value(run: Run) -> None:
    text = POLICY.replace("priority: 6", "priority: 8")
    assert where(run(text), "HK102") == [("qos.yaml", line_of(text, "priority: 8"))]
    text = POLICY.replace("priorities: [3]", "priorities: [3, 9]")
    assert where(run(text), "HK102") == [("qos.yaml", line_of(text, "priorities:"))]


def test_pfc_off_on_the_roce_priority(run: Run) -> None:
    text = POLICY.replace("priorities: [3]", "priorities: [4]")
    fs = run(text)
    assert where(fs, "HK430") == [("qos.yaml", line_of(text, "priorities:"))]
    assert "priority 3" in only(fs, "HK430")[0].message
    assert only(fs, "HK430")[0].hint
    text = POLICY.replace("priorities: [3]", "priorities: []")
    assert where(run(text), "HK430") == [("qos.yaml", line_of(text, "priorities:"))]


def test_cnp_on_the_roce_priority(run: Run) -> None:
    text = POLICY.replace("priority: 6", "priority: 3")
    fs = run(text)
    assert where(fs, "HK431") == [("qos.yaml", line_of(text, "priority: 3", after="cnp:"))]
    assert "priority 3" in only(fs, "HK431")[0].message


def test_cnp_on_the_roce_dscp(run: Run) -> None:
    text = POLICY.replace("dscp: 48", "dscp: 26")
    fs = run(text)
    assert where(fs, "HK431") == [("qos.yaml", line_of(text, "dscp:", after="cnp:"))]
    assert "DSCP 26" in only(fs, "HK431")[0].message


def test_ecn_min_above_max(run: Run) -> None:
    text = POLICY.replace("min_kb: 150", "min_kb: 2000")
    fs = run(text)
    assert where(fs, "HK432") == [("qos.yaml", line_of(text, "min_kb:"))]
    assert run(POLICY.replace("min_kb: 150", "min_kb: 1500")) == []  # equal: a step


def test_pfc_on_a_priority_without_a_lossless_class(run: Run) -> None:
    text = POLICY.replace("    priorities: [3]", "    priorities:\n      - 3\n      - 6")
    fs = run(text)
    assert where(fs, "HK433") == [("qos.yaml", line_of(text, "- 6"))]
    (f,) = only(fs, "HK433")
    assert f.severity is Severity.WARNING and "CNP" in f.message
    assert not [x for x in fs if x.code != "HK433"]


# --- the render context ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> ContextBuilder:
    site = load_site(LAB).site
    assert site is not None
    return ContextBuilder(site, plan_for(site, None), None)


def test_the_lab_writes_its_policy() -> None:
    site = load_site(LAB).site
    assert site is not None and site.qos == S.Qos()
    assert site.qos_of("lab") is site.qos


def test_every_host_of_the_lossless_fabric_carries_the_policy(lab: ContextBuilder) -> None:
    site = lab.site
    leaf = site.devices["lab-su1-leaf1"]
    node = site.devices["lab-su1-n03"]
    for ctx in (lab.switch(leaf), lab.node(node)):
        q = ctx["qos"]
        assert q["roce"] == {"priority": 3, "dscp": 26, "tos": 104}
        assert q["cnp"] == {"priority": 6, "dscp": 48, "tos": 192}
        assert q["pfc"] == {
            "priorities": [3],
            "vector": [0, 0, 0, 1, 0, 0, 0, 0],
            "headroom_kb": None,
        }
        assert q["ecn"] == {"min_kb": 150, "max_kb": 1500, "probability": 100}
    # shared by reference, and in the parts every host's fingerprint is built from
    assert lab.switch(leaf)["qos"] is lab.shared_parts["qos"]


def test_hosts_outside_a_lossless_fabric_carry_none(lab: ContextBuilder) -> None:
    site = lab.site
    svc = site.devices["lab-svc1"]
    assert svc.cluster is None and lab.base(svc)["qos"] is None


# --- hosts: the ConnectX QoS unit --------------------------------------------------------------


def _render(site_dir: Path, host: str) -> dict[str, str]:
    from hkcompute.render.renderer import Renderer

    site = load_site(site_dir).site
    assert site is not None
    r = Renderer(site, plan_for(site, None), None)
    d = site.devices[host]
    specs, ctx = r.plan_host(d)
    assert ctx is not None
    return {f.path: f.content.decode() for f in r.render_host(d, specs, ctx)}


UNIT = "/etc/systemd/system/hkcompute-roce-qos.service"


def test_a_connectx_roce_node_applies_the_policy(
    tmp_path: Path, write_site: Callable[..., Path]
) -> None:
    # The minimal site's RoCE unit, its nodes' compute ports on ConnectX-7 cards.
    units = str(MINIMAL_FILES["units.yaml"])
    cat = str(MINIMAL_FILES["catalog.yaml"]).replace(
        "      rack_units: 4\n",
        "      rack_units: 4\n      nics:\n"
        "        - {network: compute, count: 8, speed_gbps: 400, model: cx7-400g-osfp}\n",
        1,
    )
    assert "cx7-400g-osfp" in cat
    text = POLICY.replace("dscp: 26", "dscp: 24")
    files = {**MINIMAL_FILES, "catalog.yaml": cat, "units.yaml": units, "qos.yaml": text}
    site_dir = write_site(tmp_path, files)
    assert validate(site_dir).findings == []
    site = load_site(site_dir).site
    assert site is not None
    node = next(d.name for d in site.devices.values() if d.role == "gpu_node")
    unit = _render(site_dir, node)[UNIT]
    assert "ExecStart=/usr/bin/mlnx_qos -i fab0 --trust dscp --pfc 0,0,0,1,0,0,0,0" in unit
    assert "ExecStart=/usr/bin/mlnx_qos -i fab1 --trust dscp --pfc 0,0,0,1,0,0,0,0" in unit
    assert "echo 96 > /sys/kernel/config/rdma_cm/$$hca/ports/1/default_roce_tos" in unit
    assert "/sys/class/net/fab0/device/infiniband" in unit
    # Deploy places it and enables it: the card's group in the inventory says so.
    from hkcompute.deploy.ansible_inventory import build_inventory

    inv = build_inventory(site, plan_for(site, None), None, tmp_path / "tree")
    card = inv["nic_cx7_400g_osfp"]
    assert node in card["hosts"]
    assert card["vars"]["hk_nic"]["files"][0]["path"] == UNIT
    assert card["vars"]["hk_nic"]["services"][0]["unit"] == "hkcompute-roce-qos.service"
    assert card["vars"]["hk_nic"]["services"][0]["enable"] is True


def test_no_unit_without_a_card_or_off_a_lossless_fabric() -> None:
    # The lab's nodes name no compute card: nothing to run mlnx_qos on.
    assert UNIT not in _render(LAB, "lab-su1-n01")


def test_the_unit_is_a_platform_file() -> None:
    from hkcompute.inventory.load import bundled_catalog
    from hkcompute.render.renderer import platform_specs

    assert UNIT in {s.path for s in platform_specs(bundled_catalog())}


def test_an_ascend_node_carries_the_policy(lab: ContextBuilder) -> None:
    ctx = lab.node(lab.site.devices["lab-su1-n03"])
    assert ctx["accel"]["vendor"] == "huawei"
    assert ctx["qos"]["roce"]["dscp"] == 26 and ctx["qos"]["pfc"]["priorities"] == [3]
