"""Fixtures for tests that need the container lab: an engine, the images, containers, cleanup.

The engine comes from :func:`hkcompute.lab.docker_engine.ensure_engine`, which starts
``dockerd`` when none answers and we are root. When no engine can be had the lab tests are
skipped with the reason, unless ``HKCOMPUTE_REQUIRE_DOCKER=1`` (set by ``.ci/run`` under CI):
then they fail.

Everything a test creates carries ``hkcompute.lab=1`` and a site label unique to the session
(``pytest-<pid>-<hex>``); it is removed after each test, again at the end of the session, and
leftovers of killed sessions (whose pid is gone) are removed at the start of the next one.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import pytest

REQUIRE_ENV = "HKCOMPUTE_REQUIRE_DOCKER"
_TIMINGS: dict[str, float] = {}


def _no_engine(reason: str) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but no Docker engine: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine ({reason}); set {REQUIRE_ENV}=1 to fail instead")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A client of an answering Docker engine (started if need be), else skip or fail."""
    try:
        from hkcompute.lab.docker_engine import EngineUnavailable, ensure_engine
    except ImportError as exc:  # the docker package is missing
        _no_engine(f"cannot import the lab engine: {exc}")
    began = time.monotonic()
    try:
        client = ensure_engine()
    except EngineUnavailable as exc:
        _no_engine(exc.reason)
    _TIMINGS["engine"] = time.monotonic() - began
    yield client
    client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_sessions(client: Any) -> None:
    """Remove lab objects of earlier pytest sessions whose process is gone."""
    from hkcompute.lab.docker_engine import LAB_LABEL, SITE_LABEL
    from hkcompute.lab.images import remove_lab_objects

    found = [
        # A killed session's containers may vanish while we list them (auto-removal).
        *client.containers.list(all=True, filters={"label": f"{LAB_LABEL}=1"}, ignore_removed=True),
        *client.networks.list(filters={"label": f"{LAB_LABEL}=1"}),
    ]
    stale: set[str] = set()
    for item in found:
        site = (item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}).get(
            SITE_LABEL, ""
        )
        parts = site.split("-")
        ours = len(parts) == 3 and parts[0] == "pytest" and parts[1].isdigit()
        if ours and not _pid_alive(int(parts[1])):
            stale.add(site)
    for site in sorted(stale):
        remove_lab_objects(client, site=site)


@pytest.fixture(scope="session")
def lab_site(docker_client: Any) -> Iterator[str]:
    """A site label unique to this session; all its lab objects are removed at the end."""
    from hkcompute.lab.images import remove_lab_objects

    _remove_stale_sessions(docker_client)
    site = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    yield site
    remove_lab_objects(docker_client, site=site)


@pytest.fixture(scope="session")
def lab_images(docker_client: Any) -> dict[str, str]:
    """Tags of the base and switch images, built on first use (a build failure fails)."""
    from hkcompute.lab.docker_engine import LabError
    from hkcompute.lab.images import BASE, SWITCH, ensure_image

    tags: dict[str, str] = {}
    for name in (BASE, SWITCH):
        began = time.monotonic()
        try:
            tags[name] = ensure_image(docker_client, name)
        except LabError as exc:
            pytest.fail(f"building the lab image {name!r} failed: {exc}", pytrace=False)
        _TIMINGS[f"image {name}"] = time.monotonic() - began
    return tags


@dataclass(frozen=True)
class SshKey:
    """A client key pair for logging in to lab containers."""

    private_openssh: str
    public_line: str


@pytest.fixture(scope="session")
def ssh_key() -> SshKey:
    """A fresh ed25519 key pair (OpenSSH formats), made for this session only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return SshKey(private_openssh=private, public_line=public.decode() + " hkcompute-pytest")


@pytest.fixture
def lab_container(
    docker_client: Any, lab_site: str, lab_images: dict[str, str]
) -> Iterator[Callable[..., Any]]:
    """Factory: ``lab_container(name, image="base", **start_container_kwargs)``.

    ``image`` is a recipe name (``base``, ``switch``) or a tag. Containers are named
    ``<site>-<name>`` and removed when the test ends, whatever its outcome.
    """
    from hkcompute.lab.images import LabContainer, start_container

    started: list[LabContainer] = []

    def make(name: str, image: str = "base", **kwargs: Any) -> LabContainer:
        began = time.monotonic()
        container = start_container(
            docker_client,
            name=f"{lab_site}-{name}",
            image=lab_images.get(image, image),
            site=lab_site,
            **kwargs,
        )
        started.append(container)
        _TIMINGS.setdefault("container boot (first)", time.monotonic() - began)
        return container

    yield make
    for item in started:
        # Cleanup must go on whatever fails; lab_site sweeps by label at the end anyway.
        with contextlib.suppress(Exception):
            item.container.remove(force=True, v=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how long the engine, image builds and first boot took, when the lab ran."""
    if _TIMINGS:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"container lab timings: {parts}")
