"""Collect ``lldpcli -f json show neighbors`` from the hosts and switches over SSH.

The same targets and connection settings as ``hkcompute preflight``: the Ansible inventory's
hosts (with the lab's connection overlay when the lab is up), host keys checked against the
state's known_hosts, the key from ``--private-key`` or the inventory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko

from hkcompute.deploy.ansible_inventory import build_inventory
from hkcompute.deploy.hostmatch import select
from hkcompute.deploy.rollout import connections_file
from hkcompute.deploy.ssh import Target, connect, parallel, run, targets_from_inventory
from hkcompute.model import Site
from hkcompute.plan import Plan

COMMAND = "lldpcli -f json show neighbors"


@dataclass(frozen=True)
class Answer:
    host: str
    text: str | None  # lldpcli's JSON, or None when nothing came back
    error: str = ""


def targets(
    site: Site, plan: Plan, phase: int, state: Path, limit: str | None = None
) -> list[Target]:
    conn = connections_file(state)
    connections = json.loads(conn.read_text()) if conn.is_file() else None
    inv = build_inventory(
        site, plan, phase, Path("build") / site.info.name / f"phase-{phase}", connections
    )
    chosen = set(select(inv, limit))
    return [t for t in targets_from_inventory(inv) if t.host in chosen]


def collect(
    hosts: list[Target],
    known_hosts: Path,
    key_file: Path | None,
    *,
    accept_new: bool = False,
    workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[Answer]:
    def one(t: Target) -> Answer:
        try:
            client = connect(t, known_hosts, key_file, accept_new=accept_new)
        except paramiko.BadHostKeyException:
            return Answer(t.host, None, "host key differs from the one on record: not connected")
        except (paramiko.SSHException, OSError) as exc:
            msg = str(exc) or type(exc).__name__
            if "not found in known_hosts" in msg:
                msg = "no host key on record: run `hkcompute hostkeys SITE --scan` first"
            return Answer(t.host, None, f"ssh: {msg}")
        try:
            rc, out = run(client, COMMAND)
        except (OSError, paramiko.SSHException) as exc:
            return Answer(t.host, None, f"ssh: {exc or type(exc).__name__}")
        finally:
            client.close()
        if rc != 0:
            return Answer(t.host, None, f"`{COMMAND}` exited {rc}: {out.strip()[-200:]}")
        return Answer(t.host, out)

    return parallel(hosts, one, workers, progress)
