"""Every command that README.md and docs/*.md show is run by a test, as a user runs it.

The commands that need no live hosts run here, from a plain install of the wheel (a new
virtual environment, runtime dependencies only, no extras), in a folder outside the checkout
that holds only a copy of the bundled inventories. The commands that act on hosts run on the
container twin (tests/integration/lab/test_lab_documented.py). The README's main job
(scripts/example.sh) runs on a fresh export of the checkout. Nothing documented is left out:
a new command in the docs fails ``test_every_documented_command_is_run`` until a test runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from doccmds import REPO, DocCommand, commands
from installs import export_checkout, user_env

# Documented commands run elsewhere than in this module, each with the reason.
RUN_ELSEWHERE = {
    # The README's test command is CI itself (.ci/run runs exactly it): this test is inside it.
    "bash scripts/test.sh": "it is the command that runs this test (.ci/run)",
    "bash scripts/example.sh": "test_readme_main_job_runs_on_a_fresh_export, below",
}
OFFLINE = [c for c in commands() if c.argv[0] == "hkcompute" and not c.needs_lab]


def test_every_documented_command_is_run() -> None:
    found = commands()
    assert len(found) > 20, "the command extractor found almost nothing: is it broken?"
    unrun = [str(c) for c in found if not (c.text in RUN_ELSEWHERE or (c.argv[0] == "hkcompute"))]
    assert not unrun, f"documented commands that no test runs: {unrun}"
    assert any(c.needs_lab for c in found), "the lab commands went missing from the docs"


def test_the_clean_install_has_no_extras(clean_venv: Path) -> None:
    py = str(clean_venv / "python")
    where = subprocess.run(
        [py, "-c", "import hkcompute, testinfra; print(hkcompute.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    ).stdout
    assert str(clean_venv.parent) in where, f"hkcompute imported from {where}"
    for dev_only in ("hypothesis", "ruff", "molecule", "mypy"):
        found = subprocess.run(
            [py, "-c", f"import importlib.util as u; print(u.find_spec('{dev_only}') is not None)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert found == "False", f"{dev_only} (a development extra) is in the clean install"


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's folder outside the checkout: the bundled inventories, nothing else."""
    d = tmp_path_factory.mktemp("user")
    shutil.copytree(REPO / "inventories", d / "inventories")
    return d


@pytest.mark.parametrize("cmd", OFFLINE, ids=[f"{c.path}:{c.line}" for c in OFFLINE])
def test_documented_command_runs_from_a_plain_install(
    cmd: DocCommand, clean_venv: Path, user_dir: Path
) -> None:
    done = subprocess.run(
        [str(clean_venv / "hkcompute"), *cmd.argv[1:]],
        cwd=user_dir,
        env=user_env(clean_venv),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"{cmd} exited {done.returncode}\nstdout: {done.stdout[-2000:]}\n"
        f"stderr: {done.stderr[-3000:]}"
    )
    assert "internal error" not in done.stderr
    if "--out" in cmd.argv:
        out = user_dir / cmd.argv[cmd.argv.index("--out") + 1]
        assert out.exists() and (out.is_file() or any(out.iterdir())), f"{cmd}: {out} is empty"
    elif cmd.argv[1] not in ("validate",):  # validate of a clean site prints no finding
        assert done.stdout.strip(), f"{cmd} printed no data on stdout"


def test_readme_main_job_runs_on_a_fresh_export(clean_venv: Path, tmp_path: Path) -> None:
    """`bash scripts/example.sh` on a fresh export (no build/ folder), with the clean install
    found first on PATH; the set-up step finds everything installed and installs nothing."""
    src = export_checkout(tmp_path / "clone")
    assert not (src / "build").exists()
    env = user_env(clean_venv) | {"HKCOMPUTE_SKIP_PIP": "1"}
    done = subprocess.run(
        ["bash", "scripts/example.sh"],
        cwd=src,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, (
        f"scripts/example.sh exited {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    cabling = (src / "build" / "hkstp-cabling-phase-1.csv").read_text()
    assert cabling.count("\n") > 1000, "the phase-1 cabling CSV is nearly empty"
    assert (src / "build" / "hkstp" / "report" / "report.html").is_file()
    assert (src / "build" / "hkstp" / "runbook-phase-2" / "runbook.md").is_file()
    assert (src / "build" / "hkstp" / "phase-1" / "manifest.json").exists()
