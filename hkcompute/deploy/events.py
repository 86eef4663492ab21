"""Turn ansible-runner events into per-host tallies, progress and a final summary.

Events also pass through ``Masker`` before ansible-runner writes them to its artifacts:
secret values are replaced in place (ansible-runner #191: values can leak into events even
around no_log in some paths), so neither artifacts nor the journal ever hold them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MASK = "********"

HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
    "runner_item_on_failed": None,
    "runner_on_async_failed": "failed",
}


class Masker:
    """Replace every occurrence of the given secret values inside an event."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would mask ordinary words; secrets this short are refused upstream.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            for s in self.secrets:
                if s in value:
                    value = value.replace(s, MASK)
            return value
        if isinstance(value, dict):
            for k in list(value):
                value[k] = self.scrub(value[k])
            return value
        if isinstance(value, list):
            for i, v in enumerate(value):
                value[i] = self.scrub(v)
            return value
        return value


@dataclass
class HostTally:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    last_task: str = ""
    message: str = ""
    changed_tasks: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        if self.changed:
            return "changed"
        if self.ok or self.skipped:
            return "ok"
        return "pending"


@dataclass
class Tally:
    """Everything seen so far in a run."""

    hosts: dict[str, HostTally] = field(default_factory=dict)
    task: str = ""
    play: str = ""
    tasks_started: int = 0
    stats_seen: bool = False
    # (host, task, unified diff) for every change with a diff (--diff), in event order
    diffs: list[tuple[str, str, str]] = field(default_factory=list)

    def host(self, name: str) -> HostTally:
        t = self.hosts.get(name)
        if t is None:
            t = self.hosts[name] = HostTally()
        return t

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = str(data.get("play", ""))
        elif kind == "playbook_on_task_start":
            self.task = str(data.get("task", ""))
            self.tasks_started += 1
        elif kind in HOST_EVENTS and HOST_EVENTS[kind] is not None:
            host = str(data.get("host", ""))
            if not host:
                return
            t = self.host(host)
            t.last_task = str(data.get("task", self.task))
            res = data.get("res") or {}
            outcome = HOST_EVENTS[kind]
            if isinstance(res, dict) and res.get("diff") and res.get("changed"):
                text = render_diff(res["diff"])
                if text:
                    self.diffs.append((host, t.last_task, text))
            if outcome == "ok":
                if isinstance(res, dict) and res.get("changed"):
                    t.changed += 1
                    t.changed_tasks.append(t.last_task)
                else:
                    t.ok += 1
            elif outcome == "failed":
                if data.get("ignore_errors"):
                    t.ok += 1
                else:
                    t.failed += 1
                    t.message = _message(res)
            elif outcome == "unreachable":
                t.unreachable += 1
                t.message = _message(res)
            elif outcome == "skipped":
                t.skipped += 1
        elif kind == "playbook_on_stats":
            self._stats(data)

    def _stats(self, data: dict[str, Any]) -> None:
        """The final recap is authoritative for counts (retries and loops included)."""
        self.stats_seen = True
        names: set[str] = set()
        for key in ("ok", "changed", "failures", "dark", "skipped", "processed"):
            names.update((data.get(key) or {}).keys())
        for h in names:
            t = self.host(h)
            changed = int((data.get("changed") or {}).get(h, 0))
            t.changed = changed
            t.ok = int((data.get("ok") or {}).get(h, 0)) - changed
            t.failed = int((data.get("failures") or {}).get(h, 0))
            t.unreachable = int((data.get("dark") or {}).get(h, 0))
            t.skipped = int((data.get("skipped") or {}).get(h, 0))

    def totals(self) -> dict[str, int]:
        out = {"ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0}
        for t in self.hosts.values():
            out["ok"] += t.ok
            out["changed"] += t.changed
            out["failed"] += t.failed
            out["unreachable"] += t.unreachable
            out["skipped"] += t.skipped
        return out


def render_diff(diff: Any) -> str:
    """Ansible's diff results (before/after pairs, or prepared text) as a unified diff."""
    parts = diff if isinstance(diff, list) else [diff]
    out: list[str] = []
    for d in parts:
        if not isinstance(d, dict):
            continue
        if d.get("prepared"):
            out.append(str(d["prepared"]).rstrip("\n"))
            continue
        before, after = d.get("before"), d.get("after")
        if not isinstance(before, str) or not isinstance(after, str):
            continue
        out.extend(
            line.rstrip("\n")
            for line in difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                str(d.get("before_header", "before")),
                str(d.get("after_header", "after")),
            )
        )
    return "\n".join(out)


def _message(res: Any) -> str:
    if not isinstance(res, dict):
        return ""
    for key in ("msg", "stderr", "module_stderr"):
        v = res.get(key)
        if v:
            text = str(v).strip().splitlines()
            return text[0][:300] if text else ""
    return ""
