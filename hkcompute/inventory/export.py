"""The expanded site and the schema as plain data (for `inventory expand` and `schema`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from hkcompute.inventory.schema import SiteSpec
from hkcompute.model import Site

SCHEMA_ID = "https://hkcompute.dev/schema/inventory.json"


def json_schema() -> dict[str, Any]:
    """The inventory's JSON Schema, fit to check each file of a split site on its own.

    A site is split over files as the user likes, so no single file has to hold `site`,
    `halls` and the other keys the whole site needs: the schema lists no required top-level
    key (`hkcompute validate` reports a missing one on the merged site). Everything below
    the top level stays as strict as the pydantic models, unknown keys included, so that an
    editor given the `# yaml-language-server: $schema=` line flags typos as they are typed.
    """
    schema = SiteSpec.model_json_schema(mode="validation")
    schema.pop("required", None)
    schema["description"] = (
        "One file of a site inventory. A site may be split over several files, each top-level "
        "key in one of them: which keys the whole site needs is checked by `hkcompute "
        "validate`, not here."
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "hkcompute site inventory"
    return schema


def _plain(value: Any) -> Any:
    """Enums (roles, statuses) as their plain values, so YAML and JSON dumpers both take it."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def expanded_dict(site: Site, phase: int | None = None) -> dict[str, Any]:
    """The expanded site as plain data (str, int, float, lists, dicts): safe for any dumper."""
    return _plain(_expanded(site, phase))  # type: ignore[no-any-return]


def _expanded(site: Site, phase: int | None) -> dict[str, Any]:
    devices = []
    for d in site.devices_upto(phase):
        entry: dict[str, Any] = {
            "name": d.name,
            "role": d.role,
            "model": d.model,
            "rack": d.rack,
            "u": d.u,
            "height": d.height,
            "phase": d.phase,
            "status": d.status,
            "hall": d.hall,
            "source": str(d.loc),
        }
        for key in ("cluster", "unit", "group", "tenant", "serial", "mac"):
            value = getattr(d, key)
            if value is not None:
                entry[key] = value
        if d.cluster is not None:
            entry["index"] = d.index
        if d.addresses:
            entry["addresses"] = dict(d.addresses)
        if d.bmc is not None:
            entry["bmc"] = d.bmc.model_dump(exclude_none=True, exclude={"password"}) | (
                {"password": "<secret>"} if d.bmc.password else {}
            )
        devices.append(entry)
    racks = [
        {
            "name": r.name,
            "hall": r.hall,
            "phase": r.phase,
            "row": r.row,
            "x_m": r.x_m,
            "y_m": r.y_m,
            "units": r.units,
            "power_kw": r.power_kw,
            "cooling": r.cooling,
        }
        for r in site.racks.values()
        if phase is None or r.phase <= phase
    ]
    units = [
        {
            "name": u.name,
            "cluster": c.name,
            "group": u.group,
            "phase": u.phase,
            "nodes": u.nodes,
            "network_racks": list(u.network_racks),
            "node_racks": list(u.node_racks),
            "tenant": u.tenant,
        }
        for c in site.clusters
        for u in c.units
        if phase is None or u.phase <= phase
    ]
    return {
        "site": site.info.model_dump(mode="json"),
        "inventory_hash": site.inventory_hash,
        "phases": [
            {"id": p.id, "name": p.name, "due": p.due.isoformat(), "target_pflops": p.target_pflops}
            for p in site.phases
        ],
        "halls": [
            {
                "name": h.name,
                "feed_mw": h.feed_mw,
                "cooling": h.cooling,
                "pue": h.pue,
                "phase": h.phase,
            }
            for h in site.halls.values()
        ],
        "racks": racks,
        "units": units,
        "devices": devices,
        "counts": {"racks": len(racks), "devices": len(devices), "units": len(units)},
    }
