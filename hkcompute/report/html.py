"""HTML and Markdown output through Jinja: one plain environment for the report templates.

A plain ``jinja2.Environment`` (not the sandboxed one of ``render``: these templates are the
project's own, and they render the project's own data), autoescaping for ``*.html.j2`` so a
device name can never inject markup, none for ``*.md.j2``. Pages are self-contained: the
stylesheet is inlined from ``templates/report/style.css`` and pictures are inline SVG; the
templates reference no URL, so a browser opening the page fetches nothing.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup

from hkcompute.resources import templates_dir


def _autoescape(name: str | None) -> bool:
    return bool(name) and str(name).endswith(".html.j2")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "report")),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v, digits=0: f"{float(v):,.{int(digits)}f}"
    env.filters["int"] = lambda v: f"{int(v):,}"
    # A Markdown table cell: a pipe would end the cell, a newline the row.
    env.filters["cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def safe(svg: str) -> Markup:
    """Inline SVG made by drawsvg (which escapes its text) marked as safe markup."""
    return Markup(svg)
