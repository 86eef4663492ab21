"""`hkcompute render`: every device's files into a tree per host."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hkcompute.cli.common import (
    Format,
    QuietOpt,
    VerboseOpt,
    boundary,
    emit,
    err,
    progress_bar,
    resolve_site,
)
from hkcompute.inventory.load import Loaded, load_site
from hkcompute.model import Site
from hkcompute.render.pipeline import render_site, site_key
from hkcompute.render.tree import read_site_key
from hkcompute.validate import load_valid_site


def unchanged_site(
    path: Path, phase: int, out: Path, host: str | None
) -> tuple[Site | None, Loaded | None]:
    """The site, when the tree in ``out`` was rendered from these very inputs (inventory,
    phase, host pattern, code and templates: ``render.run.site_key``). Render only ever runs
    on a site that validates, and validation is a pure function of those inputs, so it would
    pass again: it is skipped (it is most of the time of a --check or of a render with
    nothing to do). Otherwise None, with what was loaded (validation goes on from it rather
    than reading the inventory again)."""
    recorded = read_site_key(out) if out.is_dir() else None
    if recorded is None:
        return None, None
    loaded = load_site(path)
    if loaded.site is None or any(f.severity == "error" for f in loaded.findings):
        return None, loaded
    same = site_key(loaded.site, phase, host) == recorded
    return (loaded.site, None) if same else (None, loaded)


@boundary
def render_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    phase: Annotated[int, typer.Option(help="render the site as built up to phase N")],
    out: Annotated[Path, typer.Option(help="output folder (DIR/hosts/<host>/etc/...)")],
    host: Annotated[
        str | None,
        typer.Option("--host", help="only hosts matching this shell pattern, e.g. 'nv-a-su01-*'"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="write nothing; exit 1 if the tree on disk differs")
    ] = False,
    lint: Annotated[
        bool,
        typer.Option(
            "--lint",
            help="check the files with the programs that read them (named-checkconf, "
            "vtysh, promtool, slurmctld...; see docs/checkers.md); exit 1 if one fails",
        ),
    ] = False,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="format of the --lint report on stdout")
    ] = Format.text,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Render configuration files for every host of a phase (atomic, incremental).

    Example: hkcompute render inventories/hkstp --phase 1 --out build/hkstp/phase-1 --check

    Example: hkcompute render inventories/lab --phase 1 --out build/lab/phase-1 --lint
    """
    path = resolve_site(site)
    s, loaded = unchanged_site(path, phase, out, host)
    if s is None:
        s, _ = load_valid_site(path, phase, loaded)
    t0 = time.perf_counter()
    with progress_bar("rendering") as progress:
        outcome = render_site(s, phase, out, hosts=host, check=check, progress=progress)
    took = time.perf_counter() - t0
    if outcome.check is not None:
        c = outcome.check
        for label, items in (
            ("differs", c.differ),
            ("missing", c.missing),
            ("not rendered", c.extra),
        ):
            for rel in items:
                emit(f"{label}: {out / rel}")
        verdict = (
            "up to date"
            if c.ok
            else (f"{len(c.differ)} differ, {len(c.missing)} missing, {len(c.extra)} extra")
        )
        err.print(
            f"{out}: {verdict} ({outcome.nfiles:,} files, {outcome.hosts:,} hosts, "
            f"{outcome.rendered_hosts:,} rendered, {took:.1f}s)"
        )
        if not c.ok:
            raise typer.Exit(1)
    else:
        w = outcome.write
        assert w is not None
        err.print(
            f"{out}: {len(w.written):,} written, {w.unchanged:,} unchanged, "
            f"{len(w.removed):,} removed; {outcome.nfiles:,} files for "
            f"{outcome.hosts:,} hosts ({outcome.rendered_hosts:,} rendered) in {took:.1f}s"
        )
    if lint:
        _lint(out, host, fmt)


@boundary
def lint_cmd(
    out: Annotated[Path, typer.Argument(help="a rendered folder (hkcompute render --out)")],
    host: Annotated[
        str | None,
        typer.Option("--host", help="only hosts matching this shell pattern, e.g. 'nv-a-su01-*'"),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="report format")] = Format.text,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check a rendered tree's files with the programs that read them; exit 1 if one fails.

    Example: hkcompute lint build/lab/phase-1
    """
    _lint(out, host, fmt)


def _lint(out: Path, host: str | None, fmt: Format) -> None:
    """Print the --lint report of the tree in ``out``; exit 1 if a check failed."""
    from hkcompute.lint import lint_output  # the checkers load only when asked for

    with progress_bar("checking") as progress:
        report = lint_output(out, hosts=host, progress=progress)
    emit(report.json() if fmt is Format.json else report.text())
    err.print(report.summary())
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("render")(render_cmd)
    app.command("lint")(lint_cmd)
