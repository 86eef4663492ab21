"""Secrets never surface: a real deploy with a vault-encrypted secret, then every file the
run produced and everything it printed is scanned for the plain value.

The deploy is the project's own (``hkcompute deploy`` in a subprocess: render, lock, journal,
Ansible inventory, ansible-runner, event masking, artifact scrubbing), pointed at a tiny
playbook (``HKCOMPUTE_PLAYBOOKS``) and at ``localhost`` with ``ansible_connection=local``
(the lab's connections file), so it needs no SSH and writes only below ``tmp_path``.

The last test proves that a crash's traceback never shows local variables (an inventory
holds secrets): Typer's pretty tracebacks are configured without locals, and the crash log
holds a plain traceback.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import LAB

pytest.importorskip("ansible_runner")
pytest.importorskip("ansible.parsing.vault")

# The console script beside this interpreter (not a shim that may depend on HOME).
_BESIDE = Path(sys.executable).parent / "hkcompute"
HKCOMPUTE = str(_BESIDE) if _BESIDE.exists() else (shutil.which("hkcompute") or "hkcompute")
HOSTS = ["lab-stor1", "lab-svc1"]  # two hosts are enough; all run on this machine

# Tasks using the secret. The first play is how roles must use secrets (no_log); the
# careless one prints it without no_log, and the toolkit's masking must still catch it.
CAREFUL = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: make the host's folder
      ansible.builtin.file:
        path: "{{ playbook_dir }}/../hostfs/{{ inventory_hostname }}"
        state: directory
        mode: "0700"
    - name: install the munge key
      ansible.builtin.copy:
        content: "{{ hk_secret_munge_key }}"
        dest: "{{ playbook_dir }}/../hostfs/{{ inventory_hostname }}/munge.key"
        mode: "0600"
      no_log: true
    - name: check the key
      ansible.builtin.assert:
        that: hk_secret_munge_key | length > 8
      no_log: true
    - name: a hidden message that quotes it
      ansible.builtin.debug:
        msg: "the key is {{ hk_secret_munge_key }}"
      no_log: true
"""
CARELESS = (
    CAREFUL
    + """\
    - name: a careless task (no no_log) that prints the key
      ansible.builtin.debug:
        msg: "oops {{ hk_secret_munge_key }}"
    - name: a careless failure that quotes the key
      ansible.builtin.command: "false {{ hk_secret_munge_key }}"
      ignore_errors: true
"""
)


def _vault_encrypt(plain: str, password: bytes) -> str:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    lib = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])
    text: bytes = lib.encrypt(plain)
    return text.decode()


def _scan(root: Path, needles: list[bytes], skip: set[Path]) -> list[str]:
    """Every file below ``root`` (not through links) whose bytes hold a needle."""
    hits = []
    for dirpath, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if Path(dirpath, d) not in skip]
        for n in names:
            p = Path(dirpath) / n
            if p in skip or p.is_symlink() or not p.is_file():
                continue
            data = p.read_bytes()
            hits += [f"{p.relative_to(root)} holds {n!r}" for n in needles if n in data]
    return hits


@pytest.fixture
def deploy_env(tmp_path: Path) -> dict[str, object]:
    secret = "munge-" + secrets.token_hex(12)
    password = secrets.token_hex(16).encode()
    pwfile = tmp_path / "vault-pass"
    pwfile.write_bytes(password + b"\n")
    site = tmp_path / "site"
    site.mkdir()
    for p in LAB.glob("*.yaml"):
        (site / p.name).write_text(p.read_text())
    vault = textwrap.indent(_vault_encrypt(secret, password), "      ")
    with open(site / "site.yaml", "a") as fh:
        fh.write(f"\nsecrets:\n  munge_key:\n    vault: |\n{vault}\n")
    state = tmp_path / "state"
    (state / "lab").mkdir(parents=True)  # the lab's connections: state/lab/connections.json
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    all_hosts = [
        "lab-stor1",
        "lab-svc1",
        "lab-su1-n01",
        "lab-su1-n02",
        "lab-su1-n03",
        "lab-su1-n04",
        "lab-su1-leaf1",
        "lab-su1-leaf2",
        "lab-spine1",
        "lab-spine2",
    ]
    (state / "lab" / "connections.json").write_text(json.dumps({h: local for h in all_hosts}))
    project = tmp_path / "project"
    project.mkdir()
    (project / "roles").mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "HKCOMPUTE_"))},
        "HOME": str(home),
        "HKCOMPUTE_PLAYBOOKS": str(project),
        "HKCOMPUTE_LOG_DIR": str(tmp_path / "logs"),
        "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote-tmp"),
        "COLUMNS": "200",
    }
    return {
        "secret": secret,
        "pwfile": pwfile,
        "site": site,
        "state": state,
        "project": project,
        "env": env,
        "root": tmp_path,
    }


def _deploy(d: dict[str, object], playbook: str) -> subprocess.CompletedProcess[str]:
    project = d["project"]
    assert isinstance(project, Path)
    (project / "site.yml").write_text(playbook)
    root = d["root"]
    assert isinstance(root, Path)
    cmd = [
        HKCOMPUTE,
        "deploy",
        str(d["site"]),
        "--phase",
        "1",
        "--limit",
        ",".join(HOSTS),
        "--render-dir",
        str(root / "tree"),
        "--state-dir",
        str(d["state"]),
        "--vault-password-file",
        str(d["pwfile"]),
        "--format",
        "json",
    ]
    env = d["env"]
    assert isinstance(env, dict)
    return subprocess.run(
        cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _assert_nowhere(d: dict[str, object], proc: subprocess.CompletedProcess[str]) -> None:
    secret = str(d["secret"])
    root = d["root"]
    assert isinstance(root, Path)
    # The secret reached the (local) host: the deploy really used it.
    for h in HOSTS:
        assert (root / "hostfs" / h / "munge.key").read_text() == secret
    # Nowhere else: rendered tree, state (journal, lock, runner artifacts, facts), logs, home.
    needles = [secret.encode(), secret.encode().hex().encode(), json.dumps(secret).encode()[1:-1]]
    hits = _scan(root, needles, skip={root / "hostfs", root / "vault-pass"})
    assert not hits, hits
    assert secret not in proc.stdout and secret not in proc.stderr
    state = Path(str(d["state"]))
    assert list((state / "runner" / "artifacts").iterdir()), "no artifacts were kept"
    assert list((state / "runs").iterdir()), "no journal was written"


def test_a_vault_secret_used_with_no_log_appears_nowhere(deploy_env: dict[str, object]) -> None:
    proc = _deploy(deploy_env, CAREFUL)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    doc = json.loads(proc.stdout)
    assert doc["status"] == "ok" and sorted(doc["hosts"]) == HOSTS
    _assert_nowhere(deploy_env, proc)


def test_even_a_careless_task_does_not_leak_it(deploy_env: dict[str, object]) -> None:
    """ansible-runner #191: values can reach events; the toolkit masks events as they arrive
    and scrubs every artifact after the run, so a role missing no_log still leaks nothing."""
    proc = _deploy(deploy_env, CARELESS)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    _assert_nowhere(deploy_env, proc)


# --- tracebacks --------------------------------------------------------------------------------

CRASH = """
import os
import sys
from hkcompute.cli.main import app

@app.command("crash-now")
def crash_now() -> None:
    munge_key = os.environ["HK_TEST_SECRET"]  # a local variable holding a secret
    raise RuntimeError("boom " + str(len(munge_key)))

sys.argv = ["hkcompute", "crash-now"]
app()
"""


def test_tracebacks_never_show_local_variables(tmp_path: Path) -> None:
    """A command without the error boundary crashes into Typer's pretty traceback: it must
    not print locals (``pretty_exceptions_show_locals=False`` in hkcompute/cli/main.py)."""
    from hkcompute.cli.main import app

    assert app.pretty_exceptions_show_locals is False
    secret = "tb-" + secrets.token_hex(12)
    script = tmp_path / "crash.py"
    script.write_text(CRASH)
    # A colour terminal, so Typer uses Rich's pretty traceback (the one that can show locals).
    env = {
        **os.environ,
        "COLUMNS": "200",
        "TERM": "xterm-256color",
        "FORCE_COLOR": "1",
        "HK_TEST_SECRET": secret,
        "HKCOMPUTE_LOG_DIR": str(tmp_path / "logs"),
    }
    env.pop("_TYPER_STANDARD_TRACEBACK", None)
    proc = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "RuntimeError" in proc.stderr and "boom" in proc.stderr, proc.stderr[-2000:]
    assert secret not in proc.stderr and secret not in proc.stdout
    assert " locals " not in proc.stderr  # no locals panel at all


def test_the_boundary_crash_log_holds_no_locals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands behind the boundary write the traceback to a log file: frames and source
    lines only, never local variables."""
    from hkcompute.cli.common import EXIT_INTERNAL, boundary

    secret = "log-" + secrets.token_hex(12)
    monkeypatch.setenv("HKCOMPUTE_LOG_DIR", str(tmp_path / "logs"))

    @boundary
    def failing(value: str) -> None:
        bmc_password = value  # noqa: F841 - the local variable a traceback must not show
        raise KeyError("missing")

    import typer

    with pytest.raises(typer.Exit) as info:
        failing(secret)
    assert info.value.exit_code == EXIT_INTERNAL
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "KeyError" in text and "in failing" in text  # the frames, ...
    assert secret not in text  # ... never the values of their variables
