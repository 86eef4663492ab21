"""chrony: ``chronyd -p -f FILE`` parses and prints the configuration, touches nothing."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result, tree_files

__all__ = ["Chronyd"]

_CHRONY_INCLUDE = re.compile(r"^(\s*)(include|confdir)(\s+)(.*?)(\s*)$", re.S | re.I)


@register
class Chronyd(Tool):
    """``chronyd -p -f COPY``: parse, print the configuration, exit; no root, no writes.

    ``include`` and ``confdir`` are read while parsing, so their absolute paths are re-rooted
    into the host tree in the copy. Arguments are checked only as far as the parser does: an
    unknown directive or a malformed ``server`` line fails, but an impossible subnet such as
    ``allow 10.0.0.0/33`` passes (chronyd rejects it only when it starts serving).
    """

    name = "chrony"
    programs = (Program("chronyd", "chrony"),)

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # Every host has a chrony.conf and most are the same file: only one that includes
        # others depends on the rest of its host tree.
        text = files[0].read_text(encoding="utf-8", errors="replace")
        if any(_CHRONY_INCLUDE.match(line) for line in text.splitlines()):
            return content_key(host_root, files, tree_files(host_root))
        return content_key(host_root, files)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        conf = files[0]
        root = host_root
        text = conf.read_text(encoding="utf-8", errors="surrogateescape")

        def rewrite(m: re.Match[str]) -> str:
            args = " ".join(sandbox.reroot(arg, root) for arg in m.group(4).split())
            return m.group(1) + m.group(2) + m.group(3) + args + m.group(5)

        with tempfile.TemporaryDirectory(prefix="hk-chrony-") as tmp:
            copy = Path(tmp) / conf.name
            copy.write_text(
                sandbox.rewrite_lines(text, _CHRONY_INCLUDE, rewrite), errors="surrogateescape"
            )
            cmd = [sandbox.program("chronyd"), "-p", "-f", str(copy)]
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, conf, cmd, rc, sandbox.unmask(out, {str(copy): str(conf)}))
