"""Preflight counts accelerators with the platform's own probe (catalogue data)."""

from __future__ import annotations

import subprocess

from hkcompute.deploy.preflight import PROBE, Expect, compare, expectation, probe_script
from hkcompute.inventory.load import load_site

from .conftest import LAB


def _facts(accelerators: str | None) -> dict[str, str]:
    facts = {"os": "debian-12", "free_kb": str(50 * 1048576)}
    if accelerators is not None:
        facts["accelerators"] = accelerators
    return facts


def test_each_node_is_probed_with_its_platforms_command() -> None:
    site = load_site(LAB).site
    assert site is not None
    nv = expectation(site, "lab-su1-n03")
    npu = expectation(site, "lab-su1-n01")
    assert {nv.accel_kind, npu.accel_kind} == {"gpu", "npu"}
    assert nv.probe and npu.probe and nv.probe != npu.probe
    for want in (nv, npu):
        assert probe_script(want).startswith(PROBE) and want.probe in probe_script(want)
    svc = expectation(site, "lab-svc1")
    assert svc.probe is None and probe_script(svc) == PROBE


def test_the_probe_script_reports_the_count_or_nothing() -> None:
    # The script runs under sh on the host: the count as the command prints it; a missing
    # tool gives what its pipeline then prints (grep -c: 0), a wrong count to report.
    counted = Expect("debian-12", 1, 2, "xpu", "printf '%s\\n' 2")
    missing = Expect("debian-12", 1, 2, "xpu", "no-such-smi -L | grep -c GPU")
    for want, line in ((counted, "accelerators=2"), (missing, "accelerators=0")):
        out = subprocess.run(["sh", "-c", probe_script(want)], capture_output=True, text=True)
        assert line in out.stdout.splitlines()


def test_a_wrong_or_missing_count_is_a_mismatch_named_by_the_gres() -> None:
    want = Expect("debian-12", 0, 16, "npu", "ls -d /dev/davinci[0-9]* | wc -l")
    assert compare("n1", want, _facts("16"), []).ok
    wrong = compare("n1", want, _facts("8"), []).mismatches
    assert wrong == [("npu count", "16", "8")]
    silent = compare("n1", want, _facts(""), []).mismatches
    assert silent == [("npu count", "16", "no answer from `ls -d /dev/davinci[0-9]* | wc -l`")]
