"""The README's commands that act on live hosts, run as documented on the container twin.

In a folder that holds a copy of the bundled inventories (as a user's checkout does), every
such command of README.md and docs/*.md runs through the installed ``hkcompute`` in the
order the docs give it, and must exit 0: lab up, host keys, preflight, a check, a deploy,
the journal, verify, lab down, then the whole ``lab test`` sequence. The site keeps its
bundled name, ``lab``: other lab tests stop any lab of that name before they start theirs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from doccmds import REPO, commands

pytestmark = pytest.mark.lab


def test_documented_lab_commands_run_in_order(docker_client: Any, tmp_path: Path) -> None:
    from hkcompute.lab.twin import lab_down
    from hkcompute.resources import playbooks_dir

    cmds = [c for c in commands() if c.needs_lab]
    assert [c.argv[1:3] for c in cmds][:1] == [["lab", "up"]], "the docs bring the lab up first"
    shutil.copytree(REPO / "inventories", tmp_path / "inventories")
    exe = shutil.which("hkcompute")
    assert exe, "hkcompute is not on PATH"
    lab_down("lab")
    try:
        for cmd in cmds:
            done = subprocess.run(
                [exe, *cmd.argv[1:]],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=1800,
                stdin=subprocess.DEVNULL,
            )
            assert done.returncode == 0, (
                f"{cmd} exited {done.returncode}\nstdout: {done.stdout[-3000:]}\n"
                f"stderr: {done.stderr[-5000:]}"
            )
            if cmd.argv[1] == "deploy" and "--check" not in cmd.argv:
                # The real deploy after the check must not inherit check mode.
                runs = sorted((tmp_path / "state" / "lab" / "runs").iterdir())
                run = json.loads((runs[-1] / "run.json").read_text())
                assert run["check"] is False and run["status"] == "ok", run["status"]
                command = (
                    tmp_path / "state" / "lab" / "runner" / "artifacts" / runs[-1].name / "command"
                ).read_text()
                assert "--check" not in json.loads(command)["command"]
                # A relative state folder stays the user's: Ansible's temporary files never
                # land in the (installed) playbooks folder it runs in.
                assert not (playbooks_dir() / "state").exists()
    finally:
        lab_down("lab", tmp_path / "state" / "lab")
