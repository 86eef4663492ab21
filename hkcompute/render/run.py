"""Render a site's phase into an output folder (library entry point for CLI and deploy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hkcompute import __version__
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.render.engine import Progress, Renderer
from hkcompute.render.tree import CheckResult, RenderedFile, WriteResult, check_tree, write_tree


@dataclass
class RenderOutcome:
    files: list[RenderedFile]
    hosts: int
    write: WriteResult | None = None
    check: CheckResult | None = None


def render_files(site: Site, phase: int | None, hosts: str | None = None,
                 progress: Progress | None = None) -> list[RenderedFile]:
    plan = plan_for(site, phase)
    return Renderer(site, plan, phase).render(hosts, progress)


def meta(site: Site, phase: int | None, hosts: str | None) -> dict[str, object]:
    return {"site": site.info.name, "phase": phase, "inventory_hash": site.inventory_hash,
            "hosts_pattern": hosts, "generator": f"hkcompute {__version__}"}


def render_site(site: Site, phase: int | None, out: Path, *, hosts: str | None = None,
                check: bool = False, progress: Progress | None = None) -> RenderOutcome:
    files = render_files(site, phase, hosts, progress)
    nhosts = len({f.host for f in files})
    if check:
        return RenderOutcome(files, nhosts, check=check_tree(out, files))
    return RenderOutcome(files, nhosts, write=write_tree(out, files, meta(site, phase, hosts)))
