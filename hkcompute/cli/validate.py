"""`hkcompute validate`: every finding at once, for people, scripts and CI."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from hkcompute.cli.common import boundary, emit, err, resolve_site
from hkcompute.findings import count_by_severity
from hkcompute.report import findings_fmt
from hkcompute.validate import validate


class ValidateFormat(StrEnum):
    text = "text"
    json = "json"
    github = "github"


@boundary
def validate_cmd(
    site: Annotated[str, typer.Argument(help="site folder (or name under inventories/)")],
    fmt: Annotated[ValidateFormat, typer.Option("--format", "-f", help="output format")] = (
        ValidateFormat.text
    ),
    phase: Annotated[int | None, typer.Option(help="check the site as built up to phase N")] = (
        None
    ),
) -> None:
    """Load, expand and check a site; print every finding. Exit 0 clean, 1 errors, 2 unreadable.

    Example: hkcompute validate inventories/hkstp --format github
    """
    path = resolve_site(site)
    v = validate(path, phase)
    name = v.site.info.name if v.site else path.name
    if fmt is ValidateFormat.json:
        emit(findings_fmt.as_json(name, v.loaded.source.files, v.findings))
    elif fmt is ValidateFormat.github:
        if v.findings:
            emit(findings_fmt.as_github(v.findings))
    elif v.findings:
        emit(findings_fmt.as_text(v.findings))
    c = count_by_severity(v.findings)
    nfiles = len(v.loaded.source.files)
    devices = len(v.site.devices) if v.site else 0
    verdict = "[green]ok[/]" if v.ok else "[red]failed[/]"
    err.print(
        f"{name}: {verdict}: {c['error']} error(s), {c['warning']} warning(s) in "
        f"{nfiles} file(s), {devices:,} devices"
    )
    raise typer.Exit(0 if v.ok else 1)
