"""The run journal: one folder per run under ``<state>/runs/<run id>/``.

``run.json`` records who ran what, when, against which inventory hash, and each host's
outcome; it is rewritten atomically after every host result, so a run killed at any moment
leaves a readable journal whose unfinished hosts show as ``pending`` (and are resumed).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hkcompute.atomic import write_json
from hkcompute.errors import UsageError

RUNS = "runs"
RUN_FILE = "run.json"

# Host outcomes: 'ok' and 'changed' are done; the others are re-run by --resume.
DONE = frozenset({"ok", "changed"})
UNFINISHED = frozenset({"failed", "unreachable", "pending", "skipped_by_failure"})


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_run_id() -> str:
    """Sortable by time (to the millisecond: two runs started in one second list in the
    order they started), unique across concurrent starts."""
    now = dt.datetime.now(dt.UTC)
    return (
        now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond // 1000:03d}Z-" + secrets.token_hex(3)
    )


@dataclass
class HostResult:
    status: str = "pending"  # pending, ok, changed, failed, unreachable, skipped_by_failure
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    message: str = ""


@dataclass
class Run:
    run_id: str
    site: str
    phase: int | None
    command: str
    inventory_hash: str
    user: str = field(default_factory=getpass.getuser)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started: str = field(default_factory=now)
    finished: str | None = None
    status: str = "running"  # running, ok, failed, interrupted
    check: bool = False
    resumed_from: str | None = None
    hosts: dict[str, HostResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hosts"] = {h: asdict(r) for h, r in sorted(self.hosts.items())}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Run:
        hosts = {h: HostResult(**r) for h, r in d.get("hosts", {}).items()}
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "hosts"}
        return cls(**fields, hosts=hosts)

    def unfinished_hosts(self) -> list[str]:
        return sorted(h for h, r in self.hosts.items() if r.status not in DONE)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.hosts.values():
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))


class Journal:
    def __init__(self, state: Path) -> None:
        self.root = state / RUNS

    def path(self, run_id: str) -> Path:
        if "/" in run_id or run_id.startswith("."):
            raise UsageError(f"not a run id: {run_id!r}")
        return self.root / run_id

    def save(self, run: Run) -> None:
        write_json(self.path(run.run_id) / RUN_FILE, run.to_dict())

    def load(self, run_id: str) -> Run:
        p = self.path(run_id) / RUN_FILE
        try:
            return Run.from_dict(json.loads(p.read_text(encoding="utf-8")))
        except FileNotFoundError:
            known = ", ".join(r.run_id for r in self.list()[-5:]) or "none"
            raise UsageError(f"no run {run_id!r} (latest: {known})") from None
        except (ValueError, TypeError) as exc:
            raise UsageError(f"run {run_id!r} has an unreadable journal: {exc}") from None

    def list(self) -> list[Run]:
        if not self.root.is_dir():
            return []
        runs = []
        for d in sorted(self.root.iterdir()):
            p = d / RUN_FILE
            if p.is_file():
                try:
                    runs.append(Run.from_dict(json.loads(p.read_text(encoding="utf-8"))))
                except (ValueError, TypeError):
                    continue  # an unreadable journal is reported by `runs RUN_ID`
        return runs
