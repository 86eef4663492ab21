"""The Ascend NPU bring-up unit (hkcompute-npu-policy.service) applies /etc/hccn.conf.

One hccn_tool call per device and documented setting, with hccn.conf's own values: the
address and netmask (``-ip -s address A netmask M``) and the network-detect address
(``-netdetect -s address D``). Settings whose hccn_tool syntax no Huawei document found
states (gateway_N; the site's DSCP-to-TC/PFC/TC policy) are not rendered: the template says
so, and these tests keep it that way until a document is cited. The unit is guarded so that
a host without NPUs (the lab twin's containers) skips it instead of failing the boot."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from hkcompute.inventory.load import load_site
from hkcompute.model import Site
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"
LAB = ROOT / "inventories" / "lab"
UNIT = "/etc/systemd/system/hkcompute-npu-policy.service"
HCCN_TOOL = "/usr/local/Ascend/driver/tools/hccn_tool"
# The options whose syntax the template cites from Huawei's documents, and nothing else.
DOCUMENTED = {"-ip", "-netdetect"}


def _site(path: Path) -> Site:
    loaded = load_site(path)
    assert loaded.site is not None
    return loaded.site


def _files(site: Site, phase: int, host: str) -> dict[str, str]:
    return {f.path: f.content.decode() for f in render_files(site, phase, host)}


def _hccn(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _calls(unit: str) -> list[list[str]]:
    """Each ExecStart of the unit, as hccn_tool's argument list (after the program)."""
    calls = []
    for line in unit.splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.removeprefix("ExecStart="))
            assert argv[0] == HCCN_TOOL, line
            calls.append(argv[1:])
    return calls


def _by_setting(calls: list[list[str]]) -> dict[str, dict[int, list[str]]]:
    """{option: {device: rest of its arguments}}, checking each (option, device) is once."""
    out: dict[str, dict[int, list[str]]] = {}
    for argv in calls:
        assert argv[0] == "-i", argv
        dev, option, rest = int(argv[1]), argv[2], argv[3:]
        assert dev not in out.setdefault(option, {}), f"{option} twice for device {dev}"
        out[option][dev] = rest
    return out


def _expected(conf: dict[str, str], devices: list[int]) -> dict[str, dict[int, list[str]]]:
    return {
        "-ip": {
            n: ["-s", "address", conf[f"address_{n}"], "netmask", conf[f"netmask_{n}"]]
            for n in devices
        },
        "-netdetect": {n: ["-s", "address", conf[f"netdetect_{n}"]] for n in devices},
    }


@pytest.fixture(scope="module")
def a3() -> tuple[dict[str, str], str]:
    site = _site(HKSTP)
    node = next(d for d in site.devices_upto(3) if d.model == "atlas-800t-a3")
    files = _files(site, 3, node.name)
    return _hccn(files["/etc/hccn.conf"]), files[UNIT]


@pytest.fixture(scope="module")
def lab() -> tuple[dict[str, str], str]:
    files = _files(_site(LAB), 1, "lab-su1-n03")
    return _hccn(files["/etc/hccn.conf"]), files[UNIT]


def test_a3_node_sets_every_die_address_and_netdetect_from_hccn_conf(a3) -> None:  # type: ignore[no-untyped-def]
    conf, unit = a3
    got = _by_setting(_calls(unit))
    assert set(got) == DOCUMENTED
    for option in DOCUMENTED:
        assert sorted(got[option]) == list(range(16)), option
    assert got == _expected(conf, list(range(16)))


def test_lab_ascend_node_sets_its_two_devices_from_hccn_conf(lab) -> None:  # type: ignore[no-untyped-def]
    conf, unit = lab
    got = _by_setting(_calls(unit))
    assert sorted(got["-ip"]) == [0, 1]
    assert got == _expected(conf, [0, 1])
    # The values are hccn.conf's own: the leaf gateway is what the link check pings.
    assert got["-netdetect"][0] == ["-s", "address", conf["gateway_0"]]


@pytest.mark.parametrize("which", ["a3", "lab"])
def test_no_undocumented_hccn_tool_option_is_rendered(which: str, request) -> None:  # type: ignore[no-untyped-def]
    """gateway_N and the qos policy have no hccn_tool syntax confirmed from a Huawei
    document yet: the unit must not carry a guessed option (-gateway, -dscp_to_tc, -pfc, -tc,
    ...). Adding one means citing its document in the template and widening DOCUMENTED."""
    conf, unit = request.getfixturevalue(which)
    assert {argv[2] for argv in _calls(unit)} <= DOCUMENTED
    for word in ("-gateway", "-dscp_to_tc", "-pfc", "-tc"):
        assert f" {word} " not in unit
    # hccn.conf keeps the gateway all the same (the driver's own configuration file).
    assert any(k.startswith("gateway_") for k in conf)


@pytest.mark.parametrize("which", ["a3", "lab"])
def test_unit_is_skipped_not_failed_without_npus(which: str, request) -> None:  # type: ignore[no-untyped-def]
    _conf, unit = request.getfixturevalue(which)
    lines = unit.splitlines()
    unit_section = lines[lines.index("[Unit]") : lines.index("[Service]")]
    # Both conditions (ANDed by systemd): the tool is installed and the NPU driver is up.
    assert f"ConditionPathExists={HCCN_TOOL}" in unit_section
    assert "ConditionPathExists=/dev/davinci_manager" in unit_section
    assert "Type=oneshot" in lines and "RemainAfterExit=yes" in lines
