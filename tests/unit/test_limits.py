"""Resource limits: input past a documented limit is a clear error, never an out-of-memory,
a hang or a crashed interpreter.

Each hostile input runs through the fuzz harness's forked child (time limit, 1.5 GiB
address-space limit), so a regression fails the test instead of taking the machine down.
The limits are documented in docs/inventory.md (section Limits); the last test keeps the two
in step.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.errors import InputError
from hkcompute.inventory import expand as expand_mod
from hkcompute.inventory import ranges, yamlsrc
from hkcompute.inventory.yamlsrc import load_source
from hkcompute.validate import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fuzz import harness

REPO = Path(__file__).resolve().parents[2]
LAB = harness.seed(harness.LAB)
WriteSite = Callable[[Path, dict[str, str | None]], Path]

# A refused input must be refused quickly: these bound the time of the whole check.
FAST_S = 8.0


def _lab_with(name: str, extra: bytes, *, before: bytes | None = None) -> harness.Files:
    files = dict(LAB)
    if before is None:
        files[name] = files[name] + b"\n" + extra
    else:
        assert before in files[name]
        files[name] = files[name].replace(before, before + extra, 1)
    return files


def _expected(files: harness.Files, *needles: str) -> harness.Outcome:
    """Run in a child; the input must end in an expected error or findings, fast."""
    out = harness.run_one(files, render=False, timeout=FAST_S * 2)
    assert not out.bug, (out.kind, out.detail[-2000:])
    assert out.seconds < FAST_S, out.seconds
    return out


def _findings(tmp_path: Path, files: harness.Files) -> list[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    for n, b in files.items():
        (site / n).write_bytes(b)
    return [f"{f.code} {f.message}" for f in validate(site).findings]


def _child_findings(files: harness.Files) -> list[str]:
    """Validate in the limited child; the error findings it reported."""
    out = _expected(files)
    assert out.kind == "ok", (out.kind, out.detail[-2000:])
    return out.detail.split(" ", 1)[1].split("; ")


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "gpu[1-99999999]",
        "n[1-100001]",
        "n[1-400][1-400]",
        "n[1-99999999999999999999999999]",
        "n[1-60000,1-60000]",
    ],
)
def test_a_range_past_the_limit_is_refused_before_it_is_built(expr: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ranges.RangeError) as info:
        ranges.expand(expr)
    assert info.value.limit
    assert "100,000" in str(info.value)
    assert time.perf_counter() - t0 < 0.5  # counted, not built


def test_a_range_at_the_limit_is_allowed() -> None:
    assert len(ranges.expand(f"n[1-{ranges.MAX_RANGE}]")) == ranges.MAX_RANGE


def test_an_oversized_device_range_is_finding_hk005(tmp_path: Path) -> None:
    files = dict(LAB)
    files["fabric.yaml"] = files["fabric.yaml"].replace(b"lab-su1-n[03-04]", b"gpu[1-99999999]")
    msgs = _findings(tmp_path, files)
    assert any(m.startswith("HK005") and "gpu[1-99999999]" in m for m in msgs), msgs


def _many_device_ranges(lines: int, size: int) -> bytes:
    return b"".join(
        f'  - {{name: "x{i}-n[1-{size}]", role: storage, model: ddn-ai400x2, rack: lab-r01, '
        f"u: 30, phase: 1}}\n".encode()
        for i in range(lines)
    )


def test_many_ranges_cannot_add_up_to_an_out_of_memory(tmp_path: Path) -> None:
    """1,000 ranges of 100,000 names each (100 million devices) used to run for minutes and
    grow without bound; the site-wide device limit stops expansion with one HK005."""
    files = dict(LAB)
    files["fabric.yaml"] = files["fabric.yaml"].replace(
        b"devices:\n", b"devices:\n" + _many_device_ranges(1000, 100_000)
    )
    msgs = _child_findings(files)
    assert any(
        m.startswith("HK005") and f"{expand_mod.MAX_DEVICES:,} devices" in m for m in msgs
    ), msgs


def test_total_names_of_all_ranges_are_bounded(tmp_path: Path) -> None:
    racks = b"".join(
        f'  - {{name: "z{i}-r[1-90000]", hall: lab-hall, phase: 1, row: B, x_m: 0, '
        f"y_m: 0, power_kw: 45}}\n".encode()
        for i in range(3)
    )
    files = _lab_with("facility.yaml", racks, before=b"racks:\n")
    msgs = _child_findings(files)
    assert any(
        m.startswith("HK005") and f"{expand_mod.MAX_SITE_NAMES:,} names" in m for m in msgs
    ), msgs


def test_unit_expansion_is_bounded(tmp_path: Path) -> None:
    """Scalable units multiply nodes: 200 units of 512 nodes (102,400 nodes) is refused by
    the device limit before the plan ever sees it."""
    tpl = (
        b"  big-pod:\n    server: lab-nv\n    fabric: roce\n    node_slots: 512\n"
        b"    rails: 2\n    node_racks: 8\n    nodes_per_rack: 64\n    network_racks: 1\n"
        b"    leaf: lab-switch\n    spine: lab-switch\n    units_per_group: 1\n"
        b"    spines_per_group: 2\n"
    )
    cluster = (
        b"  - name: big\n    template: big-pod\n    hall: lab-hall\n"
        b"    network_racks: lab-r01\n    tenants: [hku-lab]\n    units:\n"
        b'      - {name: "bsu[1-200]", phase: 1, racks: "b-r[1-1800]", nodes: 512, '
        b"tenant: hku-lab}\n"
    )
    files = dict(LAB)
    fab = files["fabric.yaml"].replace(b"unit_templates:\n", b"unit_templates:\n" + tpl)
    files["fabric.yaml"] = fab.replace(b"clusters:\n", b"clusters:\n" + cluster)
    files["facility.yaml"] = files["facility.yaml"].replace(
        b"racks:\n",
        b'racks:\n  - {name: "b-r[1-1800]", hall: lab-hall, phase: 1, row: B, '
        b"x_m: 0, y_m: 0, power_kw: 45}\n",
    )
    msgs = _child_findings(files)
    assert any(
        m.startswith("HK005") and f"{expand_mod.MAX_DEVICES:,} devices" in m for m in msgs
    ), msgs[:5]


# --- files -----------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    big = site / "big.yaml"
    with open(big, "wb") as fh:  # sparse: the test costs no disk and no memory
        fh.truncate(yamlsrc.MAX_FILE_BYTES + 1)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="8 MiB"):
        load_source(site)
    assert time.perf_counter() - t0 < 1.0


def test_too_many_files_are_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for i in range(yamlsrc.MAX_FILES + 1):
        (site / f"f{i:04d}.yaml").write_text(f"k{i}: 1\n")
    with pytest.raises(InputError, match=f"limit is {yamlsrc.MAX_FILES}"):
        load_source(site)


def test_a_flat_file_of_too_many_values_is_refused_before_composing(tmp_path: Path) -> None:
    """Under the size limit, `[1,1,1,...]` once took 30 s and 1.5 GB to compose and convert."""
    files = {"x.yaml": b"zz: [" + b",".join([b"1"] * (yamlsrc.MAX_NODES + 10)) + b"]\n"}
    out = _expected(files)
    assert out.kind == "expected" and "values in one file" in out.detail, out.detail


@pytest.mark.parametrize("levels,width", [(7, 9), (10, 10), (30, 2)])
def test_alias_bombs_are_refused(levels: int, width: int) -> None:
    out = _expected(_lab_with("site.yaml", harness._billion_laughs(levels, width)))
    assert out.kind == "expected" and "alias" in out.detail, out.detail


@pytest.mark.parametrize("depth", [yamlsrc.MAX_DEPTH + 1, 10_000, 200_000])
def test_deep_nesting_is_refused_without_crashing_the_interpreter(depth: int) -> None:
    """libyaml's composer recurses in C: past ~100,000 levels it would segfault, which the
    child would report as a signal rather than an expected error."""
    files = _lab_with("site.yaml", b"zz: " + b"[" * depth + b"1" + b"]" * depth + b"\n")
    out = _expected(files)
    assert out.kind == "expected" and "nesting deeper" in out.detail, out.detail


def test_nesting_through_aliases_is_refused() -> None:
    chain = [b"a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]".encode() for i in range(1, 80)]
    out = _expected(_lab_with("site.yaml", b"\n".join(chain) + b"\n"))
    assert out.kind == "expected" and "nesting deeper" in out.detail, out.detail


def test_nesting_at_the_limit_is_allowed(tmp_path: Path) -> None:
    depth = yamlsrc.MAX_DEPTH - 1  # the top-level mapping is one level
    files = _lab_with("site.yaml", b"zz: " + b"[" * depth + b"1" + b"]" * depth + b"\n")
    msgs = _findings(tmp_path, files)
    assert any("unknown top-level key 'zz'" in m for m in msgs), msgs


# --- exit codes and documentation ------------------------------------------------------------


def test_cli_exit_codes_for_limits(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HKCOMPUTE_LOG_DIR": str(tmp_path / "logs")}
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    (bomb / "site.yaml").write_bytes(harness._billion_laughs(10, 10))
    r = runner.invoke(app, ["validate", str(bomb)], env=env)
    assert r.exit_code == 2, r.output
    assert "alias" in r.stderr
    big = tmp_path / "range"
    big.mkdir()
    files = dict(LAB)
    files["fabric.yaml"] = files["fabric.yaml"].replace(b"lab-su1-n[03-04]", b"gpu[1-99999999]")
    for n, b in files.items():
        (big / n).write_bytes(b)
    r = runner.invoke(app, ["validate", str(big)], env=env)
    assert r.exit_code == 1, r.output
    assert "HK005" in r.stdout
    assert not (tmp_path / "logs").exists()  # no crash log: these are expected errors


def test_limits_are_documented_with_their_values() -> None:
    doc = (REPO / "docs" / "inventory.md").read_text(encoding="utf-8")
    table = doc.split("## Limits", 1)[1].split("\n## ", 1)[0]
    numbers = {int(n.replace(",", "")) for n in re.findall(r"\|\s*([\d,]+)\s", table)}
    for value in (
        yamlsrc.MAX_FILES,
        yamlsrc.MAX_DEPTH,
        yamlsrc.MAX_NODES,
        ranges.MAX_RANGE,
        expand_mod.MAX_SITE_NAMES,
        expand_mod.MAX_DEVICES,
    ):
        assert value in numbers, (value, table)
    assert f"{yamlsrc.MAX_FILE_BYTES // 1048576} MiB" in table
