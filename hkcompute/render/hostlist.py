"""Slurm hostlist compression: ['a-n01', 'a-n02', 'a-n04'] -> 'a-n[01-02,04]'."""

from __future__ import annotations

import re
from collections import defaultdict

_TAIL = re.compile(r"^(.*?)(\d+)$")


def compress(names: list[str]) -> str:
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
            spans.append(f"{start:0{width}d}" if start == prev
                         else f"{start:0{width}d}-{prev:0{width}d}")
            if x is not None:
                start = prev = x
        parts.append(f"{prefix}[{','.join(spans)}]")
    return ",".join(parts)
