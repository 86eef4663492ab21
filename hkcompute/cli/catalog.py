"""`hkcompute catalog`: every hardware part, bundled and a site's own, with its platform fields.

The listing is what the code reads (docs/platforms.md): a part a site adds or replaces is
marked ``site`` and located at the line that defines it, so an engineer sees which figures a
plan will use before any plan is made.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from pydantic import BaseModel

from hkcompute import schema as S
from hkcompute.cli.common import boundary, emit, err, resolve_site
from hkcompute.model import Catalog

# The kinds in the order people read them: what computes, what carries, what stores.
KINDS = tuple(S.Catalog.model_fields)


class CatalogFormat(StrEnum):
    text = "text"
    json = "json"


def bundled() -> Catalog:
    """The catalogue shipped with hkcompute."""
    from hkcompute.inventory.load import bundled_catalog

    return bundled_catalog()


def _platform(cat: Catalog, server: str) -> dict[str, Any]:
    """What a server model's parts add up to, as the code asks for it (docs/platforms.md)."""
    entry = cat.servers[server]
    acc = cat.platform(server)
    return {
        "compute_protocols": list(cat.compute_protocols(server)),
        "nics_integrated": cat.nics_integrated(server),
        "gres": acc.gres if acc is not None else None,
        "device_files": list(acc.device_files(entry.accelerators)) if acc is not None else [],
        "exporter": acc.exporter.model_dump(mode="json") if acc and acc.exporter else None,
    }


def catalog_doc(site_name: str | None, cat: Catalog, base: Catalog) -> dict[str, Any]:
    """Every part of ``cat`` by kind and name, with every field; ``origin`` says whether it is
    the bundled part (``bundled``) or one the site added or replaced (``site``). A server also
    gets ``platform``: the capabilities its accelerator and NICs give it."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        entries: dict[str, BaseModel] = getattr(cat, kind)
        known: dict[str, BaseModel] = getattr(base, kind)
        rows = []
        for name in sorted(entries):
            part = entries[name]
            row: dict[str, Any] = {"name": name}
            row["origin"] = "bundled" if known.get(name) == part else "site"
            if row["origin"] == "site" and (kind, name) in cat.locs:
                row["location"] = str(cat.locs[(kind, name)])
            row.update(part.model_dump(mode="json"))
            if kind == "servers":
                row["platform"] = _platform(cat, name)
            rows.append(row)
        kinds[kind] = rows
    return {"site": site_name, "kinds": kinds}


def _value(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(_value(x) for x in v) or "-"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def render_text(doc: dict[str, Any]) -> str:
    lines = [f"catalogue of {doc['site']}" if doc["site"] else "bundled catalogue"]
    for kind, rows in doc["kinds"].items():
        lines += ["", f"{kind} ({len(rows)})"]
        for row in rows:
            where = f" {row['location']}" if "location" in row else ""
            lines.append(f"  {row['name']}  [{row['origin']}{where}]")
            for key, v in row.items():
                if key not in ("name", "origin", "location"):
                    lines.append(f"      {key}: {_value(v)}")
    return "\n".join(lines)


@boundary
def catalog_cmd(
    site: Annotated[
        str | None,
        typer.Argument(help="site folder (or name under inventories/); none: the bundled parts"),
    ] = None,
    fmt: Annotated[CatalogFormat, typer.Option("--format", "-f", help="output format")] = (
        CatalogFormat.text
    ),
) -> None:
    """List every hardware part by kind, with its platform fields and source.

    Example: hkcompute catalog inventories/hkstp --format json
    """
    base = bundled()
    if site is None:
        doc = catalog_doc(None, base, base)
    else:
        from hkcompute.validate import load_valid_site

        model, findings = load_valid_site(resolve_site(site))
        warnings = sum(1 for f in findings if f.severity == "warning")
        if warnings:
            err.print(f"{warnings} warning(s) in the inventory; `hkcompute validate` lists them")
        doc = catalog_doc(model.info.name, model.catalog, base)
    emit(json.dumps(doc, indent=2) if fmt is CatalogFormat.json else render_text(doc))


def register(app: typer.Typer) -> None:
    app.command("catalog")(catalog_cmd)
