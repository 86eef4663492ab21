"""`hkcompute validate` and `hkcompute schema` through Typer's CliRunner (no subprocess)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app

from .conftest import LAB, MINIMAL_FILES

WriteSite = Callable[[Path, dict[str, str | None]], Path]
runner = CliRunner()


def _broken(tmp_path: Path, write_site: WriteSite) -> Path:
    """The minimal site with one error (HK203, rack power) and one warning (HK322)."""
    fac = str(MINIMAL_FILES["facility.yaml"]).replace(
        '  - {name: "r[01-03]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}\n',
        '  - {name: "r[01-02]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}\n'
        # r03 stands past r01-r02 (0.6 m a rack): its own floor position, not also HK210.
        "  - {name: r03, hall: h1, phase: 1, row: A, x_m: 1.2, y_m: 0, power_kw: 15}\n",
    )
    phases = str(MINIMAL_FILES["phases.yaml"]).replace("target_pflops: 10", "target_pflops: 20")
    return write_site(tmp_path, {**MINIMAL_FILES, "facility.yaml": fac, "phases.yaml": phases})


def test_clean_site_exits_0(minimal_site: Path) -> None:
    result = runner.invoke(app, ["validate", str(minimal_site)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "ok" in result.stderr


def test_lab_exits_0() -> None:
    result = runner.invoke(app, ["validate", str(LAB)])
    assert result.exit_code == 0, result.output


def test_findings_exit_1_as_path_line_col(tmp_path: Path, write_site: WriteSite) -> None:
    result = runner.invoke(app, ["validate", str(_broken(tmp_path, write_site))])
    assert result.exit_code == 1
    lines = [ln for ln in result.stdout.splitlines() if not ln.startswith(" ")]
    assert any(
        ln.endswith(
            "facility.yaml:5:5: HK203 error: rack 'r03': 2 devices draw 20.0 "
            "kW, over its 15 kW budget (133%)"
        )
        for ln in lines
    ), lines
    assert any("phases.yaml:2:5: HK322 warning:" in ln for ln in lines)
    assert "    hint: " in result.stdout
    assert "failed" in result.stderr


def test_warnings_alone_exit_0(tmp_path: Path, write_site: WriteSite) -> None:
    phases = str(MINIMAL_FILES["phases.yaml"]).replace("target_pflops: 10", "target_pflops: 20")
    path = write_site(tmp_path, {**MINIMAL_FILES, "phases.yaml": phases})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert "HK322" in result.stdout


def test_unreadable_exits_2(tmp_path: Path, write_site: WriteSite) -> None:
    path = write_site(tmp_path, {**MINIMAL_FILES, "empty.yaml": ""})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "empty file" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_unknown_phase_exits_2(minimal_site: Path) -> None:
    result = runner.invoke(app, ["validate", str(minimal_site), "--phase", "7"])
    assert result.exit_code == 2
    assert "phase 7 is not defined" in " ".join(result.stderr.split())


def test_phase_option(tmp_path: Path, write_site: WriteSite) -> None:
    result = runner.invoke(app, ["validate", str(_broken(tmp_path, write_site)), "--phase", "1"])
    assert result.exit_code == 1


def test_json_format(tmp_path: Path, write_site: WriteSite) -> None:
    result = runner.invoke(
        app, ["validate", str(_broken(tmp_path, write_site)), "--format", "json"]
    )
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["site"] == "mini" and doc["ok"] is False
    assert doc["summary"]["errors"] == 1 and doc["summary"]["warnings"] == 1
    by_code = {f["code"]: f for f in doc["findings"]}
    f = by_code["HK203"]
    assert f["path"].endswith("facility.yaml") and f["line"] == 5 and f["column"] == 5
    assert f["severity"] == "error" and f["hint"] and f["message"]
    for f in doc["findings"]:
        assert {"path", "line", "code", "hint", "severity", "message"} <= set(f)


def test_json_clean(minimal_site: Path) -> None:
    result = runner.invoke(app, ["validate", str(minimal_site), "-f", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["findings"] == []


def test_github_format(tmp_path: Path, write_site: WriteSite) -> None:
    result = runner.invoke(
        app, ["validate", str(_broken(tmp_path, write_site)), "--format", "github"]
    )
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines and all(ln.startswith(("::error file=", "::warning file=")) for ln in lines)
    err = next(ln for ln in lines if ln.startswith("::error file="))
    assert ",line=5,col=5,title=HK203::" in err and "hint:" in err


def test_bad_format_is_usage_error(minimal_site: Path) -> None:
    result = runner.invoke(app, ["validate", str(minimal_site), "--format", "xml"])
    assert result.exit_code == 2


def test_schema_prints_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["$schema"].startswith("https://json-schema.org/")
    # Each file of a split site is checked alone, so no top-level key is required there
    # (the merged site's missing keys are HK103 findings); unknown top-level keys still fail.
    assert "racks" in doc["properties"] and "required" not in doc
    assert doc["additionalProperties"] is False


def _finding_lines(output: str) -> list[str]:
    """The `path:line:col: CODE severity: message` lines of text output (hints indented)."""
    return [ln for ln in output.splitlines() if ln and not ln.startswith(" ")]


def test_top_level_key_in_two_files_names_both(tmp_path: Path, write_site: WriteSite) -> None:
    # Files load in sorted order: tenants.yaml first, so zz.yaml holds the second occurrence.
    path = write_site(tmp_path, {**MINIMAL_FILES, "zz.yaml": "# more\ntenants: []\n"})
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = [ln for ln in _finding_lines(result.stdout) if " HK003 " in ln]
    assert len(lines) == 1, result.stdout
    where, message = lines[0].split(": HK003 error: ")
    assert where.endswith("zz.yaml:2:1"), lines  # the second occurrence, in its own file
    folder = where.removesuffix("zz.yaml:2:1")  # both files are shown the same way
    assert message == f"top-level key 'tenants' is also defined in {folder}tenants.yaml:1"


# One typo each in a copy of the lab site: (file, text as written, the typo, the key meant).
# Each must give exactly one finding, the unknown key with its did-you-mean, at the typo;
# what only follows from the broken object (its cluster left out, the tenant's reference to
# it, devices its units would make, capacity short, fabric paths missing) stays silent.
LAB_TYPOS = [
    ("fabric.yaml", "    rails: 2\n", "rials", "rails"),  # unit template
    ("fabric.yaml", "    template: lab-pod\n", "tempalte", "template"),  # cluster
    ("fabric.yaml", "nodes: 4, tenant: hku-lab}", "ndoes", "nodes"),  # unit
    ("fabric.yaml", '{name: "lab-su1-n[03-04]", model:', "modle", "model"),  # node group
    ("fabric.yaml", "role: storage, model:", "mdoel", "model"),  # device
    ("facility.yaml", "row: A,", "rwo", "row"),  # rack
    ("facility.yaml", "cooling: air,", "coolign", "cooling"),  # hall
    ("site.yaml", "target_pflops: 3}", "traget_pflops", "target_pflops"),  # phase
    ("site.yaml", "sector: education", "sectro", "sector"),  # tenant
    ("catalog.yaml", "      cpu_cores: 16\n", "cpu_coers", "cpu_cores"),  # server model
    ("catalog.yaml", "      ports: 32\n", "prots", "ports"),  # switch model
    ("facility.yaml", '{name: "lab-r[01-03]"', "nmae", "name"),  # a rack's name
]


@pytest.mark.parametrize(
    ("file", "written", "typo", "meant"), LAB_TYPOS, ids=[f"{t[0]}:{t[2]}" for t in LAB_TYPOS]
)
def test_one_typo_gives_one_finding(
    tmp_path: Path, file: str, written: str, typo: str, meant: str
) -> None:
    site = tmp_path / "lab"
    shutil.copytree(LAB, site)
    text = (site / file).read_text(encoding="utf-8")
    assert text.count(written) == 1, f"{written!r} not once in {file}: update LAB_TYPOS"
    assert written.count(meant) == 1
    broken = text.replace(written, written.replace(meant, typo))
    (site / file).write_text(broken, encoding="utf-8")
    at = broken.index(written.replace(meant, typo)) + written.index(meant)
    line = broken.count("\n", 0, at) + 1
    column = at - (broken.rfind("\n", 0, at) + 1) + 1

    result = runner.invoke(app, ["validate", str(site)])
    assert result.exit_code == 1, result.output
    lines = _finding_lines(result.stdout)
    assert len(lines) == 1, result.stdout
    assert f"{file}:{line}:{column}: HK101 error: unknown key {typo!r} in " in lines[0], lines
    assert f"    hint: did you mean {meant!r}?" in result.stdout.splitlines()


def test_typo_keeps_independent_findings(tmp_path: Path) -> None:
    """Silence covers consequences only: a wrong reference elsewhere is still reported."""
    site = tmp_path / "lab"
    shutil.copytree(LAB, site)
    fabric = (site / "fabric.yaml").read_text(encoding="utf-8")
    (site / "fabric.yaml").write_text(
        fabric.replace("    rails: 2\n", "    rials: 2\n"), encoding="utf-8"
    )
    facility = (site / "facility.yaml").read_text(encoding="utf-8")
    assert "{name: lab-ups, kind: ups, phase: 1," in facility
    (site / "facility.yaml").write_text(
        facility.replace(
            "{name: lab-ups, kind: ups, phase: 1,",
            "{name: lab-ups, kind: ups, phase: 1, hall: lab-hal,",
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(site)])
    assert result.exit_code == 1
    codes = sorted(ln.split(": ")[1].split()[0] for ln in _finding_lines(result.stdout))
    assert codes == ["HK101", "HK306"], result.stdout
