"""Find the Docker engine the lab runs on, and start one when none answers.

What was seen on the project's machines (Debian bookworm, ``docker.io`` 20.10, cgroup v1,
ext4 root): ``dockerd`` with no options picks ``overlay2`` and answers in about a second; it
starts its own containerd. If the default storage driver cannot start (overlay on overlay, some
nested set-ups), :func:`start_dockerd` retries with ``vfs``, which always works but copies whole
layers. ``HKCOMPUTE_DOCKER_STORAGE_DRIVER`` forces one driver.

A ``dockerd`` started here keeps running after the Python process ends (it is put in its own
session), so later runs find it answering; its log and a small JSON record of how it was started
live under :data:`DOCKERD_DIR`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import docker
from docker import DockerClient
from docker.errors import DockerException

from hkcompute.errors import HkError

log = logging.getLogger(__name__)

LAB_LABEL = "hkcompute.lab"
"""Label carried by every container, network and image the lab creates (value ``"1"``)."""
SITE_LABEL = "hkcompute.site"
"""Label naming the site (or test session) a container or network belongs to."""

DEFAULT_ADDRESS = "unix:///var/run/docker.sock"
DOCKERD_DIR = Path("/tmp/hkcompute-dockerd")
"""Where a dockerd started by :func:`start_dockerd` logs, and where ``state.json`` records it."""
STORAGE_DRIVER_ENV = "HKCOMPUTE_DOCKER_STORAGE_DRIVER"
DOCKERD_PIDFILE = Path("/var/run/docker.pid")

_SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Popen objects of the daemons started here: kept referenced so that they are never collected
# (and never warned about) while this process runs. The daemons outlive it on purpose.
_STARTED: list[subprocess.Popen[bytes]] = []


class LabError(HkError):
    """Something in the container lab failed (engine, image build, container start)."""

    exit_code = 1


class EngineUnavailable(LabError):
    """No Docker engine answers and none could be started; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no Docker engine: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class DockerdStart:
    """How :func:`start_dockerd` brought an engine up."""

    pid: int
    storage_driver: str
    """The driver the daemon reports using (``overlay2``, ``vfs``, ...)."""
    requested_driver: str | None
    """What was asked for with ``--storage-driver``; ``None`` for the daemon's own choice."""
    log_path: str
    seconds: float


class _StartFailed(Exception):
    """One attempt at starting dockerd failed (internal; becomes EngineUnavailable)."""


def lab_labels(site: str | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels for a lab object: ``hkcompute.lab=1``, the site when given, then ``extra``."""
    labels = {LAB_LABEL: "1"}
    if site is not None:
        labels[SITE_LABEL] = site
    if extra:
        labels.update(extra)
    return labels


def engine_address() -> str:
    """The address the Docker SDK will use: ``DOCKER_HOST`` or the default Unix socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_ADDRESS


def connect(timeout: float = 10.0, api_timeout: float = 600.0) -> DockerClient:
    """Return a client of an engine that answers a ping, or raise :class:`EngineUnavailable`.

    The ping waits at most ``timeout`` seconds; the returned client's calls wait up to
    ``api_timeout`` (image imports and builds are long).
    """
    try:
        probe = docker.from_env(timeout=int(max(1, timeout)))
        try:
            probe.ping()
            version = probe.api.api_version
        finally:
            probe.close()
        client = docker.from_env(timeout=int(max(1, api_timeout)), version=version)
    except (DockerException, OSError) as exc:  # requests' errors derive from OSError
        raise EngineUnavailable(f"none answers at {engine_address()}: {_first_line(exc)}") from exc
    return client


def engine_answers(timeout: float = 5.0) -> bool:
    """Whether a Docker engine answers a ping at :func:`engine_address` right now."""
    try:
        connect(timeout, api_timeout=timeout).close()
    except EngineUnavailable:
        return False
    return True


def ensure_engine(*, start: bool = True, timeout: float = 60.0) -> DockerClient:
    """Return a client of an answering engine, starting ``dockerd`` if allowed and needed.

    With ``start`` false, or when not root, or when ``DOCKER_HOST`` points elsewhere than the
    default socket, nothing is started and :class:`EngineUnavailable` says why.
    """
    try:
        return connect()
    except EngineUnavailable as exc:
        if not start:
            raise
        log.info("%s; trying to start dockerd", exc.reason)
    started = start_dockerd(timeout=timeout)
    log.info(
        "dockerd pid %d answers after %.1f s with storage driver %s (log %s)",
        started.pid,
        started.seconds,
        started.storage_driver,
        started.log_path,
    )
    return connect()


def start_dockerd(
    *,
    timeout: float = 60.0,
    storage_drivers: Sequence[str | None] | None = None,
    state_dir: Path = DOCKERD_DIR,
) -> DockerdStart:
    """Start ``dockerd`` in the background and wait until it answers, within ``timeout`` s.

    ``storage_drivers`` are tried in order (``None`` is the daemon's own choice); by default
    ``HKCOMPUTE_DOCKER_STORAGE_DRIVER`` if set, else the daemon's choice and then ``vfs``. The
    daemon logs to ``state_dir/dockerd.log``; ``state_dir/state.json`` records what worked.
    If a dockerd from elsewhere is already running but not yet answering, it is waited for
    instead of starting a second one.
    """
    if os.geteuid() != 0:
        raise EngineUnavailable(
            f"none answers at {engine_address()}, and dockerd can only be started as root"
        )
    if engine_address() != DEFAULT_ADDRESS:
        raise EngineUnavailable(
            f"DOCKER_HOST is {engine_address()}: not starting a local dockerd in its place"
        )
    dockerd = shutil.which("dockerd", path=f"{os.environ.get('PATH', '')}:{_SBIN_PATH}")
    if dockerd is None:
        raise EngineUnavailable("dockerd is not installed (run: bash scripts/setup-debian.sh)")
    deadline = time.monotonic() + timeout
    running = _running_dockerd_pid()
    if running is not None:
        log.info("dockerd pid %d is running but does not answer yet; waiting for it", running)
        while time.monotonic() < deadline:
            if engine_answers(timeout=2.0):
                return DockerdStart(running, _driver_in_use(), None, "", 0.0)
            time.sleep(0.5)
        raise EngineUnavailable(f"dockerd pid {running} runs but did not answer in {timeout:.0f} s")
    if storage_drivers is None:
        forced = os.environ.get(STORAGE_DRIVER_ENV)
        storage_drivers = [forced] if forced else [None, "vfs"]
    state_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for driver in storage_drivers:
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            failures.append(f"{driver or 'default driver'}: no time left")
            break
        try:
            started = _start_once(dockerd, driver, remaining, state_dir)
        except _StartFailed as exc:
            log.warning("dockerd with %s failed: %s", driver or "default storage driver", exc)
            failures.append(f"{driver or 'default driver'}: {exc}")
            continue
        (state_dir / "state.json").write_text(json.dumps(asdict(started), indent=2) + "\n")
        return started
    raise EngineUnavailable("dockerd did not come up: " + "; ".join(failures))


def _start_once(dockerd: str, driver: str | None, timeout: float, state_dir: Path) -> DockerdStart:
    """One attempt: start dockerd with ``driver``, wait until it answers or gives up."""
    args = [dockerd] + (["--storage-driver", driver] if driver else [])
    log_path = state_dir / "dockerd.log"
    env = dict(os.environ)
    env["PATH"] = f"{env.get('PATH', '')}:{_SBIN_PATH}"
    began = time.monotonic()
    with log_path.open("ab") as log_file:
        log_file.write(f"--- hkcompute: starting {' '.join(args)}\n".encode())
        log_file.flush()
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _STARTED.append(proc)
    log.info("started %s (pid %d), log %s", " ".join(args), proc.pid, log_path)
    while time.monotonic() - began < timeout:
        rc = proc.poll()
        if rc is not None:
            raise _StartFailed(f"exited with status {rc}: {_tail(log_path)}")
        if engine_answers(timeout=2.0):
            return DockerdStart(
                pid=proc.pid,
                storage_driver=_driver_in_use(),
                requested_driver=driver,
                log_path=str(log_path),
                seconds=round(time.monotonic() - began, 2),
            )
        time.sleep(0.25)
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    raise _StartFailed(f"did not answer within {timeout:.0f} s: {_tail(log_path)}")


def _driver_in_use() -> str:
    client = connect()
    try:
        return str(client.info().get("Driver", "unknown"))
    finally:
        client.close()


def _running_dockerd_pid() -> int | None:
    """The pid in dockerd's pidfile when that process is alive, else None."""
    try:
        pid = int(DOCKERD_PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return pid if comm == "dockerd" else None


def _tail(path: Path, lines: int = 3) -> str:
    """The last error-looking lines of a log, for a one-line reason."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    errors = [line for line in text if "level=error" in line or "level=fatal" in line]
    picked = (errors or text)[-lines:]
    return " | ".join(line.strip() for line in picked) + f" (log: {path})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
