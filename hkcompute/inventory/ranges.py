"""Name ranges and host lists, in Slurm's syntax: the one implementation of both.

``gpu-b[001-128]`` expands to gpu-b001 ... gpu-b128. Several bracket groups multiply out
(``r[1-2]-[a,b]`` is not supported: items are numbers), a group may list items and spans
(``[01-04,07]``), and zero padding follows the start's width. The expansion size is capped so
a typo like ``gpu[1-99999999]`` is an error, not an OOM.

A host list is ranges joined by commas outside brackets (``a[01-02]b,c``): ``expand_hostlist``
reads one, ``compress`` writes the shortest one for a list of names (what Slurm's
``NodeName=``, ``Nodes=`` and ``File=`` take).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict

MAX_RANGE = 100_000

_GROUP = re.compile(r"\[([^\[\]]*)\]")
_SPAN = re.compile(r"^(\d+)(?:-(\d+))?$")


class RangeError(ValueError):
    """A malformed or oversized range; the message says which part is wrong."""

    def __init__(self, message: str, *, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit


def is_range(name: str) -> bool:
    return "[" in name or "]" in name


def _group_items(body: str, expr: str) -> list[str]:
    items: list[str] = []
    for part in body.split(","):
        m = _SPAN.match(part.strip())
        if not m:
            raise RangeError(f"{expr!r}: {part!r} is not a number or a span like 001-128")
        start_s, end_s = m.group(1), m.group(2) or m.group(1)
        start, end = int(start_s), int(end_s)
        if end < start:
            raise RangeError(f"{expr!r}: span {part!r} runs backwards")
        if end - start + 1 + len(items) > MAX_RANGE:
            raise RangeError(
                f"{expr!r} expands to more than {MAX_RANGE:,} names (the limit)", limit=True
            )
        width = len(start_s) if start_s.startswith("0") and len(start_s) > 1 else 0
        items.extend(str(i).zfill(width) for i in range(start, end + 1))
    return items


def count(expr: str) -> int:
    """How many names ``expr`` expands to, without building them."""
    total = 1
    for body in _GROUP.findall(expr):
        n = 0
        for part in body.split(","):
            m = _SPAN.match(part.strip())
            if not m:
                raise RangeError(f"{expr!r}: {part!r} is not a number or a span like 001-128")
            start, end = int(m.group(1)), int(m.group(2) or m.group(1))
            if end < start:
                raise RangeError(f"{expr!r}: span {part!r} runs backwards")
            n += end - start + 1
        total *= n
        if total > MAX_RANGE:
            raise RangeError(
                f"{expr!r} expands to more than {MAX_RANGE:,} names (the limit)", limit=True
            )
    return total


def expand(expr: str) -> list[str]:
    """All names of ``expr`` in order; a name without brackets is itself."""
    if not is_range(expr):
        return [expr]
    stripped = _GROUP.sub("", expr)
    if "[" in stripped or "]" in stripped:
        raise RangeError(f"{expr!r}: unbalanced or nested brackets")
    count(expr)  # bounds-check before building anything
    pieces = _GROUP.split(expr)
    literals = pieces[0::2]
    groups = [_group_items(body, expr) for body in pieces[1::2]]
    out = []
    for combo in itertools.product(*groups):
        parts = [literals[0]]
        for item, lit in zip(combo, literals[1:], strict=True):
            parts.append(item)
            parts.append(lit)
        out.append("".join(parts))
    return out


_TOP_COMMA = re.compile(r",(?![^\[]*\])")


def expand_hostlist(expr: str) -> list[str]:
    """All names of a Slurm host list: ranges joined by commas outside brackets."""
    out: list[str] = []
    for part in _TOP_COMMA.split(expr):
        if part:
            out.extend(expand(part))
    return out


_TAIL = re.compile(r"^(.*?)(\d+)$")


def compress(names: list[str]) -> str:
    """The shortest host list for ``names``: ['a-n01', 'a-n02', 'a-n04'] -> 'a-n[01-02,04]'.

    Names without a trailing number come first as they are; numbered names group by prefix
    and digit width (so n9 and n10 stay apart from n09), in order of first appearance.
    """
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    plain: list[str] = []
    order: list[tuple[str, int]] = []
    for n in names:
        m = _TAIL.match(n)
        if not m:
            plain.append(n)
            continue
        key = (m.group(1), len(m.group(2)))
        if key not in groups:
            order.append(key)
        groups[key].append(int(m.group(2)))
    parts = list(plain)
    for prefix, width in order:
        nums = sorted(set(groups[(prefix, width)]))
        if len(nums) == 1:
            parts.append(f"{prefix}{nums[0]:0{width}d}")
            continue
        spans: list[str] = []
        start = prev = nums[0]
        for x in [*nums[1:], None]:
            if x is not None and x == prev + 1:
                prev = x
                continue
            spans.append(
                f"{start:0{width}d}" if start == prev else f"{start:0{width}d}-{prev:0{width}d}"
            )
            if x is not None:
                start = prev = x
        parts.append(f"{prefix}[{','.join(spans)}]")
    return ",".join(parts)
