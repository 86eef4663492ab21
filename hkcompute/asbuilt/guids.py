"""The GUID map: every HCA port's GUID by device and plan port, as ibnetdiscover found it.

A later step (InfiniBand partitions) reads it. It lives in the site folder under
``.asbuilt/`` because the loader reads every other ``*.yaml`` of the folder as inventory
(and rejects this one), while it skips dot-folders; a one-file site gets it beside the file.
The text is the same for the same fabric: devices and ports in natural order, no dates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

FOLDER = ".asbuilt"
FILE = "guids.yaml"
_PARTS = re.compile(r"(\d+)")


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
