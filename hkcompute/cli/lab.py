"""`hkcompute lab up|test|down` and `hkcompute verify`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hkcompute.cli.common import (
    Format,
    QuietOpt,
    StateOpt,
    VerboseOpt,
    boundary,
    emit,
    err,
    out,
    resolve_site,
)
from hkcompute.deploy.state import state_dir
from hkcompute.validate import load_valid_site

app = typer.Typer(help="The container twin of a phase (Molecule-style).", no_args_is_help=True)


@app.command("up")
@boundary
def up_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="phase to build the twin of")],
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Create (or reconcile) a container per host of the phase, its networks and fabric.

    Example: hkcompute lab up inventories/lab --phase 1
    """
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_up
    from hkcompute.plan import plan_for

    s, _ = load_valid_site(resolve_site(site), phase)
    layout = build_layout(s, plan_for(s, phase), phase)
    hosts = lab_up(layout, state_dir(s.info.name, state), lambda m: err.print(f"[dim]{m}[/]"))
    table = Table(title=f"lab {s.info.name} phase {phase}", title_justify="left")
    for col in ("host", "container", "ssh", "image"):
        table.add_column(col)
    for h in hosts:
        table.add_row(h.name, h.container, f"127.0.0.1:{h.ssh_port}", h.image)
    out.print(table)
    if layout.skipped:
        err.print(
            f"no container twin for {len(layout.skipped)} switch(es) of a subnet-managed "
            "fabric (their subnet manager programs them; a container cannot)"
        )


@app.command("down")
@boundary
def down_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Remove everything the lab created for this site (by label) and nothing else.

    Example: hkcompute lab down inventories/lab
    """
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.twin import lab_down

    loaded = load_site(resolve_site(site))
    name = loaded.site.info.name if loaded.site else Path(site).name
    n = lab_down(name, state_dir(name, state))
    err.print(f"removed {n} container(s) and network(s) of {name}")


@app.command("test")
@boundary
def test_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="phase to test")],
    keep: Annotated[bool, typer.Option("--keep", help="leave the lab up afterwards")] = False,
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """create, converge, idempotence, verify, destroy: each step timed; exit 1 on failure.

    Example: hkcompute lab test inventories/lab --phase 1
    """
    from hkcompute.lab.sequence import run_sequence

    s, _ = load_valid_site(resolve_site(site), phase)
    res = run_sequence(
        s, phase, state_dir(s.info.name, state), keep=keep, say=lambda m: err.print(f"[dim]{m}[/]")
    )
    table = Table(title=f"lab test {s.info.name} phase {phase}", title_justify="left")
    for col in ("step", "result", "seconds", "detail"):
        table.add_column(col)
    for st in res.steps:
        table.add_row(
            st.name, "[green]ok[/]" if st.ok else "[red]FAILED[/]", f"{st.seconds:.1f}", st.detail
        )
    out.print(table)
    _print_failures(res.verify)
    raise typer.Exit(0 if res.ok else 1)


def _print_failures(results: list) -> None:  # type: ignore[type-arg]
    bad = [r for r in results if not r.ok]
    if bad:
        table = Table(title=f"{len(bad)} failed check(s)", title_justify="left")
        for col in ("host", "check", "expected", "found"):
            table.add_column(col)
        for r in bad:
            table.add_row(r.check.host, r.check.label(), r.check.expected, r.found)
        out.print(table)


@boundary
def verify_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="phase to verify")],
    limit: Annotated[str | None, typer.Option(help="Ansible host pattern")] = None,
    render_dir: Annotated[Path | None, typer.Option(help="render output folder")] = None,
    settle: Annotated[float, typer.Option(help="seconds to wait for BGP/NTP to converge")] = 45.0,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    state: StateOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Acceptance checks from the plan on the hosts (lab or real): files, services, ports,
    time, DNS, BGP sessions, routes and fabric reachability. Exit 1 on any failure.

    Example: hkcompute verify inventories/lab --phase 1 --format json
    """
    from hkcompute.verify.command import run_verify

    s, _ = load_valid_site(resolve_site(site), phase)
    results = run_verify(s, phase, state_dir(s.info.name, state), render_dir, limit, settle)
    bad = [r for r in results if not r.ok]
    if fmt is Format.json:
        emit(
            json.dumps(
                {
                    "ok": not bad,
                    "checks": len(results),
                    "failed": len(bad),
                    "results": [
                        {
                            "host": r.check.host,
                            "kind": r.check.kind,
                            "target": r.check.target,
                            "expected": r.check.expected,
                            "ok": r.ok,
                            "found": r.found,
                        }
                        for r in results
                    ],
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        by_kind: dict[tuple[str, str], list[int]] = {}
        for r in results:
            k = by_kind.setdefault((r.check.host, r.check.kind), [0, 0])
            k[0 if r.ok else 1] += 1
        table = Table(
            title=f"verify {s.info.name} phase {phase}: "
            f"{len(results) - len(bad)}/{len(results)} passed",
            title_justify="left",
        )
        for col in ("host", "kind", "passed", "failed"):
            table.add_column(col)
        for (host, kind), (p, f) in sorted(by_kind.items()):
            table.add_row(host, kind, str(p), f"[red]{f}[/]" if f else "0")
        out.print(table)
        _print_failures(results)
    raise typer.Exit(1 if bad else 0)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="lab")
    root.command("verify")(verify_cmd)
