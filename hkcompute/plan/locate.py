"""Point findings about things the model keeps no position for (pools, ASN ranges) at the line
of the site's files that states them. Read lazily, only when there is a finding to place."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from hkcompute.findings import Location
from hkcompute.model import Site


@lru_cache(maxsize=64)
def _lines(path: str) -> tuple[str, ...]:
    try:
        return tuple(Path(path).read_text(encoding="utf-8").splitlines())
    except OSError:
        return ()


def find_text(site: Site, *needles: str) -> Location:
    """The first line holding every needle (in the first file that has one), else the file
    that holds ``networks:``, else the site's first file."""
    fallback: Location | None = None
    for f in site.files:
        for i, line in enumerate(_lines(f), 1):
            if all(n in line for n in needles):
                return Location(f, i, line.find(needles[0]) + 1)
            if fallback is None and line.startswith("networks:"):
                fallback = Location(f, i, 1)
    return fallback or Location(site.files[0] if site.files else "<site>")
