"""BIND: ``named-checkconf`` on ``named.conf`` and ``named-checkzone`` on each zone file.

``bind-conf``
    ``named-checkconf -z -t TMPROOT /etc/bind/named.conf``: the whole configuration with its
    includes, and every primary zone it names loaded from its file.
``bind-zone``
    ``named-checkzone -k fail ZONE FILE``, the zone name taken from the ``zone`` statement
    of the host's ``named.conf`` that names the file (``-k fail`` is what named applies to
    primary zones).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result, tree_files

__all__ = ["BindConf", "BindZone", "zones_of"]

_NAMED_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # quoted string
    r"|/\*.*?\*/"  # block comment
    r"|//[^\n]*|#[^\n]*"  # line comments
    r"|[{};]"
    r"|[^\s{};\"]+",
    re.S,
)

_Statement = tuple[list[str], list[Any] | None]


def _named_tokens(text: str) -> Iterator[str]:
    for match in _NAMED_TOKEN.finditer(text):
        token = match.group(0)
        if token.startswith(("/*", "//", "#")):
            continue
        yield token


def _named_parse(tokens: list[str], pos: int = 0) -> tuple[list[_Statement], int]:
    """Parse named.conf tokens into statements: (words, block or None)."""
    statements: list[_Statement] = []
    words: list[str] = []
    while pos < len(tokens):
        token = tokens[pos]
        pos += 1
        if token == "{":
            block, pos = _named_parse(tokens, pos)
            statements.append((words, block))
            words = []
            if pos < len(tokens) and tokens[pos] == ";":
                pos += 1
        elif token == "}":
            if words:
                statements.append((words, None))
            return statements, pos
        elif token == ";":
            statements.append((words, None))
            words = []
        else:
            words.append(token[1:-1] if token.startswith('"') else token)
    if words:
        statements.append((words, None))
    return statements, pos


def _named_statements(conf: Path, host_root: Path, depth: int = 0) -> list[_Statement]:
    """Statements of ``conf`` with its ``include`` files (resolved in the host tree)."""
    if depth > 16:
        return []
    try:
        text = conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    statements, _ = _named_parse(list(_named_tokens(text)))
    out: list[_Statement] = []
    for words, block in statements:
        if words[:1] == ["include"] and len(words) == 2 and block is None:
            target = Path(sandbox.reroot(words[1], host_root))
            out.extend(_named_statements(target, host_root, depth + 1))
        else:
            out.append((words, block))
    return out


def _named_directory(statements: list[_Statement]) -> str:
    for words, block in statements:
        if words[:1] == ["options"] and block:
            for inner, _ in block:
                if inner[:1] == ["directory"] and len(inner) == 2:
                    return str(inner[1])
    return "/var/cache/bind"


def zones_of(named_conf: Path, host_root: Path | None = None) -> dict[Path, list[str]]:
    """Map each zone file (as a path in the host tree) to the zone names that load it.

    Reads ``named_conf`` and its includes (absolute include paths resolved in the host
    tree), including zones inside ``view`` blocks.
    """
    root = sandbox.abspath(host_root) if host_root is not None else sandbox.host_root_of(named_conf)
    statements = _named_statements(named_conf, root)
    directory = _named_directory(statements)
    found: dict[Path, list[str]] = {}

    def walk(items: list[_Statement]) -> None:
        for words, block in items:
            if words[:1] == ["view"] and block is not None:
                walk(block)
            elif words[:1] == ["zone"] and len(words) >= 2 and block is not None:
                name = words[1].rstrip(".") or "."
                for inner, _ in block:
                    if inner[:1] == ["file"] and len(inner) == 2:
                        file = inner[1]
                        if not file.startswith("/"):
                            file = directory.rstrip("/") + "/" + file
                        target = Path(sandbox.reroot(file, root)).resolve()
                        names = found.setdefault(target, [])
                        if name not in names:
                            names.append(name)

    walk(statements)
    return found


@register
class BindConf(Tool):
    """``named-checkconf -z -t ROOT /etc/bind/named.conf`` on a temporary copy of the tree.

    named-checkconf changes into the ``directory`` of the options (``/var/cache/bind``) and
    fails if it is missing, so the copy gets that directory. ``-z`` also loads every primary
    zone the configuration names. chroot needs root; otherwise a user namespace stands in.
    """

    name = "bind-conf"
    programs = (Program("named-checkconf", "bind9-utils"),)

    def ready(self) -> str | None:
        return sandbox.chroot_reason()

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # The chroot is a copy of the whole host tree: includes and zones may be anywhere.
        return content_key(host_root, files, tree_files(host_root))

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        named_conf = files[0]
        root = host_root
        conf = named_conf.resolve()
        try:
            inside = "/" + conf.relative_to(root.resolve()).as_posix()
        except ValueError:
            inside = "/etc/bind/" + conf.name
        directory = _named_directory(_named_statements(conf, root))
        with tempfile.TemporaryDirectory(prefix="hk-bind-") as tmp:
            chroot = Path(tmp) / "root"
            if conf.is_relative_to(root.resolve()):
                shutil.copytree(root, chroot, symlinks=True)
            else:
                (chroot / "etc" / "bind").mkdir(parents=True)
                shutil.copy2(conf, chroot / "etc" / "bind" / conf.name)
            (chroot / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
            prefix = [] if sandbox.is_root() else sandbox.unshare_prefix()[:2]
            cmd = [*prefix, sandbox.program("named-checkconf"), "-z", "-t", str(chroot), inside]
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp))
        return result(self.name, named_conf, cmd, rc, out)


@register
class BindZone(Tool):
    """``named-checkzone -k fail ZONE FILE``, ZONE from the host's named.conf.

    A zone file that no ``zone`` statement of the host's named.conf loads fails: named would
    never read it. ``-k fail`` applies the check-names policy named uses for primary zones
    (named-checkzone's own default is only to warn).
    """

    name = "bind-zone"
    programs = (Program("named-checkzone", "bind9-utils"),)

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # The zone's name comes from named.conf and the files it includes.
        return content_key(host_root, files, tree_files(host_root / "etc" / "bind"))

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        zone_file = files[0]
        named_conf = host_root / "etc" / "bind" / "named.conf"
        names = []
        if named_conf.is_file():
            names = zones_of(named_conf, host_root).get(zone_file.resolve(), [])
        if not names:
            return ToolResult(
                self.name,
                str(zone_file),
                False,
                [],
                f"no zone statement in {named_conf} loads {zone_file.name}; named never reads it",
            )
        cmd = [sandbox.program("named-checkzone"), "-k", "fail", names[0], str(zone_file)]
        with tempfile.TemporaryDirectory(prefix="hk-zone-") as tmp:
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, zone_file, cmd, rc, out)
