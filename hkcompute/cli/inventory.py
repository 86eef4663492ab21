"""`hkcompute schema` and `hkcompute inventory expand`."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
import yaml

from hkcompute.cli.common import boundary, emit, resolve_site
from hkcompute.inventory.export import expanded_dict, json_schema
from hkcompute.validate import load_valid_site

app = typer.Typer(help="Work with the inventory itself.", no_args_is_help=True)


class ExpandFormat(StrEnum):
    yaml = "yaml"
    json = "json"


@boundary
def schema_cmd() -> None:
    """Print the inventory's JSON Schema (docs/inventory.schema.json is this output).

    Example: hkcompute schema > docs/inventory.schema.json
    """
    emit(json.dumps(json_schema(), indent=2, sort_keys=True))


@app.command("expand")
@boundary
def expand_cmd(
    site: Annotated[str, typer.Argument(help="site folder")],
    fmt: Annotated[ExpandFormat, typer.Option("--format", "-f")] = ExpandFormat.yaml,
    phase: Annotated[int | None, typer.Option(help="only what exists up to phase N")] = None,
) -> None:
    """Print the fully expanded site: every rack and device, ranges and units unfolded.

    Example: hkcompute inventory expand inventories/lab --phase 1 --format json
    """
    s, _ = load_valid_site(resolve_site(site), phase)
    data = expanded_dict(s, phase)
    if fmt is ExpandFormat.json:
        emit(json.dumps(data, indent=2, sort_keys=True))
    else:
        emit(yaml.safe_dump(data, sort_keys=True, default_flow_style=False, width=100))
