"""`hkcompute runbook` and `hkcompute report`: the phase rollout runbook and the site report.

Both write files into ``--out`` (atomically; same inventory, same bytes) and print the paths
of the main files on stdout, so scripts can pick them up; progress goes to stderr.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hkcompute.cli.common import (
    QuietOpt,
    VerboseOpt,
    boundary,
    check_phase,
    emit,
    err,
    resolve_site,
)
from hkcompute.outpaths import prepare_out_dir
from hkcompute.validate import load_valid_site

SiteArg = Annotated[str, typer.Argument(help="site folder (or name under inventories/)")]
OutOpt = Annotated[Path, typer.Option("--out", help="output folder (created if missing)")]


@boundary
def runbook_cmd(
    site: SiteArg,
    phase: Annotated[int, typer.Option(help="the phase to roll out")],
    out: OutOpt,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Write the rollout runbook of a phase: runbook.md, runbook.html (self-contained),
    runbook.json and the phase's cable lists (CSV).

    Example: hkcompute runbook inventories/hkstp --phase 2 --out build/runbook
    """
    from hkcompute.report.runbook import write_runbook

    t0 = time.perf_counter()
    path = resolve_site(site)
    s, _findings = load_valid_site(path, phase)
    check_phase(s.phase_ids, phase)
    prepare_out_dir(out)
    # The site argument goes into the runbook as typed, so its commands paste as they are.
    paths = write_runbook(s, phase, out, site)
    err.print(
        f"runbook of {s.info.name} phase {phase} written to {out} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    emit("\n".join(str(p) for p in paths[:2]))


@boundary
def report_cmd(
    site: SiteArg, out: OutOpt, quiet: QuietOpt = False, verbose: VerboseOpt = 0
) -> None:
    """Write the site report: report.html (self-contained) and its SVG pictures (capacity,
    floor plans, rack elevations, fabric, topology, power, BOM).

    Example: hkcompute report inventories/hkstp --out build/report
    """
    from hkcompute.report.site_report import write_report

    t0 = time.perf_counter()
    path = resolve_site(site)
    s, _findings = load_valid_site(path)
    prepare_out_dir(out)
    paths = write_report(s, out)
    err.print(
        f"report of {s.info.name} written to {out}: {len(paths):,} files "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    emit(str(paths[0]))


def register(app: typer.Typer) -> None:
    app.command("runbook")(runbook_cmd)
    app.command("report")(report_cmd)
