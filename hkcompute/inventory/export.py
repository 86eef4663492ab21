"""The expanded site and the schema as plain data (for `inventory expand` and `schema`)."""

from __future__ import annotations

from typing import Any

from hkcompute.inventory.schema import SiteSpec
from hkcompute.model import Site

SCHEMA_ID = "https://hkcompute.dev/schema/inventory.json"


def json_schema() -> dict[str, Any]:
    schema = SiteSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "hkcompute site inventory"
    return schema


def expanded_dict(site: Site, phase: int | None = None) -> dict[str, Any]:
    devices = []
    for d in site.devices_upto(phase):
        entry: dict[str, Any] = {
            "name": d.name, "role": d.role, "model": d.model, "rack": d.rack, "u": d.u,
            "height": d.height, "phase": d.phase, "status": d.status, "hall": d.hall,
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
                {"password": "<secret>"} if d.bmc.password else {})
        devices.append(entry)
    racks = [
        {"name": r.name, "hall": r.hall, "phase": r.phase, "row": r.row, "x_m": r.x_m,
         "y_m": r.y_m, "units": r.units, "power_kw": r.power_kw, "cooling": r.cooling}
        for r in site.racks.values() if phase is None or r.phase <= phase
    ]
    units = [
        {"name": u.name, "cluster": c.name, "group": u.group, "phase": u.phase,
         "nodes": u.nodes, "network_racks": list(u.network_racks),
         "node_racks": list(u.node_racks), "tenant": u.tenant}
        for c in site.clusters for u in c.units if phase is None or u.phase <= phase
    ]
    return {
        "site": site.info.model_dump(mode="json"),
        "inventory_hash": site.inventory_hash,
        "phases": [{"id": p.id, "name": p.name, "due": p.due.isoformat(),
                    "target_pflops": p.target_pflops} for p in site.phases],
        "halls": [{"name": h.name, "feed_mw": h.feed_mw, "cooling": h.cooling, "pue": h.pue,
                   "phase": h.phase} for h in site.halls.values()],
        "racks": racks,
        "units": units,
        "devices": devices,
        "counts": {"racks": len(racks), "devices": len(devices), "units": len(units)},
    }
