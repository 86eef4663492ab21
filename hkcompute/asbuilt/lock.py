"""``hkcompute.lock``: what is built, as data and as text (pure: no file I/O).

A lock records every allocation of a site up to a phase: addresses (device, interface,
network -> address), ASNs (device -> ASN) and links (a end <-> b end, with the optic and
cable chosen), plus the inventory hash and phase it was taken from and the devices released
so far. The plan reuses what it holds and refuses an inventory change that would move it
(``hkcompute.plan.lock``).

The text is YAML written by hand here, not by a YAML emitter, so it is byte-stable and
diff-friendly: sections sorted, one allocation per line as a flow list. It is read back with
the node composer, which keeps each entry's line for findings. The model carries a ``Lock``
(``Site.lock``), so this module imports nothing of the model or the plan.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import NamedTuple

import yaml

from hkcompute.errors import InputError
from hkcompute.findings import UNKNOWN, Location

LOCK_NAME = "hkcompute.lock"
FORMAT = 1

try:  # libyaml when present: a full site's lock holds hundreds of thousands of lines
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


class LockedAddress(NamedTuple):
    device: str
    interface: str
    network: str
    address: str  # with its prefix length, as the plan writes it

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.device, self.interface, self.network)


class LockedAsn(NamedTuple):
    device: str
    asn: int


class LockedLink(NamedTuple):
    a: str
    a_port: str
    b: str
    b_port: str
    network: str
    optic: str | None
    cable: str

    @property
    def devices(self) -> tuple[str, str]:
        return (self.a, self.b)


@dataclass(frozen=True)
class Lock:
    """What is built of ``site`` up to ``phase``. ``released`` names the devices whose
    allocations were given up (by ``hkcompute lock --release`` or by being retired), kept so
    a diff can say so. ``path`` and ``lines`` place an entry in the lock file for findings
    (no part of what the lock is)."""

    site: str
    phase: int
    inventory_hash: str
    addresses: tuple[LockedAddress, ...] = ()
    asns: tuple[LockedAsn, ...] = ()
    links: tuple[LockedLink, ...] = ()
    released: tuple[str, ...] = ()
    path: str = field(default=LOCK_NAME, compare=False)
    lines: dict[tuple[str, int], int] = field(default_factory=dict, compare=False, repr=False)

    def devices(self) -> set[str]:
        """Every device that holds an allocation in the lock."""
        out = {a.device for a in self.addresses} | {a.device for a in self.asns}
        for link in self.links:
            out.update(link.devices)
        return out

    def where(self, section: str, index: int) -> Location:
        """The lock file line of entry ``index`` of ``section`` (the file alone if unknown)."""
        line = self.lines.get((section, index), 0)
        return Location(self.path, line, 1 if line else 0) if self.path else UNKNOWN

    def sorted(self) -> Lock:
        """The same lock in its canonical order (what ``dump`` writes)."""
        return Lock(
            self.site,
            self.phase,
            self.inventory_hash,
            tuple(sorted(set(self.addresses))),
            tuple(sorted(set(self.asns))),
            tuple(sorted(set(self.links), key=_link_order)),
            tuple(sorted(set(self.released))),
            self.path,
        )


def _link_order(link: LockedLink) -> tuple[str, ...]:
    return (link.a, link.a_port, link.b, link.b_port, link.network, link.optic or "", link.cable)


# --- writing -----------------------------------------------------------------------------------

# Plain (unquoted) scalars: names that YAML reads back as the same string, and IPv4 addresses
# with a prefix (two dots or more are never a number). A name may start with a digit when it
# holds a letter no YAML number uses (100g-sr4; not 1e5, 0x1f, 0o17). Others are quoted.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_DIGIT_NAME = re.compile(r"\d[A-Za-z0-9_.-]*\Z")
_NOT_NUMERIC = re.compile(r"[g-np-wyzG-NP-WYZ]")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?\Z")
# YAML 1.1 words PyYAML reads as booleans or null.
_WORDS = frozenset(
    "y n yes no on off true false null".split()  # noqa: SIM905 - one line reads best
)


def _scalar(value: str | int | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if (_PLAIN.match(value) and value.lower() not in _WORDS) or _IPV4.match(value):
        return value
    if _DIGIT_NAME.match(value) and _NOT_NUMERIC.search(value):
        return value
    return json.dumps(value)  # a JSON string is a valid double-quoted YAML scalar


def _row(values: tuple[str | int | None, ...]) -> str:
    return "  - [" + ", ".join(_scalar(v) for v in values) + "]"


def dump(lock: Lock) -> str:
    """The lock file's text: the same lock always gives the same bytes."""
    lk = lock.sorted()
    out = [
        f"# {LOCK_NAME}: what is built of site {lk.site} up to phase {lk.phase}.",
        "# Written by `hkcompute lock`; commit it next to the inventory. The plan reuses every",
        "# allocation below and refuses a change that would move one; give one up with",
        "# `hkcompute lock SITE --release DEVICE` (or mark the device retired).",
        f"format: {FORMAT}",
        f"site: {_scalar(lk.site)}",
        f"phase: {lk.phase}",
        f"inventory_hash: {_scalar(lk.inventory_hash)}",
    ]

    def section(name: str, columns: str, rows: list[str]) -> None:
        out.append(f"# {columns}")
        out.append(f"{name}:" + ("" if rows else " []"))
        out.extend(rows)

    section(
        "released", "devices whose allocations were given up", [_row((d,)) for d in lk.released]
    )
    section(
        "addresses",
        "[device, interface, network, address]",
        [_row(tuple(a)) for a in lk.addresses],
    )
    section("asns", "[device, asn]", [_row(tuple(a)) for a in lk.asns])
    section(
        "links",
        "[a_device, a_port, b_device, b_port, network, optic, cable]",
        [_row(tuple(x)) for x in lk.links],
    )
    return "\n".join(out) + "\n"


# --- reading -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.seen: set[int] = set()

    def fail(self, node: yaml.Node | None, message: str) -> InputError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return InputError(message, location=f"{self.shown}{line}")

    def visit(self, node: yaml.Node) -> yaml.Node:
        # The writer never uses anchors: an alias could only blow a small file up.
        if id(node) in self.seen:
            raise self.fail(node, "aliases are not allowed in a lock file")
        self.seen.add(id(node))
        return node

    def scalar(self, node: yaml.Node, what: str, *, null: bool = False) -> str | None:
        self.visit(node)
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        if node.tag == _NULL and null:
            return None
        if node.tag == _NULL or not isinstance(node.value, str) or not node.value:
            raise self.fail(node, f"{what} is empty")
        return node.value

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        assert value is not None
        return value

    def integer(self, node: yaml.Node, what: str) -> int:
        value = self.text(node, what)
        if node.tag != _INT:
            raise self.fail(node, f"{what} must be a whole number, not {value!r}")
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            raise self.fail(node, f"{what} must be a whole number, not {value!r}") from None

    def rows(self, node: yaml.Node, name: str, width: int) -> list[tuple[int, list[yaml.Node]]]:
        self.visit(node)
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{name} must be a list")
        out = []
        for item in node.value:
            self.visit(item)
            if not isinstance(item, yaml.SequenceNode) or len(item.value) != width:
                raise self.fail(item, f"each entry of {name} must be a list of {width} values")
            out.append((item.start_mark.line + 1, item.value))
        return out


def parse(text: str, shown: str = LOCK_NAME) -> Lock:
    """Read a lock file's text; a malformed one is an ``InputError`` at its file:line."""
    r = _Reader(shown)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise InputError(f"lock file is not valid YAML: {exc.problem}", location=where) from None
    except yaml.YAMLError as exc:
        raise InputError(f"lock file is not valid YAML: {exc}", location=shown) from None
    if not isinstance(root, yaml.MappingNode):
        raise r.fail(root, "a lock file is a mapping (format, site, phase, addresses, ...)")
    keys: dict[str, yaml.Node] = {}
    for k, v in root.value:
        name = r.text(k, "a key")
        if name in keys:
            raise r.fail(k, f"{name} is given twice")
        keys[name] = v
    known = {"format", "site", "phase", "inventory_hash", "released", "addresses", "asns", "links"}
    for name, v in keys.items():
        if name not in known:
            raise r.fail(v, f"unknown key {name!r} (known: {', '.join(sorted(known))})")
    for name in ("format", "site", "phase", "inventory_hash"):
        if name not in keys:
            raise r.fail(root, f"the lock has no {name!r}; write it again with `hkcompute lock`")
    fmt = r.integer(keys["format"], "format")
    if fmt != FORMAT:
        raise r.fail(keys["format"], f"lock format {fmt} is not known (this version reads 1)")
    lines: dict[tuple[str, int], int] = {}

    def section(name: str, width: int) -> list[list[yaml.Node]]:
        node = keys.get(name)
        rows = [] if node is None else r.rows(node, name, width)
        for i, (line, _row) in enumerate(rows):
            lines[(name, i)] = line
        return [row for _line, row in rows]

    released = tuple(r.text(row[0], "a released device") for row in section("released", 1))
    addresses = tuple(
        LockedAddress(*(r.text(n, what) for n, what in zip(row, _ADDRESS_WHAT, strict=True)))
        for row in section("addresses", 4)
    )
    asns = tuple(
        LockedAsn(r.text(row[0], "a device"), r.integer(row[1], "an ASN"))
        for row in section("asns", 2)
    )
    links = tuple(
        LockedLink(
            r.text(row[0], "a_device"),
            r.text(row[1], "a_port"),
            r.text(row[2], "b_device"),
            r.text(row[3], "b_port"),
            r.text(row[4], "network"),
            r.scalar(row[5], "optic", null=True),
            r.text(row[6], "cable"),
        )
        for row in section("links", 7)
    )
    return Lock(
        r.text(keys["site"], "site"),
        r.integer(keys["phase"], "phase"),
        r.text(keys["inventory_hash"], "inventory_hash"),
        addresses,
        asns,
        links,
        released,
        shown,
        lines,
    )


_ADDRESS_WHAT = ("a device", "an interface", "a network", "an address")
