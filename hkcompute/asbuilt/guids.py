"""The GUID map: every HCA port's GUID by device and plan port, as ibnetdiscover found it.

``hkcompute cabling verify --ibnetdiscover`` writes it (``render``); the loader reads it back
(``parse``) and carries it on the site (``Site.guids``), from which the subnet manager's
tenant partitions name their members by port GUID. It lives in the site folder under
``.asbuilt/`` because the loader reads every other ``*.yaml`` of the folder as inventory
(and rejects this one), while it skips dot-folders; a one-file site gets it beside the file.
The text is the same for the same fabric: devices and ports in natural order, no dates.
Pure: no file I/O, nothing of the model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hkcompute.errors import InputError

try:  # libyaml when present
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

FOLDER = ".asbuilt"
FILE = "guids.yaml"
_PARTS = re.compile(r"(\d+)")
# A port GUID: 64 bits in hex, as ibnetdiscover prints them (written 0x and 16 digits).
_GUID = re.compile(r"(?:0[xX])?([0-9a-fA-F]{1,16})")


def _natural(s: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (0, p) for p in _PARTS.split(s) if p)


def default_path(site_path: Path) -> Path:
    if site_path.is_file():
        return site_path.parent / FOLDER / f"{site_path.stem}-{FILE}"
    return site_path / FOLDER / FILE


def render(guids: Mapping[str, Mapping[str, str]], site: str, source: str) -> str:
    """YAML text: ``guids:``, then each device and under it ``port: "0x..."``."""
    lines = [
        f"# HCA port GUIDs of {site}, from {source} by `hkcompute cabling verify`.",
        "# device -> plan port -> port GUID. Regenerate it rather than edit it.",
        "guids:",
    ]
    if not guids:
        lines[-1] = "guids: {}"
    for dev in sorted(guids, key=_natural):
        # JSON strings are YAML double-quoted scalars: no name is ever read as a number.
        lines.append(f"  {json.dumps(dev)}:")
        for port in sorted(guids[dev], key=_natural):
            lines.append(f"    {json.dumps(port)}: {json.dumps(guids[dev][port])}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class GuidMap:
    """The GUID map as read: device -> plan port -> port GUID (``0x`` and 16 lower-case hex
    digits). ``path`` and ``lines`` place an entry in the file for findings (no part of
    what the map is)."""

    guids: Mapping[str, Mapping[str, str]]
    path: str = ""
    lines: Mapping[tuple[str, str], int] = field(default_factory=dict, compare=False)

    def get(self, device: str, port: str) -> str | None:
        return self.guids.get(device, {}).get(port)


def _fail(shown: str, node: yaml.Node | None, message: str) -> InputError:
    line = f":{node.start_mark.line + 1}" if node is not None else ""
    return InputError(message, location=f"{shown}{line}")


def _text(shown: str, node: yaml.Node, what: str) -> str:
    # Any plain scalar is its text: a GUID written by hand without quotes is YAML's int.
    if not isinstance(node, yaml.ScalarNode) or not isinstance(node.value, str) or not node.value:
        raise _fail(shown, node, f"{what} must be a single value")
    return node.value


def parse(text: str, shown: str = FILE) -> GuidMap:
    """Read a GUID map's text (what ``render`` writes); a malformed one is an ``InputError``
    at its file:line: partitions must never be written from a half-read map."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise InputError(f"GUID map is not valid YAML: {exc.problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise InputError(f"GUID map is not valid YAML: {exc}", location=shown) from None
    if root is None:
        return GuidMap({}, shown)
    if not isinstance(root, yaml.MappingNode):
        raise _fail(shown, root, "a GUID map is a mapping with one key, 'guids'")
    body: yaml.Node | None = None
    for k, v in root.value:
        if _text(shown, k, "a key") != "guids":
            raise _fail(shown, k, f"unknown key {k.value!r} (a GUID map has only 'guids')")
        body = v
    guids: dict[str, dict[str, str]] = {}
    lines: dict[tuple[str, str], int] = {}
    if body is None or (isinstance(body, yaml.ScalarNode) and body.tag.endswith(":null")):
        return GuidMap(guids, shown, lines)
    if not isinstance(body, yaml.MappingNode):
        raise _fail(shown, body, "'guids' must map each device to its ports")
    seen_guid: dict[str, tuple[str, str]] = {}
    for dk, dv in body.value:
        dev = _text(shown, dk, "a device name")
        if dev in guids:
            raise _fail(shown, dk, f"device {dev} is given twice")
        if not isinstance(dv, yaml.MappingNode):
            raise _fail(shown, dv, f"{dev}: map each port to its GUID")
        ports = guids[dev] = {}
        for pk, pv in dv.value:
            port = _text(shown, pk, "a port name")
            if port in ports:
                raise _fail(shown, pk, f"{dev} {port} is given twice")
            value = _text(shown, pv, f"the GUID of {dev} {port}")
            m = _GUID.fullmatch(value)
            if m is None:
                raise _fail(shown, pv, f"{dev} {port}: {value!r} is not a port GUID (0x and hex)")
            guid = f"0x{int(m.group(1), 16):016x}"
            if guid in seen_guid:
                d0, p0 = seen_guid[guid]
                raise _fail(shown, pv, f"{dev} {port}: GUID {guid} is also {d0} {p0}'s")
            seen_guid[guid] = (dev, port)
            ports[port] = guid
            lines[(dev, port)] = pv.start_mark.line + 1
    return GuidMap(guids, shown, lines)
