"""Load a site's YAML files into plain data while remembering where every value came from.

PyYAML's C composer gives nodes with start marks quickly; we turn nodes into plain Python
values ourselves so that we (a) keep a position for every path, (b) resolve scalars by the
YAML 1.2 core schema instead of 1.1 (``no`` stays a string, ``0755`` is flagged), (c) refuse
duplicate keys, and (d) bound what aliases can expand to (billion-laughs inputs).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hkcompute.errors import InputError
from hkcompute.findings import (
    DUPLICATE_KEY,
    DUPLICATE_TOP,
    YAML11,
    YAML_SYNTAX,
    Finding,
    Location,
    make,
)

try:  # the C composer is about 10x faster; fall back quietly where libyaml is absent
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

# Limits (documented in docs/inventory.md, section Limits). Generous for real sites, far
# below what would exhaust memory.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_FILES = 500
# The bundled full site holds about 1,000 values; 200,000 converts in about a second.
# (2,000,000 took 30 s and 1.5 GB for a 4 MB file of `[1,1,1,...]`: a hang, not a limit.)
MAX_NODES = 200_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_NAN = {".nan", ".NaN", ".NAN"}

_TAG = "tag:yaml.org,2002:"
_STD_TAGS = {
    _TAG + t
    for t in (
        "str",
        "int",
        "float",
        "bool",
        "null",
        "map",
        "seq",
        "merge",
        "timestamp",
        "binary",
        "omap",
        "pairs",
        "set",
        "value",
    )
}


@dataclass
class Source:
    """Merged top-level data of a site and the location of every value in it."""

    data: dict[str, Any] = field(default_factory=dict)
    positions: dict[PathKey, Location] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def locate(self, path: Iterable[str | int]) -> Location:
        """The location of ``path``, or of its nearest located ancestor."""
        key = tuple(path)
        while key:
            loc = self.positions.get(key)
            if loc is not None:
                return loc
            key = key[:-1]
        return Location(self.files[0] if self.files else "<site>")


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0


def _loc(path: str, node: yaml.Node) -> Location:
    m = node.start_mark
    return Location(path, m.line + 1, m.column + 1)


def _plain_scalar(value: str) -> Any:
    """Resolve a plain scalar by the YAML 1.2 core schema."""
    if value in _NULL:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INT.fullmatch(value):
        return int(value)
    if _OCT.fullmatch(value):
        return int(value[2:], 8)
    if _HEX.fullmatch(value):
        return int(value[2:], 16)
    if _FLOAT.fullmatch(value):
        return float(value)
    if value in _INF:
        return math.inf
    if value in _NINF:
        return -math.inf
    if value in _NAN:
        return math.nan
    return value


class _Converter:
    def __init__(self, path: str, src: Source, budget: _Budget) -> None:
        self.path = path
        self.src = src
        self.budget = budget
        # This file's positions, merged into src only for the top-level keys it keeps: a
        # key already defined by another file must not take (or lend) that file's places.
        self.positions: dict[PathKey, Location] = {}

    def scalar(self, node: yaml.ScalarNode, where: PathKey) -> Any:
        tag = node.tag
        if tag.startswith("!") or (tag.startswith(_TAG) and tag not in _STD_TAGS):
            raise _Fatal(f"tag {tag!r} is not allowed in an inventory", _loc(self.path, node))
        # Plain scalars have style None (pure-Python loader) or '' (the C loader): test for
        # truth, or every plain scalar would take the YAML 1.1 resolver's tag (no -> False).
        if node.style:  # quoted or block scalar: a string unless tagged otherwise
            if tag == _TAG + "str":
                return node.value
            return self._explicit(node, tag)
        resolved = _plain_scalar(node.value)
        if tag == _TAG + "str" and not isinstance(resolved, str) and resolved is not None:
            return node.value  # an explicit !!str on a plain scalar
        if isinstance(resolved, int) and not isinstance(resolved, bool):
            digits = node.value.lstrip("+-")
            if len(digits) > 1 and digits.startswith("0") and digits.isdigit():
                self.src.findings.append(
                    make(
                        YAML11,
                        f"{node.value!r} is read as the decimal {resolved}; YAML 1.1 tools "
                        f"read it as octal {_octal(digits)}",
                        _loc(self.path, node),
                        subject=".".join(map(str, where)),
                    )
                )
        return resolved

    def _explicit(self, node: yaml.ScalarNode, tag: str) -> Any:
        v = node.value
        try:
            if tag == _TAG + "int":
                return int(v, 0)
            if tag == _TAG + "float":
                return float(v)
            if tag == _TAG + "bool":
                return v in _TRUE
            if tag == _TAG + "null":
                return None
        except ValueError as exc:
            raise _Fatal(f"{v!r} is not a valid {tag[len(_TAG) :]}", _loc(self.path, node)) from exc
        return v

    def convert(self, node: yaml.Node, where: PathKey, depth: int) -> Any:
        self.budget.nodes += 1
        if self.budget.nodes > MAX_NODES:
            raise _Fatal(
                f"more than {MAX_NODES:,} values after alias expansion (an alias bomb?)",
                _loc(self.path, node),
                limit=True,
            )
        if depth > MAX_DEPTH:
            raise _Fatal(
                f"nesting deeper than {MAX_DEPTH} levels", _loc(self.path, node), limit=True
            )
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, where)
        if node.tag.startswith("!") or node.tag not in _STD_TAGS:
            raise _Fatal(f"tag {node.tag!r} is not allowed in an inventory", _loc(self.path, node))
        if isinstance(node, yaml.SequenceNode):
            out: list[Any] = []
            for i, item in enumerate(node.value):
                self.positions.setdefault((*where, i), _loc(self.path, item))
                out.append(self.convert(item, (*where, i), depth + 1))
            return out
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, where, depth)
        raise _Fatal("unsupported YAML node", _loc(self.path, node))  # pragma: no cover

    def mapping(self, node: yaml.MappingNode, where: PathKey, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                merged.update(self._merge_source(value_node, where, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Fatal("mapping keys must be plain text", _loc(self.path, key_node))
            key = str(self.scalar(key_node, where))
            kloc = _loc(self.path, key_node)
            if key in seen:
                first = seen[key]
                self.src.findings.append(
                    make(
                        DUPLICATE_KEY,
                        f"duplicate key {key!r} (first at line {first.line})",
                        kloc,
                        subject=".".join(map(str, (*where, key))),
                    )
                )
                continue
            seen[key] = kloc
            self.positions.setdefault((*where, key), kloc)
            out[key] = self.convert(value_node, (*where, key), depth + 1)
        for k, v in merged.items():
            out.setdefault(k, v)  # explicit keys win over merged ones, as in YAML 1.1
        return out

    def _merge_source(self, node: yaml.Node, where: PathKey, depth: int) -> dict[str, Any]:
        nodes = node.value if isinstance(node, yaml.SequenceNode) else [node]
        result: dict[str, Any] = {}
        for n in reversed(nodes):  # earlier mappings in the list win
            if not isinstance(n, yaml.MappingNode):
                raise _Fatal("'<<' merges mappings only", _loc(self.path, n))
            result.update(self.mapping(n, where, depth + 1))
        return result


class _Fatal(Exception):
    def __init__(self, message: str, location: Location, *, limit: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.limit = limit


def site_files(root: Path) -> list[Path]:
    """The YAML files of a site: a single file, or every *.yaml/*.yml below a folder."""
    if not root.exists():
        raise InputError(f"no such file or folder: {root}")
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InputError(f"not a file or folder: {root}")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise InputError(f"no *.yaml files in {root}")
    if len(files) > MAX_FILES:
        raise InputError(f"{len(files)} YAML files in {root}; the limit is {MAX_FILES}")
    return files


def _read_text(path: Path, shown: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                f"file is {size / 1048576:.1f} MiB; the limit is "
                f"{MAX_FILE_BYTES // 1048576} MiB per inventory file",
                location=shown,
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", location=shown) from exc
    if b"\x00" in raw:
        raise InputError("binary data (NUL bytes), not a YAML text file", location=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", location=shown) from exc
    if not text.strip():
        raise InputError(
            "empty file: a site file must hold at least one top-level key", location=shown
        )
    return text


def load_source(root: Path, *, base: Path | None = None) -> Source:
    """Load every YAML file of a site into one located ``Source``.

    Raises ``InputError`` (exit 2) when input cannot be read at all; syntax errors and
    duplicate keys become findings so that every file's problems are reported at once.
    """
    src = Source()
    budget = _Budget()
    files = site_files(root)
    rel_base = base if base is not None else Path.cwd()
    owner: dict[str, Location] = {}
    for path in files:
        shown = _display(path, rel_base)
        src.files.append(shown)
        text = _read_text(path, shown)
        try:
            _check_depth(text, shown)
            node = yaml.compose(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            loc = Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown)
            problem = exc.problem or exc.context or "invalid YAML"
            src.findings.append(make(YAML_SYNTAX, f"YAML syntax error: {problem}", loc))
            continue
        except yaml.YAMLError as exc:
            src.findings.append(make(YAML_SYNTAX, f"YAML error: {exc}", Location(shown)))
            continue
        except RecursionError as exc:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", location=shown) from exc
        if node is None:
            raise InputError("file holds no YAML document", location=shown)
        if not isinstance(node, yaml.MappingNode):
            src.findings.append(
                make(
                    YAML_SYNTAX,
                    "a site file must be a mapping of top-level keys",
                    _loc(shown, node),
                )
            )
            continue
        # Size the alias-expanded tree on the node graph first (shared nodes are counted
        # once per use, computed once): a billion-laughs file is refused in milliseconds
        # instead of after converting MAX_NODES values one by one.
        if _expanded_size(node, {}, shown, 0) + budget.nodes > MAX_NODES:
            raise InputError(
                f"more than {MAX_NODES:,} values after alias expansion (an alias bomb?)",
                location=shown,
            )
        conv = _Converter(shown, src, budget)
        try:
            data = conv.mapping(node, (), 0)
        except _Fatal as fatal:
            if fatal.limit:
                raise InputError(fatal.message, location=str(fatal.location)) from None
            src.findings.append(make(YAML_SYNTAX, fatal.message, fatal.location))
            continue
        except RecursionError as exc:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", location=shown) from exc
        kept: set[str] = set()
        kept_under: set[tuple[str, str]] = set()
        for key, value in data.items():
            loc = conv.positions[(key,)]
            if key in SPLITTABLE and key in owner and isinstance(value, dict):
                kept_under |= _merge_split(src, key, value, conv.positions, loc)
                continue
            if key in owner:
                first = owner[key]
                src.findings.append(
                    make(
                        DUPLICATE_TOP,
                        f"top-level key {key!r} is also defined in {first.path}:{first.line}",
                        loc,
                        subject=key,
                    )
                )
                continue
            owner[key] = loc
            src.data[key] = value
            kept.add(key)
        src.positions.update(
            (where, loc)
            for where, loc in conv.positions.items()
            if where[0] in kept or (len(where) > 1 and (where[0], where[1]) in kept_under)
        )
    return src


# Top-level keys that several files may each hold a part of, by their second-level keys: a
# catalogue is easier to keep one kind per file (accelerators.yaml, optics.yaml ...).
SPLITTABLE = frozenset({"catalog"})


def _merge_split(
    src: Source,
    key: str,
    value: dict[str, Any],
    positions: dict[PathKey, Location],
    loc: Location,
) -> set[tuple[str, str]]:
    """Add a second file's part of a splittable top-level key; a second-level key that two
    files both hold is a duplicate (reported at the second), never silently overwritten."""
    into = src.data[key]
    if not isinstance(into, dict):
        src.findings.append(
            make(DUPLICATE_TOP, f"top-level key {key!r} is also defined elsewhere", loc)
        )
        return set()
    kept: set[tuple[str, str]] = set()
    for sub, part in value.items():
        sub_loc = positions.get((key, sub), loc)
        if sub in into:
            first = src.positions.get((key, sub))
            where = f" in {first.path}:{first.line}" if first is not None else ""
            src.findings.append(
                make(
                    DUPLICATE_TOP,
                    f"'{key}.{sub}' is also defined{where}",
                    sub_loc,
                    subject=f"{key}.{sub}",
                )
            )
            continue
        into[sub] = part
        kept.add((key, sub))
    return kept


def _expanded_size(node: yaml.Node, memo: dict[int, int], shown: str, depth: int) -> int:
    """How many values ``node`` becomes once aliases are expanded (capped above MAX_NODES)."""
    known = memo.get(id(node))
    if known is not None:
        return known
    if depth > MAX_DEPTH:  # aliases can nest deeper than the text: the converter refuses it
        raise InputError(
            f"nesting deeper than {MAX_DEPTH} levels (through aliases)",
            location=str(_loc(shown, node)),
        )
    size = 1
    if isinstance(node, yaml.SequenceNode):
        for item in node.value:
            size += _expanded_size(item, memo, shown, depth + 1)
            if size > MAX_NODES:
                break
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            size += _expanded_size(key, memo, shown, depth + 1)
            size += _expanded_size(value, memo, shown, depth + 1)
            if size > MAX_NODES:
                break
    memo[id(node)] = size
    return size


def _octal(digits: str) -> str:
    """What a YAML 1.1 reader makes of ``digits`` (a leading-zero number): octal, if it can."""
    return str(int(digits, 8)) if set(digits) <= set("01234567") else "?"


def _check_depth(text: str, shown: str) -> None:
    """Bound nesting and size before composing: libyaml's composer recurses in C and crashes
    the interpreter on very deep input, and builds every node in memory before we could count
    them; its event parser is iterative and safe, and stops at the first value too many."""
    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    ends = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    counted = (yaml.ScalarEvent, yaml.AliasEvent, *starts)
    try:
        _count_events(text, shown, starts, ends, counted)
    except yaml.MarkedYAMLError as exc:
        # Newer libyaml (PyYAML 6.0.4) refuses deep flow nesting in its scanner, which reads
        # ahead of the events we count: the same limit hit first, reported as ours.
        if "nesting depth" not in (exc.problem or ""):
            raise
        m = exc.problem_mark
        where = f"{shown}:{m.line + 1}:{m.column + 1}" if m else shown
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", location=where) from None


def _count_events(
    text: str,
    shown: str,
    starts: tuple[type, ...],
    ends: tuple[type, ...],
    counted: tuple[type, ...],
) -> None:
    depth = 0
    values = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, counted):
            values += 1
            if values > MAX_NODES:
                raise InputError(
                    f"more than {MAX_NODES:,} values in one file (the limit)", location=shown
                )
        if isinstance(event, starts):
            depth += 1
            if depth > MAX_DEPTH:
                m = event.start_mark
                where = f"{shown}:{m.line + 1}:{m.column + 1}" if m else shown
                raise InputError(f"nesting deeper than {MAX_DEPTH} levels", location=where)
        elif isinstance(event, ends):
            depth -= 1


def _display(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
