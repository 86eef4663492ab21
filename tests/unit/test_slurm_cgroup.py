"""Slurm enforces what it schedules: cgroup plugins in slurm.conf, and a cgroup.conf beside it
on every Slurm host that constrains devices (GRES), cores and memory.

The last tests run Slurm's own daemons on the rendered files (``slurm-cgroup``); they are
skipped where slurmctld/slurmd are not installed or the machine cannot run them (not root).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hkcompute import lint
from hkcompute.inventory.load import load_site
from hkcompute.model import Site
from hkcompute.render import renderer as engine
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventories" / "lab"
CGROUP = "/etc/slurm/cgroup.conf"


def _keys(text: str) -> dict[str, str]:
    """``Key=value`` lines of a Slurm file, comments dropped (keys are case-insensitive)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line and " " not in line:
            key, value = line.split("=", 1)
            assert key.lower() not in out, f"{key} set twice"
            out[key.lower()] = value
    return out


@pytest.fixture(scope="module")
def lab_site() -> Site:
    loaded = load_site(LAB)
    assert loaded.site is not None
    return loaded.site


@pytest.fixture(scope="module")
def lab_files(lab_site: Site) -> dict[tuple[str, str], bytes]:
    return {(f.host, f.path): f.content for f in render_files(lab_site, 1)}


def test_slurm_conf_tracks_and_binds_jobs_with_cgroups(
    lab_files: dict[tuple[str, str], bytes],
) -> None:
    confs = {v for (_h, p), v in lab_files.items() if p == "/etc/slurm/slurm.conf"}
    assert len(confs) == 1
    keys = _keys(confs.pop().decode())
    assert keys["proctracktype"] == "proctrack/cgroup"
    # task/cgroup enforces cgroup.conf; task/affinity binds tasks to the allowed cores.
    assert keys["taskplugin"].split(",") == ["task/cgroup", "task/affinity"]


def test_every_slurm_host_gets_the_same_cgroup_conf_constraining_devices(
    lab_files: dict[tuple[str, str], bytes],
) -> None:
    slurm_hosts = {h for h, p in lab_files if p == "/etc/slurm/slurm.conf"}
    cgroup_hosts = {h for h, p in lab_files if p == CGROUP}
    assert slurm_hosts == cgroup_hosts
    # The controller and every node of the lab.
    assert {"lab-svc1", "lab-su1-n01", "lab-su1-n02", "lab-su1-n03", "lab-su1-n04"} <= (
        cgroup_hosts
    )
    contents = {lab_files[(h, CGROUP)] for h in cgroup_hosts}
    assert len(contents) == 1, "cgroup.conf differs between Slurm hosts"
    text = contents.pop().decode()
    keys = _keys(text)
    assert keys["constraindevices"] == "yes"
    assert keys["constraincores"] == "yes"
    assert keys["constrainramspace"] == "yes"
    # autodetect (the default) picks cgroup/v2 on bookworm; no other value is pinned here.
    assert "cgroupplugin" not in keys
    assert "cgroup.conf.5" in text, "the template cites the man page its keys come from"


def test_no_cgroup_conf_where_there_is_no_slurm(lab_files: dict[tuple[str, str], bytes]) -> None:
    for host in ("lab-stor1", "lab-su1-leaf1", "lab-g01-spine01"):
        assert (host, CGROUP) not in lab_files


def test_cgroup_conf_is_rendered_once_and_shared(lab_site: Site) -> None:
    files = [f for f in render_files(lab_site, 1) if f.path == CGROUP]
    assert len(files) > 1
    assert len({id(f.content) for f in files}) == 1


def test_cgroup_conf_is_judged_by_the_slurm_cgroup_checker() -> None:
    spec = next(s for s in engine.SLURM if s.path == CGROUP)
    assert spec.shared == "slurm"
    assert spec.checkers == ("slurm-cgroup",)
    assert engine.checkers_for(CGROUP) == ("slurm-cgroup",)
    assert lint.recognise("etc/slurm/cgroup.conf") == ("slurm-cgroup",)
    assert "slurm-cgroup" in lint.names()


def test_the_role_installs_cgroup_conf_beside_slurm_conf() -> None:
    tasks = (ROOT / "playbooks" / "roles" / "slurm" / "tasks" / "main.yml").read_text()
    loop = re.search(r"loop: \[(slurm\.conf[^\]]*)\]", tasks)
    assert loop is not None
    assert "cgroup.conf" in [x.strip() for x in loop.group(1).split(",")]


# ---- Slurm's own parsers (slurmctld, slurmd -G) on the rendered files -----------------------


def _need_checker() -> None:
    reason = lint.available("slurm-cgroup")
    if reason is not None:
        if lint.tools_required():
            pytest.fail(f"CI=true, but slurm-cgroup: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def lab_slurm_dir(lab_files: dict[tuple[str, str], bytes], tmp_path: Path) -> Path:
    """lab-su1-n01's /etc/slurm, as rendered, in a host tree."""
    etc = tmp_path / "lab-su1-n01" / "etc" / "slurm"
    etc.mkdir(parents=True)
    for (host, path), data in lab_files.items():
        if host == "lab-su1-n01" and path.startswith("/etc/slurm/"):
            (etc / Path(path).name).write_bytes(data)
    return etc


@pytest.mark.tools
def test_slurm_reads_and_accepts_the_rendered_cgroup_conf(lab_slurm_dir: Path) -> None:
    _need_checker()
    got = lint.check("slurm-cgroup", [lab_slurm_dir / "cgroup.conf"])
    assert got.ok, got.output[-3000:]
    assert "Reading cgroup.conf file" in got.output
    assert "slurmd -G as" in got.output


@pytest.mark.tools
@pytest.mark.parametrize(
    ("file", "old", "new", "says"),
    [
        ("cgroup.conf", "ConstrainDevices=yes", "ConstrainDevice=yes", "unrecognized key"),
        ("cgroup.conf", "ConstrainDevices=yes", "ConstrainDevices=maybe", "not a valid option"),
        ("cgroup.conf", "ConstrainRAMSpace=yes", "CgroupPlugin=cgroup/v9", "CgroupPlugin="),
        (
            "slurm.conf",
            "TaskPlugin=task/cgroup,task/affinity",
            "TaskPlugin=task/affinity",
            "no task/cgroup",
        ),
    ],
)
def test_slurm_cgroup_fails_what_slurm_would_refuse_or_ignore(
    lab_slurm_dir: Path, file: str, old: str, new: str, says: str
) -> None:
    _need_checker()
    path = lab_slurm_dir / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    got = lint.check("slurm-cgroup", [lab_slurm_dir / "cgroup.conf"])
    assert not got.ok
    assert says in got.output


@pytest.mark.tools
def test_slurm_gres_still_runs_where_slurm_conf_has_cgroup_plugins(lab_slurm_dir: Path) -> None:
    # slurmd -G initialises the cgroup plugin; pinned to cgroup/v1 in the check's copy, it
    # does so on whatever cgroup hierarchy the checking machine has.
    _need_checker()
    got = lint.check("slurm-gres", [lab_slurm_dir / "gres.conf"])
    assert got.ok, got.output[-3000:]
    assert "Gres Name=gpu" in got.output
