"""The repository's YAML passes its linters: ansible-lint (production profile) and yamllint.

Both run as a developer runs them, from the repository root with the repository's own
configuration (``.ansible-lint``, ``.yamllint``, ``ansible.cfg`` for the Molecule converge
playbooks' roles). ansible-lint runs offline: nothing is fetched from Galaxy or anywhere else.

Skipped, with the reason, when a linter is not installed (``pip install -e '.[dev]'``); a
failure instead under ``CI=true``, so CI cannot go green by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600


def _path() -> str:
    """PATH with this interpreter's bin first: the dev extras install the linters there."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _program(name: str) -> str:
    found = shutil.which(name, path=_path())
    if found is not None:
        return found
    reason = f"{name} is not installed (pip install -e '.[dev]')"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


def _env() -> dict[str, str]:
    """The caller's environment without its Ansible settings, so the repository's own apply.

    An inherited ANSIBLE_CONFIG or ANSIBLE_ROLES_PATH would replace ./ansible.cfg, and the
    result would say something about the caller's machine rather than about the repository.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "YAMLLINT_"))}
    env["PATH"] = _path()
    env["NO_COLOR"] = "1"
    env["ANSIBLE_NOCOLOR"] = "1"
    # --offline already keeps ansible-lint off the network; these make sure of it: its JSON
    # schemas are the ones it ships, and a Galaxy call, if any were made, would go nowhere.
    env["ANSIBLE_LINT_SKIP_SCHEMA_UPDATE"] = "1"
    env["ANSIBLE_GALAXY_SERVER"] = "http://127.0.0.1:9/"
    return env


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


@pytest.mark.slow
def test_ansible_lint_production_profile_passes() -> None:
    # The profile is named here as well as in .ansible-lint: the test holds the bar even if the
    # configuration file is weakened.
    proc = _run([_program("ansible-lint"), "--offline", "--profile=production"])
    assert proc.returncode == 0, _output(proc)


def test_yamllint_strict_passes() -> None:
    proc = _run([_program("yamllint"), "-s", "."])
    assert proc.returncode == 0, _output(proc)


def test_yamllint_covers_the_hand_written_yaml() -> None:
    # A clean run proves nothing if .yamllint's ignore list grew to cover these files.
    proc = _run([_program("yamllint"), "--list-files", "."])
    assert proc.returncode == 0, _output(proc)
    listed = {Path(line).as_posix() for line in proc.stdout.splitlines()}
    expected = {
        "playbooks/site.yml",
        "playbooks/roles/common/tasks/main.yml",
        "playbooks/roles/common/molecule/default/converge.yml",
        "inventories/lab/site.yaml",
        ".pre-commit-config.yaml",
        "hkcompute/data/catalog/optics.yaml",
    }
    missing = expected - listed
    assert not missing, f"yamllint skips {sorted(missing)}:\n{proc.stdout}"


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "format", "--check", "hkcompute", "tests", "bench", "scripts"],
        ["ruff", "check", "hkcompute", "tests", "bench", "scripts"],
        ["mypy"],
    ],
    ids=["ruff-format", "ruff-check", "mypy"],
)
def test_python_is_formatted_linted_and_typed(argv: list[str]) -> None:
    """The Python code as the repository's own configuration (pyproject.toml) wants it:
    formatted by ruff, lint-clean, and strict-mypy clean."""
    done = _run([_program(argv[0]), *argv[1:]])
    assert done.returncode == 0, (
        f"{' '.join(argv)} exited {done.returncode}:\n" + (done.stdout + done.stderr)[-6000:]
    )
