"""`hkcompute validate` and `hkcompute schema` through Typer's CliRunner (no subprocess)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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
        "  - {name: r03, hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 15}\n")
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
    assert any(ln.endswith("facility.yaml:5:5: HK203 error: rack 'r03': 2 devices draw 20.0 "
                           "kW, over its 15 kW budget (133%)") for ln in lines), lines
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
    result = runner.invoke(app, ["validate", str(_broken(tmp_path, write_site)),
                                 "--format", "json"])
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
    result = runner.invoke(app, ["validate", str(_broken(tmp_path, write_site)),
                                 "--format", "github"])
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
    assert "racks" in doc["properties"] and "site" in doc["required"]
