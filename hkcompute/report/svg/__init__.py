"""SVG pictures of a site, drawn with drawsvg (a maintained library, not string building).

Every picture is a pure function of the site, its plan and its capacity, and comes out
byte-identical for the same inventory: drawsvg numbers definition ids from a per-drawing
prefix (never randomised here) and nothing draws a date or time.

``standalone`` gives the text of a ``.svg`` file (XML header and namespaces, so any SVG viewer
and ``xml.etree`` read it); ``inline`` gives the same picture for an HTML page, without the
namespace declarations: the HTML parser puts ``<svg>`` in the SVG namespace by itself, and a
page that carries no ``http://`` text at all is easy to prove free of network references.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import drawsvg as dw  # type: ignore[import-untyped]

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
# Vendor colours: stable per vendor name, so every picture agrees.
OTHER_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2")
ROLE_COLOURS = {
    "gpu_node": "#cfe3f7",
    "service": "#e8e0f4",
    "storage": "#fde3c8",
    "leaf": "#d8f0d2",
    "spine": "#bfe3b4",
    "core": "#9fd08f",
    "storage_leaf": "#fbe7a1",
    "storage_spine": "#f5d56b",
    "inband_switch": "#e2e2e2",
    "oob_switch": "#d0d0d0",
}
PHASE_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948")
RAIL_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)

_NS = re.compile(r' xmlns(:xlink)?="[^"]*"')


class Anchor(dw.DrawingParentElement):  # type: ignore[misc]
    """``<a href=...>``: drawsvg has no hyperlink element; SVG 2 takes a plain ``href``."""

    TAG_NAME = "a"

    def __init__(self, href: str, **kwargs: Any) -> None:
        super().__init__(href=href, **kwargs)


def vendor_colour(vendor: str, order: list[str], known: dict[str, str] | None = None) -> str:
    """A vendor's colour: the one its accelerators name in the catalogue (``colour``), else
    one of a fixed palette by its place in ``order`` (the same on every run)."""
    if known and vendor in known:
        return known[vendor]
    return (
        OTHER_COLOURS[order.index(vendor) % len(OTHER_COLOURS)]
        if vendor in order
        else OTHER_COLOURS[0]
    )


def phase_colour(phase: int) -> str:
    return PHASE_COLOURS[(phase - 1) % len(PHASE_COLOURS)]


def heat_colour(fraction: float) -> str:
    """Blue (cool, empty) through yellow to red (at or over budget): fraction of budget."""
    f = max(0.0, min(1.0, fraction))
    stops = (
        (0.0, (222, 235, 247)),
        (0.5, (254, 224, 139)),
        (0.8, (252, 141, 89)),
        (1.0, (215, 48, 39)),
    )
    for (f0, c0), (f1, c1) in itertools.pairwise(stops):
        if f <= f1:
            t = 0.0 if f1 == f0 else (f - f0) / (f1 - f0)
            r, g, b = (round(a + (b_ - a) * t) for a, b_ in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#d73027"


def new_drawing(width: float, height: float, prefix: str, title: str) -> dw.Drawing:
    """A drawing with a white background, an accessible title, and ``prefix`` for its ids
    (pictures are inlined side by side in one page: their ids must not collide)."""
    d = dw.Drawing(round(width), round(height), id_prefix=prefix, font_family=FONT, role="img")
    d.append(dw.Title(title))
    d.append(dw.Rectangle(0, 0, round(width), round(height), fill="#ffffff"))
    return d


def text(s: str, size: float, x: float, y: float, **kw: Any) -> dw.Text:
    return dw.Text(s, size, round(x, 2), round(y, 2), **kw)


def standalone(d: dw.Drawing) -> str:
    return str(d.as_svg())


def inline(d: dw.Drawing) -> str:
    return _NS.sub("", str(d.as_svg(header="")), count=2)


def fmt(v: float, digits: int = 0) -> str:
    return f"{v:,.{digits}f}"
