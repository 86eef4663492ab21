"""Validate rendered configuration files with the real programs that consume them.

Each check runs the program that will read the file on the target host (BIND, dnsmasq,
FRR, Prometheus, chrony, OpenSSH, netplan, Slurm), installed from Debian's packages, in a
mode that parses and validates without starting a service, and returns a :class:`ToolResult`
holding the program's own words. Nothing here prints.

Rendered trees mirror a host's filesystem (``DIR/hosts/<host>/etc/...``) and their files
name absolute paths (``/etc/bind/db.x``, ``/etc/prometheus/rules.yml``). A check must never
read the checking machine's ``/etc`` in their place, nor write to it, so each one works on
the host tree through one of these means, chosen per program:

* a chroot (``named-checkconf -t``) into a temporary copy of the host tree;
* a temporary copy of the file whose absolute references to ``/etc/...`` are rewritten into
  the host tree, line for line, so that the program's line numbers stay right (dnsmasq's
  ``conf-file``/``conf-dir``, chrony's ``include``/``confdir``, sshd's ``Include`` and
  ``HostKey``, Prometheus' ``rule_files`` and other file references, Slurm's run-time paths);
* private Linux namespaces (``unshare``) where a program insists on fixed system paths: the
  Slurm checks see a private ``/etc/hosts`` and, for ``slurmd -G``, a private ``/dev``.

Where a program would act on the live system (``netplan generate`` asks udev to reload;
``sshd -t`` as root insists on ``/run/sshd``), the check runs it as the unprivileged user
``nobody`` when called as root. Every command runs with a timeout, in its own process group,
and with a scrubbed environment.

Kinds (see :data:`KINDS`) and the commands behind them:

``bind-conf``
    ``named-checkconf -z -t TMPROOT /etc/bind/named.conf``: the whole configuration with its
    includes, and every primary zone it names loaded from its file.
``bind-zone``
    ``named-checkzone -k fail ZONE FILE``, the zone name taken from the ``zone`` statement
    of the host's ``named.conf`` that names the file (``-k fail`` is what named applies to
    primary zones).
``dnsmasq``
    ``dnsmasq --test --conf-file=F --conf-dir=D,.dpkg-dist,.dpkg-old,.dpkg-new``: Debian's
    service reads ``/etc/dnsmasq.conf`` and the directory with those exclusions. Passing
    ``--conf-file`` (``/dev/null`` when the host has none) keeps dnsmasq away from the
    checking machine's ``/etc/dnsmasq.conf``.
``frr``
    ``vtysh --config_dir DIR --dryrun -f frr.conf``: syntax of every daemon's commands.
``frr-bgpd``
    ``bgpd -C -S -Z -n -p 0 -f frr.conf``: bgpd itself applies the configuration and exits;
    this catches what vtysh cannot (a malformed neighbour address, an undefined peer-group).
``frr-daemons``
    ``sh -n daemons``: the file is sourced by FRR's init scripts.
``prometheus`` / ``prometheus-rules``
    ``promtool check config`` on a re-rooted copy; ``promtool check rules`` per rule file.
``chrony``
    ``chronyd -p -f FILE``: parses and prints the configuration, touches nothing.
``sshd``
    ``sshd -T -f COPY -o HostKey=TMPKEY``: the extended test, which prints the effective
    settings (so a caller can assert on them).
``netplan``
    ``/usr/libexec/netplan/generate --root-dir TMP`` (the generator, not the ``netplan``
    front end, which talks to D-Bus when ``SNAP`` is set).
``slurm`` / ``slurm-topology``
    ``slurmctld -D -c -i -vv`` on a copy whose host, user, ports, state and pid paths point
    into a temporary directory, in private mount and PID namespaces with node names resolved
    to the loopback address; stopped once it reports "Running as primary controller". Slurm
    22.05 has no "check the configuration" switch; a cold start of the controller is what
    reads slurm.conf semantically (partitions against nodes, GRES against ``GresTypes``) and
    topology.conf.
``slurm-gres``
    ``slurmd -G -N HOST -f COPY``: prints the node's GRES from slurm.conf and gres.conf and
    exits. It ``stat``s every ``File=`` device and maps ``Cores=`` onto the hardware it runs
    on, so it runs with ``SlurmdParameters=config_overrides`` (the configured layout, not the
    checking machine's) and a private ``/dev`` in which the known accelerator device names
    listed in gres.conf are stand-ins for ``/dev/null``. Device names that are not
    recognised accelerator devices are not faked, so a typo still fails.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pwd
import re
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEFAULT_TIMEOUT",
    "KINDS",
    "ToolResult",
    "available",
    "check_bind_conf",
    "check_chrony",
    "check_dnsmasq",
    "check_frr",
    "check_frr_bgpd",
    "check_frr_daemons",
    "check_netplan",
    "check_prometheus",
    "check_prometheus_rules",
    "check_slurm",
    "check_slurm_gres",
    "check_slurm_topology",
    "check_sshd",
    "check_tree",
    "check_zone",
    "recognise",
    "zones_of",
]

DEFAULT_TIMEOUT = 60.0
"""Seconds any one program may run. ``slurmd -G`` waits about 20 s for a missing device."""

KINDS: tuple[str, ...] = (
    "bind-conf",
    "bind-zone",
    "dnsmasq",
    "frr",
    "frr-bgpd",
    "frr-daemons",
    "prometheus",
    "prometheus-rules",
    "chrony",
    "sshd",
    "netplan",
    "slurm",
    "slurm-topology",
    "slurm-gres",
)

# (binary, Debian package) per kind; "unshare" is util-linux, always present on Debian.
_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "bind-conf": (("named-checkconf", "bind9-utils"),),
    "bind-zone": (("named-checkzone", "bind9-utils"),),
    "dnsmasq": (("dnsmasq", "dnsmasq-base"),),
    "frr": (("vtysh", "frr"),),
    "frr-bgpd": (("bgpd", "frr"),),
    "frr-daemons": (("sh", "dash"),),
    "prometheus": (("promtool", "prometheus"),),
    "prometheus-rules": (("promtool", "prometheus"),),
    "chrony": (("chronyd", "chrony"),),
    "sshd": (("sshd", "openssh-server"), ("ssh-keygen", "openssh-client")),
    "netplan": (("generate", "netplan.io"),),
    "slurm": (("slurmctld", "slurmctld"), ("scontrol", "slurm-client"), ("unshare", "util-linux")),
    "slurm-topology": (
        ("slurmctld", "slurmctld"),
        ("scontrol", "slurm-client"),
        ("unshare", "util-linux"),
    ),
    "slurm-gres": (("slurmd", "slurmd"), ("unshare", "util-linux")),
}

# Where Debian puts programs that are not on an ordinary user's PATH.
_EXTRA_DIRS: dict[str, tuple[str, ...]] = {
    "bgpd": ("/usr/lib/frr",),
    "generate": ("/usr/libexec/netplan", "/lib/netplan", "/usr/lib/netplan"),
}
_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin")
_CLEAN_PATH = ":".join(_SBIN_DIRS)

_NOBODY = 65534
_DEBIAN_DNSMASQ_EXCLUDES = ".dpkg-dist,.dpkg-old,.dpkg-new"


@dataclass(frozen=True)
class ToolResult:
    """The verdict of one program on one file (or one directory read as a whole).

    ``command`` is the argument vector that was run (its temporary paths are gone by the time
    the result is returned; ``output`` names the original files instead). ``command`` is
    empty when nothing could be run; ``output`` then says why.
    """

    kind: str
    path: str
    ok: bool
    command: list[str]
    output: str


# --------------------------------------------------------------------------- discovery


def _find(binary: str) -> str | None:
    if binary in _EXTRA_DIRS:
        for folder in _EXTRA_DIRS[binary]:
            candidate = Path(folder) / binary
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        return None
    found = shutil.which(binary) or shutil.which(binary, path=_CLEAN_PATH)
    return found


def _is_root() -> bool:
    return os.geteuid() == 0


def _unshare_prefix(*, pid: bool = False) -> list[str]:
    unshare = _find("unshare") or "unshare"
    prefix = [unshare]
    if not _is_root():
        prefix.append("--map-root-user")
    prefix += ["--mount", "--propagation", "private"]
    if pid:
        prefix += ["--pid", "--fork", "--kill-child"]
    return prefix


@functools.cache
def _namespaces_reason() -> str | None:
    """None when private mount and PID namespaces can be made here, else why not."""
    if _find("unshare") is None:
        return "unshare (util-linux) is not installed"
    try:
        done = subprocess.run(
            [*_unshare_prefix(pid=True), "true"],
            capture_output=True,
            text=True,
            timeout=10,
            env=_env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot create Linux namespaces: {exc}"
    if done.returncode != 0:
        return f"cannot create Linux namespaces: {done.stderr.strip() or done.returncode}"
    return None


@functools.cache
def _chroot_reason() -> str | None:
    if _is_root():
        return None
    return _namespaces_reason()


def available(kind: str) -> str | None:
    """Return None when the programs behind ``kind`` can run here, else the reason.

    Raises ``ValueError`` for a kind not in :data:`KINDS`.
    """
    if kind not in _NEEDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    missing = [
        f"{binary} (Debian package {package})"
        for binary, package in _NEEDS[kind]
        if _find(binary) is None
    ]
    if missing:
        return "missing " + ", ".join(missing)
    if kind == "bind-conf":
        return _chroot_reason()
    if kind.startswith("slurm"):
        if not _is_root():
            # Mapped to root in a user namespace, the daemons die on setgroups(), which
            # such a namespace denies; as an ordinary user they cannot set up /etc/hosts.
            return "the Slurm checks need root (slurmd/slurmctld call setgroups())"
        return _namespaces_reason()
    return None


# --------------------------------------------------------------------------- running


def _env(home: str | None = None) -> dict[str, str]:
    """A scrubbed environment: no SNAP, no SLURM_*, no proxy or locale surprises."""
    env = {"PATH": _CLEAN_PATH, "LC_ALL": "C", "LANG": "C"}
    if home is not None:
        env["HOME"] = home
    return env


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _run(
    cmd: Sequence[str],
    *,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    as_nobody: bool = False,
) -> tuple[int | None, str]:
    """Run ``cmd``; return (exit status or None on time-out, stdout and stderr together)."""
    kwargs: dict[str, Any] = {}
    if as_nobody and _is_root():
        kwargs.update(user=_NOBODY, group=_NOBODY, extra_groups=[])
    try:
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env if env is not None else _env(),
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    except OSError as exc:
        return 127, f"cannot run {cmd[0]}: {exc}"
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        return None, text + f"\n[toolcheck] timed out after {timeout:g} s\n"
    return proc.returncode, out.decode("utf-8", "replace")


def _ns_children(pid: int) -> list[int]:
    try:
        raw = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in raw.split()]


def _run_until(
    cmd: Sequence[str],
    stop: Callable[[str], bool],
    *,
    timeout: float,
    env: dict[str, str],
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
        env=env,
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
                _kill_group(proc)
                proc.wait()
        proc.stdout.close()
    if buffer:
        lines.append(buffer.decode("utf-8", "replace"))
    if timed_out:
        lines.append(f"[toolcheck] timed out after {timeout:g} s")
    return stopped, "\n".join(lines) + "\n"


def _missing(kind: str, path: Path) -> ToolResult | None:
    reason = available(kind)
    if reason is None:
        return None
    return ToolResult(kind, str(path), False, [], f"not checked: {reason}")


def _result(
    kind: str, path: Path, cmd: Sequence[str], rc: int | None, out: str, ok: bool | None = None
) -> ToolResult:
    return ToolResult(kind, str(path), rc == 0 if ok is None else ok, list(cmd), out)


def _unmask(text: str, replacements: dict[str, str]) -> str:
    for old, new in sorted(replacements.items(), key=lambda item: -len(item[0])):
        text = text.replace(old, new)
    return text


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


# --------------------------------------------------------------------------- host trees


def _abs(path: Path) -> Path:
    """``path`` made absolute without resolving symbolic links (commands run elsewhere)."""
    return Path(os.path.abspath(path))


def _host_root(path: Path) -> Path:
    """The root of the host tree holding ``path``: the parent of its nearest ``etc``."""
    path = _abs(path)
    for parent in path.parents:
        if parent.name == "etc":
            return parent.parent
    return path.parent


def _reroot(value: str, host_root: Path) -> str:
    """Map an absolute path on the host onto the host tree; leave relative ones alone."""
    if value.startswith("/"):
        return str(host_root) + value
    return value


def _rewrite_lines(
    text: str, pattern: re.Pattern[str], rewrite: Callable[[re.Match[str]], str]
) -> str:
    """Rewrite matching lines one for one (line numbers in the tools' messages stay right)."""
    out = []
    for line in text.splitlines(keepends=True):
        match = pattern.match(line)
        out.append(rewrite(match) if match else line)
    return "".join(out)


# --------------------------------------------------------------------------- BIND


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
            target = Path(_reroot(words[1], host_root))
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
    root = _abs(host_root) if host_root is not None else _host_root(named_conf)
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
                        target = Path(_reroot(file, root)).resolve()
                        names = found.setdefault(target, [])
                        if name not in names:
                            names.append(name)

    walk(statements)
    return found


def check_bind_conf(
    named_conf: Path, *, host_root: Path | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``named-checkconf -z -t ROOT /etc/bind/named.conf`` on a temporary copy of the tree.

    named-checkconf changes into the ``directory`` of the options (``/var/cache/bind``) and
    fails if it is missing, so the copy gets that directory. ``-z`` also loads every primary
    zone the configuration names. chroot needs root; otherwise a user namespace stands in.
    """
    kind = "bind-conf"
    if (res := _missing(kind, named_conf)) is not None:
        return res
    named_conf = _abs(named_conf)
    root = _abs(host_root) if host_root is not None else _host_root(named_conf)
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
        prefix = [] if _is_root() else _unshare_prefix()[:2]
        cmd = [*prefix, str(_find("named-checkconf")), "-z", "-t", str(chroot), inside]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp))
    return _result(kind, named_conf, cmd, rc, out)


def check_zone(
    zone_file: Path,
    zone: str | None = None,
    *,
    host_root: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ToolResult:
    """``named-checkzone -k fail ZONE FILE``; ZONE from the host's named.conf when not given.

    A zone file that no ``zone`` statement of the host's named.conf loads fails: named would
    never read it. ``-k fail`` applies the check-names policy named uses for primary zones
    (named-checkzone's own default is only to warn).
    """
    kind = "bind-zone"
    if (res := _missing(kind, zone_file)) is not None:
        return res
    zone_file = _abs(zone_file)
    if zone is None:
        root = _abs(host_root) if host_root is not None else _host_root(zone_file)
        named_conf = root / "etc" / "bind" / "named.conf"
        names = []
        if named_conf.is_file():
            names = zones_of(named_conf, root).get(zone_file.resolve(), [])
        if not names:
            return ToolResult(
                kind,
                str(zone_file),
                False,
                [],
                f"no zone statement in {named_conf} loads {zone_file.name}; named never reads it",
            )
        zone = names[0]
    cmd = [str(_find("named-checkzone")), "-k", "fail", zone, str(zone_file)]
    with tempfile.TemporaryDirectory(prefix="hk-zone-") as tmp:
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, zone_file, cmd, rc, out)


# --------------------------------------------------------------------------- dnsmasq

_DNSMASQ_INCLUDE = re.compile(r"^(\s*)(conf-file|conf-dir|conf-script)(\s*=\s*)(/\S*)(.*)$", re.S)


def _dnsmasq_copy(src: Path, dst: Path, host_root: Path) -> None:
    text = src.read_text(encoding="utf-8", errors="surrogateescape")

    def rewrite(m: re.Match[str]) -> str:
        return m.group(1) + m.group(2) + m.group(3) + _reroot(m.group(4), host_root) + m.group(5)

    dst.write_text(_rewrite_lines(text, _DNSMASQ_INCLUDE, rewrite), errors="surrogateescape")


def check_dnsmasq(
    path: Path, *, host_root: Path | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``dnsmasq --test`` on one file, or on a ``dnsmasq.d`` directory as Debian reads it.

    For a directory: ``--conf-file=`` the host's ``etc/dnsmasq.conf`` (``/dev/null`` when the
    tree has none) and ``--conf-dir=DIR,.dpkg-dist,.dpkg-old,.dpkg-new`` (Debian's default:
    every file but dpkg leftovers). Without an explicit ``--conf-file`` dnsmasq would read the
    checking machine's ``/etc/dnsmasq.conf``. Absolute ``conf-file``/``conf-dir`` directives
    inside the files are re-rooted into the host tree on temporary copies.
    """
    kind = "dnsmasq"
    if (res := _missing(kind, path)) is not None:
        return res
    path = _abs(path)
    root = _abs(host_root) if host_root is not None else _host_root(path)
    dnsmasq = str(_find("dnsmasq"))
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
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, path, cmd, rc, _unmask(out, unmask))


# --------------------------------------------------------------------------- FRR


def check_frr(frr_conf: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ToolResult:
    """``vtysh --config_dir DIR --dryrun -f frr.conf``: needs no daemon and no privilege.

    ``--config_dir`` points vtysh at the host tree's directory for ``vtysh.conf``, which it
    otherwise reads from the checking machine's ``/etc/frr``. Syntax only: every line must
    be a command some FRR daemon knows, but values are not checked against each other.
    """
    kind = "frr"
    if (res := _missing(kind, frr_conf)) is not None:
        return res
    frr_conf = _abs(frr_conf)
    cmd = [
        str(_find("vtysh")),
        "--config_dir",
        str(frr_conf.parent),
        "--dryrun",
        "-f",
        str(frr_conf),
    ]
    with tempfile.TemporaryDirectory(prefix="hk-frr-") as tmp:
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, frr_conf, cmd, rc, out)


def check_frr_bgpd(frr_conf: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ToolResult:
    """``bgpd -C -S -Z -n -p 0 -f frr.conf``: bgpd applies the BGP part and exits.

    ``-C`` dry run, ``-S`` no user switch, ``-Z`` no zebra, ``-n`` no kernel routes, ``-p 0``
    no listening socket. bgpd exits 0 whatever it finds; its complaints are the lines it
    prints starting with ``%`` (the commands of other daemons, such as ``ip address``, are
    merely logged as unknown to bgpd and are left to :func:`check_frr`). bgpd makes a crash
    log directory ``/var/tmp/frr/bgpd.PID``; it is removed afterwards.
    """
    kind = "frr-bgpd"
    if (res := _missing(kind, frr_conf)) is not None:
        return res
    frr_conf = _abs(frr_conf)
    crash_root = Path("/var/tmp/frr")
    crash_root_existed = crash_root.exists()
    with tempfile.TemporaryDirectory(prefix="hk-bgpd-") as tmp:
        cmd = [
            str(_find("bgpd")),
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
                env=_env(tmp),
                cwd=tmp,
                start_new_session=True,
            )
        except OSError as exc:
            return ToolResult(kind, str(frr_conf), False, cmd, f"cannot run bgpd: {exc}")
        rc: int | None
        try:
            raw, _ = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raw, _ = proc.communicate()
            rc = None
        shutil.rmtree(crash_root / f"bgpd.{proc.pid}", ignore_errors=True)
        if not crash_root_existed:
            with contextlib.suppress(OSError):
                crash_root.rmdir()
    out = raw.decode("utf-8", "replace")
    complaints = [line for line in out.splitlines() if line.lstrip().startswith("%")]
    if rc is None:
        out += f"\n[toolcheck] timed out after {timeout:g} s\n"
    return _result(kind, frr_conf, cmd, rc, out, ok=rc == 0 and not complaints)


def check_frr_daemons(daemons: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ToolResult:
    """``sh -n daemons``: FRR's init scripts source this file with the POSIX shell."""
    kind = "frr-daemons"
    if (res := _missing(kind, daemons)) is not None:
        return res
    daemons = _abs(daemons)
    cmd = [str(_find("sh")), "-n", str(daemons)]
    rc, out = _run(cmd, timeout=timeout)
    return _result(kind, daemons, cmd, rc, out)


# --------------------------------------------------------------------------- Prometheus


def _prometheus_paths(doc: Any) -> set[str]:
    """Every file reference in a Prometheus configuration (rule files, SD files, secrets)."""
    found: set[str] = set()

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, str))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("rule_files", "scrape_config_files") or (
                    isinstance(key, str) and key.endswith("_file")
                ):
                    found.update(strings(value))
                elif key == "file_sd_configs" and isinstance(value, list):
                    for sd in value:
                        if isinstance(sd, dict):
                            found.update(strings(sd.get("files")))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return found


def check_prometheus(
    config: Path, *, host_root: Path | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``promtool check config`` on a re-rooted copy of ``prometheus.yml``.

    promtool also loads the rule files (and checks the other files) the configuration
    names, and those are absolute ``/etc/prometheus/...`` paths. The copy, in a temporary
    directory beside symbolic links to every other file of the host's config directory (so
    relative references still resolve), has each absolute file reference rewritten into the
    host tree; nothing else in the text changes, so YAML quirks (duplicate keys) are still
    caught by promtool itself. A referenced file missing from the tree is an error.
    """
    kind = "prometheus"
    if (res := _missing(kind, config)) is not None:
        return res
    config = _abs(config)
    root = _abs(host_root) if host_root is not None else _host_root(config)
    text = config.read_text(encoding="utf-8", errors="surrogateescape")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None  # promtool will say what is wrong with it
    absolute = sorted(
        (p for p in _prometheus_paths(doc) if p.startswith("/")), key=len, reverse=True
    )
    if absolute:
        pattern = re.compile("|".join(re.escape(p) for p in absolute))
        text = pattern.sub(lambda m: _reroot(m.group(0), root), text)
    with tempfile.TemporaryDirectory(prefix="hk-prom-") as tmp:
        work = Path(tmp)
        for entry in config.parent.iterdir():
            if entry.name != config.name:
                (work / entry.name).symlink_to(entry.resolve())
        copy = work / config.name
        copy.write_text(text, errors="surrogateescape")
        cmd = [str(_find("promtool")), "check", "config", str(copy)]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, config, cmd, rc, _unmask(out, {str(copy): str(config)}))


def check_prometheus_rules(rules: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ToolResult:
    """``promtool check rules FILE``: YAML shape, PromQL of every expression, templates."""
    kind = "prometheus-rules"
    if (res := _missing(kind, rules)) is not None:
        return res
    rules = _abs(rules)
    cmd = [str(_find("promtool")), "check", "rules", str(rules)]
    with tempfile.TemporaryDirectory(prefix="hk-rules-") as tmp:
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, rules, cmd, rc, out)


# --------------------------------------------------------------------------- chrony

_CHRONY_INCLUDE = re.compile(r"^(\s*)(include|confdir)(\s+)(.*?)(\s*)$", re.S | re.I)


def check_chrony(
    conf: Path, *, host_root: Path | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``chronyd -p -f COPY``: parse, print the configuration, exit; no root, no writes.

    ``include`` and ``confdir`` are read while parsing, so their absolute paths are re-rooted
    into the host tree in the copy. Arguments are checked only as far as the parser does: an
    unknown directive or a malformed ``server`` line fails, but an impossible subnet such as
    ``allow 10.0.0.0/33`` passes (chronyd rejects it only when it starts serving).
    """
    kind = "chrony"
    if (res := _missing(kind, conf)) is not None:
        return res
    conf = _abs(conf)
    root = _abs(host_root) if host_root is not None else _host_root(conf)
    text = conf.read_text(encoding="utf-8", errors="surrogateescape")

    def rewrite(m: re.Match[str]) -> str:
        args = " ".join(_reroot(arg, root) for arg in m.group(4).split())
        return m.group(1) + m.group(2) + m.group(3) + args + m.group(5)

    with tempfile.TemporaryDirectory(prefix="hk-chrony-") as tmp:
        copy = Path(tmp) / conf.name
        copy.write_text(_rewrite_lines(text, _CHRONY_INCLUDE, rewrite), errors="surrogateescape")
        cmd = [str(_find("chronyd")), "-p", "-f", str(copy)]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    return _result(kind, conf, cmd, rc, _unmask(out, {str(copy): str(conf)}))


# --------------------------------------------------------------------------- sshd

_SSHD_HOSTKEY = re.compile(r"^(\s*)(hostkey)(\s*=?\s*|\s+)(\S+)(\s*)$", re.S | re.I)
_SSHD_INCLUDE = re.compile(r"^(\s*)(include)(\s*=?\s*|\s+)(.*?)(\s*)$", re.S | re.I)


def check_sshd(
    sshd_config: Path, *, host_root: Path | None = None, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``sshd -T -f COPY -o HostKey=TMPKEY``: the extended test; prints effective settings.

    sshd refuses to test without a host key it can load: a fresh ed25519 key is made in a
    temporary directory, passed with ``-o HostKey=`` and put in place of the configuration's
    own ``HostKey`` paths (so the checking machine's keys are never read). ``Include`` paths
    are re-rooted into the host tree. Run as root, sshd insists on ``/run/sshd``; the check
    runs it as ``nobody`` instead, which skips that and reads nothing private.
    """
    kind = "sshd"
    if (res := _missing(kind, sshd_config)) is not None:
        return res
    sshd_config = _abs(sshd_config)
    root = _abs(host_root) if host_root is not None else _host_root(sshd_config)
    with tempfile.TemporaryDirectory(prefix="hk-sshd-") as tmp:
        work = Path(tmp)
        key = work / "ssh_host_ed25519_key"
        rc, out = _run(
            [
                str(_find("ssh-keygen")),
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "toolcheck",
                "-f",
                str(key),
            ],
            timeout=timeout,
            env=_env(tmp),
        )
        if rc != 0:
            return ToolResult(kind, str(sshd_config), False, [], f"ssh-keygen failed: {out}")
        text = sshd_config.read_text(encoding="utf-8", errors="surrogateescape")
        text = _rewrite_lines(
            text, _SSHD_HOSTKEY, lambda m: m.group(1) + m.group(2) + " " + str(key) + m.group(5)
        )
        text = _rewrite_lines(
            text,
            _SSHD_INCLUDE,
            lambda m: (
                m.group(1)
                + m.group(2)
                + " "
                + " ".join(_reroot(arg, root) for arg in m.group(4).split())
                + m.group(5)
            ),
        )
        copy = work / "sshd_config"
        copy.write_text(text, errors="surrogateescape")
        copy.chmod(0o600)
        if _is_root():
            _chown_tree(work, _NOBODY)
        cmd = [str(_find("sshd")), "-T", "-f", str(copy), "-o", f"HostKey={key}"]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp, as_nobody=True)
    return _result(kind, sshd_config, cmd, rc, _unmask(out, {str(copy): str(sshd_config)}))


# --------------------------------------------------------------------------- netplan


def check_netplan(path: Path, *, timeout: float = DEFAULT_TIMEOUT) -> ToolResult:
    """netplan's generator with ``--root-dir`` on a copy of the host's ``etc/netplan``.

    ``path`` is one YAML file or the ``netplan`` directory (netplan merges all its files).
    The generator is called directly: the ``netplan generate`` front end hands the work to
    the live system over D-Bus when ``SNAP`` is set. The generator also asks the live udevd
    to reload its rules and, only while the machine is still booting, starts networkd units;
    so when called as root it runs as ``nobody``, for whom both are refused. The output lists
    the files it would have written.
    """
    kind = "netplan"
    if (res := _missing(kind, path)) is not None:
        return res
    path = _abs(path)
    files = sorted(p for p in path.iterdir() if p.suffix == ".yaml") if path.is_dir() else [path]
    with tempfile.TemporaryDirectory(prefix="hk-netplan-") as tmp:
        root = Path(tmp) / "root"
        etc = root / "etc" / "netplan"
        etc.mkdir(parents=True)
        for file in files:
            shutil.copyfile(file, etc / file.name)
            (etc / file.name).chmod(0o600)
        if _is_root():
            _chown_tree(Path(tmp), _NOBODY)
        cmd = [str(_find("generate")), "--root-dir", str(root)]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp, as_nobody=True)
        written = sorted(
            "/" + p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.is_relative_to(etc)
        )
    unmask = {str(etc / f.name): str(f) for f in files}
    out = _unmask(out, unmask)
    if written:
        out += "generated:\n" + "".join(f"  {name}\n" for name in written)
    return _result(kind, path, cmd, rc, out)


# --------------------------------------------------------------------------- Slurm

_SLURM_KEY = re.compile(r"^\s*([A-Za-z]+)\s*=\s*(\S*)")
_SLURM_BENIGN = (
    # The checking machine, not the configuration: no mail program, no PMIx library.
    "Configured MailProg is invalid",
    "mpi/pmix",
    "pmi/pmix",
    "MPI: Cannot create context",
    # A cold start (-c) in an empty state directory.
    "Could not open job state file",
    "Could not open reservation state file",
    "Could not open trigger state file",
    "NOTE: Trying backup state save file",
    # A loaded virtual machine, not the configuration.
    "High latency for 1000 calls to gettimeofday",
)
_SLURM_ACCEL_DEVICES = re.compile(
    r"^/dev/(nvidia\d+|nvidiactl|nvidia-uvm|davinci\d+|davinci_manager|devmm_svm|hisi_hdc"
    r"|dri/(card|renderD)\d+|accel/accel\d+|kfd|infiniband/uverbs\d+)$"
)


def _slurm_override(text: str, values: dict[str, str], unset: Sequence[str] = ()) -> str:
    """Comment out the lines setting ``values``' and ``unset``'s keys; append ``values``."""
    lowered = {key.lower() for key in (*values, *unset)}
    out = []
    for line in text.splitlines():
        match = _SLURM_KEY.match(line)
        if match and match.group(1).lower() in lowered:
            out.append("#toolcheck# " + line)
        else:
            out.append(line)
    out.append("# toolcheck overrides")
    out.extend(f"{key}={value}" for key, value in values.items())
    return "\n".join(out) + "\n"


def _slurm_values(text: str, key: str) -> list[str]:
    """Values of ``key`` anywhere on a line (NodeName=..., NodeAddr=... share lines)."""
    pattern = re.compile(rf"(?:^|\s){key}\s*=\s*(\S+)", re.I)
    values = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        values.extend(pattern.findall(line))
    return values


def _expand_slurm_list(expr: str) -> list[str]:
    """Expand a Slurm host/device list: ``/dev/nvidia[0-3,5]``, ``a[01-02]b,c``."""
    items, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append(expr[start:i])
            start = i + 1
    items.append(expr[start:])
    out: list[str] = []
    for item in items:
        match = re.search(r"\[([^\]]*)\]", item)
        if not match:
            if item:
                out.append(item)
            continue
        head, tail = item[: match.start()], item[match.end() :]
        for part in match.group(1).split(","):
            lo, _, hi = part.partition("-")
            if hi and lo.isdigit() and hi.isdigit():
                width = len(lo)
                for n in range(int(lo), int(hi) + 1):
                    out.extend(_expand_slurm_list(f"{head}{n:0{width}d}{tail}"))
            else:
                out.extend(_expand_slurm_list(f"{head}{part}{tail}"))
    return out


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _copy_slurm_dir(slurm_conf: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    for entry in slurm_conf.parent.iterdir():
        if entry.is_file():
            shutil.copyfile(entry, dest / entry.name)
        elif entry.is_dir():
            shutil.copytree(entry, dest / entry.name, symlinks=True)


def _slurm_errors(out: str) -> list[str]:
    bad = []
    for line in out.splitlines():
        if "fatal:" in line or ("error:" in line and not any(b in line for b in _SLURM_BENIGN)):
            bad.append(line)
    return bad


def _slurmctld_run(
    slurm_conf: Path, *, timeout: float
) -> tuple[list[str], str, bool, dict[str, str]]:
    """Cold-start slurmctld on a copy; return (command, output, reached-running, unmask)."""
    with tempfile.TemporaryDirectory(prefix="hk-slurmctld-") as tmp:
        work = Path(tmp)
        etc = work / "etc"
        _copy_slurm_dir(slurm_conf, etc)
        (work / "state").mkdir()
        text = (etc / "slurm.conf").read_text(encoding="utf-8", errors="surrogateescape")
        hostname = socket.gethostname().split(".")[0]
        # As root, or as root mapped in a user namespace: either way root inside.
        user = pwd.getpwuid(os.geteuid()).pw_name if _is_root() else "root"
        overrides = {
            "SlurmctldHost": f"{hostname}(127.0.0.1)",
            "SlurmUser": user,
            "SlurmctldPort": str(_free_port()),
            "SlurmdPort": str(_free_port()),
            "StateSaveLocation": str(work / "state"),
            "SlurmctldPidFile": str(work / "slurmctld.pid"),
            "AuthType": "auth/none",
            "CredType": "cred/none",
        }
        unset = (
            "ControlMachine",
            "ControlAddr",
            "BackupController",
            "BackupAddr",
            "SlurmctldLogFile",
            "SlurmSchedLogFile",
            "AuthAltTypes",
        )
        (etc / "slurm.conf").write_text(
            _slurm_override(text, overrides, unset), errors="surrogateescape"
        )
        names: list[str] = []
        exprs = [
            v
            for key in ("NodeName", "NodeHostname", "NodeAddr")
            for v in _slurm_values(text, key)
            if v.lower() != "default"
        ]
        for expr in exprs:
            names.extend(_expand_slurm_list(expr))
        hosts = work / "hosts"
        hosts.write_text(
            f"127.0.0.1\tlocalhost {hostname}\n"
            + "".join(f"127.0.0.1\t{name}\n" for name in sorted(set(names)))
        )
        script = 'mount --bind "$1" /etc/hosts && exec "$2" -D -c -i -vv -f "$3"'
        cmd = [
            *_unshare_prefix(pid=True),
            "sh",
            "-c",
            script,
            "sh",
            str(hosts),
            str(_find("slurmctld")),
            str(etc / "slurm.conf"),
        ]
        running, out = _run_until(
            cmd,
            lambda line: "Running as primary controller" in line or "fatal:" in line,
            timeout=timeout,
            env=_env(tmp),
        )
        unmask = {str(etc / "slurm.conf"): str(slurm_conf), str(etc): str(slurm_conf.parent)}
        return cmd, _unmask(out, unmask), running, unmask


def check_slurm(slurm_conf: Path, *, timeout: float = 30.0) -> ToolResult:
    """A cold start of slurmctld on a copy of slurm.conf, stopped once it is running.

    This is where Slurm 22.05 validates the cluster's configuration: every key and value,
    partitions against nodes, node GRES against ``GresTypes`` and their plugins, the
    topology plugin with topology.conf. The copy points host, user, ports, state and pid
    files into a temporary directory and uses ``auth/none`` (no munged); the run happens in
    private mount and PID namespaces where every node name resolves to 127.0.0.1. It fails
    on any ``fatal:`` or ``error:`` line other than those a cold start on a machine without a
    mail program or PMIx always prints.
    """
    kind = "slurm"
    if (res := _missing(kind, slurm_conf)) is not None:
        return res
    slurm_conf = _abs(slurm_conf)
    cmd, out, running, _ = _slurmctld_run(slurm_conf, timeout=timeout)
    errors = _slurm_errors(out)
    ok = running and not errors
    if errors:
        out += "[toolcheck] errors:\n" + "\n".join(errors) + "\n"
    return ToolResult(kind, str(slurm_conf), ok, cmd, out)


def check_slurm_topology(topology_conf: Path, *, timeout: float = 30.0) -> ToolResult:
    """The :func:`check_slurm` run, judged for topology.conf (the slurm.conf beside it).

    Fails as well when slurmctld never read the file (``TopologyPlugin`` is not
    ``topology/tree``): the file would then be dead weight.
    """
    kind = "slurm-topology"
    if (res := _missing(kind, topology_conf)) is not None:
        return res
    topology_conf = _abs(topology_conf)
    slurm_conf = topology_conf.parent / "slurm.conf"
    if not slurm_conf.is_file():
        return ToolResult(
            kind,
            str(topology_conf),
            False,
            [],
            f"no slurm.conf beside {topology_conf}; slurmctld reads it from there",
        )
    cmd, out, running, _ = _slurmctld_run(slurm_conf, timeout=timeout)
    errors = _slurm_errors(out)
    read = "_read_topo_file" in out
    if not read:
        out += "[toolcheck] slurmctld did not read topology.conf (TopologyPlugin?)\n"
    if errors:
        out += "[toolcheck] errors:\n" + "\n".join(errors) + "\n"
    return ToolResult(kind, str(topology_conf), running and read and not errors, cmd, out)


def _expand_hostlist(expr: str) -> list[str]:
    from hkcompute.inventory.ranges import RangeError, expand

    out: list[str] = []
    for part in re.split(r",(?![^\[]*\])", expr):
        try:
            out.extend(expand(part))
        except RangeError:
            out.append(part)
    return out


def _slurm_node_names(slurm_conf: Path) -> set[str]:
    text = slurm_conf.read_text(encoding="utf-8", errors="surrogateescape")
    return {n for v in _slurm_values(text, "NodeName") for n in _expand_hostlist(v)}


def _gres_first_nodes(gres_conf: Path) -> list[str]:
    text = gres_conf.read_text(encoding="utf-8", errors="surrogateescape")
    firsts = []
    for v in _slurm_values(text, "NodeName"):
        names = _expand_hostlist(v)
        if names and names[0] not in firsts:
            firsts.append(names[0])
    return firsts


def check_slurm_gres(
    gres_conf: Path, node: str | None = None, *, timeout: float = DEFAULT_TIMEOUT
) -> ToolResult:
    """``slurmd -G -N NODE -f COPY``: the node's view of slurm.conf and gres.conf.

    ``node`` defaults to the host tree's name (the folder above ``etc``). slurmd maps
    ``Cores=`` onto the hardware it runs on and ``stat``s each ``File=``; so the copy of
    slurm.conf adds ``config_overrides`` to ``SlurmdParameters`` (use the configured
    sockets and cores), and slurmd runs in a private mount namespace whose ``/dev`` holds
    ``/dev/null`` under the accelerator device names gres.conf lists. slurmd exits 0 even
    when it complains: any ``error:`` or ``fatal:`` line fails the check.
    """
    kind = "slurm-gres"
    if (res := _missing(kind, gres_conf)) is not None:
        return res
    gres_conf = _abs(gres_conf)
    slurm_conf = gres_conf.parent / "slurm.conf"
    if not slurm_conf.is_file():
        return ToolResult(
            kind,
            str(gres_conf),
            False,
            [],
            f"no slurm.conf beside {gres_conf}; slurmd reads gres.conf from there",
        )
    node = node or _host_root(gres_conf).name
    if node not in _slurm_node_names(slurm_conf):
        # A controller or login host is no node: check gres.conf as the first node of each
        # of its NodeName lines sees it (one per server model).
        firsts = _gres_first_nodes(gres_conf)
        if not firsts:
            return ToolResult(kind, str(gres_conf), True, [], f"{node} is not a Slurm node "
                              "and gres.conf names no node: nothing to check")
        results = [check_slurm_gres(gres_conf, n, timeout=timeout) for n in firsts]
        return ToolResult(kind, str(gres_conf), all(r.ok for r in results),
                          results[0].command,
                          "\n".join(f"as {n}:\n{r.output}" for n, r in zip(firsts, results,
                                                                             strict=True)))
    with tempfile.TemporaryDirectory(prefix="hk-slurmd-") as tmp:
        work = Path(tmp)
        etc = work / "etc"
        _copy_slurm_dir(slurm_conf, etc)
        text = (etc / "slurm.conf").read_text(encoding="utf-8", errors="surrogateescape")
        params = [p for v in _slurm_values(text, "SlurmdParameters") for p in v.split(",") if p]
        if "config_overrides" not in params:
            params.append("config_overrides")
        (work / "spool").mkdir()
        # slurmd -G still logs to SlurmdLogFile and caches the hwloc topology in
        # SlurmdSpoolDir: both go to the temporary directory (no log file: stderr).
        overrides = {
            "SlurmdParameters": ",".join(params),
            "SlurmdSpoolDir": str(work / "spool"),
            "SlurmdPidFile": str(work / "slurmd.pid"),
        }
        (etc / "slurm.conf").write_text(
            _slurm_override(text, overrides, unset=("SlurmdLogFile",)),
            errors="surrogateescape",
        )
        gres_text = gres_conf.read_text(encoding="utf-8", errors="surrogateescape")
        devices = sorted(
            {
                dev
                for key in ("File", "MultipleFiles")
                for expr in _slurm_values(gres_text, key)
                for dev in _expand_slurm_list(expr)
                if _SLURM_ACCEL_DEVICES.match(dev)
            }
        )
        dev = work / "dev"
        dev.mkdir()
        lines = ["set -e"]
        for name in ("null", "zero", "full", "random", "urandom"):
            (dev / name).touch()
            lines.append(f"mount --bind /dev/{name} {shlex.quote(str(dev / name))}")
        for device in devices:
            target = dev / device.removeprefix("/dev/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
            lines.append(f"mount --bind /dev/null {shlex.quote(str(target))}")
        lines.append(f"mount --rbind {shlex.quote(str(dev))} /dev")
        lines.append('exec "$@"')
        cmd = [
            *_unshare_prefix(),
            "sh",
            "-c",
            "\n".join(lines),
            "sh",
            str(_find("slurmd")),
            "-G",
            "-N",
            node,
            "-f",
            str(etc / "slurm.conf"),
        ]
        rc, out = _run(cmd, timeout=timeout, env=_env(tmp), cwd=tmp)
    out = _unmask(out, {str(etc / "slurm.conf"): str(slurm_conf), str(etc): str(gres_conf.parent)})
    errors = _slurm_errors(out)
    if rc == 0 and not errors:
        shortfalls = _gres_shortfalls(slurm_conf.read_text(errors="replace"), node, out)
        if shortfalls:
            errors = shortfalls
            out += "".join(f"[toolcheck] error: {line}\n" for line in shortfalls)
    return _result(kind, gres_conf, cmd, rc, out, ok=rc == 0 and not errors)


_GRES_REPORTED = re.compile(r"Gres Name=(\S+) Type=(\S+) Count=(\d+)")


def _gres_count(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not match:
        return -1
    scale = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    return int(match.group(1)) * scale


def _gres_shortfalls(slurm_text: str, node: str, slurmd_out: str) -> list[str]:
    """What slurmctld would find when the node registers: GRES fewer than slurm.conf says.

    ``slurmd -G`` shows what the node will report; slurmctld drains a node that reports
    fewer than its ``Gres=`` in slurm.conf ("count reported lower than configured").
    """
    reported: dict[tuple[str, str], int] = {}
    for name, gres_type, count in _GRES_REPORTED.findall(slurmd_out):
        key = (name, "" if gres_type == "(null)" else gres_type)
        reported[key] = reported.get(key, 0) + int(count)
    configured: list[str] = []
    for line in slurm_text.splitlines():
        line = line.split("#", 1)[0]
        names = _slurm_values(line, "NodeName")
        if names and node in _expand_slurm_list(names[0]):
            configured.extend(_slurm_values(line, "Gres"))
    problems = []
    for value in configured:
        for item in re.sub(r"\([^)]*\)", "", value).split(","):
            parts = item.split(":")
            if len(parts) < 2:
                continue
            name, gres_type, count = parts[0], parts[1] if len(parts) > 2 else "", parts[-1]
            want = _gres_count(count)
            have = sum(
                n
                for (rn, rt), n in reported.items()
                if rn == name and (not gres_type or rt == gres_type)
            )
            if want > have:
                problems.append(
                    f"node {node}: slurm.conf says Gres={item} but gres.conf gives {have}; "
                    "slurmctld would drain it (count reported lower than configured)"
                )
    return problems


# --------------------------------------------------------------------------- whole trees


def recognise(relative: str) -> tuple[str, ...]:
    """The kinds that check a file at ``relative`` (a path inside a host tree, no leading /).

    ``etc/dnsmasq.d/*`` and ``etc/netplan/*.yaml`` are checked per directory by
    :func:`check_tree`; they are recognised here all the same.
    """
    parts = relative.split("/")
    name = parts[-1]
    folder = "/".join(parts[:-1])
    if relative == "etc/bind/named.conf":
        return ("bind-conf",)
    if folder == "etc/bind" and name.startswith("db."):
        return ("bind-zone",)
    if folder == "etc/dnsmasq.d" or relative == "etc/dnsmasq.conf":
        return ("dnsmasq",)
    if relative == "etc/frr/frr.conf":
        return ("frr", "frr-bgpd")
    if relative == "etc/frr/daemons":
        return ("frr-daemons",)
    if relative == "etc/prometheus/prometheus.yml":
        return ("prometheus",)
    if folder.startswith("etc/prometheus") and "rules" in name and name.endswith((".yml", ".yaml")):
        return ("prometheus-rules",)
    if relative == "etc/chrony/chrony.conf":
        return ("chrony",)
    if relative == "etc/ssh/sshd_config":
        return ("sshd",)
    if folder == "etc/netplan" and name.endswith(".yaml"):
        return ("netplan",)
    if relative == "etc/slurm/slurm.conf":
        return ("slurm",)
    if relative == "etc/slurm/topology.conf":
        return ("slurm-topology",)
    if relative == "etc/slurm/gres.conf":
        return ("slurm-gres",)
    return ()


def check_tree(
    root: Path, *, skip_unavailable: bool = False, timeout: float = DEFAULT_TIMEOUT
) -> list[ToolResult]:
    """Check every recognised file of every host tree under ``root`` (``DIR/hosts``).

    Results come host by host (sorted), then file by file. ``dnsmasq.d`` and ``netplan``
    directories are checked as a whole, once per host, as their programs read them. A kind
    whose programs are missing gives a failed result saying so, or nothing when
    ``skip_unavailable`` is set. Files no check knows (``etc/hosts``...) are left alone.
    """
    results: list[ToolResult] = []
    root = _abs(root)
    hosts = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for host in hosts:
        done_dirs: set[Path] = set()
        for file in sorted(p for p in host.rglob("*") if p.is_file()):
            relative = file.relative_to(host).as_posix()
            for kind in recognise(relative):
                if skip_unavailable and available(kind) is not None:
                    continue
                target = file
                if kind == "netplan" or (kind == "dnsmasq" and file.parent.name == "dnsmasq.d"):
                    target = file.parent
                    if target in done_dirs:
                        continue
                    done_dirs.add(target)
                elif kind == "dnsmasq" and (host / "etc" / "dnsmasq.d").is_dir():
                    continue  # etc/dnsmasq.conf is read with the directory
                results.append(_check_one(kind, target, host, timeout))
    return results


def _check_one(kind: str, target: Path, host: Path, timeout: float) -> ToolResult:
    if kind == "bind-conf":
        return check_bind_conf(target, host_root=host, timeout=timeout)
    if kind == "bind-zone":
        return check_zone(target, host_root=host, timeout=timeout)
    if kind == "dnsmasq":
        return check_dnsmasq(target, host_root=host, timeout=timeout)
    if kind == "frr":
        return check_frr(target, timeout=timeout)
    if kind == "frr-bgpd":
        return check_frr_bgpd(target, timeout=timeout)
    if kind == "frr-daemons":
        return check_frr_daemons(target, timeout=timeout)
    if kind == "prometheus":
        return check_prometheus(target, host_root=host, timeout=timeout)
    if kind == "prometheus-rules":
        return check_prometheus_rules(target, timeout=timeout)
    if kind == "chrony":
        return check_chrony(target, host_root=host, timeout=timeout)
    if kind == "sshd":
        return check_sshd(target, host_root=host, timeout=timeout)
    if kind == "netplan":
        return check_netplan(target, timeout=timeout)
    if kind == "slurm":
        return check_slurm(target, timeout=min(timeout, 30.0))
    if kind == "slurm-topology":
        return check_slurm_topology(target, timeout=min(timeout, 30.0))
    if kind == "slurm-gres":
        return check_slurm_gres(target, node=host.name, timeout=timeout)
    raise ValueError(f"unknown kind {kind!r}")
