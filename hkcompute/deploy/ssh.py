"""The toolkit's own SSH work (host-key scans, preflight) with paramiko.

Host keys are checked by default against a known_hosts file kept with the site state and
filled only by an explicit ``hkcompute hostkeys --scan``; a changed key is never accepted
silently. ``AutoAddPolicy`` is used only when the caller passes ``accept_new=True`` (an
explicit command-line flag).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import paramiko

from hkcompute.atomic import write_text

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    host: str
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None  # from the inventory (the lab's overlay names its key)

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"


def targets_from_inventory(inventory: dict[str, Any]) -> list[Target]:
    out = []
    for host, hv in sorted(inventory["_meta"]["hostvars"].items()):
        addr = hv.get("ansible_host")
        if not addr:
            continue
        key = hv.get("ansible_ssh_private_key_file")
        out.append(
            Target(
                host,
                str(addr),
                int(hv.get("ansible_port", 22)),
                str(hv.get("ansible_user", "root")),
                str(key) if key else None,
            )
        )
    return out


def load_known_hosts(path: Path) -> paramiko.HostKeys:
    keys = paramiko.HostKeys()
    if path.is_file():
        keys.load(str(path))
    return keys


@dataclass
class ScanResult:
    target: Target
    key_type: str = ""
    fingerprint: str = ""
    status: str = ""  # new, same, changed, error
    message: str = ""
    key: paramiko.PKey | None = field(default=None, repr=False)


def fetch_host_key(t: Target, timeout: float = 10.0) -> paramiko.PKey:
    # Every wait is bounded: the connect and each read by the socket's timeout, the SSH
    # handshake by start_client's; a silent host costs ``timeout`` seconds, not a thread.
    sock = socket.create_connection((t.address, t.port), timeout=timeout)
    try:
        transport = paramiko.Transport(sock)
    except BaseException:
        sock.close()
        raise
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def _fp(key: paramiko.PKey) -> str:
    return key.fingerprint if hasattr(key, "fingerprint") else key.get_base64()[:16]


def scan(
    targets: Iterable[Target],
    known: paramiko.HostKeys,
    workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScanResult]:
    def one(t: Target) -> ScanResult:
        try:
            key = fetch_host_key(t)
        except (OSError, paramiko.SSHException) as exc:
            return ScanResult(t, status="error", message=str(exc) or type(exc).__name__)
        recorded = known.lookup(t.known_hosts_name)
        res = ScanResult(t, key.get_name(), _fp(key), key=key)
        if recorded is None or key.get_name() not in recorded:
            res.status = "new"
        elif recorded[key.get_name()] == key:
            res.status = "same"
        else:
            res.status = "changed"
            res.message = "the host key differs from the one on record: NOT accepted"
        return res

    return parallel(list(targets), one, workers, progress)


def record(path: Path, known: paramiko.HostKeys, results: Iterable[ScanResult]) -> int:
    """Add the keys of hosts seen for the first time; never overwrite a recorded key."""
    added = 0
    for r in results:
        if r.status == "new" and r.key is not None:
            known.add(r.target.known_hosts_name, r.key.get_name(), r.key)
            added += 1
    if added:
        lines = []
        for name in sorted(known.keys()):
            for ktype, key in sorted(known[name].items()):
                lines.append(f"{name} {ktype} {key.get_base64()}")
        write_text(path, "\n".join(lines) + "\n")
    return added


def parallel(
    items: list[T],
    fn: Callable[[T], Any],
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """``fn`` of each item in threads (the work is network waits), results in item order.

    ``fn`` must bound its own waits (connect, read and exit-status timeouts, as ``connect``
    and ``run`` do): a thread cannot be stopped from outside. If ``fn`` raises, or on
    Ctrl-C, hosts not yet started are dropped, so only the few in flight are waited for
    rather than every remaining host at ``timeout`` seconds each."""
    results: list[Any] = [None] * len(items)
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        futures = {pool.submit(fn, it): i for i, it in enumerate(items)}
        try:
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                done += 1
                if progress is not None:
                    progress(done, len(items))
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def connect(
    t: Target,
    known_hosts: Path,
    key_file: Path | None,
    *,
    accept_new: bool = False,
    timeout: float = 10.0,
) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts)) if known_hosts.is_file() else None
    # Reject unknown keys unless the user explicitly asked to accept new ones.
    client.set_missing_host_key_policy(
        paramiko.AutoAddPolicy() if accept_new else paramiko.RejectPolicy()
    )
    key = str(key_file) if key_file else t.key_file
    client.connect(
        t.address,
        port=t.port,
        username=t.user,
        key_filename=key,
        timeout=timeout,
        banner_timeout=timeout,
        auth_timeout=timeout,
        allow_agent=key is None,
        look_for_keys=key is None,
    )
    return client


def run(client: paramiko.SSHClient, command: str, timeout: float = 20.0) -> tuple[int, str]:
    """Run ``command``; its exit status and output (stderr when it failed silently).

    A host that goes quiet for ``timeout`` seconds at any step raises: paramiko's
    SSHException while opening the channel, TimeoutError (an OSError) after that."""
    # The timeout bounds opening the channel and each read of its output.
    _stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    # recv_exit_status() itself waits without limit: a host that dies (no RST, no
    # keepalive) between its last output and its exit status would hold the thread forever.
    if not stdout.channel.status_event.wait(timeout):
        raise TimeoutError(f"no exit status within {timeout:g} s (host gone quiet)")
    rc = stdout.channel.recv_exit_status()
    if rc != 0 and not out:
        out = stderr.read().decode(errors="replace")
    return rc, out
