"""`hkcompute capacity`: compute, power, energy and storage per phase, against the target."""

from __future__ import annotations

import io
import json
import shutil
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hkcompute.capacity import PRECISION, PhaseCapacity, SiteCapacity, capacity
from hkcompute.cli.common import Format, boundary, emit, err, jsonable, resolve_site
from hkcompute.validate import load_valid_site

# Tables fit the terminal (COLUMNS, else the tty's width); piped output gets 100 columns, a
# width every terminal and code review shows without wrapping.
_DEFAULT_WIDTH = 100


def table_width() -> int:
    return shutil.get_terminal_size((_DEFAULT_WIDTH, 24)).columns


def _num(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def _table(
    title: str,
    rows: list[list[str]],
    headers: list[str],
    left: tuple[str, ...] = ("phase", "due", "met", "vendor", "model"),
) -> Table:
    """A table whose figures never wrap: each column is at least as wide as its widest cell,
    and only the headers fold onto more lines when the terminal is narrow."""
    table = Table(title=title, title_justify="left")
    for i, header in enumerate(headers):
        widest = max((len(r[i]) for r in rows), default=0)
        table.add_column(
            header, min_width=widest, overflow="fold", justify="left" if header in left else "right"
        )
    for row in rows:
        table.add_row(*row)
    return table


def print_table(console: Console, table: Table) -> None:
    # A terminal too narrow for a table's figures gets a wider line, never a cut-off number.
    console.print(table, crop=False)


def _runtime(p: PhaseCapacity) -> str:
    """Minutes at full IT load, or the share of the load the storage's power can carry."""
    if p.storage_runtime_min is not None:
        return _num(p.storage_runtime_min)
    if p.cumulative_it_power_kw <= 0:
        return "-"
    return f"covers {p.storage_load_covered * 100:.1f}%"


def render_text(cap: SiteCapacity, width: int = _DEFAULT_WIDTH) -> str:
    """Rich tables rendered to plain text (no colour codes, so pipes and files stay clean).

    Compute, nodes, facility and accelerators are separate tables, each narrow enough for a
    100-column terminal with every figure on one line.
    """
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, highlight=False, soft_wrap=False)
    print_table(
        console,
        _table(
            f"{cap.site}: compute per phase, PFLOPS {PRECISION} "
            "(cum. = up to and including the phase)",
            [
                [
                    str(p.phase),
                    p.due,
                    _num(p.pflops, 3),
                    _num(p.cumulative_pflops, 3),
                    f"{p.progress_pct:.1f}%",
                    _num(p.target_pflops, 0),
                    "yes" if p.target_met else f"no (-{_num(p.phase_gap_pflops, 1)})",
                ]
                for p in cap.phases
            ],
            [
                "phase",
                "due",
                "PFLOPS added",
                "cum. PFLOPS",
                "of site target",
                "phase target",
                "met",
            ],
        ),
    )
    vendors = sorted({v for p in cap.phases for v in p.cumulative_nodes})
    print_table(
        console,
        _table(
            "accelerator nodes per phase",
            [
                [str(p.phase), v, f"{p.nodes.get(v, 0):,}", f"{p.cumulative_nodes.get(v, 0):,}"]
                for p in cap.phases
                for v in vendors
            ],
            ["phase", "vendor", "nodes added", "nodes cum."],
        ),
    )
    print_table(
        console,
        _table(
            f"{cap.site}: power (nameplate kW) and storage per phase (cumulative)",
            [
                [
                    str(p.phase),
                    _num(p.cumulative_it_power_kw),
                    _num(p.cumulative_facility_power_kw),
                    _num(p.renewable_kw, 0),
                    f"{p.renewable_share * 100:.1f}%",
                    _runtime(p),
                    _num(p.cumulative_storage_usable_tb, 0),
                    _num(p.cumulative_storage_read_gbytes_s, 0),
                ]
                for p in cap.phases
            ],
            [
                "phase",
                "IT kW",
                "facility kW",
                "renew. kW",
                "renew. share (kW)",
                "runtime min",
                "storage TB",
                "read GB/s",
            ],
        ),
    )
    print_table(
        console,
        _table(
            f"{cap.site}: energy a year, cumulative (IT at full load x 8,760 h; x annual PUE)",
            [
                [
                    str(p.phase),
                    _num(p.it_energy_mwh_per_year, 0),
                    _num(p.facility_energy_mwh_per_year, 0),
                    _num(p.renewable_energy_mwh_per_year, 0),
                    f"{p.renewable_share_energy * 100:.2f}%",
                ]
                for p in cap.phases
            ],
            ["phase", "IT MWh/yr", "facility MWh/yr", "renew. MWh/yr", "renew. share (energy)"],
        ),
    )
    # Every asset once: the last phase shown holds all built up to it.
    last = cap.final
    for a in last.renewable_assets if last is not None else ():
        src = "stated" if a.factor_stated else "default"
        console.print(
            f"{a.name} ({a.kind}): {_num(a.kw, 0)} kW x capacity factor "
            f"{a.capacity_factor:g} ({src}) x 8,760 h = {_num(a.mwh_per_year, 1)} MWh/yr"
        )
    # A site-wide battery or UPS against the site's IT load of the phase it is built in (one
    # of a hall carries that hall's load only, which is not the site's).
    for p in cap.phases:
        load = p.cumulative_it_power_kw
        for s in p.stored_assets:
            if s.hall is None and s.phase == p.phase and s.kw is not None and s.kw < load:
                console.print(
                    f"phase {p.phase}: {s.name} ({s.kind}) {_num(s.kwh, 0)} kWh at {_num(s.kw, 0)} "
                    f"kW: covers only {100 * s.kw / load:.1f}% of the {_num(load, 1)} kW IT load"
                )

    print_table(
        console,
        _table(
            "accelerators (failed and retired devices excluded)",
            [
                [
                    str(p.phase),
                    vendor,
                    model,
                    f"{p.accelerators.get(vendor, {}).get(model, 0):,}",
                    f"{total:,}",
                ]
                for p in cap.phases
                for vendor, models in p.cumulative_accelerators.items()
                for model, total in models.items()
            ],
            ["phase", "vendor", "model", "added", "cumulative"],
        ),
    )

    final = cap.final
    if final is not None:
        verdict = "reached" if final.gap_pflops == 0 else f"gap {_num(final.gap_pflops, 3)}"
        console.print(
            f"site target: {_num(cap.site_target_pflops, 0)} PFLOPS {cap.site_target_precision}"
            f" by {cap.site_target_year}; phase {final.phase} reaches "
            f"{_num(final.cumulative_pflops, 3)} ({final.progress_pct:.1f}%): {verdict}"
        )
    # Rich pads every line to the console width; trailing blanks only clutter diffs.
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def render_json(cap: SiteCapacity) -> str:
    return json.dumps(cap.to_dict(), indent=2, sort_keys=True, default=jsonable)


@boundary
def capacity_cmd(
    site: Annotated[str, typer.Argument(help="site folder (or name under inventories/)")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.text,
    phase: Annotated[
        int | None,
        typer.Option(help="only phase N (cumulative figures still include earlier phases)"),
    ] = None,
) -> None:
    """PFLOPS (dense BF16), nodes, power, renewables, energy storage and storage per phase.

    Example: hkcompute capacity inventories/hkstp --format json
    """
    path = resolve_site(site)
    model, findings = load_valid_site(path, phase)
    warnings = sum(1 for f in findings if f.severity == "warning")
    if warnings:
        err.print(f"{warnings} warning(s) in the inventory; `hkcompute validate` lists them")
    cap = capacity(model, phase)
    emit(render_json(cap) if fmt is Format.json else render_text(cap, table_width()))


def register(app: typer.Typer) -> None:
    app.command("capacity")(capacity_cmd)
