"""netplan: its generator with ``--root-dir`` on a copy of the host's ``etc/netplan``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result

__all__ = ["Netplan"]


@register
class Netplan(Tool):
    """``/usr/libexec/netplan/generate --root-dir TMP`` on the host's netplan folder.

    netplan merges every YAML file of ``etc/netplan``, so a host's files are checked
    together, as the folder (given one of its files, the check reads its folder). The
    generator is called directly, not the ``netplan generate`` front end, which hands the
    work to the live system over D-Bus when ``SNAP`` is set. The generator also asks the
    live udevd to reload its rules and, only while the machine is still booting, starts
    networkd units; so when called as root it runs as ``nobody``, for whom both are refused.
    The output lists the files it would have written.
    """

    name = "netplan"
    programs = (Program("generate", "netplan.io"),)
    together = True

    @staticmethod
    def _folder(files: Sequence[Path]) -> Path:
        return files[0] if files[0].is_dir() else files[0].parent

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        return content_key(host_root, [self._folder(files)])

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        path = self._folder(files)
        yamls = sorted(p for p in path.iterdir() if p.suffix == ".yaml")
        with tempfile.TemporaryDirectory(prefix="hk-netplan-") as tmp:
            root = Path(tmp) / "root"
            etc = root / "etc" / "netplan"
            etc.mkdir(parents=True)
            for file in yamls:
                shutil.copyfile(file, etc / file.name)
                (etc / file.name).chmod(0o600)
            if sandbox.is_root():
                sandbox.chown_tree(Path(tmp), sandbox.NOBODY)
            cmd = [sandbox.program("generate"), "--root-dir", str(root)]
            rc, out = sandbox.run(
                cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp, as_nobody=True
            )
            written = sorted(
                "/" + p.relative_to(root).as_posix()
                for p in root.rglob("*")
                if p.is_file() and not p.is_relative_to(etc)
            )
        out = sandbox.unmask(out, {str(etc / f.name): str(f) for f in yamls})
        if written:
            out += "generated:\n" + "".join(f"  {name}\n" for name in written)
        return result(self.name, path, cmd, rc, out)
