"""Slurm: a cold start of slurmctld reads slurm.conf, topology.conf and cgroup.conf;
``slurmd -G`` reads gres.conf and cgroup.conf as a node sees them.

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
``slurm-cgroup``
    cgroup.conf as both daemons read it. The slurmctld cold start above parses it with
    Slurm's own cgroup.conf parser (an unknown key, a value that is not ``yes``/``no`` or a
    number: fatal) and must say it read it; ``slurmd -G`` as the first node of slurm.conf
    parses it again and initialises the cgroup plugin. Which plugin ``autodetect`` (the
    default) picks depends on the machine it runs on, and ``cgroup/v2`` does not initialise
    outside a cgroup systemd delegates (slurmd exits 1 without a word): so every ``slurmd``
    run here (this one and ``slurm-gres``) reads a copy of cgroup.conf whose
    ``CgroupPlugin`` is pinned to ``cgroup/v1``, which initialises reading only, on a
    cgroup v1, v2 or cgroup-less machine alike. A ``CgroupPlugin`` set in the file is
    checked against the three values Slurm 22.05 knows instead. The check fails as well when
    slurm.conf's ``TaskPlugin`` has no ``task/cgroup``: nothing would enforce the file.

The daemons call setgroups(), which a user namespace denies: these checks need root.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import socket
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.inventory.ranges import RangeError, expand_hostlist
from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result

__all__ = ["SlurmCgroup", "SlurmTopology", "Slurmctld", "SlurmdGres"]

SLURMCTLD_TIMEOUT = 30.0
"""The most a cold start of slurmctld may take: it is up within seconds or stuck."""

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
# The device files gres.conf binds, stood in by /dev/null in the sandbox: any device-like
# name under /dev (one optional folder; letters, digits, '_' and '-': never '.', so never a
# path out of the sandbox's /dev). Which devices a platform has is catalogue data.
_SLURM_ACCEL_DEVICES = re.compile(r"^/dev/([a-z][a-z0-9_-]*/)?[a-z][a-z0-9_-]*$")


# What every ``slurmd`` run here reads as ``CgroupPlugin`` (``_pin_cgroup_plugin``), and the
# values cgroup.conf(5) of Slurm 22.05 allows for it.
_SLURMD_CGROUP_PLUGIN = "cgroup/v1"
_CGROUP_PLUGINS = ("autodetect", "cgroup/v1", "cgroup/v2")


def _slurm_override(text: str, values: dict[str, str], unset: Sequence[str] = ()) -> str:
    """Comment out the lines setting ``values``' and ``unset``'s keys; append ``values``."""
    lowered = {key.lower() for key in (*values, *unset)}
    out = []
    for line in text.splitlines():
        match = _SLURM_KEY.match(line)
        if match and match.group(1).lower() in lowered:
            out.append("#hkcompute-lint# " + line)
        else:
            out.append(line)
    out.append("# hkcompute lint overrides")
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


def _pin_cgroup_plugin(etc: Path) -> None:
    """Pin the copy's ``CgroupPlugin`` to ``cgroup/v1`` (made if there is no cgroup.conf).

    ``slurmd -G`` initialises the cgroup plugin. ``autodetect`` picks the checking
    machine's hierarchy, not the host's, and ``cgroup/v2`` exits silently outside a cgroup
    systemd delegates; ``cgroup/v1`` initialises, reading only, on any machine. The rest of
    the file is read as rendered.
    """
    path = etc / "cgroup.conf"
    text = path.read_text(encoding="utf-8", errors="surrogateescape") if path.is_file() else ""
    path.write_text(
        _slurm_override(text, {"CgroupPlugin": _SLURMD_CGROUP_PLUGIN}), errors="surrogateescape"
    )


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
        user = pwd.getpwuid(os.geteuid()).pw_name if sandbox.is_root() else "root"
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
            names.extend(_expand_hostlist(expr))
        hosts = work / "hosts"
        hosts.write_text(
            f"127.0.0.1\tlocalhost {hostname}\n"
            + "".join(f"127.0.0.1\t{name}\n" for name in sorted(set(names)))
        )
        script = 'mount --bind "$1" /etc/hosts && exec "$2" -D -c -i -vv -f "$3"'
        cmd = [
            *sandbox.unshare_prefix(pid=True),
            "sh",
            "-c",
            script,
            "sh",
            str(hosts),
            sandbox.program("slurmctld"),
            str(etc / "slurm.conf"),
        ]
        running, out = sandbox.run_until(
            cmd,
            lambda line: "Running as primary controller" in line or "fatal:" in line,
            timeout=timeout,
            environ=sandbox.env(tmp),
        )
        unmask = {str(etc / "slurm.conf"): str(slurm_conf), str(etc): str(slurm_conf.parent)}
        return cmd, sandbox.unmask(out, unmask), running, unmask


def _check_slurm(slurm_conf: Path, *, timeout: float) -> ToolResult:
    """The ``slurm`` check itself: what it runs and why is told once, on ``Slurmctld``."""
    kind = "slurm"
    cmd, out, running, _ = _slurmctld_run(slurm_conf, timeout=timeout)
    errors = _slurm_errors(out)
    ok = running and not errors
    if errors:
        out += "[lint] errors:\n" + "\n".join(errors) + "\n"
    return ToolResult(kind, str(slurm_conf), ok, cmd, out)


def _check_slurm_topology(topology_conf: Path, *, timeout: float) -> ToolResult:
    """The slurm.conf check's run, judged for topology.conf (the slurm.conf beside it).

    Fails as well when slurmctld never read the file (``TopologyPlugin`` is not
    ``topology/tree``): the file would then be dead weight.
    """
    kind = "slurm-topology"
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
        out += "[lint] slurmctld did not read topology.conf (TopologyPlugin?)\n"
    if errors:
        out += "[lint] errors:\n" + "\n".join(errors) + "\n"
    return ToolResult(kind, str(topology_conf), running and read and not errors, cmd, out)


def _expand_hostlist(expr: str) -> list[str]:
    """A Slurm host or device list expanded (``ranges.expand_hostlist``); an expression it
    cannot read stays as it is: the program then says what is wrong with it."""
    try:
        return expand_hostlist(expr)
    except RangeError:
        return [expr]


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


def _check_slurm_gres(gres_conf: Path, node: str, *, timeout: float) -> ToolResult:
    """``slurmd -G -N NODE -f COPY``: the node's view of slurm.conf and gres.conf.

    ``node`` defaults to the host tree's name (the folder above ``etc``). slurmd maps
    ``Cores=`` onto the hardware it runs on and ``stat``s each ``File=``; so the copy of
    slurm.conf adds ``config_overrides`` to ``SlurmdParameters`` (use the configured
    sockets and cores), and slurmd runs in a private mount namespace whose ``/dev`` holds
    ``/dev/null`` under the accelerator device names gres.conf lists. slurmd exits 0 even
    when it complains: any ``error:`` or ``fatal:`` line fails the check.
    """
    kind = "slurm-gres"
    slurm_conf = gres_conf.parent / "slurm.conf"
    if not slurm_conf.is_file():
        return ToolResult(
            kind,
            str(gres_conf),
            False,
            [],
            f"no slurm.conf beside {gres_conf}; slurmd reads gres.conf from there",
        )
    if node not in _slurm_node_names(slurm_conf):
        # A controller or login host is no node: check gres.conf as the first node of each
        # of its NodeName lines sees it (one per server model).
        firsts = _gres_first_nodes(gres_conf)
        if not firsts:
            return ToolResult(
                kind,
                str(gres_conf),
                True,
                [],
                f"{node} is not a Slurm node and gres.conf names no node: nothing to check",
            )
        results = [_check_slurm_gres(gres_conf, n, timeout=timeout) for n in firsts]
        return ToolResult(
            kind,
            str(gres_conf),
            all(r.ok for r in results),
            results[0].command,
            "\n".join(f"as {n}:\n{r.output}" for n, r in zip(firsts, results, strict=True)),
        )
    cmd, rc, out = _slurmd_g(slurm_conf, node, timeout=timeout)
    errors = _slurm_errors(out)
    if rc == 0 and not errors:
        shortfalls = _gres_shortfalls(slurm_conf.read_text(errors="replace"), node, out)
        if shortfalls:
            errors = shortfalls
            out += "".join(f"[lint] error: {line}\n" for line in shortfalls)
    return result(kind, gres_conf, cmd, rc, out, ok=rc == 0 and not errors)


def _slurmd_g(slurm_conf: Path, node: str, *, timeout: float) -> tuple[list[str], int | None, str]:
    """``slurmd -G -N NODE`` on a copy of slurm.conf's folder: (command, status, output).

    The copy adds ``config_overrides`` to ``SlurmdParameters``, points spool, pid and log
    into a temporary directory and pins cgroup.conf's ``CgroupPlugin``
    (``_pin_cgroup_plugin``); slurmd runs in a private mount namespace whose ``/dev`` holds
    ``/dev/null`` under the device names gres.conf (if any) lists.
    """
    gres_conf = slurm_conf.parent / "gres.conf"
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
        _pin_cgroup_plugin(etc)
        gres_text = (
            gres_conf.read_text(encoding="utf-8", errors="surrogateescape")
            if gres_conf.is_file()
            else ""
        )
        devices = sorted(
            {
                dev
                for key in ("File", "MultipleFiles")
                for expr in _slurm_values(gres_text, key)
                for dev in _expand_hostlist(expr)
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
            *sandbox.unshare_prefix(),
            "sh",
            "-c",
            "\n".join(lines),
            "sh",
            sandbox.program("slurmd"),
            "-G",
            "-N",
            node,
            "-f",
            str(etc / "slurm.conf"),
        ]
        rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
    out = sandbox.unmask(
        out, {str(etc / "slurm.conf"): str(slurm_conf), str(etc): str(slurm_conf.parent)}
    )
    return cmd, rc, out


def _check_slurm_cgroup(cgroup_conf: Path, *, timeout: float) -> ToolResult:
    """cgroup.conf as slurmctld and slurmd read it (the slurm.conf beside it).

    The slurmctld cold start of the ``slurm`` check must say it read the file and print no
    error; ``slurmd -G`` as slurm.conf's first node must succeed (``_slurmd_g``, with
    ``CgroupPlugin`` pinned). Fails as well on a ``CgroupPlugin`` Slurm 22.05 does not know,
    and when slurm.conf's ``TaskPlugin`` has no ``task/cgroup`` (nothing enforces the file).
    """
    kind = "slurm-cgroup"
    slurm_conf = cgroup_conf.parent / "slurm.conf"
    if not slurm_conf.is_file():
        return ToolResult(
            kind,
            str(cgroup_conf),
            False,
            [],
            f"no slurm.conf beside {cgroup_conf}; the daemons read cgroup.conf from there",
        )
    slurm_text = slurm_conf.read_text(encoding="utf-8", errors="surrogateescape")
    cgroup_text = cgroup_conf.read_text(encoding="utf-8", errors="surrogateescape")
    problems = [
        f"CgroupPlugin={value}: Slurm 22.05 knows {', '.join(_CGROUP_PLUGINS)}"
        for value in _slurm_values(cgroup_text, "CgroupPlugin")
        if value not in _CGROUP_PLUGINS
    ]
    tasks = [p for v in _slurm_values(slurm_text, "TaskPlugin") for p in v.split(",")]
    if "task/cgroup" not in tasks:
        problems.append("slurm.conf's TaskPlugin has no task/cgroup: nothing enforces cgroup.conf")
    cmd, out, running, _ = _slurmctld_run(slurm_conf, timeout=min(timeout, SLURMCTLD_TIMEOUT))
    if "Reading cgroup.conf file" not in out:
        problems.append("slurmctld did not read cgroup.conf")
    errors = _slurm_errors(out)
    out = "slurmctld:\n" + out
    nodes = [n for v in _slurm_values(slurm_text, "NodeName") for n in _expand_hostlist(v)]
    nodes = [n for n in nodes if n.lower() != "default"]
    if nodes:
        _cmd, rc, slurmd_out = _slurmd_g(slurm_conf, nodes[0], timeout=timeout)
        out += f"slurmd -G as {nodes[0]} (CgroupPlugin={_SLURMD_CGROUP_PLUGIN}):\n" + slurmd_out
        errors += _slurm_errors(slurmd_out)
        if rc != 0:
            problems.append(f"slurmd -G as {nodes[0]} exited {rc}")
    if errors:
        out += "[lint] errors:\n" + "\n".join(errors) + "\n"
    out += "".join(f"[lint] error: {p}\n" for p in problems)
    return ToolResult(kind, str(cgroup_conf), running and not errors and not problems, cmd, out)


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
        if names and node in _expand_hostlist(names[0]):
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


def _covers(line: str, node: str) -> bool:
    names = _slurm_values(line.split("#", 1)[0], "NodeName")
    return bool(names) and node in _expand_hostlist(names[0])


def _gres_role(slurm_conf: Path, gres_conf: Path, node: str) -> str:
    """What ``slurmd -G`` makes of ``node``: which lines of slurm.conf and gres.conf name it.

    Nodes of one server model share their lines, so they share the verdict (the check then
    runs once for them all, not once per node).
    """
    if node not in _slurm_node_names(slurm_conf):
        return "not a node"
    slurm_lines = slurm_conf.read_text(encoding="utf-8", errors="replace").splitlines()
    gres_lines = gres_conf.read_text(encoding="utf-8", errors="replace").splitlines()
    mine = [i for i, line in enumerate(slurm_lines) if _covers(line, node)]
    gres = [i for i, line in enumerate(gres_lines) if _covers(line, node)]
    return f"node: slurm.conf lines {mine}, gres.conf lines {gres}"


class _Slurm(Tool):
    """What the Slurm checks share: they need root, and read the whole ``etc/slurm``."""

    def ready(self) -> str | None:
        if not sandbox.is_root():
            # Mapped to root in a user namespace, the daemons die on setgroups(), which
            # such a namespace denies; as an ordinary user they cannot set up /etc/hosts.
            return "the Slurm checks need root (slurmd/slurmctld call setgroups())"
        return sandbox.namespaces_reason()

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        return content_key(host_root, files, [files[0].parent])


@register
class Slurmctld(_Slurm):
    """A cold start of slurmctld on a copy of slurm.conf, stopped once it is running.

    This is where Slurm 22.05 validates the cluster's configuration: every key and value,
    partitions against nodes, node GRES against ``GresTypes`` and their plugins, the
    topology plugin with topology.conf. The copy points host, user, ports, state and pid
    files into a temporary directory and uses ``auth/none`` (no munged); the run happens in
    private mount and PID namespaces where every node name resolves to 127.0.0.1. It fails
    on any ``fatal:`` or ``error:`` line other than those a cold start on a machine without a
    mail program or PMIx always prints.
    """

    name = "slurm"
    programs = (
        Program("slurmctld", "slurmctld"),
        Program("scontrol", "slurm-client"),
        Program("unshare", "util-linux"),
    )

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        return _check_slurm(files[0], timeout=min(timeout, SLURMCTLD_TIMEOUT))


@register
class SlurmTopology(_Slurm):
    """The slurm.conf check's run, judged for topology.conf (the slurm.conf beside it).

    Fails as well when slurmctld never read the file (``TopologyPlugin`` is not
    ``topology/tree``): the file would then be dead weight.
    """

    name = "slurm-topology"
    programs = Slurmctld.programs

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        return _check_slurm_topology(files[0], timeout=min(timeout, SLURMCTLD_TIMEOUT))


@register
class SlurmdGres(_Slurm):
    """``slurmd -G -N NODE -f COPY``: the node's view of slurm.conf and gres.conf.

    NODE is the host tree's name (the folder above ``etc``). slurmd maps ``Cores=`` onto
    the hardware it runs on and ``stat``s each ``File=``; so the copy of slurm.conf adds
    ``config_overrides`` to ``SlurmdParameters`` (use the configured sockets and cores), and
    slurmd runs in a private mount namespace whose ``/dev`` holds ``/dev/null`` under the
    accelerator device names gres.conf lists. slurmd exits 0 even when it complains: any
    ``error:`` or ``fatal:`` line fails the check. A host that is no Slurm node (a controller
    or login host) has gres.conf checked as the first node of each of its NodeName lines.
    """

    name = "slurm-gres"
    programs = (Program("slurmd", "slurmd"), Program("unshare", "util-linux"))

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        gres_conf = files[0]
        slurm_conf = gres_conf.parent / "slurm.conf"
        role = (
            _gres_role(slurm_conf, gres_conf, host_root.name)
            if slurm_conf.is_file()
            else "no slurm.conf"
        )
        return content_key(host_root, files, [gres_conf.parent], extra=role)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        return _check_slurm_gres(files[0], host_root.name, timeout=timeout)


@register
class SlurmCgroup(_Slurm):
    """cgroup.conf as slurmctld and ``slurmd -G`` read it (the slurm.conf beside it).

    slurmctld's cold start parses it (unknown keys and bad values are fatal) and must say it
    read it; ``slurmd -G`` as slurm.conf's first node parses it and initialises the cgroup
    plugin, pinned to ``cgroup/v1`` in its copy (the only one that initialises on any
    checking machine; ``autodetect`` would judge the checking machine, not the host). Fails
    as well on a ``CgroupPlugin`` Slurm 22.05 does not know and when slurm.conf's
    ``TaskPlugin`` has no ``task/cgroup``.
    """

    name = "slurm-cgroup"
    programs = (*Slurmctld.programs, Program("slurmd", "slurmd"))

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        return _check_slurm_cgroup(files[0], timeout=timeout)
