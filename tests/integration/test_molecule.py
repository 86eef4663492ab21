"""The roles' Molecule scenarios run as role authors run them: ``molecule test`` in the role folder.

Each role under ``playbooks/roles`` has a ``molecule/default`` scenario (molecule-plugins' docker
driver, the lab's images under their ``hkcompute/<recipe>:lab`` tags). Two of them run here, at
the same time to keep the test short: ``common`` (a server) and ``fabric_switch`` (FRR).

Offline by design: the collections the docker driver needs (community.docker, ansible.posix)
come from the ``ansible`` package on PyPI through ``ANSIBLE_COLLECTIONS_PATH``, never from
Galaxy; the scenarios disable the dependency step. Molecule starts ``ansible-playbook``, so the
interpreter's ``bin`` goes first on PATH.

Skipped, with the reason, when there is no Docker engine or Molecule is missing; a failure
instead when ``CI=true`` or ``HKCOMPUTE_REQUIRE_DOCKER=1``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "playbooks" / "roles"
ROLES_UNDER_TEST = ("common", "fabric_switch")
RECIPES = ("base", "switch")
"""The images the two scenarios' platforms name (as ``hkcompute/<recipe>:lab``)."""
TIMEOUT_S = 420.0


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("HKCOMPUTE_REQUIRE_DOCKER") == "1"


def _unavailable(reason: str) -> NoReturn:
    if _required():
        pytest.fail(f"CI=true or HKCOMPUTE_REQUIRE_DOCKER=1, but {reason}", pytrace=False)
    pytest.skip(f"{reason} (set HKCOMPUTE_REQUIRE_DOCKER=1 to fail instead)")


def collections_path() -> str | None:
    """The folder holding the ``ansible`` package's ``ansible_collections``, if installed."""
    spec = importlib.util.find_spec("ansible_collections")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        if (Path(location) / "community" / "docker").is_dir():
            return str(Path(location).parent)
    return None


def molecule_env() -> dict[str, str]:
    """The environment ``molecule test`` runs in: this interpreter's bin first on PATH."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    found = collections_path()
    if found is not None:
        env["ANSIBLE_COLLECTIONS_PATH"] = found
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["NO_COLOR"] = "1"
    env["PY_COLORS"] = "0"
    return env


@dataclass
class Run:
    """One ``molecule test`` started in a role folder; its output goes to a temporary file."""

    role: str
    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    began: float

    def wait(self) -> tuple[int, str, float]:
        """Wait for the end; return the exit code, the output and the seconds taken."""
        try:
            code = self.proc.wait(timeout=max(1.0, TIMEOUT_S - (time.monotonic() - self.began)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = -9
        took = time.monotonic() - self.began
        self.log.seek(0)
        return code, self.log.read().decode("utf-8", errors="replace"), took


@pytest.fixture(scope="module")
def molecule_runs() -> Iterator[dict[str, Run]]:
    """Both scenarios started at once (after the engine and the images are ready)."""
    if importlib.util.find_spec("molecule") is None:
        _unavailable("molecule is not installed (pip install -e '.[dev]')")
    if importlib.util.find_spec("molecule_plugins") is None:
        _unavailable("molecule-plugins (the docker driver) is not installed")
    if collections_path() is None:
        _unavailable("community.docker is missing (the `ansible` package from PyPI brings it)")
    try:
        from hkcompute.lab.docker_engine import EngineUnavailable, LabError, ensure_engine
        from hkcompute.lab.images import ensure_image
    except ImportError as exc:
        _unavailable(f"cannot import the lab engine: {exc}")
    try:
        client: Any = ensure_engine()
    except EngineUnavailable as exc:
        _unavailable(f"no Docker engine: {exc.reason}")
    try:
        for recipe in RECIPES:
            ensure_image(client, recipe)
    except LabError as exc:
        pytest.fail(f"building the lab images failed: {exc}", pytrace=False)
    finally:
        client.close()
    env = molecule_env()
    runs: dict[str, Run] = {}
    with contextlib.ExitStack() as stack:
        for role in ROLES_UNDER_TEST:
            log = stack.enter_context(tempfile.TemporaryFile(prefix=f"molecule-{role}-"))
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "molecule"), "test"],
                cwd=ROLES / role,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            runs[role] = Run(role=role, proc=proc, log=log, began=time.monotonic())
        yield runs
        for run in runs.values():
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait()


@pytest.mark.parametrize("role", ROLES_UNDER_TEST)
def test_molecule_scenario_passes(role: str, molecule_runs: dict[str, Run]) -> None:
    """create, prepare, converge, idempotence, verify and destroy all succeed, offline."""
    code, output, took = molecule_runs[role].wait()
    tail = "\n".join(output.splitlines()[-80:])
    assert code == 0, f"molecule test of {role} exited {code} after {took:.0f} s:\n{tail}"
    for step in ("create", "prepare", "converge", "idempotence", "verify", "destroy"):
        assert f"{step}: Executed: Successful" in output, f"{role}: no successful {step}\n{tail}"
    print(f"molecule test {role}: passed, done within {took:.1f} s of the start")
