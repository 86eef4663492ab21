"""Assemble the runbook from its stages and write it (Markdown, HTML, JSON, cable CSVs)."""

from __future__ import annotations

import json
from pathlib import Path

from hkcompute import atomic
from hkcompute.model import Site
from hkcompute.report import html
from hkcompute.report.runbook.acceptance import _acceptance, _handover, _verify
from hkcompute.report.runbook.bringup import _deploy, _fabric, _firmware, _storage
from hkcompute.report.runbook.cabling import _cabling, _oob
from hkcompute.report.runbook.facts import _Ctx, _scope
from hkcompute.report.runbook.floor import _facility, _preparation, _racking
from hkcompute.report.runbook.records import Runbook
from hkcompute.report.svg import inline
from hkcompute.report.svg.capacity import capacity_curve
from hkcompute.report.svg.fabric import su_fabric
from hkcompute.report.svg.floor import hall_floor


def build_runbook(site: Site, phase: int, site_arg: str) -> Runbook:
    c = _Ctx(site, phase, site_arg)
    scope, adds, prereq, notes = _scope(c)
    cabling, files = _cabling(c)
    stages = [
        _facility(c),
        _racking(c),
        cabling,
        _oob(c),
        _firmware(c),
        _fabric(c),
        _storage(c),
        _deploy(c),
        _verify(c),
        _acceptance(c),
        _handover(c),
    ]
    info = site.phase(phase)
    assert info is not None
    rb = Runbook(
        site=site.info.name,
        site_arg=site_arg,
        phase=phase,
        phase_name=info.name,
        due=info.due.isoformat(),
        previous=c.prev,
        scope=scope,
        scope_tables=adds,
        prereq_tables=prereq,
        prereq_notes=notes,
        preparation=_preparation(c),
        stages=stages,
        files=files,
    )
    # Pictures for the HTML page: the curve, the halls the phase builds in, its first unit.
    rb.pictures.append(
        ("Capacity by phase against the target", inline(capacity_curve(site, c.cap, "rbcap")))
    )
    halls = sorted({x.rack.hall for x in c.racks}, key=list(site.halls).index)
    for i, h in enumerate(halls):
        racks = [x.rack for x in c.loads.values() if x.rack.hall == h]
        rb.pictures.append(
            (
                f"{h}: racks and load after phase {phase}",
                inline(
                    hall_floor(
                        site.halls[h],
                        racks,
                        {k: v.power_kw for k, v in c.loads.items()},
                        {},
                        f"rbfl{i}",
                    )
                ),
            )
        )
    if c.units:
        rb.pictures.append(
            (
                f"The fabric of {c.units[0].name}",
                inline(su_fabric(site, c.units[0].name, c.links, "rbsu")),
            )
        )
    return rb


def render_markdown(rb: Runbook) -> str:
    return html.render("runbook.md.j2", rb=rb)


def render_html(rb: Runbook) -> str:
    return html.render("runbook.html.j2", rb=rb, safe=html.safe)


def write_runbook(site: Site, phase: int, out: Path, site_arg: str) -> list[Path]:
    rb = build_runbook(site, phase, site_arg)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(rb.files.items()):
        atomic.write_text(out / name, text)
        written.append(out / name)
    atomic.write_text(
        out / "runbook.json", json.dumps(rb.to_dict(), indent=2, sort_keys=True) + "\n"
    )
    atomic.write_text(out / "runbook.md", render_markdown(rb))
    atomic.write_text(out / "runbook.html", render_html(rb))
    return [out / "runbook.md", out / "runbook.html", out / "runbook.json", *written]
