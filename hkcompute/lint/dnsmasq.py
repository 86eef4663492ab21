"""dnsmasq: ``dnsmasq --test`` on the host's configuration as Debian's service reads it.

``dnsmasq --test --conf-file=F --conf-dir=D,.dpkg-dist,.dpkg-old,.dpkg-new``: Debian's
service reads ``/etc/dnsmasq.conf`` and the directory with those exclusions. Passing
``--conf-file`` (``/dev/null`` when the host has none) keeps dnsmasq away from the checking
machine's ``/etc/dnsmasq.conf``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result, tree_files

__all__ = ["Dnsmasq"]

_DEBIAN_DNSMASQ_EXCLUDES = ".dpkg-dist,.dpkg-old,.dpkg-new"
_DNSMASQ_INCLUDE = re.compile(r"^(\s*)(conf-file|conf-dir|conf-script)(\s*=\s*)(/\S*)(.*)$", re.S)


def _dnsmasq_copy(src: Path, dst: Path, host_root: Path) -> None:
    text = src.read_text(encoding="utf-8", errors="surrogateescape")

    def rewrite(m: re.Match[str]) -> str:
        return (
            m.group(1)
            + m.group(2)
            + m.group(3)
            + sandbox.reroot(m.group(4), host_root)
            + m.group(5)
        )

    dst.write_text(sandbox.rewrite_lines(text, _DNSMASQ_INCLUDE, rewrite), errors="surrogateescape")


@register
class Dnsmasq(Tool):
    """``dnsmasq --test`` on one file, or on a ``dnsmasq.d`` directory as Debian reads it.

    The files of a host's ``dnsmasq.d`` are one configuration: they are checked together,
    as the directory. For a directory: ``--conf-file=`` the host's ``etc/dnsmasq.conf``
    (``/dev/null`` when the tree has none) and ``--conf-dir=DIR,.dpkg-dist,.dpkg-old,
    .dpkg-new`` (Debian's default: every file but dpkg leftovers). Without an explicit
    ``--conf-file`` dnsmasq would read the checking machine's ``/etc/dnsmasq.conf``.
    Absolute ``conf-file``/``conf-dir`` directives inside the files are re-rooted into the
    host tree on temporary copies.
    """

    name = "dnsmasq"
    programs = (Program("dnsmasq", "dnsmasq-base"),)
    together = True

    @staticmethod
    def _target(files: Sequence[Path]) -> Path:
        """What dnsmasq reads: the ``dnsmasq.d`` folder when any file is in one."""
        for f in files:
            if f.is_dir():
                return f
            if f.parent.name == "dnsmasq.d":
                return f.parent
        return files[0]

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # conf-file/conf-dir directives may name any file of the host tree (few hosts run
        # dnsmasq, so keying on the whole tree costs no shared checks worth having).
        return content_key(host_root, [self._target(files)], tree_files(host_root))

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        path = self._target(files)
        root = host_root
        dnsmasq = sandbox.program("dnsmasq")
        with tempfile.TemporaryDirectory(prefix="hk-dnsmasq-") as tmp:
            work = Path(tmp)
            unmask: dict[str, str] = {}
            if path.is_dir():
                confdir = work / "dnsmasq.d"
                confdir.mkdir()
                for entry in sorted(path.iterdir()):
                    if entry.is_file():
                        _dnsmasq_copy(entry, confdir / entry.name, root)
                unmask[str(confdir)] = str(path)
                main = root / "etc" / "dnsmasq.conf"
                conf_file = "/dev/null"
                if main.is_file():
                    _dnsmasq_copy(main, work / "dnsmasq.conf", root)
                    conf_file = str(work / "dnsmasq.conf")
                    unmask[conf_file] = str(main)
                cmd = [
                    dnsmasq,
                    "--test",
                    f"--conf-file={conf_file}",
                    f"--conf-dir={confdir},{_DEBIAN_DNSMASQ_EXCLUDES}",
                ]
            else:
                copy = work / path.name
                _dnsmasq_copy(path, copy, root)
                unmask[str(copy)] = str(path)
                cmd = [dnsmasq, "--test", f"--conf-file={copy}"]
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, path, cmd, rc, sandbox.unmask(out, unmask))
