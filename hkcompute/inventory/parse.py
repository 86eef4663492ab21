"""Validate located YAML data against the schema, item by item, into findings.

Items are validated one at a time so that one broken rack does not hide the findings of
every other; the names of broken items are remembered so that references to them do not
produce a second, misleading "missing" finding.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from hkcompute.findings import BAD_VALUE, MISSING_KEY, UNKNOWN_KEY, Finding, make
from hkcompute.inventory import schema as S
from hkcompute.inventory.yamlsrc import PathKey, Source

_LIST_ITEMS: dict[str, type[BaseModel]] = {
    "halls": S.Hall, "racks": S.Rack, "phases": S.Phase, "clusters": S.Cluster,
    "devices": S.DeviceSpec, "links": S.LinkSpec, "tenants": S.Tenant, "energy": S.EnergyAsset,
}
_CATALOG_KINDS: dict[str, type[BaseModel]] = {
    "accelerators": S.Accelerator, "servers": S.Server, "switches": S.SwitchModel,
    "optics": S.Optic, "storage": S.StorageModel,
}


@dataclass
class Parsed:
    """The valid parts of a written site; ``broken`` names items that failed validation."""

    site: S.SiteInfo | None = None
    networks: S.Networks | None = None
    catalog: dict[str, dict[str, Any]] = field(default_factory=dict)
    catalog_paths: dict[tuple[str, str], PathKey] = field(default_factory=dict)
    templates: dict[str, S.UnitTemplate] = field(default_factory=dict)
    items: dict[str, list[tuple[PathKey, Any]]] = field(default_factory=dict)
    secrets: dict[str, S.SecretRef] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)


def _unwrap(tp: Any) -> list[Any]:
    """The model classes a type annotation may hold (through Optional, list, dict, Annotated)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, tuple, set):
        return _unwrap(typing.get_args(tp)[0])
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _model_at(model: type[BaseModel], locs: tuple[Any, ...]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in locs:
        if current is None:
            return None
        if isinstance(part, str) and part in current.model_fields:
            options = _unwrap(current.model_fields[part].annotation)
            current = options[0] if options else None
        # ints (list indexes) and dict keys keep the current element model
    return current


def _errors_to_findings(
    exc: ValidationError, model: type[BaseModel], base: PathKey, src: Source,
) -> list[Finding]:
    out: list[Finding] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = base + loc
        dotted = ".".join(str(p) for p in path)
        kind = err["type"]
        where = src.locate(path)
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            options = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), options, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"allowed here: {', '.join(options)}" if options else UNKNOWN_KEY.hint)
            out.append(make(UNKNOWN_KEY, f"unknown key {loc[-1]!r} in {'.'.join(map(str, base))}",
                            where, hint=hint, subject=dotted))
        elif kind == "missing":
            out.append(make(MISSING_KEY, f"{dotted}: required key {loc[-1]!r} is missing",
                            src.locate(path[:-1]), subject=dotted))
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            shown = err.get("input")
            got = "" if isinstance(shown, dict | list) else f" (got {shown!r})"
            out.append(make(BAD_VALUE, f"{dotted}: {msg}{got}", where, subject=dotted))
    return out


def _item_name(data: Any) -> str | None:
    if isinstance(data, dict):
        name = data.get("name")
        return name if isinstance(name, str) else None
    return None


def parse(src: Source, defaults: Source | None = None) -> tuple[Parsed, list[Finding]]:
    """Validate every part of ``src`` that can be validated; return it and the findings."""
    parsed = Parsed()
    findings: list[Finding] = []
    data = src.data

    allowed = S.TOP_LEVEL_KEYS
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = (f"did you mean {close[0]!r}?" if close
                    else f"top-level keys: {', '.join(allowed)}")
            findings.append(make(UNKNOWN_KEY, f"unknown top-level key {key!r}",
                                 src.locate((key,)), hint=hint, subject=key))
    for key, fld in S.SiteSpec.model_fields.items():
        if fld.is_required() and key not in data:
            findings.append(make(MISSING_KEY, f"the site defines no {key!r}",
                                 src.locate(()), subject=key))

    def single(key: str, model: type[BaseModel]) -> Any:
        if key not in data:
            return None
        try:
            return model.model_validate(data[key])
        except ValidationError as exc:
            findings.extend(_errors_to_findings(exc, model, (key,), src))
            return None

    parsed.site = single("site", S.SiteInfo)
    raw_secrets = data.get("secrets")
    if raw_secrets is not None:
        if not isinstance(raw_secrets, dict):
            findings.append(make(BAD_VALUE, "secrets: must be a mapping",
                                 src.locate(("secrets",))))
        else:
            for sname, sval in raw_secrets.items():
                try:
                    ref = S.SecretRef.model_validate(sval)
                except ValidationError as exc:
                    findings.extend(_errors_to_findings(exc, S.SecretRef, ("secrets", sname),
                                                        src))
                    continue
                if sname not in S.SECRET_NAMES:
                    findings.append(make(UNKNOWN_KEY, f"unknown secret {sname!r}",
                                         src.locate(("secrets", sname)),
                                         hint=f"secrets: {', '.join(S.SECRET_NAMES)}"))
                    continue
                parsed.secrets[sname] = ref
    parsed.networks = single("networks", S.Networks)

    # The catalogue: bundled defaults first, then the site's own entries replace or add.
    layers = ([defaults] if defaults is not None else []) + [src]
    for layer in layers:
        cat = layer.data.get("catalog")
        if cat is None:
            continue
        if not isinstance(cat, dict):
            findings.append(make(BAD_VALUE, "catalog: must be a mapping of kinds",
                                 layer.locate(("catalog",))))
            continue
        for kind, entries in cat.items():
            model = _CATALOG_KINDS.get(kind)
            if model is None:
                close = difflib.get_close_matches(kind, list(_CATALOG_KINDS), n=1, cutoff=0.6)
                findings.append(make(
                    UNKNOWN_KEY, f"unknown catalogue kind {kind!r}",
                    layer.locate(("catalog", kind)),
                    hint=f"did you mean {close[0]!r}?" if close else
                    f"kinds: {', '.join(_CATALOG_KINDS)}"))
                continue
            if not isinstance(entries, dict):
                findings.append(make(BAD_VALUE, f"catalog.{kind}: must be a mapping of models",
                                     layer.locate(("catalog", kind))))
                continue
            bucket = parsed.catalog.setdefault(kind, {})
            for name, entry in entries.items():
                base: PathKey = ("catalog", kind, name)
                try:
                    bucket[name] = model.model_validate(entry)
                    parsed.catalog_paths[(kind, name)] = base
                except ValidationError as exc:
                    findings.extend(_errors_to_findings(exc, model, base, layer))
                    parsed.broken.add(name)

    templates = data.get("unit_templates", {})
    if isinstance(templates, dict):
        for name, entry in templates.items():
            try:
                parsed.templates[name] = S.UnitTemplate.model_validate(entry)
            except ValidationError as exc:
                findings.extend(_errors_to_findings(exc, S.UnitTemplate,
                                                    ("unit_templates", name), src))
                parsed.broken.add(name)
    else:
        findings.append(make(BAD_VALUE, "unit_templates: must be a mapping of templates",
                             src.locate(("unit_templates",))))

    for key, model in _LIST_ITEMS.items():
        raw = data.get(key, [])
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            findings.append(make(BAD_VALUE, f"{key}: must be a list", src.locate((key,))))
            continue
        good: list[tuple[PathKey, Any]] = []
        for i, entry in enumerate(raw):
            path: PathKey = (key, i)
            try:
                good.append((path, model.model_validate(entry)))
            except ValidationError as exc:
                findings.extend(_errors_to_findings(exc, model, path, src))
                name = _item_name(entry)
                if name:
                    parsed.broken.add(name)
        parsed.items[key] = good
    return parsed, findings
