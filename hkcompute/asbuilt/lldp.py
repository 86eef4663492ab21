"""Read ``lldpcli -f json show neighbors`` in every shape lldpd prints.

lldpd's JSON writer folds lists of one: ``{"lldp": {"interface": {...}}}`` holds a dict
keyed by interface name when there is one neighbour, and a list of single-key dicts when
there are several (an interface may then appear more than once); ``chassis`` is a dict keyed
by the system name, or holds ``id`` alone when the neighbour sends no name; ``id`` is
``{"type": "mac"|"local"|"ifname"|"ip"|..., "value": ...}``; ``mgmt-ip`` is a string or a
list; ``port`` has ``id`` and maybe ``descr``. With no neighbour at all lldpd prints
``{"lldp": {}}`` (or an empty list). The ``json0`` format (every value a list, every scalar a
``{"value": ...}``) is read too: one-element lists and value wrappers are unwrapped first.

Errors name the file and the line of the interface they concern (``file:line``), or the JSON
path when the text gives no line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hkcompute.asbuilt.names import Resolver, lldp_port
from hkcompute.asbuilt.observed import DiscoveryError, End, Sighting


@dataclass(frozen=True)
class Neighbour:
    """One neighbour as lldpd reports it, before any mapping to the inventory."""

    interface: str
    system_name: str | None
    chassis_id: tuple[str, str] | None
    mgmt_ips: tuple[str, ...]
    port_id: tuple[str, str] | None
    port_descr: str | None
    line: int


def _unwrap(v: Any) -> Any:
    # json0 wraps everything: [x] -> x and {"value": x} -> x (a dict with only "value").
    while True:
        if isinstance(v, list) and len(v) == 1:
            v = v[0]
        elif isinstance(v, dict) and set(v) == {"value"}:
            v = v["value"]
        else:
            return v


def _str(v: Any, where: str, source: str, line: int | None) -> str:
    v = _unwrap(v)
    if isinstance(v, (str, int, float)) and not isinstance(v, bool):
        return str(v)
    raise _err(f"{where}: expected a string, found {_kind(v)}", source, line)


def _kind(v: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true/false",
        type(None): "null",
    }.get(type(v), "a number")


def _err(msg: str, source: str, line: int | None) -> DiscoveryError:
    return DiscoveryError(msg, location=f"{source}:{line}" if line else source)


def _line_at(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class _Lines:
    """Lines of interface keys, found in document order (JSON keeps the order written)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def find(self, name: str) -> int | None:
        needle = json.dumps(name)
        i = self.text.find(needle, self.pos)
        if i < 0:
            return None
        self.pos = i + len(needle)
        return _line_at(self.text, i)


def parse(text: str, source: str) -> list[Neighbour]:
    """Every neighbour in ``text`` (the output of ``lldpcli -f json show neighbors``)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DiscoveryError(
            f"not JSON: {exc.msg} (column {exc.colno}); expected the output "
            "of `lldpcli -f json show neighbors`",
            location=f"{source}:{exc.lineno}",
        ) from None
    except (ValueError, RecursionError) as exc:  # huge numbers, absurd nesting
        raise DiscoveryError(f"not readable JSON: {exc}", location=source) from None
    if not isinstance(doc, dict) or "lldp" not in doc:
        raise DiscoveryError(
            'expected {"lldp": ...}, the output of `lldpcli -f json show neighbors`',
            location=f"{source}:1",
        )
    top = doc["lldp"]
    parts = top if isinstance(top, list) else [top]
    lines = _Lines(text)
    found: list[Neighbour] = []
    for part in parts:
        if part is None or part == {}:
            continue
        if not isinstance(part, dict):
            raise _err(f"lldp: expected an object, found {_kind(part)}", source, None)
        ifaces = part.get("interface")
        if ifaces is None:
            continue
        for name, body in _interfaces(ifaces, source):
            line = lines.find(name)
            found.append(_neighbour(name, body, source, line))
    return found


def _interfaces(v: Any, source: str) -> list[tuple[str, Any]]:
    if isinstance(v, dict):
        if "name" in v and "chassis" in v:  # json0: one interface, its name inside
            return [(_str(v["name"], "lldp.interface.name", source, None), v)]
        return list(v.items())
    if isinstance(v, list):
        out: list[tuple[str, Any]] = []
        for i, item in enumerate(v):
            if isinstance(item, dict) and "name" in item and "chassis" in item:
                out.append((_str(item["name"], f"lldp.interface[{i}].name", source, None), item))
            elif isinstance(item, dict) and len(item) == 1:
                out.extend(item.items())
            else:
                raise _err(
                    f"lldp.interface[{i}]: expected an object with one interface "
                    f"name as its key, found {_kind(item)}"
                    + (f" with {len(item)} keys" if isinstance(item, dict) else ""),
                    source,
                    None,
                )
        return out
    raise _err(f"lldp.interface: expected an object or a list, found {_kind(v)}", source, None)


def _id(v: Any, where: str, source: str, line: int | None) -> tuple[str, str] | None:
    v = _unwrap(v)
    if v is None:
        return None
    if isinstance(v, dict) and "value" in v:
        kind = _str(v.get("type", "unknown"), f"{where}.type", source, line)
        return kind, _str(v["value"], f"{where}.value", source, line)
    raise _err(f'{where}: expected {{"type": ..., "value": ...}}, found {_kind(v)}', source, line)


def _neighbour(name: str, body: Any, source: str, line: int | None) -> Neighbour:
    at = f"lldp.interface[{name}]"
    body = _unwrap(body)
    if not isinstance(body, dict):
        raise _err(f"{at}: expected an object, found {_kind(body)}", source, line)
    chassis = _unwrap(body.get("chassis"))
    if not isinstance(chassis, dict):
        raise _err(f"{at}.chassis: expected an object, found {_kind(chassis)}", source, line)
    system: str | None = None
    if "id" in chassis and isinstance(_unwrap(chassis["id"]), dict):
        details = chassis  # no system name sent: the chassis holds its fields directly
        if "name" in chassis:  # json0 keeps the name as a field
            system = _str(chassis["name"], f"{at}.chassis.name", source, line)
    elif len(chassis) == 1:
        system, details = next(iter(chassis.items()))
        details = _unwrap(details)
        if not isinstance(details, dict):
            raise _err(
                f"{at}.chassis.{system}: expected an object, found {_kind(details)}", source, line
            )
    else:
        raise _err(
            f"{at}.chassis: expected one system name as its key, or an id, found "
            f"{len(chassis)} keys",
            source,
            line,
        )
    cid = _id(details.get("id"), f"{at}.chassis.id", source, line)
    mgmt = details.get("mgmt-ip")
    ips: tuple[str, ...] = ()
    if mgmt is not None:
        mgmt = _unwrap(mgmt)
        items = mgmt if isinstance(mgmt, list) else [mgmt]
        ips = tuple(_str(x, f"{at}.chassis.mgmt-ip", source, line) for x in items)
    port = _unwrap(body.get("port"))
    if not isinstance(port, dict):
        raise _err(f"{at}.port: expected an object, found {_kind(port)}", source, line)
    pid = _id(port.get("id"), f"{at}.port.id", source, line)
    descr = port.get("descr")
    pdescr = None if descr is None else _str(descr, f"{at}.port.descr", source, line)
    if pid is None and not pdescr:
        raise _err(f"{at}.port: neither an id nor a descr", source, line)
    return Neighbour(name, system, cid, ips, pid, pdescr, line or 0)


def sightings(
    neighbours: list[Neighbour], device: str, resolver: Resolver, source: str
) -> list[Sighting]:
    """The neighbours of ``device`` as sightings between inventory names."""
    out = []
    for n in neighbours:
        remote_dev = resolver.lldp_device(n.system_name, n.chassis_id, n.mgmt_ips)
        remote_port = lldp_port(
            n.port_id[0] if n.port_id else None, n.port_id[1] if n.port_id else None, n.port_descr
        )
        where = f"{source}:{n.line}" if n.line else source
        out.append(Sighting(End(device, n.interface), End(remote_dev, remote_port), where))
    return out
