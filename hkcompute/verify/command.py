"""Verification as a library call: derive the checks and run them on the hosts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hkcompute.deploy.ansible_inventory import build_inventory
from hkcompute.deploy.hostmatch import select
from hkcompute.deploy.rollout import connections_file
from hkcompute.errors import HkError
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.verify.checks import derive
from hkcompute.verify.testinfra_runner import Result, verify


def run_verify(
    site: Site,
    phase: int,
    state: Path,
    render_dir: Path | None = None,
    limit: str | None = None,
    settle: float = 45.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Result]:
    tree = render_dir or Path("build") / site.info.name / f"phase-{phase}"
    if not (tree / "manifest.json").is_file():
        raise HkError(f"no rendered tree at {tree}: run `hkcompute render` or deploy first")
    plan = plan_for(site, phase)
    conn = connections_file(state)
    connections = json.loads(conn.read_text()) if conn.is_file() else None
    inv = build_inventory(site, plan, phase, tree, connections)
    hosts = select(inv, limit)
    checks = derive(site, plan, phase, tree, hosts)
    return verify(
        checks,
        inv["_meta"]["hostvars"],
        (state / "known_hosts").resolve(),
        settle=settle,
        progress=progress,
    )
