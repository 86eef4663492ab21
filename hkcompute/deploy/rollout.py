"""Roll out a phase: render, lock, write the inventory, run the playbooks through
ansible-runner, keep the journal, and leave a resumable record whatever happens."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hkcompute.deploy import secrets as sec
from hkcompute.deploy.ansible_inventory import build_inventory, write_inventory
from hkcompute.deploy.events import Masker, Tally
from hkcompute.deploy.hostmatch import select
from hkcompute.deploy.journal import HostResult, Journal, Run, new_run_id, now
from hkcompute.deploy.lock import SiteLock, break_stale
from hkcompute.errors import HkError, UsageError
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.render.pipeline import render_site
from hkcompute.resources import playbooks_dir

ARTIFACTS_KEPT = 20


@dataclass
class DeployOptions:
    phase: int
    limit: str | None = None
    check: bool = False
    diff: bool = False
    batch: str | None = None
    max_fail: str | None = None
    tags: str | None = None
    resume: str | None = None
    render_dir: Path | None = None
    forks: int = 10
    vault_password_file: Path | None = None
    private_key: Path | None = None
    break_lock: bool = False
    command: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class DeployResult:
    run: Run
    tally: Tally
    rc: int
    inventory_path: Path
    artifacts: Path

    @property
    def ok(self) -> bool:
        return self.run.status == "ok"


def _percent(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    v = value.strip()
    body = v[:-1] if v.endswith("%") else v
    if not body.isdigit() or (v.endswith("%") and not 0 < int(body) <= 100) or int(body) == 0:
        raise UsageError(f"{what} must be a count like 4 or a percentage like 25%, not {value!r}")
    return v


def connections_file(state: Path) -> Path:
    """Where the container lab records how to reach its hosts (see hkcompute.lab)."""
    return state / "lab" / "connections.json"


def ansible_env(state: Path, opts: DeployOptions, known_hosts: Path) -> dict[str, str]:
    """Only settings measured to help on a 2-core controller (bench/bench_deploy.py
    --compare, bench/RESULTS.md): ControlPersist (without it, 3.5x the controller CPU) and
    pipelining (without it, +21 %); the linear strategy (free cost +76 %). Fact caching and
    a smaller gather_subset changed nothing measurable and are not used: facts are gathered
    fresh each run, so they are never stale. Host keys are always checked."""
    env = {
        "ANSIBLE_ROLES_PATH": str(playbooks_dir() / "roles"),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": (
            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
            " -o ControlMaster=auto -o ControlPersist=120s"
        ),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_FORKS": str(opts.forks),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        # Discovery as before, without a warning per host per run (22 lines at 16 nodes
        # that drowned the progress display).
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False",
        "ANSIBLE_LOCAL_TEMP": str(state / "tmp"),
        "ANSIBLE_HOME": str(state / "ansible"),
        # ansible-runner needs the virtual environment's bin on PATH (else rc 127).
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
        ),
    }
    if opts.private_key is not None:
        env["ANSIBLE_PRIVATE_KEY_FILE"] = str(opts.private_key)
    env.update(opts.extra_env)
    return env


def deploy(
    site: Site,
    state: Path,
    opts: DeployOptions,
    on_event: Callable[[Tally], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DeployResult:
    import ansible_runner

    stage = on_stage or (lambda _s: None)
    # Ansible runs in the playbooks folder (inside the installed package): a relative state
    # folder would put its temporary files and cache there, not in the user's state folder.
    state = state.resolve()
    if opts.phase not in site.phase_ids:
        raise UsageError(f"phase {opts.phase} is not defined")
    batch = _percent(opts.batch, "--batch")
    max_fail = _percent(opts.max_fail, "--max-fail")
    journal = Journal(state)
    previous = journal.load(opts.resume) if opts.resume else None

    run_id = new_run_id()
    if opts.break_lock:
        holder = break_stale(state)
        if holder is not None:
            stage(f"broke the stale lock of {holder.describe()}")
    with SiteLock(state, run_id, opts.command):
        stage("rendering")
        tree = opts.render_dir or Path("build") / site.info.name / f"phase-{opts.phase}"
        render_site(site, opts.phase, tree)
        plan = plan_for(site, opts.phase)
        conn_path = connections_file(state)
        connections = json.loads(conn_path.read_text()) if conn_path.is_file() else None
        inventory = build_inventory(site, plan, opts.phase, tree, connections)
        all_vars: dict[str, Any] = {}
        for name, ref in sorted(site.secrets.items()):
            all_vars[f"hk_secret_{name}"] = sec.ansible_value(ref)
        if all_vars:
            inventory["all"]["vars"] = all_vars
        plain = [
            v
            for v in (sec.plain_value(r, opts.vault_password_file) for r in site.secrets.values())
            if v
        ]
        masker = Masker(plain)

        limit = opts.limit
        if previous is not None:
            todo = previous.unfinished_hosts()
            if not todo:
                raise HkError(f"run {previous.run_id} left nothing to resume: every host finished")
            chosen = todo if not limit else sorted(set(todo) & set(select(inventory, limit)))
            limit = ",".join(chosen)
        hosts = select(inventory, limit)
        if not hosts:
            raise UsageError(f"--limit {limit!r} matches no host of phase {opts.phase}")

        run_dir = journal.path(run_id)
        inv_path = write_inventory(inventory, run_dir)
        run = Run(
            run_id,
            site.info.name,
            opts.phase,
            opts.command,
            site.inventory_hash,
            check=opts.check,
            resumed_from=previous.run_id if previous else None,
            hosts={h: HostResult() for h in hosts},
        )
        journal.save(run)

        tally = Tally()
        last_save = [time.monotonic()]

        def handler(event: dict[str, Any]) -> bool:
            masker.scrub(event)
            tally.feed(event)
            if on_event is not None:
                on_event(tally)
            if time.monotonic() - last_save[0] > 2.0:
                _apply(run, tally)
                journal.save(run)
                last_save[0] = time.monotonic()
            return True

        cmdline = []
        if opts.check:
            cmdline.append("--check")
        if opts.diff:
            cmdline.append("--diff")
        if opts.tags:
            cmdline += ["--tags", opts.tags]
        if opts.vault_password_file is not None:
            cmdline += ["--vault-password-file", str(opts.vault_password_file.resolve())]
        extravars: dict[str, Any] = {}
        if batch:
            extravars["hk_batch"] = batch
        if max_fail:
            extravars["hk_max_fail_percentage"] = int(max_fail.rstrip("%"))
        private = (state / "runner").resolve()
        private.mkdir(parents=True, exist_ok=True)
        # ansible-runner saves a run's cmdline, envvars, extravars and settings under
        # private/env and reads them back whenever a later run leaves one out: a deploy after
        # `deploy --check` ran in check mode again (and --batch would stick the same way).
        # Every run passes all it needs, so nothing of an earlier run may survive.
        shutil.rmtree(private / "env", ignore_errors=True)
        known_hosts = state / "known_hosts"
        if not known_hosts.exists():
            known_hosts.parent.mkdir(parents=True, exist_ok=True)
            known_hosts.touch(mode=0o644)
        stage(f"running playbooks on {len(hosts)} host(s)")
        status = "failed"
        rc = 1
        try:
            r = ansible_runner.run(
                private_data_dir=str(private),
                ident=run_id,
                project_dir=str(playbooks_dir()),
                playbook=str(playbooks_dir() / "site.yml"),
                inventory=str(inv_path.resolve()),
                limit=",".join(hosts),
                envvars=ansible_env(state, opts, known_hosts.resolve()),
                extravars=extravars,
                cmdline=" ".join(cmdline) or None,
                event_handler=handler,
                quiet=True,
                rotate_artifacts=ARTIFACTS_KEPT,
                settings={"suppress_ansible_output": True},
            )
            rc = int(r.rc if r.rc is not None else 1)
            status = str(r.status)
        except KeyboardInterrupt:
            run.status = "interrupted"
            raise
        finally:
            _apply(run, tally)
            if status == "successful" and rc == 0:
                # A host no play touched (nothing applies to it) finished cleanly.
                for res in run.hosts.values():
                    if res.status == "pending":
                        res.status = "ok"
            failed = [h for h, res in run.hosts.items() if res.status not in ("ok", "changed")]
            if run.status != "interrupted":
                run.status = (
                    "ok" if (status == "successful" and rc == 0 and not failed) else "failed"
                )
            if rc != 0 and status != "successful":
                run.notes.append(f"ansible-runner status {status}, rc {rc}")
            run.finished = now()
            journal.save(run)
            art = private / "artifacts" / run_id
            sec.scrub_files(art, plain)
            sec.scrub_files(run_dir, plain)
            _prune(private / "artifacts")
        return DeployResult(run, tally, rc, inv_path, private / "artifacts" / run_id)


def _apply(run: Run, tally: Tally) -> None:
    for host, t in tally.hosts.items():
        res = run.hosts.get(host)
        if res is None:
            continue
        res.status = t.status
        res.ok, res.changed, res.failed = t.ok, t.changed, t.failed
        res.unreachable, res.skipped, res.message = t.unreachable, t.skipped, t.message


def _prune(artifacts: Path) -> None:
    """ansible-runner rotates by count; keep ours bounded too if it did not."""
    if not artifacts.is_dir():
        return
    dirs = sorted((p for p in artifacts.iterdir() if p.is_dir()), key=lambda p: p.name)
    for p in dirs[:-ARTIFACTS_KEPT]:
        shutil.rmtree(p, ignore_errors=True)
