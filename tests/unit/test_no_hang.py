"""No parallel work can hang. A report worker that dies mid-report used to leave
``multiprocessing.Pool.map`` waiting for it forever; now the command ends at once with a
clear error. Each case runs in a subprocess under a timeout, so a regression fails the test
instead of hanging the suite."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from hkcompute.deploy import ssh
from hkcompute.report import site_report
from hkcompute.report.site_report import RackLoad, rack_loads, rack_svgs
from hkcompute.validate import load_valid_site

from .conftest import LAB, REPO

# Run as a script so that its worker function is importable by workers started with spawn
# or a fork server (they import the main script as ``__mp_main__``); the patches below the
# main guard apply to the CLI process only.
KILLER = textwrap.dedent("""\
    import multiprocessing
    import os
    import signal
    import sys

    from hkcompute.report import site_report

    VICTIM = sys.argv[1]


    def die_on_victim(loads, start, model_kw):
        # In a worker only: the same function must never kill the CLI process itself.
        if multiprocessing.parent_process() is not None and \\
                any(x.rack.name == VICTIM for x in loads):
            os.kill(os.getpid(), signal.SIGKILL)
        return site_report._draw_chunk(loads, start, model_kw)


    if __name__ == "__main__":
        site_report._draw_chunk = die_on_victim
        # The lab has three racks: draw them in two workers, one rack a chunk.
        site_report._default_jobs = lambda: 2
        site_report.min_parallel_racks = lambda jobs: 1
        from hkcompute.cli.main import app

        app(["report", sys.argv[2], "--out", sys.argv[3]])
""")


def _lab_loads() -> tuple[list[RackLoad], dict[str, float]]:
    site, _ = load_valid_site(LAB)
    model_kw = {d.model: site.catalog.power_kw(d.model) for d in site.devices.values()}
    return list(rack_loads(site).values()), model_kw


def test_a_killed_report_worker_ends_the_command_with_a_clear_error(tmp_path: Path) -> None:
    loads, _ = _lab_loads()
    victim = loads[1].rack.name  # mid-report: a rack before and after it
    script = tmp_path / "kill_a_worker.py"
    script.write_text(KILLER, encoding="utf-8")
    out = tmp_path / "rep"
    try:
        done = subprocess.run(
            [sys.executable, str(script), victim, str(LAB), str(out)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("hkcompute report hung after a worker was killed")
    said = " ".join(done.stderr.split())  # Rich wraps long lines
    assert done.returncode == 1, done.stderr
    assert "a report worker process died (killed by signal SIGKILL)" in said, done.stderr
    assert "Traceback" not in done.stderr
    assert not (out / "report.html").exists()  # nothing half-written


def test_small_sites_draw_without_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    loads, model_kw = _lab_loads()

    def no_processes(*_args: object) -> list[str] | None:
        raise AssertionError("worker processes started for a three-rack site")

    monkeypatch.setattr(site_report, "_draw_parallel", no_processes)
    assert len(rack_svgs(loads, model_kw, jobs=4)) == len(loads)
    assert site_report.min_parallel_racks(1) == sys.maxsize
    # Processes pay only for large sites (see the measurements in site_report).
    assert 500 < site_report.min_parallel_racks(site_report.MAX_JOBS) < 1500


# --- SSH threads: each wait on a host is bounded, so no thread of ``parallel`` can hang.


def _ends_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a daemon thread; what it raised (None if it returned). Fails the
    test, rather than hanging it, if the call is still waiting after ``seconds``."""
    raised: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds} s"
    return raised[0] if raised else None


@pytest.fixture
def silent_host() -> Iterator[ssh.Target]:
    """A host on 127.0.0.1 that completes the TCP handshake (the kernel does it for the
    listen backlog) and then never says a word: a hung sshd, or a host dying mid-session."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        yield ssh.Target("silent", "127.0.0.1", listener.getsockname()[1])


def test_a_host_key_scan_of_a_silent_host_ends(silent_host: ssh.Target) -> None:
    exc = _ends_within(10, lambda: ssh.fetch_host_key(silent_host, timeout=0.5))
    assert isinstance(exc, (paramiko.SSHException, OSError, EOFError)), exc


def test_connecting_to_a_silent_host_ends(silent_host: ssh.Target, tmp_path: Path) -> None:
    exc = _ends_within(
        10, lambda: ssh.connect(silent_host, tmp_path / "known_hosts", None, timeout=0.5)
    )
    assert isinstance(exc, (paramiko.SSHException, OSError, EOFError)), exc


class _Channel:
    """A paramiko channel whose host sent its output and then died before the exit status:
    ``recv_exit_status`` waits on ``status_event`` without limit, as paramiko's does."""

    def __init__(self) -> None:
        self.status_event = threading.Event()

    def recv_exit_status(self) -> int:
        self.status_event.wait()
        return 0


class _File:
    def __init__(self, channel: _Channel) -> None:
        self.channel = channel

    def read(self) -> bytes:
        return b"os=debian-12\n"


class _Client:
    def exec_command(self, command: str, timeout: float | None = None) -> tuple[Any, ...]:
        chan = _Channel()
        return _File(chan), _File(chan), _File(chan)


def test_a_command_whose_exit_status_never_comes_times_out() -> None:
    client: Any = _Client()
    exc = _ends_within(10, lambda: ssh.run(client, "true", timeout=0.3))
    assert isinstance(exc, TimeoutError), exc


def test_parallel_stops_starting_hosts_once_one_fails() -> None:
    started: list[int] = []

    def one(i: int) -> int:
        started.append(i)
        if i == 0:
            raise ValueError("host 0 broke")
        time.sleep(0.2)  # a slow host: all 40 in turn would take 8 s
        return i

    t0 = time.monotonic()
    exc = _ends_within(30, lambda: ssh.parallel(list(range(40)), one, workers=2))
    assert isinstance(exc, ValueError)
    assert len(started) <= 4 and time.monotonic() - t0 < 3, started


def test_verify_ssh_gives_up_on_a_host_that_dies_mid_session(tmp_path: Path) -> None:
    from hkcompute.verify.testinfra_runner import backend

    h = backend("n1", {"ansible_host": "127.0.0.1", "ansible_port": 2222}, tmp_path / "known_hosts")
    args = h.backend.ssh_extra_args.split()
    # ssh's keepalives: silence for interval x count seconds ends the session.
    assert "ServerAliveInterval=5" in args and "ServerAliveCountMax=3" in args


def test_preflight_reports_a_host_that_goes_quiet_mid_probe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The probe's timeout is that host's finding; the other hosts are still checked."""
    from hkcompute.deploy import preflight as pf

    site, _ = load_valid_site(LAB, 1)

    class _Quiet:
        def close(self) -> None:
            pass

    def fake_run(client: Any, command: str, timeout: float = 20.0) -> tuple[int, str]:
        raise TimeoutError("no exit status within 20 s (host gone quiet)")

    monkeypatch.setattr(pf, "connect", lambda *a, **k: _Quiet())
    monkeypatch.setattr(pf, "run", fake_run)
    targets = [ssh.Target(h, "127.0.0.1", 1) for h in ("lab-su1-n01", "lab-su1-n02")]
    checks = pf.preflight(site, targets, tmp_path / "known_hosts", None)
    assert [c.host for c in checks] == ["lab-su1-n01", "lab-su1-n02"]
    for c in checks:
        assert not c.ok
        assert c.mismatches[0][0] == "ssh" and "gone quiet" in c.mismatches[0][2]
