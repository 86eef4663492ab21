"""What ``hkcompute render --lint`` reports: each check's status, as text or JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute.errors import InputError
from hkcompute.lint import base
from hkcompute.lint.base import DEFAULT_TIMEOUT, ToolResult
from hkcompute.lint.tree import Progress, check_tree

OK, FAILED, SKIPPED = "ok", "failed", "skipped"
TAIL_LINES = 40  # of a failed program's output in the text report (JSON has all of it)


@dataclass(frozen=True)
class LintReport:
    """The checks of one rendered tree. ``required``: a program that is not installed is a
    failure, not a skip (``base.tools_required``: CI)."""

    out: Path
    results: list[ToolResult]
    required: bool
    runs: int = field(default=0)

    def status(self, r: ToolResult) -> str:
        if r.ok:
            return OK
        return SKIPPED if r.skipped and not self.required else FAILED

    @property
    def ok(self) -> bool:
        return all(self.status(r) != FAILED for r in self.results)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, FAILED: 0, SKIPPED: 0}
        for r in self.results:
            out[self.status(r)] += 1
        return out

    def shown(self, path: str) -> str:
        """A path as the user named the output folder (``build/lab/hosts/...``)."""
        root = self.out.absolute()
        p = Path(path)
        return str(self.out / p.relative_to(root)) if p.is_relative_to(root) else path

    def program(self, r: ToolResult) -> str:
        return base.get(r.kind).programs[0].binary

    def text(self) -> str:
        lines = []
        for r in self.results:
            status = self.status(r)
            line = f"{status:<7} {r.kind:<16} {self.shown(r.path)}"
            if r.same_as is not None:
                line += f"  (same as {self.shown(r.same_as)})"
            lines.append(line)
            if status == OK:
                continue
            if r.skipped:
                note = r.output.removeprefix("not checked: ")
                lines.append(f"    {self.program(r)} was not run: {note}")
                if self.required:
                    lines.append(
                        "    (CI=true or HKCOMPUTE_REQUIRE_TOOLS=1: a program that "
                        "is not installed is a failure)"
                    )
                continue
            out = r.output.rstrip("\n").splitlines()
            lines.append(f"    {self.program(r)} says ({' '.join(r.command)}):")
            if len(out) > TAIL_LINES:
                lines.append(
                    f"    ... {len(out) - TAIL_LINES} earlier lines left out "
                    "(--format json has them all)"
                )
            lines += [f"    {x}" for x in out[-TAIL_LINES:]]
        return "\n".join(lines)

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{self.out}: lint {c[OK]} ok, {c[FAILED]} failed, {c[SKIPPED]} skipped "
            f"({self.runs} program runs for {len(self.results)} checks)"
        )

    def json(self) -> str:
        doc = {
            "ok": self.ok,
            "counts": self.counts(),
            "runs": self.runs,
            "results": [
                {
                    "status": self.status(r),
                    "kind": r.kind,
                    "host": r.host,
                    "path": self.shown(r.path),
                    "program": self.program(r),
                    "same_as": None if r.same_as is None else self.shown(r.same_as),
                    "command": r.command,
                    "output": r.output,
                }
                for r in self.results
            ],
        }
        return json.dumps(doc, indent=2, sort_keys=True)


def lint_output(
    out: Path,
    *,
    hosts: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
) -> LintReport:
    """Check the rendered tree in ``out`` (a ``hkcompute render --out`` folder)."""
    tree = out / "hosts"
    if not tree.is_dir():
        raise InputError(f"{out} holds no rendered tree (no {tree}): render it first")
    results = check_tree(tree, hosts=hosts, timeout=timeout, progress=progress)
    runs = sum(1 for r in results if r.same_as is None and not r.skipped)
    return LintReport(out, results, base.tools_required(), runs)
