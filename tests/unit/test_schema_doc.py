"""The committed JSON Schema is what `hkcompute schema` prints."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.inventory.yamlsrc import load_source

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_command() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    committed = json.loads((ROOT / "docs" / "inventory.schema.json").read_text())
    assert json.loads(result.stdout) == committed, (
        "docs/inventory.schema.json is stale: run `hkcompute schema > docs/inventory.schema.json`"
    )


def test_committed_rule_list_is_current() -> None:
    from hkcompute.cli.rules import rules_markdown

    assert (ROOT / "docs" / "rules.md").read_text() == rules_markdown(), (
        "docs/rules.md is stale: run `hkcompute rules -f markdown > docs/rules.md`"
    )


# --- each inventory file on its own ------------------------------------------------------------

SCHEMA_PATH = ROOT / "docs" / "inventory.schema.json"
SCHEMA_LINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")
# Every YAML file below inventories/, nested folders included (the site loader reads those).
BUNDLED = sorted(
    p for p in (ROOT / "inventories").rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
)


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    # Formats (date, ipv4 ...) checked too, as check-jsonschema and editors do.
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _load_one(path: Path) -> dict[str, Any]:
    """One file as hkcompute reads it (YAML 1.2 scalars: a date stays a string, as in editors)."""
    src = load_source(path, base=ROOT)
    assert not src.findings, [str(f) for f in src.findings]
    return src.data


def _errors(data: object) -> list[str]:
    return sorted(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(data)
    )


def test_there_are_bundled_inventories_split_over_files() -> None:
    # The per-file tests below only mean something if some file lacks what the site needs.
    assert len(BUNDLED) >= 10
    assert any("site" not in _load_one(p) for p in BUNDLED)


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_bundled_file_passes_the_schema_alone(path: Path) -> None:
    assert _errors(_load_one(path)) == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_bundled_file_names_the_schema_for_editors(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    match = SCHEMA_LINE.fullmatch(first)
    assert match, f"{path} must start with '# yaml-language-server: $schema=<relative path>'"
    target = path.parent / match.group(1)
    assert not Path(match.group(1)).is_absolute() and target.is_file(), target
    assert target.resolve() == SCHEMA_PATH.resolve()


def test_a_missing_site_key_is_a_validate_finding_not_a_schema_error(tmp_path: Path) -> None:
    """What the whole site needs is `hkcompute validate`'s job, now that the schema skips it."""
    site = tmp_path / "lab"
    shutil.copytree(ROOT / "inventories" / "lab", site)
    (site / "site.yaml").unlink()  # holds `site` and `phases`
    for path in sorted(site.glob("*.yaml")):
        assert _errors(_load_one(path)) == []
    result = CliRunner().invoke(app, ["validate", str(site), "--format", "json"])
    assert result.exit_code == 1
    missing = {f["subject"] for f in json.loads(result.stdout)["findings"] if f["code"] == "HK103"}
    assert missing == {"site", "phases"}


# A valid file, then the same with one mistake: the schema must catch each one, where it is.
GOOD_FACILITY = """\
halls:
  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}
racks:
  - {name: "r[01-02]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}
"""
BAD_FACILITY = [
    # (what is wrong, the text, the path of the error, a word of its message)
    ("typo'd key in a rack", GOOD_FACILITY.replace("row: A", "rwo: A"), "racks/0", "'rwo'"),
    ("typo'd top-level key", GOOD_FACILITY.replace("halls:", "hals:"), "", "'hals'"),
    (
        "text for a number",
        GOOD_FACILITY.replace("power_kw: 45", "power_kw: lots"),
        "racks/0/power_kw",
        "'lots'",
    ),
    (
        "value not allowed",
        GOOD_FACILITY.replace("cooling: air", "cooling: water"),
        "halls/0/cooling",
        "'water'",
    ),
    (
        "mapping for a list",
        GOOD_FACILITY.replace("halls:\n  - {", "halls:\n  {"),
        "halls",
        "not of type 'array'",
    ),
]


def test_the_good_sample_passes(tmp_path: Path) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text(GOOD_FACILITY, encoding="utf-8")
    assert _errors(_load_one(path)) == []


@pytest.mark.parametrize(
    ("text", "where", "word"), [b[1:] for b in BAD_FACILITY], ids=[b[0] for b in BAD_FACILITY]
)
def test_a_mistake_fails_the_schema(tmp_path: Path, text: str, where: str, word: str) -> None:
    assert text != GOOD_FACILITY
    path = tmp_path / "facility.yaml"
    path.write_text(text, encoding="utf-8")
    errors = _errors(_load_one(path))
    # A typo'd required key also reports the key it replaced: same place, still the mistake.
    assert errors and all(e.startswith(f"{where}: ") for e in errors), errors
    assert any(word in e for e in errors), errors


CHECK_JSONSCHEMA = shutil.which("check-jsonschema")
needs_cli = pytest.mark.skipif(
    CHECK_JSONSCHEMA is None, reason="check-jsonschema not installed (pip install -e .[dev])"
)


def _check_jsonschema(*files: Path) -> subprocess.CompletedProcess[str]:
    assert CHECK_JSONSCHEMA is not None
    # The pre-commit hook's command line; the schema is a local file, so nothing is fetched.
    return subprocess.run(
        [
            CHECK_JSONSCHEMA,
            "--schemafile",
            str(SCHEMA_PATH.relative_to(ROOT)),
            *(str(f) for f in files),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@needs_cli
def test_check_jsonschema_accepts_the_lab_files() -> None:
    lab = sorted((ROOT / "inventories" / "lab").glob("*.yaml"))
    assert lab
    result = _check_jsonschema(*lab)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_cli
def test_check_jsonschema_rejects_a_typo(tmp_path: Path) -> None:
    path = tmp_path / "facility.yaml"
    path.write_text(GOOD_FACILITY.replace("row: A", "rwo: A"), encoding="utf-8")
    result = _check_jsonschema(path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "'rwo'" in result.stdout + result.stderr
