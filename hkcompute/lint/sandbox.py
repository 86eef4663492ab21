"""How checks run their programs: found on PATH, in private namespaces where needed, with a
timeout, in their own process group, with a scrubbed environment; and the helpers that map a
host's absolute paths into the host tree being checked.

Rendered trees mirror a host's filesystem (``DIR/hosts/<host>/etc/...``) and their files
name absolute paths (``/etc/bind/db.x``, ``/etc/prometheus/rules.yml``). A check must never
read the checking machine's ``/etc`` in their place, nor write to it, so each one works on
the host tree through one of these means, chosen per program:

* a chroot (``named-checkconf -t``) into a temporary copy of the host tree;
* a temporary copy of the file whose absolute references to ``/etc/...`` are rewritten into
  the host tree, line for line, so that the program's line numbers stay right;
* private Linux namespaces (``unshare``) where a program insists on fixed system paths (and
  an empty network namespace where it would read the machine's interfaces: ifupdown2).

Where a program would act on the live system (``netplan generate`` asks udev to reload;
``sshd -t`` as root insists on ``/run/sshd``), the check runs it as the unprivileged user
``nobody`` when called as root.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Where Debian puts programs that are not on an ordinary user's PATH.
_EXTRA_DIRS: dict[str, tuple[str, ...]] = {
    "bgpd": ("/usr/lib/frr",),
    "generate": ("/usr/libexec/netplan", "/lib/netplan", "/usr/lib/netplan"),
}
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin")
CLEAN_PATH = ":".join(_SBIN_DIRS)

NOBODY = 65534


# --------------------------------------------------------------------------- discovery


def _sbin_siblings(path: str) -> str:
    """The ``sbin`` folder beside each ``bin`` folder of ``path``: an ordinary user's PATH
    often lacks the sbin folders where Debian puts daemons (sshd, chronyd, slurmd). Derived
    from PATH rather than a fixed list, so a PATH without a program's folder hides it."""
    out = []
    for folder in path.split(os.pathsep):
        p = Path(folder)
        if p.name == "bin":
            out.append(str(p.parent / "sbin"))
    return os.pathsep.join(out)


def find(binary: str) -> str | None:
    """The program ``binary``: on PATH (or the sbin folders beside it), or in the fixed
    folders where Debian keeps the few that are on no PATH (bgpd, netplan's generator)."""
    if binary in _EXTRA_DIRS:
        for folder in _EXTRA_DIRS[binary]:
            candidate = Path(folder) / binary
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None
    path = os.environ.get("PATH", os.defpath)
    return shutil.which(binary, path=path) or shutil.which(binary, path=_sbin_siblings(path))


def program(binary: str) -> str:
    """``find``, for a program the checker's availability already vouched for."""
    found = find(binary)
    return found if found is not None else binary


def is_root() -> bool:
    return os.geteuid() == 0


def unshare_prefix(*, pid: bool = False, net: bool = False) -> list[str]:
    """``unshare`` into a private mount namespace (mapped to root when not root); with
    ``pid`` a PID namespace too, with ``net`` an empty network namespace (only ``lo``, down),
    for a program that would otherwise see or change the machine's interfaces."""
    prefix = [program("unshare")]
    if not is_root():
        prefix.append("--map-root-user")
    prefix += ["--mount", "--propagation", "private"]
    if pid:
        prefix += ["--pid", "--fork", "--kill-child"]
    if net:
        prefix.append("--net")
    return prefix


@functools.cache
def namespaces_reason() -> str | None:
    """None when private mount and PID namespaces can be made here, else why not."""
    if find("unshare") is None:
        return "unshare (util-linux) is not installed"
    try:
        done = subprocess.run(
            [*unshare_prefix(pid=True), "true"],
            capture_output=True,
            text=True,
            timeout=10,
            env=env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot create Linux namespaces: {exc}"
    if done.returncode != 0:
        return f"cannot create Linux namespaces: {done.stderr.strip() or done.returncode}"
    return None


@functools.cache
def chroot_reason() -> str | None:
    if is_root():
        return None
    return namespaces_reason()


# --------------------------------------------------------------------------- running


def env(home: str | None = None) -> dict[str, str]:
    """A scrubbed environment: no SNAP, no SLURM_*, no proxy or locale surprises."""
    out = {"PATH": CLEAN_PATH, "LC_ALL": "C", "LANG": "C"}
    if home is not None:
        out["HOME"] = home
    return out


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run(
    cmd: Sequence[str],
    *,
    timeout: float,
    environ: dict[str, str] | None = None,
    cwd: str | None = None,
    as_nobody: bool = False,
) -> tuple[int | None, str]:
    """Run ``cmd``; return (exit status or None on time-out, stdout and stderr together).

    Its own session, so a time-out kills the whole process group (a daemon's children too).
    """
    kwargs: dict[str, Any] = {}
    if as_nobody and is_root():
        kwargs.update(user=NOBODY, group=NOBODY, extra_groups=[])
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=environ if environ is not None else env(),
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    except OSError as exc:
        return 127, f"cannot run {cmd[0]}: {exc}"
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        return None, text + f"\n[lint] timed out after {timeout:g} s\n"
    return proc.returncode, out.decode("utf-8", "replace")


def _ns_children(pid: int) -> list[int]:
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in raw.split()]


def run_until(
    cmd: Sequence[str],
    stop: Callable[[str], bool],
    *,
    timeout: float,
    environ: dict[str, str],
) -> tuple[bool, str]:
    """Run a daemon in the foreground until a line satisfies ``stop``; return (stopped, out).

    ``cmd`` starts with ``unshare --pid --fork``: the daemon is the namespace's init, so
    killing it takes every process it started along (no strays, no zombies), and unshare,
    our child, collects it.
    """
    proc = subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environ,
        start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    lines: list[str] = []
    stopped = False
    timed_out = False
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while not stopped:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(timeout=min(left, 0.5)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                if stop(line):
                    stopped = True
                    break
    finally:
        sel.close()
        if proc.poll() is None:
            for child in _ns_children(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                kill_group(proc)
                proc.wait()
        proc.stdout.close()
    if buffer:
        lines.append(buffer.decode("utf-8", "replace"))
    if timed_out:
        lines.append(f"[lint] timed out after {timeout:g} s")
    return stopped, "\n".join(lines) + "\n"


def unmask(text: str, replacements: dict[str, str]) -> str:
    """Put the original paths back where a program's words name its temporary copies."""
    for old, new in sorted(replacements.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    return text


def chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


# --------------------------------------------------------------------------- host trees


def abspath(path: Path) -> Path:
    """``path`` made absolute without resolving symbolic links (commands run elsewhere)."""
    return Path(os.path.abspath(path))


def host_root_of(path: Path) -> Path:
    """The root of the host tree holding ``path``: the parent of its nearest ``etc``."""
    path = abspath(path)
    for parent in path.parents:
        if parent.name == "etc":
            return parent.parent
    return path.parent


def reroot(value: str, host_root: Path) -> str:
    """Map an absolute path on the host onto the host tree; leave relative ones alone."""
    if value.startswith("/"):
        return str(host_root) + value
    return value


def rewrite_lines(
    text: str, pattern: re.Pattern[str], rewrite: Callable[[re.Match[str]], str]
) -> str:
    """Rewrite matching lines one for one (line numbers in the tools' messages stay right)."""
    out = []
    for line in text.splitlines(keepends=True):
        match = pattern.match(line)
        out.append(rewrite(match) if match else line)
    return "".join(out)
