"""`hkcompute render --lint` and `hkcompute lint`: the real programs on a rendered tree.

Each test needs the programs behind the checkers it runs; it is skipped with the reason when
one is missing, and fails instead under CI (``CI=true`` or ``HKCOMPUTE_REQUIRE_TOOLS=1``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute import lint
from hkcompute.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "inventories" / "lab"
pytestmark = pytest.mark.tools

# The program behind each check of the lab site (sh runs frr-daemons, generate is netplan's).
PROGRAMS = {
    "named-checkconf",
    "named-checkzone",
    "dnsmasq",
    "vtysh",
    "bgpd",
    "sh",
    "promtool",
    "chronyd",
    "sshd",
    "generate",
    "slurmctld",
    "slurmd",
}


def need(*kinds: str) -> None:
    missing = {k: r for k in kinds if (r := lint.available(k)) is not None}
    if not missing:
        return
    reason = "; ".join(f"{k}: {r}" for k, r in sorted(missing.items()))
    if lint.tools_required():
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


def invoke(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    done = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return done.exit_code, done.stdout, done.stderr


def render_lint(
    out: Path, *extra: str, env: dict[str, str | None] | None = None
) -> tuple[int, str, str]:
    return invoke("render", str(LAB), "--phase", "1", "--out", str(out), "--lint", *extra, env=env)


def test_lint_of_the_lab_site_runs_every_program_once_per_content(tmp_path: Path) -> None:
    need(*lint.names())
    code, stdout, stderr = render_lint(tmp_path / "out", "--format", "json")
    assert code == 0, stdout[-3000:] + stderr
    doc = json.loads(stdout)
    assert doc["ok"] is True
    results = doc["results"]
    assert {r["status"] for r in results} == {"ok"}
    # Every checker but ifupdown2, which reads Cumulus switches' /etc/network/interfaces,
    # and vrp, which reads Huawei CloudEngine switches' /vrpcfg.cfg: the lab has neither
    # (tests/unit/test_lint_ifupdown2.py and test_lint_vrp.py run them on hkstp switches).
    assert {r["kind"] for r in results} == set(lint.names()) - {"ifupdown2", "vrp"}
    ran = {Path(word).name for r in results if r["same_as"] is None for word in r["command"]}
    assert ran >= PROGRAMS, f"never ran: {PROGRAMS - ran}"
    # Identical files on many hosts are checked once: the nodes share slurm.conf.
    slurm = [r for r in results if r["kind"] == "slurm"]
    assert len(slurm) > 1 and sum(r["same_as"] is None for r in slurm) == 1
    assert doc["runs"] == sum(r["same_as"] is None for r in results) < len(results)
    assert "lint" in stderr and "0 failed" in stderr


def test_a_broken_frr_conf_fails_naming_file_and_program(tmp_path: Path) -> None:
    need("frr")
    out = tmp_path / "out"
    code, stdout, stderr = invoke("render", str(LAB), "--phase", "1", "--out", str(out))
    assert code == 0, stderr
    conf = out / "hosts" / "lab-su1-leaf1" / "etc" / "frr" / "frr.conf"
    text = conf.read_text()
    assert " ip address " in text
    # A new file, not an edit in place: the tree hard-links identical files across hosts.
    conf.unlink()
    conf.write_text(text.replace(" ip address ", " ip adress ", 1))
    code, stdout, stderr = invoke("lint", str(out), "--host", "lab-su1-leaf*")
    assert code == 1, stdout
    failed = [line for line in stdout.splitlines() if line.startswith("failed")]
    assert failed == [f"failed  frr              {conf}"], stdout
    assert "vtysh says" in stdout and "Unknown command" in stdout and "ip adress" in stdout
    assert "1 failed" in stderr


@pytest.fixture
def open_bindir() -> Iterator[Path]:
    """An empty folder for a PATH. Outside pytest's private tmp folder: run as root, sshd is
    checked as nobody, who must reach the program through it."""
    folder = Path(tempfile.mkdtemp(prefix="hk-lint-path-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_program_left_off_path_is_a_skip_with_a_note(tmp_path: Path, open_bindir: Path) -> None:
    need("sshd", "netplan", "chrony")
    # PATH holding the programs of the storage host's checks but chronyd.
    bindir = open_bindir
    for name in ("sshd", "ssh-keygen"):
        found = lint.sandbox.find(name)
        assert found is not None
        (bindir / name).symlink_to(found)
    env: dict[str, str | None] = {"PATH": str(bindir), "CI": None, "HKCOMPUTE_REQUIRE_TOOLS": None}
    out = tmp_path / "out"
    code, stdout, stderr = render_lint(out, "--host", "lab-stor1", env=env)
    assert code == 0, stdout + stderr
    chrony = out / "hosts" / "lab-stor1" / "etc" / "chrony" / "chrony.conf"
    assert f"skipped chrony           {chrony}\n" in stdout
    assert ("    chronyd was not run: missing chronyd (Debian package chrony)\n") in stdout
    assert "ok      sshd" in stdout and "1 skipped" in stderr
    # Under CI a missing program is a failure, never a skip.
    code, stdout, _ = render_lint(out, "--host", "lab-stor1", env={**env, "CI": "true"})
    assert code == 1
    assert f"failed  chrony           {chrony}\n" in stdout
    assert "CI=true or HKCOMPUTE_REQUIRE_TOOLS=1" in stdout


def test_lint_of_a_folder_with_no_tree_is_an_input_error(tmp_path: Path) -> None:
    code, _, stderr = invoke("lint", str(tmp_path))
    assert code == 2
    assert "holds no rendered tree" in stderr
