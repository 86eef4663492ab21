"""Fixtures shared by the integration tests: the built wheel, and a clean install of it.

The clean install is what a user gets from ``pip install hkcompute``: a new virtual
environment (no system site-packages), the wheel and its runtime dependencies only, no extras.
Tests reach no registry, so the dependencies come from the wheelhouse that
``scripts/setup-debian.sh`` downloads (``build/wheelhouse``, or ``$HKCOMPUTE_WHEELHOUSE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from installs import ROOT, export_checkout


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean export of the checkout, as pip would from an sdist."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = export_checkout(tmp / "src")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        check=True,
        timeout=300,
    )
    return next((tmp / "dist").glob("hkcompute-*.whl"))


@pytest.fixture(scope="session")
def clean_venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding the wheel and its runtime dependencies, no extras.

    Returns its ``bin`` folder.
    """
    house = Path(os.environ.get("HKCOMPUTE_WHEELHOUSE", ROOT / "build" / "wheelhouse"))
    if not (house / ".key").is_file():
        _fail_or_skip(f"no runtime wheelhouse at {house}: run scripts/setup-debian.sh")
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    bindir = env_dir / "bin"
    done = subprocess.run(
        [
            str(bindir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(house),
            str(built_wheel),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"pip install of the wheel failed:\n{done.stdout}{done.stderr}"
    return bindir
