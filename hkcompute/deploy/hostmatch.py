"""Ansible-style host patterns over our own inventory, to know which hosts a run covers.

Supports what runbooks use: comma or colon separated items, each a host name, a group name
or a shell glob; ``!item`` excludes, ``&item`` intersects.
"""

from __future__ import annotations

import fnmatch
from typing import Any


def hosts_of(item: str, groups: dict[str, list[str]], all_hosts: list[str]) -> set[str]:
    if item in ("all", "*"):
        return set(all_hosts)
    if item in groups:
        return set(groups[item])
    return {h for h in all_hosts if fnmatch.fnmatchcase(h, item)}


def select(inventory: dict[str, Any], pattern: str | None) -> list[str]:
    all_hosts = sorted(inventory["_meta"]["hostvars"])
    if not pattern:
        return all_hosts
    groups = {
        k: v.get("hosts", []) for k, v in inventory.items() if k != "_meta" and isinstance(v, dict)
    }
    chosen: set[str] = set()
    items = [p for p in pattern.replace(":", ",").split(",") if p.strip()]
    for item in (i.strip() for i in items):
        if not item.startswith(("!", "&")):
            chosen |= hosts_of(item, groups, all_hosts)
    for item in (i.strip() for i in items):
        if item.startswith("&"):
            chosen &= hosts_of(item[1:], groups, all_hosts)
        elif item.startswith("!"):
            chosen -= hosts_of(item[1:], groups, all_hosts)
    return sorted(chosen)
