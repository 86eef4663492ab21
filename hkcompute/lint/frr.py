"""FRR: vtysh and bgpd on ``frr.conf``, the POSIX shell on ``daemons``.

``frr``
    ``vtysh --config_dir DIR --dryrun -f frr.conf``: syntax of every daemon's commands.
``frr-bgpd``
    ``bgpd -C -S -Z -n -p 0 -f frr.conf``: bgpd itself applies the configuration and exits;
    this catches what vtysh cannot (a malformed neighbour address, an undefined peer-group).
``frr-daemons``
    ``sh -n daemons``: the file is sourced by FRR's init scripts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result

__all__ = ["Bgpd", "Daemons", "Vtysh"]


@register
class Vtysh(Tool):
    """``vtysh --config_dir DIR --dryrun -f frr.conf``: needs no daemon and no privilege.

    ``--config_dir`` points vtysh at the host tree's directory for ``vtysh.conf``, which it
    otherwise reads from the checking machine's ``/etc/frr``. Syntax only: every line must
    be a command some FRR daemon knows, but values are not checked against each other.
    """

    name = "frr"
    programs = (Program("vtysh", "frr"),)

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        return content_key(host_root, files, [files[0].parent / "vtysh.conf"])

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        frr_conf = files[0]
        cmd = [
            sandbox.program("vtysh"),
            "--config_dir",
            str(frr_conf.parent),
            "--dryrun",
            "-f",
            str(frr_conf),
        ]
        with tempfile.TemporaryDirectory(prefix="hk-frr-") as tmp:
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, frr_conf, cmd, rc, out)


@register
class Bgpd(Tool):
    """``bgpd -C -S -Z -n -p 0 -f frr.conf``: bgpd applies the BGP part and exits.

    ``-C`` dry run, ``-S`` no user switch, ``-Z`` no zebra, ``-n`` no kernel routes, ``-p 0``
    no listening socket. bgpd exits 0 whatever it finds; its complaints are the lines it
    prints starting with ``%`` (the commands of other daemons, such as ``ip address``, are
    merely logged as unknown to bgpd and are left to vtysh). bgpd makes a crash log
    directory ``/var/tmp/frr/bgpd.PID``; it is removed afterwards.
    """

    name = "frr-bgpd"
    programs = (Program("bgpd", "frr"),)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        frr_conf = files[0]
        crash_root = Path("/var/tmp/frr")
        crash_root_existed = crash_root.exists()
        with tempfile.TemporaryDirectory(prefix="hk-bgpd-") as tmp:
            cmd = [
                sandbox.program("bgpd"),
                "-C",
                "-S",
                "-Z",
                "-n",
                "-p",
                "0",
                "--vty_socket",
                tmp,
                "-f",
                str(frr_conf),
            ]
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=sandbox.env(tmp),
                    cwd=tmp,
                    start_new_session=True,
                )
            except OSError as exc:
                return ToolResult(self.name, str(frr_conf), False, cmd, f"cannot run bgpd: {exc}")
            rc: int | None
            try:
                raw, _ = proc.communicate(timeout=timeout)
                rc = proc.returncode
            except subprocess.TimeoutExpired:
                sandbox.kill_group(proc)
                raw, _ = proc.communicate()
                rc = None
            shutil.rmtree(crash_root / f"bgpd.{proc.pid}", ignore_errors=True)
            if not crash_root_existed:
                with contextlib.suppress(OSError):
                    crash_root.rmdir()
        out = raw.decode("utf-8", "replace")
        complaints = [line for line in out.splitlines() if line.lstrip().startswith("%")]
        if rc is None:
            out += f"\n[lint] timed out after {timeout:g} s\n"
        return result(self.name, frr_conf, cmd, rc, out, ok=rc == 0 and not complaints)


@register
class Daemons(Tool):
    """``sh -n daemons``: FRR's init scripts source this file with the POSIX shell."""

    name = "frr-daemons"
    programs = (Program("sh", "dash"),)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        daemons = files[0]
        cmd = [sandbox.program("sh"), "-n", str(daemons)]
        rc, out = sandbox.run(cmd, timeout=timeout)
        return result(self.name, daemons, cmd, rc, out)
