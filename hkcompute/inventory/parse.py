"""Validate located YAML data against the schema, item by item, into findings.

Items are validated one at a time so that one broken rack does not hide the findings of
every other; broken items are remembered by kind and name (``Broken``) so that references to
them, and figures that would be wrong without them, do not produce second, misleading
findings: one typo gives the one finding that says what to fix.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from hkcompute.findings import BAD_VALUE, MISSING_KEY, UNKNOWN_KEY, Finding, make
from hkcompute.inventory import schema as S
from hkcompute.inventory.ranges import _GROUP, _SPAN, RangeError, count, expand, is_range
from hkcompute.inventory.yamlsrc import PathKey, Source

_LIST_ITEMS: dict[str, type[BaseModel]] = {
    "halls": S.Hall,
    "racks": S.Rack,
    "phases": S.Phase,
    "clusters": S.Cluster,
    "devices": S.DeviceSpec,
    "links": S.LinkSpec,
    "tenants": S.Tenant,
    "energy": S.EnergyAsset,
}
_CATALOG_KINDS: dict[str, type[BaseModel]] = {
    "fabrics": S.FabricKind,
    "switch_os": S.SwitchOs,
    "accelerators": S.Accelerator,
    "servers": S.Server,
    "nics": S.NicModel,
    "switches": S.SwitchModel,
    "optics": S.Optic,
    "storage": S.StorageModel,
}
CATALOG_KINDS = tuple(_CATALOG_KINDS)


# A broken range of up to this many names is expanded into a set; a longer one (a typo in a
# line of 8,000 nodes) is kept as its expression and matched name by name, to bound memory.
_EXPAND_BROKEN = 4096


def _in_range(expr: str, name: str) -> bool:
    """Whether ``expand(expr)`` would yield ``name``, without expanding it (by the range
    grammar's own patterns, so that the two can never disagree)."""
    pieces = _GROUP.split(expr)
    literals, groups = pieces[0::2], pieces[1::2]
    pattern = "".join(
        re.escape(lit) + ("(\\d+)" if i < len(groups) else "") for i, lit in enumerate(literals)
    )
    m = re.fullmatch(pattern, name)
    if m is None:
        return False
    for digits, body in zip(m.groups(), groups, strict=True):
        ok = False
        for part in body.split(","):
            span = _SPAN.match(part.strip())
            if span is None:
                return False
            start_s, end_s = span.group(1), span.group(2) or span.group(1)
            width = len(start_s) if start_s.startswith("0") and len(start_s) > 1 else 0
            value = int(digits)
            if int(start_s) <= value <= int(end_s) and digits == str(value).zfill(width):
                ok = True
                break
        if not ok:
            return False
    return True


@dataclass
class Broken:
    """Objects that could not be built, each with an error already reported, by kind.

    Kinds are the sections they are written in: ``racks``, ``phases`` (by id), ``clusters``,
    ``units``, ``unit_templates``, ``servers``, ``switches``, ... Schema parsing records the
    items that failed it; expansion adds what it then had to leave out (a cluster whose
    template is broken, and its units). Rules skip references to these and stay silent on
    figures that miss them: such findings only follow from the error already reported.
    """

    names: dict[str, set[str]] = field(default_factory=dict)
    ranges: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, name: object) -> None:
        """Record ``name``; a range expression records every name it expands to."""
        if isinstance(name, bool) or not isinstance(name, str | int):
            return  # no usable name: nothing can refer to it
        text = str(name)
        if isinstance(name, str) and is_range(text):
            try:
                if count(text) <= _EXPAND_BROKEN:
                    self.names.setdefault(kind, set()).update(expand(text))
                else:
                    self.ranges.setdefault(kind, []).append(text)
                return
            except RangeError:
                pass  # malformed: reported as such; only the literal text can match
        self.names.setdefault(kind, set()).add(text)

    def has(self, kind: str, name: object) -> bool:
        text = str(name)
        if text in self.names.get(kind, ()):
            return True
        return any(_in_range(expr, text) for expr in self.ranges.get(kind, ()))

    def model(self, name: object) -> bool:
        """Whether ``name`` is a broken catalogue entry of any kind."""
        return any(self.has(kind, name) for kind in _CATALOG_KINDS)

    def any(self, *kinds: str) -> bool:
        return any(self.names.get(k) or self.ranges.get(k) for k in kinds)


@dataclass
class Parsed:
    """The valid parts of a written site; ``broken`` records items that failed validation."""

    site: S.SiteInfo | None = None
    networks: S.Networks | None = None
    catalog: dict[str, dict[str, Any]] = field(default_factory=dict)
    catalog_paths: dict[tuple[str, str], PathKey] = field(default_factory=dict)
    templates: dict[str, S.UnitTemplate] = field(default_factory=dict)
    items: dict[str, list[tuple[PathKey, Any]]] = field(default_factory=dict)
    secrets: dict[str, S.SecretRef] = field(default_factory=dict)
    # The site's QoS policy; the defaults when it writes none or the one it writes is broken
    # (its findings already say why).
    qos: S.Qos = field(default_factory=S.Qos)
    broken: Broken = field(default_factory=Broken)


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


def _close_field(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """The field of the mapping at ``loc[:-1]`` that the unknown key ``loc[-1]`` resembles."""
    parent = _model_at(model, loc[:-1])
    options = sorted(parent.model_fields) if parent else []
    close = difflib.get_close_matches(str(loc[-1]), options, n=1, cutoff=0.6)
    return close[0] if close else None


def _errors_to_findings(
    exc: ValidationError,
    model: type[BaseModel],
    base: PathKey,
    src: Source,
) -> list[Finding]:
    out: list[Finding] = []
    errors = exc.errors(include_url=False)
    # A misspelt required key shows up twice: unknown 'rials' and missing 'rails'. The
    # unknown key, with its did-you-mean, is the one to fix; the missing one only follows.
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    explained: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            close = _close_field(model, loc)
            if close is not None and (*loc[:-1], close) in missing:
                explained.add((*loc[:-1], close))
    for err in errors:
        loc = tuple(err["loc"])
        path = base + loc
        dotted = ".".join(str(p) for p in path)
        kind = err["type"]
        where = src.locate(path)
        if kind == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            options = sorted(parent.model_fields) if parent else []
            close = _close_field(model, loc)
            hint = (
                f"did you mean {close!r}?"
                if close
                else f"allowed here: {', '.join(options)}"
                if options
                else UNKNOWN_KEY.hint
            )
            # Name the mapping that holds the key (clusters.0.units.0, not clusters.0).
            out.append(
                make(
                    UNKNOWN_KEY,
                    f"unknown key {loc[-1]!r} in {'.'.join(map(str, path[:-1]))}",
                    where,
                    hint=hint,
                    subject=dotted,
                )
            )
        elif kind == "missing":
            if loc in explained:
                continue
            out.append(
                make(
                    MISSING_KEY,
                    f"{dotted}: required key {loc[-1]!r} is missing",
                    src.locate(path[:-1]),
                    subject=dotted,
                )
            )
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            shown = err.get("input")
            got = "" if isinstance(shown, dict | list) else f" (got {shown!r})"
            out.append(make(BAD_VALUE, f"{dotted}: {msg}{got}", where, subject=dotted))
    return out


# What names an item of each list, for references to it (phases are referred to by id).
_ITEM_KEY = {"phases": "id"}


def _item_name(data: Any, key: str = "name") -> object:
    """The name (or id) of a raw item, also when the typo is in the name key itself: a
    rack written ``nmae: r01`` is still rack r01 to everything that refers to it."""
    if not isinstance(data, dict):
        return None
    if key in data:
        return data[key]
    for k, v in data.items():
        if difflib.get_close_matches(str(k), [key], n=1, cutoff=0.6):
            return v
    return None


def _mark_broken_cluster(broken: Broken, entry: Any) -> None:
    """A broken cluster is left out with its units, so theirs are broken names too."""
    broken.add("clusters", _item_name(entry))
    units = entry.get("units") if isinstance(entry, dict) else None
    if isinstance(units, list):
        for unit in units:
            broken.add("units", _item_name(unit))


def parse(src: Source, defaults: Source | None = None) -> tuple[Parsed, list[Finding]]:
    """Validate every part of ``src`` that can be validated; return it and the findings."""
    parsed = Parsed()
    findings: list[Finding] = []
    data = src.data

    allowed = S.TOP_LEVEL_KEYS
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?" if close else f"top-level keys: {', '.join(allowed)}"
            )
            findings.append(
                make(
                    UNKNOWN_KEY,
                    f"unknown top-level key {key!r}",
                    src.locate((key,)),
                    hint=hint,
                    subject=key,
                )
            )
    for key, fld in S.SiteSpec.model_fields.items():
        if fld.is_required() and key not in data:
            findings.append(
                make(MISSING_KEY, f"the site defines no {key!r}", src.locate(()), subject=key)
            )

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
            findings.append(make(BAD_VALUE, "secrets: must be a mapping", src.locate(("secrets",))))
        else:
            for sname, sval in raw_secrets.items():
                try:
                    ref = S.SecretRef.model_validate(sval)
                except ValidationError as exc:
                    findings.extend(_errors_to_findings(exc, S.SecretRef, ("secrets", sname), src))
                    continue
                if sname not in S.SECRET_NAMES:
                    findings.append(
                        make(
                            UNKNOWN_KEY,
                            f"unknown secret {sname!r}",
                            src.locate(("secrets", sname)),
                            hint=f"secrets: {', '.join(S.SECRET_NAMES)}",
                        )
                    )
                    continue
                parsed.secrets[sname] = ref
    parsed.networks = single("networks", S.Networks)
    parsed.qos = single("qos", S.Qos) or S.Qos()

    # The catalogue: bundled defaults first, then the site's own entries replace or add.
    layers = ([defaults] if defaults is not None else []) + [src]
    for layer in layers:
        cat = layer.data.get("catalog")
        if cat is None:
            continue
        if not isinstance(cat, dict):
            findings.append(
                make(BAD_VALUE, "catalog: must be a mapping of kinds", layer.locate(("catalog",)))
            )
            continue
        for kind, entries in cat.items():
            model = _CATALOG_KINDS.get(kind)
            if model is None:
                close = difflib.get_close_matches(kind, list(_CATALOG_KINDS), n=1, cutoff=0.6)
                findings.append(
                    make(
                        UNKNOWN_KEY,
                        f"unknown catalogue kind {kind!r}",
                        layer.locate(("catalog", kind)),
                        hint=f"did you mean {close[0]!r}?"
                        if close
                        else f"kinds: {', '.join(_CATALOG_KINDS)}",
                    )
                )
                continue
            if not isinstance(entries, dict):
                findings.append(
                    make(
                        BAD_VALUE,
                        f"catalog.{kind}: must be a mapping of models",
                        layer.locate(("catalog", kind)),
                    )
                )
                continue
            bucket = parsed.catalog.setdefault(kind, {})
            for name, entry in entries.items():
                base: PathKey = ("catalog", kind, name)
                try:
                    bucket[name] = model.model_validate(entry)
                    parsed.catalog_paths[(kind, name)] = base
                except ValidationError as exc:
                    findings.extend(_errors_to_findings(exc, model, base, layer))
                    parsed.broken.add(kind, name)

    templates = data.get("unit_templates", {})
    if isinstance(templates, dict):
        for name, entry in templates.items():
            try:
                parsed.templates[name] = S.UnitTemplate.model_validate(entry)
            except ValidationError as exc:
                findings.extend(
                    _errors_to_findings(exc, S.UnitTemplate, ("unit_templates", name), src)
                )
                parsed.broken.add("unit_templates", name)
    else:
        findings.append(
            make(
                BAD_VALUE,
                "unit_templates: must be a mapping of templates",
                src.locate(("unit_templates",)),
            )
        )

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
                if key == "clusters":
                    _mark_broken_cluster(parsed.broken, entry)
                else:
                    parsed.broken.add(key, _item_name(entry, _ITEM_KEY.get(key, "name")))
        parsed.items[key] = good
    return parsed, findings
