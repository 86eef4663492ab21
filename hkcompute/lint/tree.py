"""Check a rendered tree: every file a checker is declared for, each distinct content once.

Which checkers read which file comes from the renderer's file specs
(``renderer.checkers_for``), never from a list of paths here; what each checker does comes
from the registry. A check's verdict depends only on what it reads (``Checker.key``), so
files that are the same on many hosts (slurm.conf, a node's chrony.conf) are checked once
and the verdict is reported for every host that has them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from hkcompute.lint import base, sandbox
from hkcompute.lint.base import DEFAULT_TIMEOUT, ToolResult
from hkcompute.render.renderer import checkers_for

Progress = Callable[[int, int], None]


def recognise(relative: str) -> tuple[str, ...]:
    """The checkers of a file at ``relative`` (a path inside a host tree, no leading /)."""
    return checkers_for("/" + relative.lstrip("/"))


def _units(host: Path) -> list[tuple[str, list[Path]]]:
    """What to check on one host tree: (checker, files), in the order of the files' paths
    and then of the checkers their specs name. A checker that reads a host's files together
    gets them in one unit, at the place of its first file."""
    units: list[tuple[str, list[Path]]] = []
    together: dict[str, list[Path]] = {}
    for file in sorted(p for p in host.rglob("*") if p.is_file()):
        for name in recognise(file.relative_to(host).as_posix()):
            if base.get(name).together:
                if name not in together:
                    together[name] = []
                    units.append((name, together[name]))
                together[name].append(file)
            else:
                units.append((name, [file]))
    return units


def check_tree(
    root: Path,
    *,
    hosts: str | None = None,
    skip_unavailable: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> list[ToolResult]:
    """Check every file a checker is declared for, in every host tree under ``root``
    (``DIR/hosts``; with ``hosts``, only the trees whose name matches that shell pattern).

    Results come host by host (sorted), then file by file, one per checker: ok, failed, or
    ``skipped`` when the checker cannot run here (left out with ``skip_unavailable``). A
    result whose verdict was reached on another host's identical file names that file in
    ``same_as``. Files no checker is declared for (``etc/hosts``...) are left alone.
    """
    root = sandbox.abspath(root)
    trees = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if hosts is not None:
        trees = [t for t in trees if fnmatch.fnmatchcase(t.name, hosts)]
    plan = [(tree, name, files) for tree in trees for name, files in _units(tree)]
    reasons: dict[str, str | None] = {}
    verdicts: dict[tuple[str, str], ToolResult] = {}
    results: list[ToolResult] = []
    for i, (tree, name, files) in enumerate(plan, 1):
        if name not in reasons:
            reasons[name] = base.available(name)
        reason = reasons[name]
        if reason is not None:
            if not skip_unavailable:
                results.append(replace(base.not_checked(name, files[0], reason), host=tree.name))
        else:
            key = (name, base.get(name).key(files, tree))
            seen = verdicts.get(key)
            if seen is None:
                got = replace(
                    base.check(name, files, host_root=tree, timeout=timeout), host=tree.name
                )
                verdicts[key] = got
                results.append(got)
            else:
                # The same relative paths (they are in the key), on this host's tree.
                rel = Path(seen.path).relative_to(root / str(seen.host))
                results.append(
                    replace(seen, path=str(tree / rel), host=tree.name, same_as=seen.path)
                )
        if progress is not None:
            progress(i, len(plan))
    return results
