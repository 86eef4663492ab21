"""The runbook and the site report: pictures parse, commands are exact, figures match the plan,
output is deterministic and self-contained."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hkcompute.capacity import capacity
from hkcompute.cli.main import app
from hkcompute.plan import plan_for
from hkcompute.report.runbook import STAGES, build_runbook, write_runbook
from hkcompute.report.site_report import build_report, write_report
from hkcompute.validate import load_valid_site

from .conftest import LAB
from .plan_sites import CLUSTER, TEMPLATE, roce_files

URL = re.compile(r"https?://", re.I)
SVG_NS = "{http://www.w3.org/2000/svg}"

# Two phases: su1 in phase 1, su2 in phase 2 (its leaves land on phase 1's spines).
TWO_PHASES = TEMPLATE + CLUSTER.replace("{name: su2, phase: 1,", "{name: su2, phase: 2,")


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def two_phase(tmp_path: Path, write_site: Callable[[Path, dict[str, str | None]], Path]) -> Path:
    return write_site(tmp_path / "site", roce_files(units_yaml=TWO_PHASES))


# --- site report -------------------------------------------------------------------------


def test_report_files_parse_and_cover_every_rack(tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    paths = write_report(site, tmp_path / "out")
    out = tmp_path / "out"
    assert paths[0] == out / "report.html"
    svgs = sorted(out.rglob("*.svg"))
    names = {p.name for p in svgs}
    for want in (
        "capacity.svg",
        "power.svg",
        "topology.svg",
        "bom.svg",
        "floor-lab-hall.svg",
        "su-lab.svg",
    ):
        assert want in names
    assert {p.stem for p in (out / "racks").glob("*.svg")} == set(site.racks)
    for p in svgs:
        root = ET.parse(p).getroot()
        assert root.tag == f"{SVG_NS}svg", p
    # Elevations name every device of their rack and its model.
    r03 = (out / "racks" / "lab-r03.svg").read_text()
    for d in site.devices.values():
        if d.rack == "lab-r03":
            assert d.name in r03 and d.model in r03
    assert "7.2 of 45.0 kW budget" in r03


def test_report_html_is_self_contained(tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    write_report(site, tmp_path)
    page = (tmp_path / "report.html").read_text()
    assert not URL.search(page), URL.search(page)
    assert "<link" not in page and "<script" not in page and "src=" not in page
    assert page.count("<svg") >= 6
    assert "@import" not in page and "url(" not in page


def test_report_is_deterministic_and_replaces_stale_racks(tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    write_report(site, tmp_path / "a")
    (tmp_path / "a" / "racks" / "gone.svg").write_text("old")
    write_report(site, tmp_path / "a")
    site2, _ = load_valid_site(LAB)
    write_report(site2, tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert not (tmp_path / "a" / "racks" / "gone.svg").exists()
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.startswith(".")]


def test_report_figures_match_capacity_and_bom() -> None:
    site, _ = load_valid_site(LAB)
    rep = build_report(site)
    cap = capacity(site)
    final = cap.phases[-1]
    assert f"{final.cumulative_pflops:,.3f}" in rep.html
    assert f"{cap.site_target_pflops:,.0f}" in rep.files["capacity.svg"]
    assert "100g-sr4" in rep.html and "100g-sr4" in rep.files["bom.svg"]


# --- runbook -----------------------------------------------------------------------------


def test_runbook_lists_the_exact_commands(tmp_path: Path) -> None:
    site, _ = load_valid_site(LAB)
    write_runbook(site, 1, tmp_path, "inventories/lab")
    md = (tmp_path / "runbook.md").read_text()
    for cmd in (
        "hkcompute validate inventories/lab --phase 1",
        "hkcompute capacity inventories/lab --phase 1",
        "hkcompute render inventories/lab --phase 1 --out build/lab/phase-1",
        "hkcompute hostkeys inventories/lab --phase 1 --limit phase_1 --scan",
        "hkcompute preflight inventories/lab --phase 1 --limit phase_1",
        "hkcompute deploy inventories/lab --phase 1 --check --diff",
        "hkcompute deploy inventories/lab --phase 1 --limit service --check --diff",
        "hkcompute deploy inventories/lab --phase 1 --limit 'phase_1:&gpu_node' --check --diff",
        "hkcompute deploy inventories/lab --phase 1 --limit 'phase_1:&gpu_node' --batch 10% "
        "--max-fail 5%",
        "hkcompute deploy inventories/lab --phase 1 --resume RUN_ID",
        "hkcompute verify inventories/lab --phase 1 --limit phase_1",
        "hkcompute runs inventories/lab",
    ):
        assert f"\n   {cmd}\n" in md, cmd
    # Each stage in order, each with a gate and a rollback; tick boxes; run ids to record.
    titles = [m.group(1) for m in re.finditer(r"^## (\d+)\. ", md, re.M)]
    assert titles == [str(i) for i in range(1, len(STAGES) + 1)]
    assert md.count("### Go / no-go gate") == len(STAGES) + 1
    assert md.count("### Rollback") == len(STAGES) + 1
    assert md.count("- [ ] ") > 30
    assert "Record the run id (compute nodes)" in md
    assert "## Journal: run ids to record" in md


def test_runbook_scope_matches_plan_and_capacity(two_phase: Path, tmp_path: Path) -> None:
    site, _ = load_valid_site(two_phase)
    rb = build_runbook(site, 2, str(two_phase))
    pc = capacity(site, 2).phases[0]
    plan = plan_for(site, 2)
    new_links = [x for x in plan.links if x.phase == 2]
    s = rb.scope
    assert s["pflops"] == round(pc.pflops, 3)
    assert s["cumulative_pflops"] == round(pc.cumulative_pflops, 3)
    assert s["nodes"] == pc.nodes and s["nodes_total"] == 4
    assert s["units"] == ["su2"]
    assert s["links"] == len(new_links)
    assert s["devices"] == sum(1 for d in site.devices.values() if d.phase == 2)
    assert s["it_power_kw"] == round(pc.it_power_kw, 3)
    # su2's leaves cable to the spines of phase 1: those cables are called out.
    landing = [x for x in new_links if site.devices[x.b].phase == 1]
    assert landing and s["links_to_in_service"] == len(landing)
    write_runbook(site, 2, tmp_path, "site")
    md = (tmp_path / "runbook.md").read_text()
    assert f"| PFLOPS added (dense BF16) | {pc.pflops:,.3f} |" in md
    assert f"| cables | {len(new_links):,} (" in md
    assert "In-service equipment that receives new cables" in md
    assert "hkcompute diff site --from-phase 1 --to-phase 2" in md
    assert "hkcompute deploy site --phase 1 --limit service --batch 1" in md  # rollback
    doc = json.loads((tmp_path / "runbook.json").read_text())
    assert doc["scope"] == json.loads(json.dumps(s))
    csv_rows = (tmp_path / "cabling-by-rack.csv").read_text().splitlines()
    assert len(csv_rows) == len(new_links) + 1


def test_runbook_is_deterministic_and_self_contained(two_phase: Path, tmp_path: Path) -> None:
    site, _ = load_valid_site(two_phase)
    write_runbook(site, 2, tmp_path / "a", "site")
    site2, _ = load_valid_site(two_phase)
    write_runbook(site2, 2, tmp_path / "b", "site")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    page = (tmp_path / "a" / "runbook.html").read_text()
    assert not URL.search(page)
    assert page.count('type="checkbox"') > 30
    assert "<svg" in page


def test_cli_runbook_and_report(tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["runbook", str(LAB), "--phase", "1", "--out", str(tmp_path / "rb")])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "rb" / "runbook.md").read_text()
    assert f"hkcompute preflight {LAB} --phase 1 --limit phase_1" in md
    r = runner.invoke(app, ["runbook", str(LAB), "--phase", "7", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["report", str(LAB), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "report.html").is_file()


def test_parallel_rack_drawing_gives_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from hkcompute.report import site_report
    from hkcompute.report.site_report import rack_loads, rack_svgs

    site, _ = load_valid_site(LAB)
    loads = list(rack_loads(site).values())
    many = (loads * 70)[:207]  # uneven chunks: the last is short
    model_kw = {d.model: site.catalog.power_kw(d.model) for d in site.devices.values()}
    # Workers for this many racks (the real threshold is higher, and slower to test), and
    # proof that they ran rather than the serial fallback.
    monkeypatch.setattr(
        site_report, "min_parallel_racks", lambda jobs: 100 if jobs > 1 else len(many) + 1
    )
    ran: list[bool] = []
    draw_parallel = site_report._draw_parallel

    def spy(*args: Any) -> list[str] | None:
        svgs = draw_parallel(*args)
        ran.append(svgs is not None)
        return svgs

    monkeypatch.setattr(site_report, "_draw_parallel", spy)
    assert rack_svgs(many, model_kw, jobs=2) == rack_svgs(many, model_kw, jobs=1)
    assert ran == [True]
