"""`hkcompute ansible-inventory`, `deploy`, `runs`: rolling out a phase."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.table import Table

from hkcompute.cli.common import (
    AcceptNewHostKeysOpt,
    Format,
    PrivateKeyOpt,
    QuietOpt,
    StateOpt,
    VerboseOpt,
    boundary,
    emit,
    err,
    out,
    prepare_out_file,
    resolve_site,
)
from hkcompute.deploy.ansible_inventory import build_inventory, write_yaml_inventory
from hkcompute.deploy.events import Tally
from hkcompute.deploy.journal import Journal, Run
from hkcompute.deploy.rollout import DeployOptions, connections_file, deploy
from hkcompute.deploy.state import state_dir
from hkcompute.errors import InputError, UsageError
from hkcompute.plan import plan_for
from hkcompute.validate import load_valid_site

if TYPE_CHECKING:  # the SSH layer (paramiko) loads only for the commands that use it
    from hkcompute.deploy.ssh import Target
    from hkcompute.model import Site


_YAML_SUFFIXES = (".yaml", ".yml")


@boundary
def ansible_inventory_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="hosts present up to phase N")],
    render_dir: Annotated[
        Path | None, typer.Option(help="the render output the hosts' hk_tree points at")
    ] = None,
    state: StateOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="write a YAML inventory file (.yaml/.yml) for `ansible -i FILE` "
            "instead of printing JSON",
        ),
    ] = None,
) -> None:
    """Print the Ansible inventory as the JSON `ansible-inventory --list` prints (for
    scripts; as `-i` it needs an executable wrapper), or with --out write it as a YAML
    inventory file that `ansible -i FILE` reads as it is. Neither holds the site's secrets:
    deploy adds them as vault values or lookups at run time.

    Example: hkcompute ansible-inventory inventories/lab --phase 1 --out build/lab-1.yaml
    """
    if out_file is not None:
        if out_file.suffix not in _YAML_SUFFIXES:
            # Ansible's YAML plugin skips other names, and the INI plugin then fails on them.
            raise UsageError(
                f"--out {out_file}: the name must end in .yaml or .yml "
                "(Ansible's YAML inventory plugin reads no other)"
            )
        prepare_out_file(out_file)  # before the work, so a bad path fails at once
    s, _ = load_valid_site(resolve_site(site), phase)
    tree = render_dir or Path("build") / s.info.name / f"phase-{phase}"
    st = state_dir(s.info.name, state)
    conn = connections_file(st)
    connections = json.loads(conn.read_text()) if conn.is_file() else None
    doc = build_inventory(s, plan_for(s, phase), phase, tree, connections)
    if out_file is None:
        emit(json.dumps(doc, indent=2, sort_keys=True))
        return
    header = (
        f"Ansible inventory of {s.info.name} phase {phase}, written by "
        "`hkcompute ansible-inventory --out`:\nregenerate it rather than edit it."
    )
    try:
        write_yaml_inventory(doc, out_file, header)
    except OSError as exc:  # a full disk, say, after the path checks passed
        raise InputError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    err.print(f"wrote {out_file} ({len(doc['_meta']['hostvars'])} hosts)")


def _progress_table(t: Tally, total: int) -> Table:
    tot = t.totals()
    done = sum(1 for h in t.hosts.values() if h.status != "pending")
    table = Table(title=f"{t.play or 'starting'} / {t.task or '-'}", title_justify="left")
    for col in ("hosts seen", "ok", "changed", "failed", "unreachable", "skipped", "tasks"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{done}/{total}",
        str(tot["ok"]),
        str(tot["changed"]),
        str(tot["failed"]),
        str(tot["unreachable"]),
        str(tot["skipped"]),
        str(t.tasks_started),
    )
    return table


def _summary_table(run: Run) -> Table:
    table = Table(title=f"run {run.run_id}: {run.status}", title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for col in ("ok", "chg", "fail", "unr", "skip"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("message", overflow="fold")
    for h, r in sorted(run.hosts.items()):
        style = {"ok": "green", "changed": "yellow"}.get(r.status, "red")
        table.add_row(
            h,
            f"[{style}]{r.status}[/]",
            str(r.ok),
            str(r.changed),
            str(r.failed),
            str(r.unreachable),
            str(r.skipped),
            "" if r.status in ("ok", "changed") else r.message,
        )
    return table


@boundary
def deploy_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="phase to bring up")],
    limit: Annotated[str | None, typer.Option(help="Ansible host pattern")] = None,
    check: Annotated[bool, typer.Option("--check", help="change nothing")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="show file differences")] = False,
    batch: Annotated[str | None, typer.Option(help="hosts per batch: K or P%")] = None,
    max_fail: Annotated[
        str | None, typer.Option(help="abort a batch when more than P% of its hosts fail")
    ] = None,
    tags: Annotated[str | None, typer.Option(help="only tasks with these tags")] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="re-run only the hosts that failed or were not reached in RUN_ID"),
    ] = None,
    render_dir: Annotated[Path | None, typer.Option(help="render output folder")] = None,
    forks: Annotated[int, typer.Option(min=1, max=500)] = 10,
    vault_password_file: Annotated[
        Path | None,
        typer.Option(
            envvar="HKCOMPUTE_VAULT_PASSWORD_FILE", help="decrypts the inventory's vault values"
        ),
    ] = None,
    private_key: PrivateKeyOpt = None,
    break_lock: Annotated[
        bool, typer.Option("--break-lock", help="remove a lock left by a dead deploy first")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Render, then run the playbooks through ansible-runner with live progress and a journal.

    Example: hkcompute deploy inventories/lab --phase 1 --check --diff --batch 25%
    """
    s, _ = load_valid_site(resolve_site(site), phase)
    st = state_dir(s.info.name, state)
    opts = DeployOptions(
        phase=phase,
        limit=limit,
        check=check,
        diff=diff,
        batch=batch,
        max_fail=max_fail,
        tags=tags,
        resume=resume,
        render_dir=render_dir,
        forks=forks,
        vault_password_file=vault_password_file,
        private_key=private_key,
        break_lock=break_lock,
        command="hkcompute " + shlex.join(sys.argv[1:]),
    )
    total = [0]
    with Live(
        console=err, refresh_per_second=4, transient=True, auto_refresh=err.is_terminal
    ) as live:

        def on_event(t: Tally) -> None:
            if err.is_terminal:
                live.update(_progress_table(t, total[0]))

        def on_stage(msg: str) -> None:
            err.print(f"[dim]{msg}[/]")
            if msg.startswith("running playbooks on "):
                total[0] = int(msg.split()[3])

        result = deploy(s, st, opts, on_event, on_stage)
    run = result.run
    if diff and fmt is not Format.json:
        for host, task, text in result.tally.diffs:
            emit(f"--- {host}: {task}\n{text}")
    if fmt is Format.json:
        emit(
            json.dumps(
                {
                    "run_id": run.run_id,
                    "status": run.status,
                    "check": run.check,
                    "hosts": {h: vars(r) for h, r in sorted(run.hosts.items())},
                    "diffs": [{"host": h, "task": t, "diff": d} for h, t, d in result.tally.diffs]
                    if diff
                    else [],
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        err.print(_summary_table(run))
    err.print(
        f"journal: {Journal(st).path(run.run_id)}; "
        + (f"resume with --resume {run.run_id}" if run.status != "ok" else "all hosts done")
    )
    raise typer.Exit(0 if result.ok else 1)


@boundary
def runs_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    run_id: Annotated[str | None, typer.Argument(help="show one run")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    state: StateOpt = None,
) -> None:
    """List the site's deploy runs, or show one.

    Example: hkcompute runs inventories/lab --format json
    """
    path = resolve_site(site)
    from hkcompute.inventory.load import load_site

    loaded = load_site(path)
    name = loaded.site.info.name if loaded.site else path.name
    journal = Journal(state_dir(name, state))
    if run_id is not None:
        run = journal.load(run_id)
        if fmt is Format.json:
            emit(json.dumps(run.to_dict(), indent=2, sort_keys=True))
        else:
            emit(
                f"run {run.run_id}: {run.status}\n  by {run.user}@{run.host} pid {run.pid}\n"
                f"  started {run.started}, finished {run.finished or '-'}\n"
                f"  phase {run.phase}, check {run.check}, inventory {run.inventory_hash[:12]}\n"
                f"  command: {run.command}\n  resumed from: {run.resumed_from or '-'}"
            )
            err.print(_summary_table(run))
        return
    runs = journal.list()
    if fmt is Format.json:
        emit(
            json.dumps(
                [
                    {
                        "run_id": r.run_id,
                        "status": r.status,
                        "started": r.started,
                        "finished": r.finished,
                        "phase": r.phase,
                        "user": r.user,
                        "counts": r.counts(),
                    }
                    for r in runs
                ],
                indent=2,
                sort_keys=True,
            )
        )
        return
    table = Table(title=f"runs of {name}", title_justify="left")
    for col in ("run", "status", "phase", "check", "started", "by", "hosts"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            r.run_id,
            r.status,
            str(r.phase),
            "yes" if r.check else "",
            r.started,
            r.user,
            ", ".join(f"{k} {v}" for k, v in r.counts().items()),
        )
    if not runs:
        err.print(f"no runs of {name} yet")
        return
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("ansible-inventory")(ansible_inventory_cmd)
    app.command("deploy")(deploy_cmd)
    app.command("runs")(runs_cmd)
    register_ssh(app)


def _targets(
    site_arg: str, phase: int, limit: str | None, state: Path | None
) -> tuple[Site, Path, list[Target]]:
    from hkcompute.deploy.hostmatch import select
    from hkcompute.deploy.ssh import targets_from_inventory

    s, _ = load_valid_site(resolve_site(site_arg), phase)
    st = state_dir(s.info.name, state)
    conn = connections_file(st)
    connections = json.loads(conn.read_text()) if conn.is_file() else None
    inv = build_inventory(
        s, plan_for(s, phase), phase, Path("build") / s.info.name / f"phase-{phase}", connections
    )
    chosen = set(select(inv, limit))
    targets = [t for t in targets_from_inventory(inv) if t.host in chosen]
    return s, st, targets


@boundary
def hostkeys_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="hosts present up to phase N")],
    scan: Annotated[
        bool,
        typer.Option(
            "--scan", help="fetch host keys and record those of hosts seen for the first time"
        ),
    ] = False,
    limit: Annotated[str | None, typer.Option(help="Ansible host pattern")] = None,
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """List recorded SSH host keys, or --scan to record new ones. A changed key is reported
    and never replaced: remove its line from the known_hosts file by hand after checking.

    Example: hkcompute hostkeys inventories/lab --phase 1 --scan
    """
    from hkcompute.deploy.ssh import load_known_hosts, record
    from hkcompute.deploy.ssh import scan as do_scan

    _s, st, targets = _targets(site, phase, limit, state)
    path = st / "known_hosts"
    known = load_known_hosts(path)
    if not scan:
        for name in sorted(known.keys()):
            for ktype, key in sorted(known[name].items()):
                emit(f"{name} {ktype} {key.fingerprint}")
        return
    results = do_scan(targets, known)
    table = Table(title=f"host keys ({path})", title_justify="left")
    for col in ("host", "address", "key", "fingerprint", "status"):
        table.add_column(col)
    for r in results:
        style = {"new": "cyan", "same": "green"}.get(r.status, "red")
        table.add_row(
            r.target.host,
            r.target.known_hosts_name,
            r.key_type,
            r.fingerprint,
            f"[{style}]{r.status}[/] {r.message}",
        )
    out.print(table)
    added = record(path, known, results)
    bad = [r for r in results if r.status in ("changed", "error")]
    err.print(f"{added} new key(s) recorded; {len(bad)} problem(s)")
    raise typer.Exit(1 if bad else 0)


@boundary
def preflight_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="hosts present up to phase N")],
    limit: Annotated[str | None, typer.Option(help="Ansible host pattern")] = None,
    private_key: PrivateKeyOpt = None,
    accept_new_host_keys: AcceptNewHostKeysOpt = False,
    lab: Annotated[
        bool, typer.Option("--lab", help="containers: skip NIC and accelerator hardware checks")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check each host against the inventory over SSH before any change; exit 1 on any
    mismatch.

    Example: hkcompute preflight inventories/lab --phase 1 --limit 'lab-su1-*'
    """
    from rich.progress import Progress

    from hkcompute.deploy.preflight import preflight

    s, st, targets = _targets(site, phase, limit, state)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("preflight", total=len(targets))
        checks = preflight(
            s,
            targets,
            st / "known_hosts",
            private_key,
            accept_new=accept_new_host_keys,
            lab=lab,
            progress=lambda d, _t: bar.update(task, completed=d),
        )
    bad = [c for c in checks if not c.ok]
    if fmt is Format.json:
        emit(
            json.dumps(
                [
                    {
                        "host": c.host,
                        "ok": c.ok,
                        "reachable": c.reachable,
                        "facts": c.facts,
                        "mismatches": [
                            {"check": w, "expected": e, "found": g} for w, e, g in c.mismatches
                        ],
                    }
                    for c in checks
                ],
                indent=2,
                sort_keys=True,
            )
        )
    else:
        table = Table(
            title=f"preflight: {len(checks) - len(bad)}/{len(checks)} hosts ok",
            title_justify="left",
        )
        for col in ("host", "check", "expected", "found"):
            table.add_column(col)
        for c in bad:
            for w, e, g in c.mismatches:
                table.add_row(c.host, w, e, g)
        out.print(table)
    raise typer.Exit(1 if bad else 0)


def register_ssh(app: typer.Typer) -> None:
    app.command("hostkeys")(hostkeys_cmd)
    app.command("preflight")(preflight_cmd)
