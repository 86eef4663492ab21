"""The shell commands that README.md and docs/*.md show, so tests can run every one of them.

A command is a line of a fenced code block (```bash, ```sh, ```console or a plain ```) that
starts with one of the programs a user runs (PROGRAMS); `` # ...`` is a comment, and
``a && b`` is two commands. Blocks in other languages (yaml, json, text) are examples of
files, and plain blocks also hold diagrams: a line starting with anything else is not a
command.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGS = {"", "bash", "sh", "shell", "console"}
# hkcompute subcommands that act on live hosts: run by the lab's doc test on the container
# twin, never against anything else.
LAB_SUBCOMMANDS = {"hostkeys", "preflight", "deploy", "runs", "verify", "lab"}
PROGRAMS = {
    "hkcompute",
    "bash",
    "python",
    "pip",
    "ansible-inventory",
    "ansible-playbook",
    "ansible-lint",
    "yamllint",
    "check-jsonschema",
    "pre-commit",
}
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class DocCommand:
    path: str  # relative to the repository
    line: int
    text: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def needs_lab(self) -> bool:
        argv = self.argv
        # `cabling verify --collect` reads the live hosts' LLDP neighbours over SSH.
        collects = argv[1:3] == ["cabling", "verify"] and "--collect" in argv
        return argv[0] == "hkcompute" and len(argv) > 1 and (argv[1] in LAB_SUBCOMMANDS or collects)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def doc_files() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _strip_comment(line: str) -> str:
    # A comment starts at " #" outside quotes; the documented commands quote nothing with #.
    cut = re.search(r"\s#", line)
    return (line[: cut.start()] if cut else line).strip()


def commands(files: list[Path] | None = None) -> list[DocCommand]:
    found: list[DocCommand] = []
    for path in files or doc_files():
        lang: str | None = None
        for no, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            fence = _FENCE.match(raw.strip())
            if fence:
                lang = fence.group(1).lower() if lang is None else None
                continue
            if lang is None or lang not in SHELL_LANGS:
                continue
            line = _strip_comment(raw)
            if not line or line.split()[0] not in PROGRAMS:
                continue
            for part in line.split("&&"):
                text = part.strip()
                if text:
                    found.append(DocCommand(str(path.relative_to(REPO)), no, text))
    return found
