"""ifupdown2: its own parser on a Cumulus Linux switch's ``/etc/network/interfaces``.

``ifupdown2``
    ``ifup --syntax-check --all --interfaces FILE``: ifupdown2 (the program that reads the
    file on the switch) parses it, resolves the interfaces' dependencies and checks every
    keyword and value against its addon modules, then returns before touching any interface
    ("Only run the interfaces file parser", ``ifup --help``). A misspelt keyword
    (``bridge-acces``), a value out of range (``vlan-id 5000``) or of the wrong kind fails.

Where the program comes from: Debian's ``ifupdown2`` package cannot be installed on a
checking machine (it conflicts with ifupdown and would take over the machine's networking),
so ``scripts/setup-debian.sh`` downloads the .deb and extracts it, without installing it,
into ``build/debs/ifupdown2`` (``HKCOMPUTE_IFUPDOWN2_DIR`` names another folder). It is a
Python program run by the system's ``python3``; the command it acts as is chosen by the
name it is started under, so the set-up copies its ``__main__.py`` to ``ifup`` beside it.

How it runs without touching the checking machine (:mod:`hkcompute.lint.sandbox`): in
private mount and network namespaces (``unshare --mount --net``, mapped to root when not
root, as ifup insists on root). The empty network namespace leaves ifupdown2 no interface of
this machine to see or change. ifupdown2 reads its configuration from the fixed path
``/etc/network/ifupdown2/ifupdown2.conf`` (or, where ``/etc/network`` is missing, from
``etc/network`` beside its package folder), locks ``/run/network/.lock`` and keeps state in
its ``state_dir``: in the namespace a fresh tmpfs is mounted on ``/run``, the package is
bound into a temporary folder whose ``etc/network`` holds the package's own configuration,
and that folder is bound on ``/etc/network``, so both lookups find it. Two settings of that
configuration are changed: ``addon_syntax_check=1`` (Debian ships 0, with which an unknown
keyword passes the syntax check) and ``state_dir`` (into the temporary folder). The checked
file is a copy in the temporary folder; the program's words name the original.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, register, result

__all__ = ["Ifupdown2", "home"]

ENV_DIR = "HKCOMPUTE_IFUPDOWN2_DIR"
"""Environment variable naming the folder the .deb was extracted into, instead of the
default ``build/debs/ifupdown2`` of the source tree."""

_DEFAULT_DIR = Path(__file__).resolve().parents[2] / "build" / "debs" / "ifupdown2"
_PACKAGE = Path("usr/share/ifupdown2")
_CONF = Path("etc/network/ifupdown2")
NOT_FOUND = "ifupdown2 not found; run scripts/setup-debian.sh"

# The script run in the namespaces: $1 the extracted package, $2 its mount point in the
# temporary folder, $3 the temporary etc/network, $4 python3, the rest ifup's arguments.
_SCRIPT = """set -e
mount -t tmpfs -o mode=0755,size=1m hk-ifupdown2 /run
mkdir /run/network
mount --bind "$1" "$2"
if [ -d /etc/network ]; then mount --bind "$3" /etc/network; fi
python3=$4
shift 4
exec "$python3" "$@"
"""


def home() -> Path | None:
    """The folder the ifupdown2 .deb was extracted into, when it holds what the check
    runs (the package, its ``ifup`` copy of ``__main__.py`` and its configuration)."""
    folder = Path(os.environ.get(ENV_DIR) or _DEFAULT_DIR)
    needed = (
        folder / _PACKAGE / "ifup",
        folder / _PACKAGE / "ifupdown" / "main.py",
        folder / _CONF / "ifupdown2.conf",
    )
    return folder if all(p.is_file() for p in needed) else None


def _python() -> str | None:
    """The system's python3 (the .deb's interpreter), not a virtual environment's."""
    return shutil.which("python3", path=sandbox.CLEAN_PATH)


@functools.cache
def _net_namespace_reason() -> str | None:
    try:
        done = subprocess.run(
            [*sandbox.unshare_prefix(net=True), "true"],
            capture_output=True,
            text=True,
            timeout=10,
            env=sandbox.env(),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot create a network namespace: {exc}"
    if done.returncode != 0:
        return f"cannot create a network namespace: {done.stderr.strip() or done.returncode}"
    return None


def _configuration(text: str, state_dir: Path) -> str:
    """The package's ifupdown2.conf with keyword checking on and state kept in the sandbox."""
    settings = {"addon_syntax_check": "1", "state_dir": f"{state_dir}/"}
    for key, value in settings.items():
        line = f"{key}={value}"
        text, n = re.subn(rf"^{key}=.*$", line, text, flags=re.M)
        if n == 0:
            text = text.rstrip("\n") + f"\n{line}\n"
    return text


def _scratch_parent() -> str | None:
    """Where the temporary folder goes: the usual place, unless that lies under /run,
    which the check covers with its own tmpfs."""
    default = Path(tempfile.gettempdir())
    return "/tmp" if default == Path("/run") or default.is_relative_to("/run") else None


@register
class Ifupdown2(Tool):
    """``ifup --syntax-check --all --interfaces FILE`` in private mount and network
    namespaces, from the extracted Debian package (see the module's text)."""

    name = "ifupdown2"
    programs = (Program("unshare", "util-linux"), Program("mount", "mount"))

    def ready(self) -> str | None:
        if home() is None:
            return NOT_FOUND
        if _python() is None:
            return "missing python3 (Debian package python3)"
        return sandbox.namespaces_reason() or _net_namespace_reason()

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        interfaces = files[0]
        extracted = home()
        python = _python()
        if extracted is None or python is None:  # ready() said otherwise a moment ago
            return result(self.name, interfaces, [], 127, NOT_FOUND)
        with tempfile.TemporaryDirectory(prefix="hk-ifupdown2-", dir=_scratch_parent()) as tmp:
            work = Path(tmp)
            package = work / _PACKAGE
            package.mkdir(parents=True)
            etc = work / "usr" / "share" / "etc" / "network"  # beside the package, as it looks
            (etc / "ifupdown2").mkdir(parents=True)
            state = work / "state"
            state.mkdir()
            conf = (extracted / _CONF / "ifupdown2.conf").read_text()
            (etc / "ifupdown2" / "ifupdown2.conf").write_text(_configuration(conf, state))
            addons = extracted / _CONF / "addons.conf"
            if addons.is_file():
                shutil.copyfile(addons, etc / "ifupdown2" / "addons.conf")
            copy = work / "interfaces"
            shutil.copyfile(interfaces, copy)
            cmd = [
                *sandbox.unshare_prefix(net=True),
                "sh",
                "-c",
                _SCRIPT,
                "sh",
                str(extracted / _PACKAGE),
                str(package),
                str(etc),
                python,
                str(package / "ifup"),
                "--syntax-check",
                "--all",
                "--interfaces",
                str(copy),
            ]
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        out = sandbox.unmask(out, {str(copy): str(interfaces)})
        return result(self.name, interfaces, cmd, rc, out)
