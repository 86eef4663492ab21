"""The shape every checker has, the registry that holds them, and what a check returns.

A checker is one program's way of validating one kind of rendered file (``frr``: vtysh on
``frr.conf``). The file specs of ``hkcompute.render.renderer`` name the checkers of each file
they make; the tree walk (``hkcompute.lint.tree``) asks this registry for each name, so a new
kind of file needs a spec naming a checker and a module registering it, nothing else.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from hkcompute.lint import sandbox

DEFAULT_TIMEOUT = 60.0
"""Seconds any one program may run. ``slurmd -G`` waits about 20 s for a missing device."""


class Program(NamedTuple):
    """A program a checker runs, and the Debian package that installs it."""

    binary: str
    package: str


@dataclass(frozen=True)
class ToolResult:
    """The verdict of one program on one file (or one directory read as a whole).

    ``command`` is the argument vector that was run (its temporary paths are gone by the time
    the result is returned; ``output`` names the original files instead). ``command`` is
    empty when nothing could be run; ``output`` then says why, and ``skipped`` is set when
    the reason is that a program (or a facility it needs) is missing here. ``same_as`` names
    the file that was actually checked when this one has the same content (the tree walk
    checks each distinct content once); ``host`` is the host tree's name when known.
    """

    kind: str
    path: str
    ok: bool
    command: list[str]
    output: str
    skipped: bool = False
    same_as: str | None = None
    host: str | None = None


class Checker(Protocol):
    """What the registry holds. Properties, so that plain class attributes satisfy them."""

    @property
    def name(self) -> str:
        """The name file specs use (``FileSpec.checkers``) and results carry (``kind``)."""
        ...

    @property
    def programs(self) -> tuple[Program, ...]:
        """Every program ``check`` runs; a missing one makes the check a skip."""
        ...

    @property
    def together(self) -> bool:
        """True when all of a host's files of this checker are one configuration (a
        ``netplan`` folder, merged by netplan) and are checked in one run."""
        ...

    def ready(self) -> str | None:
        """None when this machine can run the check (beyond having its programs: root,
        namespaces), else why not."""
        ...

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        """A digest of everything the verdict depends on (the files' paths in the host tree
        and contents, and whatever else the check reads): equal keys, equal verdicts."""
        ...

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        """Run the program on ``files`` of the host tree at ``host_root``."""
        ...


class Tool:
    """Defaults for checkers: one file per run, nothing needed beyond the programs, and a
    verdict that depends on the checked files alone."""

    together = False

    def ready(self) -> str | None:
        return None

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        return content_key(host_root, files)


REGISTRY: dict[str, Checker] = {}

_C = TypeVar("_C", bound=Checker)


def register(cls: type[_C]) -> type[_C]:
    """Class decorator: add one instance of ``cls`` to :data:`REGISTRY` under its name."""
    checker = cls()
    if checker.name in REGISTRY:
        raise RuntimeError(f"two checkers are named {checker.name!r}")
    REGISTRY[checker.name] = checker
    return cls


def get(name: str) -> Checker:
    """The checker called ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; known: {', '.join(REGISTRY)}") from None


def available(name: str) -> str | None:
    """None when checker ``name`` can run here, else the reason (which names the program
    and its Debian package when one is missing). ``ValueError`` for an unknown name."""
    checker = get(name)
    missing = [
        f"{p.binary} (Debian package {p.package})"
        for p in checker.programs
        if sandbox.find(p.binary) is None
    ]
    if missing:
        return "missing " + ", ".join(missing)
    return checker.ready()


def tools_required() -> bool:
    """Whether a program that is not installed is a failure rather than a skip: under CI
    (``CI=true``) or with ``HKCOMPUTE_REQUIRE_TOOLS=1``, so CI cannot go green by skipping."""
    return os.environ.get("CI") == "true" or os.environ.get("HKCOMPUTE_REQUIRE_TOOLS", "") not in (
        "",
        "0",
    )


def not_checked(name: str, path: Path, reason: str) -> ToolResult:
    return ToolResult(name, str(path), False, [], f"not checked: {reason}", skipped=True)


def check(
    name: str,
    files: Sequence[Path],
    *,
    host_root: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ToolResult:
    """Run checker ``name`` on ``files`` (paths inside a host tree; a folder where the
    program reads one, as ``dnsmasq.d``), or say why it cannot run here. ``host_root``
    defaults to the parent of the files' nearest ``etc`` folder. The tree walk comes here
    for every check it runs."""
    checker = get(name)
    if not files:
        raise ValueError(f"{name}: no file to check")
    paths = [sandbox.abspath(f) for f in files]
    first = paths[0]
    reason = available(name)
    if reason is not None:
        return not_checked(name, first, reason)
    root = sandbox.abspath(host_root) if host_root is not None else sandbox.host_root_of(first)
    return checker.check(paths, root, timeout)


def content_key(
    host_root: Path, files: Sequence[Path], context: Sequence[Path] = (), extra: str = ""
) -> str:
    """A digest of the checked ``files``, of the ``context`` files the check reads besides
    them, and of ``extra``: their paths inside the host tree and their bytes (a folder
    stands for the files in it)."""
    h = hashlib.sha256(extra.encode())
    for group in (files, context):
        h.update(b"\1")
        for path in sorted({f for p in group for f in _files_under(p)}):
            try:
                rel = path.relative_to(host_root).as_posix()
            except ValueError:
                rel = str(path)
            h.update(b"\0" + rel.encode() + b"\0")
            try:
                h.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError as exc:  # the check will say so; the key need only differ
                h.update(f"unreadable: {exc.strerror}".encode())
    return h.hexdigest()


def tree_files(folder: Path) -> list[Path]:
    """Every file below ``folder`` (for keys of checks that read a whole host tree)."""
    return _files_under(folder)


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def result(
    kind: str, path: Path, cmd: Sequence[str], rc: int | None, out: str, ok: bool | None = None
) -> ToolResult:
    """A verdict from an exit status (0 is ok) unless ``ok`` says otherwise."""
    return ToolResult(kind, str(path), rc == 0 if ok is None else ok, list(cmd), out)
