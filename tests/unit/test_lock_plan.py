"""``hkcompute.lock``: what is built never moves (issue "As built: what is in service never
moves"). Each test copies inventories/lab into tmp_path, adds a phase 2, locks phase 1, then
changes the inventory the way a second phase does and checks what validate, plan and diff say.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.asbuilt.lock import LOCK_NAME, Lock, parse
from hkcompute.cli.main import app
from hkcompute.inventory.load import load_site, lock_path
from hkcompute.plan import plan_for
from hkcompute.validate import validate

from .conftest import LAB

runner = CliRunner()

PHASE_1 = "  - {id: 1, name: lab bring-up, due: 2026-12-31, target_pflops: 3}\n"
PHASE_2 = "  - {id: 2, name: lab growth, due: 2027-06-30, target_pflops: 3}\n"
SVC1 = "  - {name: lab-svc1, role: service, model: svc-2u, rack: lab-r01, u: 40, phase: 1}\n"
UNIT_1 = '      - {name: lab-su1, phase: 1, racks: "lab-r[02-03]", nodes: 4, tenant: hku-lab}\n'
RACKS_1 = (
    '  - {name: "lab-r[01-03]", hall: lab-hall, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}\n'
)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def lab_with_phase_2(tmp_path: Path) -> Path:
    """inventories/lab with an empty phase 2 (never a lock a developer left in the repo)."""
    site = tmp_path / "lab"
    shutil.copytree(LAB, site, ignore=shutil.ignore_patterns(LOCK_NAME))
    edit(site / "site.yaml", PHASE_1, PHASE_1 + PHASE_2)
    edit(site / "site.yaml", "phases: [1]", "phases: [1, 2]")
    return site


def lock(site: Path, *args: str) -> str:
    result = runner.invoke(app, ["lock", str(site), *args])
    assert result.exit_code == 0, result.output
    return lock_path(site).read_text(encoding="utf-8")


def add_cluster(site: Path) -> None:
    """A clean phase-2 addition: a second RoCE cluster (its own spines, one unit of four
    nodes) in three new racks, and a second storage system."""
    edit(
        site / "facility.yaml",
        RACKS_1,
        # The new racks stand in their own row (HK210: not on the floor spots of r01-r03).
        RACKS_1
        + RACKS_1.replace("[01-03]", "[04-06]")
        .replace("phase: 1", "phase: 2")
        .replace("row: A, x_m: 0, y_m: 0", "row: B, x_m: 0, y_m: 2.4"),
    )
    edit(site / "site.yaml", "clusters: [lab]", "clusters: [lab, lab2]")
    edit(
        site / "fabric.yaml",
        UNIT_1,
        UNIT_1
        + "  - name: lab2\n    template: lab-pod\n    hall: lab-hall\n"
        + "    network_racks: lab-r04\n    tenants: [hku-lab]\n    units:\n"
        + '      - {name: lab2-su1, phase: 2, racks: "lab-r[05-06]", nodes: 4, '
        + "tenant: hku-lab}\n",
    )
    edit(
        site / "fabric.yaml",
        SVC1,
        SVC1
        + SVC1.replace("svc1", "stor2")
        .replace("service", "storage")
        # a storage system like lab-stor1, in phase 2
        .replace("svc-2u", "ddn-ai400x2")
        .replace("lab-r01", "lab-r04")
        .replace("phase: 1", "phase: 2"),
    )


def codes(site: Path, phase: int | None = None) -> list[str]:
    return [f.code for f in validate(site, phase).findings if f.severity == "error"]


def rows(site: Path, phase: int | None) -> tuple[set[tuple[str, ...]], ...]:
    s = load_site(site).site
    assert s is not None
    p = plan_for(s, phase)
    return (
        {a.row() for a in p.addresses},
        {(a.device, str(a.asn)) for a in p.asns},
        {x.row() for x in p.links},
    )


def test_seen_scenario_an_explicit_address_cannot_take_an_in_service_one(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    text = lock(site, "--phase", "1")
    assert "  - [lab-su1-n01, mgmt0, inband, 10.100.0.1/24]\n" in text
    svc2 = SVC1.replace("svc1", "svc2").replace("u: 40", "u: 36").replace("phase: 1", "phase: 2")
    svc2 = svc2.replace("}\n", ", addresses: {inband: 10.100.0.1}}\n")
    edit(site / "fabric.yaml", SVC1, SVC1 + svc2)

    result = runner.invoke(app, ["validate", str(site)])
    assert result.exit_code == 1, result.output
    line = line_of(site / "fabric.yaml", "lab-svc2")
    found = [x for x in result.stdout.splitlines() if " HK602 " in x]
    assert len(found) == 1, result.stdout
    # The device, its old and its new address, and the line of the address that takes it.
    assert "lab-su1-n01" in found[0] and "10.100.0.1/24" in found[0]
    assert "10.100.0.254/24" in found[0]
    assert (
        found[0].startswith(f"{site.name}/fabric.yaml:{line}:")
        or f"fabric.yaml:{line}:" in (found[0])
    )
    # The in-service node is not renumbered in what the plan gives out meanwhile.
    s = load_site(site).site
    assert s is not None
    mgmt = [a for a in plan_for(s, 1).addresses if a.key == ("lab-su1-n01", "mgmt0", "inband")]
    assert [a.address for a in mgmt] == ["10.100.0.1/24"]
    # diff compares with the lock, not the new inventory with itself.
    out = runner.invoke(app, ["diff", str(site), "--from-phase", "1", "--to-phase", "2"])
    assert out.exit_code == 1, out.output
    assert "CHANGED against" in out.stdout and "10.100.0.254/24" in out.stdout
    assert "phases unchanged" not in out.stdout


def test_clean_phase_2_keeps_every_locked_allocation(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    before = lock(site, "--phase", "1")
    add_cluster(site)
    assert codes(site) == []
    locked = parse(before)
    addresses, asns, links = rows(site, None)
    assert {tuple(a) for a in locked.addresses} <= addresses
    assert {(a.device, str(a.asn)) for a in locked.asns} <= asns
    s = load_site(site).site
    assert s is not None
    got = {(x.a, x.a_port, x.b, x.b_port, x.network, x.optic, x.cable) for x in plan_for(s).links}
    assert {tuple(x) for x in locked.links} <= got
    assert len(links) > len(locked.links)  # phase 2 did add something
    out = runner.invoke(app, ["diff", str(site), "--from-phase", "1", "--to-phase", "2"])
    assert out.exit_code == 0, out.output
    assert (
        f"locked phases unchanged: {len(locked.addresses)} addresses, {len(locked.asns)} ASNs, "
        f"{len(locked.links)} links identical to" in out.stdout
    )
    # Locking phase 2 keeps phase 1's lines as they were, byte for byte.
    after = lock(site, "--phase", "2")
    entries = [x for x in before.splitlines() if x.startswith("  - ")]
    assert set(entries) <= set(after.splitlines())


def test_lock_file_is_byte_identical_and_outside_the_inventory(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    hash_before = load_site(site).site.inventory_hash  # type: ignore[union-attr]
    first = lock(site, "--phase", "1")
    second = lock(site, "--phase", "1")
    assert first == second
    s = load_site(site).site
    assert s is not None and s.lock is not None
    # The loader does not read the lock as inventory, nor hash it.
    assert all(not f.endswith(LOCK_NAME) for f in s.files)
    assert s.inventory_hash == hash_before
    assert s.lock.inventory_hash == hash_before
    assert "phase: 1\n" in first
    # Sorted sections, one allocation per line.
    entries = re.findall(r"^  - \[(.*)\]$", first, re.M)
    assert len(entries) == len(s.lock.addresses) + len(s.lock.asns) + len(s.lock.links)
    assert list(s.lock.addresses) == sorted(s.lock.addresses)


def test_release_frees_a_device_and_the_diff_says_so(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    lock(site, "--phase", "1")
    # lab-svc1 moves racks and takes another in-band address: refused while locked ...
    moved = SVC1.replace("phase: 1}", "phase: 1, addresses: {inband: 10.100.0.200}}")
    edit(site / "fabric.yaml", SVC1, moved)
    found = [f for f in validate(site).findings if f.code == "HK601"]
    assert [f.subject for f in found] == ["lab-svc1"]
    assert "10.100.0.6/24" in found[0].message and "10.100.0.200/24" in found[0].message
    assert found[0].location.line == line_of(site / "fabric.yaml", "lab-svc1")
    # ... and accepted once it is released on purpose.
    text = lock(site, "--release", "lab-svc1")
    assert "lab-svc1," not in text and "  - [lab-svc1]" in text
    assert codes(site) == []
    out = runner.invoke(app, ["diff", str(site), "--from-phase", "1", "--to-phase", "2"])
    assert out.exit_code == 0, out.output
    assert "released: lab-svc1 (released)" in out.stdout
    # A name the lock does not hold is refused (a typo must not pass for a release).
    bad = runner.invoke(app, ["lock", str(site), "--release", "lab-svc9"])
    assert bad.exit_code == 2 and "lab-svc9" in bad.output


def test_retired_device_releases_its_allocations(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    lock(site, "--phase", "1")
    retired = SVC1.replace("phase: 1}", "phase: 1, status: retired}")
    # Its replacement may take the very address it had, explicitly.
    new = SVC1.replace("svc1", "svc3").replace("u: 40", "u: 36").replace("phase: 1", "phase: 2")
    new = new.replace("}\n", ", addresses: {inband: 10.100.0.6}}\n")
    edit(site / "fabric.yaml", SVC1, retired + new)
    assert "HK602" not in codes(site)
    assert not [c for c in codes(site) if c.startswith("HK6")]
    out = runner.invoke(app, ["diff", str(site), "--from-phase", "1", "--to-phase", "2"])
    assert "released: lab-svc1 (retired)" in out.stdout, out.output
    text = lock(site, "--phase", "2")
    assert "lab-svc1," not in text and "  - [lab-svc1]" in text


def test_dropped_device_points_at_the_lock_line(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    text = lock(site, "--phase", "1")
    edit(site / "fabric.yaml", SVC1, "")
    found = [f for f in validate(site).findings if f.code == "HK603"]
    assert [f.subject for f in found] == ["lab-svc1"]
    first = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith("  - [lab-svc1,"))
    assert found[0].location.path.endswith(LOCK_NAME) and found[0].location.line == first


def test_a_locked_site_validated_at_an_earlier_phase_still_refuses(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    lock(site, "--phase", "2")
    edit(site / "fabric.yaml", "first: 4200000001", "first: 4200000011")
    assert "HK601" in codes(site, 1)


def test_malformed_lock_is_an_input_error_at_its_line(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path)
    text = lock(site, "--phase", "1")
    broken = text.replace("[lab-su1-n01, mgmt0, inband, 10.100.0.1/24]", "[lab-su1-n01, mgmt0]")
    lock_path(site).write_text(broken, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(site)])
    assert result.exit_code == 2, result.output
    line = next(i for i, x in enumerate(broken.splitlines(), 1) if "[lab-su1-n01, mgmt0]" in x)
    assert f"{LOCK_NAME}:{line}" in result.output and "Traceback" not in result.output


def test_format_quotes_what_yaml_would_misread() -> None:
    from hkcompute.asbuilt.lock import LockedAddress, LockedAsn, LockedLink, dump

    odd = Lock(
        "s",
        1,
        "0123",
        (LockedAddress("yes", "on", "oob", "fe80::1/64"),),
        (LockedAsn("1e3", 65001),),
        (LockedLink("a b", "p#1", "c", "d:e", "compute", None, "dac"),),
    )
    back = parse(dump(odd))
    assert back == odd
    assert dump(back) == dump(odd)


def test_diff_base_compares_with_a_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    site = lab_with_phase_2(repo)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "phase 1")
    args = ["diff", str(site), "--from-phase", "1", "--to-phase", "2", "--base"]
    same = runner.invoke(app, [*args, "HEAD"])
    assert same.exit_code == 0 and "phase 1 unchanged against HEAD" in same.stdout, same.output
    edit(site / "fabric.yaml", "first: 4200000001", "first: 4200000011")
    out = runner.invoke(app, [*args, "HEAD"])
    assert out.exit_code == 1, out.output
    assert "CHANGED against HEAD" in out.stdout and "4200000001" in out.stdout
    bad = runner.invoke(app, [*args, "nope"])
    assert bad.exit_code == 2 and "not a commit" in bad.output


def test_diff_base_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    site = lab_with_phase_2(tmp_path / "plain")
    out = runner.invoke(
        app, ["diff", str(site), "--from-phase", "1", "--to-phase", "2", "--base", "HEAD"]
    )
    assert out.exit_code == 2, out.output
    assert "not inside a git repository" in out.output
