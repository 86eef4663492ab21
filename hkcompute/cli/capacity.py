"""`hkcompute capacity`: compute, power, energy and storage per phase, against the target."""

from __future__ import annotations

import io
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hkcompute.capacity import PRECISION, SiteCapacity, capacity
from hkcompute.cli.common import Format, boundary, emit, err, jsonable, resolve_site
from hkcompute.validate import load_valid_site

# Wide enough that the table never wraps when piped (Rich would otherwise assume 80).
_TABLE_WIDTH = 260


def _num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def render_text(cap: SiteCapacity) -> str:
    """Rich tables rendered to plain text (no colour codes, so pipes and files stay clean)."""
    buf = io.StringIO()
    console = Console(file=buf, width=_TABLE_WIDTH, color_system=None, highlight=False,
                      soft_wrap=False)
    table = Table(title=f"{cap.site}: capacity per phase, PFLOPS {PRECISION} "
                        "(cum. = up to and including the phase)", title_justify="left")
    vendors = sorted({v for p in cap.phases for v in p.cumulative_nodes})
    headers = ["phase", "due", *(f"{v} nodes cum. (+added)" for v in vendors), "PFLOPS added",
               "cum. PFLOPS", "of site target", "phase target", "met", "cum. IT kW",
               "cum. facility kW", "renewable", "runtime min", "cum. storage TB",
               "cum. read GB/s"]
    for header in headers:
        table.add_column(header, no_wrap=True,
                         justify="left" if header in ("phase", "due", "met") else "right")
    for p in cap.phases:
        runtime = p.storage_runtime_min
        nodes = [f"{p.cumulative_nodes.get(v, 0):,} (+{p.nodes.get(v, 0):,})" for v in vendors]
        table.add_row(
            str(p.phase), p.due, *nodes, _num(p.pflops, 3), _num(p.cumulative_pflops, 3),
            f"{p.progress_pct:.1f}%", _num(p.target_pflops, 0),
            "yes" if p.target_met else f"no (-{_num(p.phase_gap_pflops, 1)})",
            _num(p.cumulative_it_power_kw), _num(p.cumulative_facility_power_kw),
            f"{p.renewable_share * 100:.1f}%", "-" if runtime is None else _num(runtime),
            _num(p.cumulative_storage_usable_tb, 0), _num(p.cumulative_storage_read_gbytes_s, 0))
    console.print(table)

    acc = Table(title="accelerators (failed and retired devices excluded)",
                title_justify="left")
    for header in ("phase", "vendor", "model", "added", "cumulative"):
        acc.add_column(header, justify="right" if header in ("added", "cumulative") else "left")
    for p in cap.phases:
        for vendor, models in p.cumulative_accelerators.items():
            for model, total in models.items():
                added = p.accelerators.get(vendor, {}).get(model, 0)
                acc.add_row(str(p.phase), vendor, model, f"{added:,}", f"{total:,}")
    console.print(acc)

    final = cap.final
    if final is not None:
        verdict = "reached" if final.gap_pflops == 0 else f"gap {_num(final.gap_pflops, 3)}"
        console.print(
            f"site target: {_num(cap.site_target_pflops, 0)} PFLOPS {cap.site_target_precision}"
            f" by {cap.site_target_year}; phase {final.phase} reaches "
            f"{_num(final.cumulative_pflops, 3)} ({final.progress_pct:.1f}%): {verdict}")
    # Rich pads every line to the console width; trailing blanks only clutter diffs.
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render_json(cap: SiteCapacity) -> str:
    return json.dumps(cap.to_dict(), indent=2, sort_keys=True, default=jsonable)


@boundary
def capacity_cmd(
    site: Annotated[str, typer.Argument(help="site folder (or name under inventories/)")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.text,
    phase: Annotated[int | None, typer.Option(help="only phase N (cumulative figures still "
                                                   "include earlier phases)")] = None,
) -> None:
    """PFLOPS (dense BF16), nodes, power, renewables, energy storage and storage per phase."""
    path = resolve_site(site)
    model, findings = load_valid_site(path, phase)
    warnings = sum(1 for f in findings if f.severity == "warning")
    if warnings:
        err.print(f"{warnings} warning(s) in the inventory; `hkcompute validate` lists them")
    cap = capacity(model, phase)
    emit(render_json(cap) if fmt is Format.json else render_text(cap))


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity_cmd)
