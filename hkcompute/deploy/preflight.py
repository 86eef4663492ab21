"""Preflight: is each host what the inventory says, before anything is changed?

Over SSH (paramiko, host keys checked), in parallel: reachable, host key on record, OS
release, free disk, NIC count and link speeds, accelerator count (by the accelerator
platform's own ``count_probe``, catalogue data). Each difference becomes a mismatch row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from hkcompute.deploy.ssh import Target, connect, parallel, run
from hkcompute.model import Site

MIN_FREE_GB = 10.0
PROBE = r"""
. /etc/os-release 2>/dev/null; echo "os=$ID-$VERSION_ID"
echo "free_kb=$(df -Pk / | awk 'NR==2 {print $4}')"
for n in /sys/class/net/*; do
  b=$(basename "$n"); [ "$b" = lo ] && continue
  case "$b" in docker*|veth*|br-*|virbr*) continue;; esac
  echo "nic=$b $(cat "$n/speed" 2>/dev/null || echo -1)"
done
"""


def probe_script(want: Expect) -> str:
    """The probe for one host: the common part, then its accelerator platform's count
    command, whose output (empty when the tool is missing) becomes ``accelerators``."""
    if not want.probe:
        return PROBE
    return PROBE + f'echo "accelerators=$( {{ {want.probe} ; }} 2>/dev/null )"\n'


@dataclass
class Expect:
    os: str
    nics: int
    accelerators: int
    accel_kind: str  # the GRES name the scheduler sees (gpu, npu ...), or ""
    probe: str | None = None  # the shell command that prints the device count


@dataclass
class HostCheck:
    host: str
    reachable: bool = False
    facts: dict[str, str] = field(default_factory=dict)
    nics: list[tuple[str, int]] = field(default_factory=list)
    mismatches: list[tuple[str, str, str]] = field(default_factory=list)  # (what, want, got)

    @property
    def ok(self) -> bool:
        return self.reachable and not self.mismatches


def expectation(site: Site, host: str) -> Expect:
    d = site.devices[host]
    server = site.catalog.servers.get(d.model)
    storage = site.catalog.storage.get(d.model)
    nics = server.nics if server else (storage.nics if storage else [])
    # The BMC port is the BMC's own, not the host's: the OS never sees it.
    count = sum(n.count for n in nics if n.network != "oob")
    acc, n, _ = site.accelerators_of(d)
    os_name = server.os if server else "debian-12"
    return Expect(os_name, count, n, acc.gres if acc else "", acc.count_probe if acc else None)


def parse(out: str) -> tuple[dict[str, str], list[tuple[str, int]]]:
    facts: dict[str, str] = {}
    nics: list[tuple[str, int]] = []
    for line in out.splitlines():
        key, _, value = line.partition("=")
        if key == "nic":
            name, _, speed = value.partition(" ")
            nics.append((name, int(speed) if speed.lstrip("-").isdigit() else -1))
        elif key:
            facts[key] = value.strip()
    return facts, nics


def compare(
    host: str, want: Expect, facts: dict[str, str], nics: list[tuple[str, int]], lab: bool = False
) -> HostCheck:
    hc = HostCheck(host, True, facts, nics)
    if facts.get("os") != want.os:
        hc.mismatches.append(("os release", want.os, facts.get("os", "?")))
    try:
        free_gb = int(facts.get("free_kb", "0")) / 1048576
    except ValueError:
        free_gb = 0.0
    if free_gb < MIN_FREE_GB:
        hc.mismatches.append(("free disk on /", f">= {MIN_FREE_GB:g} GB", f"{free_gb:.1f} GB"))
    if not lab:
        if len(nics) != want.nics:
            hc.mismatches.append(("NIC count", str(want.nics), str(len(nics))))
        down = [n for n, s in nics if s <= 0]
        if down:
            hc.mismatches.append(("NICs without link", "none", ", ".join(sorted(down))))
        if want.accelerators:
            got = facts.get("accelerators") or None
            if got is None:
                said = f"no answer from `{want.probe}`" if want.probe else "no count probe"
                hc.mismatches.append((f"{want.accel_kind} count", str(want.accelerators), said))
            elif got != str(want.accelerators):
                hc.mismatches.append((f"{want.accel_kind} count", str(want.accelerators), got))
    return hc


def preflight(
    site: Site,
    targets: list[Target],
    known_hosts: Path,
    key_file: Path | None,
    *,
    accept_new: bool = False,
    lab: bool = False,
    workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[HostCheck]:
    def one(t: Target) -> HostCheck:
        try:
            client = connect(t, known_hosts, key_file, accept_new=accept_new)
        except paramiko.BadHostKeyException:
            hc = HostCheck(t.host)
            hc.mismatches.append(
                ("host key", "as on record", "DIFFERENT: possible impersonation; not connected")
            )
            return hc
        except paramiko.SSHException as exc:
            hc = HostCheck(t.host)
            msg = str(exc)
            if "not found in known_hosts" in msg:
                msg = "no host key on record: run `hkcompute hostkeys SITE --scan` first"
            hc.mismatches.append(("ssh", "reachable", msg))
            return hc
        except OSError as exc:
            hc = HostCheck(t.host)
            hc.mismatches.append(("ssh", "reachable", str(exc) or type(exc).__name__))
            return hc
        want = expectation(site, t.host)
        try:
            _rc, out = run(client, probe_script(want))
        except (OSError, paramiko.SSHException) as exc:
            # A host that went quiet mid-probe is that host's finding, not the run's end.
            hc = HostCheck(t.host)
            hc.mismatches.append(("ssh", "answers the probe", str(exc) or type(exc).__name__))
            return hc
        finally:
            client.close()
        facts, nics = parse(out)
        return compare(t.host, want, facts, nics, lab)

    return parallel(targets, one, workers, progress)
