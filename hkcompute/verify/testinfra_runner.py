"""Run verification checks on hosts through testinfra (kept behind this one module: the
project is barely maintained). SSH checks host keys against the site's known_hosts."""

from __future__ import annotations

import json
import shlex
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hkcompute.deploy.ssh import parallel
from hkcompute.verify.checks import Check


@dataclass
class Result:
    check: Check
    ok: bool
    found: str


def backend(host: str, hv: dict[str, Any], known_hosts: Path) -> Any:
    import testinfra

    user = hv.get("ansible_user", "root")
    addr = hv.get("ansible_host", host)
    port = hv.get("ansible_port", 22)
    key = hv.get("ansible_ssh_private_key_file")
    # testinfra bounds the connect (ConnectTimeout=10) but not a host that dies mid-session:
    # without keepalives ssh would wait for it for hours, holding a thread of ``parallel``.
    # These end it after ~15 s of silence (ssh exits 255; every check of that host fails).
    extra = (
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes "
        "-o BatchMode=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=3"
    )
    kwargs: dict[str, Any] = {"ssh_extra_args": extra}
    if key:
        kwargs["ssh_identity_file"] = key
    return testinfra.get_host(f"ssh://{user}@{addr}:{port}", **kwargs)


def _sh(h: Any, cmd: str) -> tuple[int, str]:
    r = h.run(cmd)
    return int(r.rc), (r.stdout or "") + (r.stderr or "")


def run_host(h: Any, checks: list[Check], settle: float = 30.0) -> list[Result]:
    out: list[Result] = []
    files = [c for c in checks if c.kind == "file"]
    if files:
        # One round trip for all files: sha256 and mode of each.
        paths = " ".join(shlex.quote(c.target) for c in files)
        _rc, text = _sh(
            h,
            f'for f in {paths}; do if [ -f "$f" ]; then '
            'echo "$(sha256sum < "$f" | cut -d\' \' -f1) '
            '$(stat -c %a "$f") $f"; else echo "missing - $f"; fi; done',
        )
        got = {}
        for line in text.splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3:
                got[parts[2]] = (parts[0], parts[1])
        for c in files:
            digest, mode = c.expected.split()
            g = got.get(c.target, ("missing", "-"))
            ok = g[0] == digest and int(g[1], 8) == int(mode, 8) if g[1] != "-" else False
            out.append(
                Result(
                    c,
                    ok,
                    "content and mode as rendered"
                    if ok
                    else ("missing" if g[0] == "missing" else f"sha256 {g[0][:12]}, mode {g[1]}"),
                )
            )
    for c in checks:
        if c.kind == "service":
            s = h.service(c.target)
            running, enabled = s.is_running, s.is_enabled
            out.append(
                Result(
                    c,
                    running and enabled,
                    f"{'running' if running else 'NOT running'}, "
                    f"{'enabled' if enabled else 'NOT enabled'}",
                )
            )
        elif c.kind == "port":
            _rc, text = _sh(h, f"ss -Hlntu 'sport = :{c.target}'")
            ok = bool(text.strip())
            out.append(Result(c, ok, "listening" if ok else "nothing listens"))
    out += _retrying(h, [c for c in checks if c.kind in ("ntp", "bgp", "route")], settle)
    dns = [c for c in checks if c.kind == "dns"]
    if dns:
        script = "; ".join(
            f"echo {shlex.quote(c.target)} $(dig +short +time=2 +tries=1 "
            f"@127.0.0.1 {shlex.quote(c.target)} A | head -1)"
            for c in dns
        )
        _rc, text = _sh(h, script)
        answers: dict[str, str] = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            answers[name] = value.strip()
        for c in dns:
            ans = answers.get(c.target, "")
            out.append(Result(c, ans == c.expected, ans or "no answer"))
    pings = [c for c in checks if c.kind == "ping"]
    if pings:
        script = (
            " ".join(
                f"(ping -n -q -c 1 -W 2 -I {c.expected.split()[1]} {c.target} >/dev/null 2>&1 "
                f"&& echo ok {c.target} || echo fail {c.target}) &"
                for c in pings
            )
            + " wait"
        )
        _rc, text = _sh(h, script)
        status = {
            line.split()[1]: line.split()[0] for line in text.splitlines() if len(line.split()) == 2
        }
        for c in pings:
            ok = status.get(c.target) == "ok"
            out.append(Result(c, ok, "reached" if ok else "unreachable"))
    return out


def _retrying(h: Any, checks: list[Check], settle: float) -> list[Result]:
    """BGP sessions, routes and NTP take seconds to converge after a deploy: retry until
    all pass or ``settle`` seconds have gone."""
    if not checks:
        return []
    deadline = time.monotonic() + settle
    while True:
        flat = _once(h, checks)
        if all(r.ok for r in flat) or time.monotonic() > deadline:
            return flat
        time.sleep(2)


def _once(h: Any, checks: list[Check]) -> list[Result]:
    out = []
    bgp = [c for c in checks if c.kind == "bgp"]
    routes = [c for c in checks if c.kind == "route"]
    if bgp:
        _rc, text = _sh(h, "vtysh -c 'show bgp summary json'")
        peers: dict[str, str] = {}
        try:
            doc = json.loads(text)
            for fam in doc.values():
                for addr, p in (fam.get("peers") or {}).items():
                    peers[addr] = p.get("state", "?")
        except (ValueError, AttributeError):
            pass
        for c in bgp:
            state = peers.get(c.target, "not configured")
            out.append(Result(c, state == "Established", state))
    if routes:
        _rc, text = _sh(h, "vtysh -c 'show ip route json'")
        try:
            table = json.loads(text)
        except ValueError:
            table = {}
        for c in routes:
            ok = c.target in table
            out.append(Result(c, ok, "in the routing table" if ok else "missing"))
    for c in (c for c in checks if c.kind == "ntp"):
        _rc, text = _sh(h, "chronyc -n sources")
        synced = [line.split()[1] for line in text.splitlines() if line.startswith("^*")]
        ok = bool(synced) and synced[0] in c.expected.split()
        out.append(Result(c, ok, f"synchronised to {synced[0]}" if synced else "not synchronised"))
    return out


def verify(
    checks: list[Check],
    hostvars: dict[str, dict[str, Any]],
    known_hosts: Path,
    workers: int = 8,
    settle: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    by_host: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        by_host[c.host].append(c)
    hosts = sorted(by_host)

    def one(host: str) -> list[Result]:
        try:
            h = backend(host, hostvars.get(host, {}), known_hosts)
            return run_host(h, by_host[host], settle)
        except Exception as exc:  # unreachable, host key refused...: every check fails
            msg = (
                str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
            )
            return [Result(c, False, f"cannot check: {msg}") for c in by_host[host]]

    results: list[Result] = []
    for chunk in parallel(hosts, one, workers, progress):
        results.extend(chunk)
    return results
