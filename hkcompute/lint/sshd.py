"""OpenSSH: ``sshd -T``, the extended test, which prints the effective settings."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result, tree_files

__all__ = ["Sshd"]

_SSHD_HOSTKEY = re.compile(r"^(\s*)(hostkey)(\s*=?\s*|\s+)(\S+)(\s*)$", re.S | re.I)
_SSHD_INCLUDE = re.compile(r"^(\s*)(include)(\s*=?\s*|\s+)(.*?)(\s*)$", re.S | re.I)


@register
class Sshd(Tool):
    """``sshd -T -f COPY -o HostKey=TMPKEY``: the extended test; prints effective settings.

    sshd refuses to test without a host key it can load: a fresh ed25519 key is made in a
    temporary directory, passed with ``-o HostKey=`` and put in place of the configuration's
    own ``HostKey`` paths (so the checking machine's keys are never read). ``Include`` paths
    are re-rooted into the host tree. Run as root, sshd insists on ``/run/sshd``; the check
    runs it as ``nobody`` instead, which skips that and reads nothing private.
    """

    name = "sshd"
    programs = (Program("sshd", "openssh-server"), Program("ssh-keygen", "openssh-client"))

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # Only a configuration that includes others depends on the rest of its host tree.
        text = files[0].read_text(encoding="utf-8", errors="replace")
        if any(_SSHD_INCLUDE.match(line) for line in text.splitlines()):
            return content_key(host_root, files, tree_files(host_root))
        return content_key(host_root, files)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        sshd_config = files[0]
        root = host_root
        with tempfile.TemporaryDirectory(prefix="hk-sshd-") as tmp:
            work = Path(tmp)
            key = work / "ssh_host_ed25519_key"
            rc, out = sandbox.run(
                [
                    sandbox.program("ssh-keygen"),
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "hkcompute-lint",
                    "-f",
                    str(key),
                ],
                timeout=timeout,
                environ=sandbox.env(tmp),
            )
            if rc != 0:
                return ToolResult(
                    self.name, str(sshd_config), False, [], f"ssh-keygen failed: {out}"
                )
            text = sshd_config.read_text(encoding="utf-8", errors="surrogateescape")
            text = sandbox.rewrite_lines(
                text, _SSHD_HOSTKEY, lambda m: m.group(1) + m.group(2) + " " + str(key) + m.group(5)
            )
            text = sandbox.rewrite_lines(
                text,
                _SSHD_INCLUDE,
                lambda m: (
                    m.group(1)
                    + m.group(2)
                    + " "
                    + " ".join(sandbox.reroot(arg, root) for arg in m.group(4).split())
                    + m.group(5)
                ),
            )
            copy = work / "sshd_config"
            copy.write_text(text, errors="surrogateescape")
            copy.chmod(0o600)
            if sandbox.is_root():
                sandbox.chown_tree(work, sandbox.NOBODY)
            cmd = [sandbox.program("sshd"), "-T", "-f", str(copy), "-o", f"HostKey={key}"]
            rc, out = sandbox.run(
                cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp, as_nobody=True
            )
        return result(
            self.name, sshd_config, cmd, rc, sandbox.unmask(out, {str(copy): str(sshd_config)})
        )
