"""The committed JSON Schema is what `hkcompute schema` prints."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hkcompute.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_command() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    committed = json.loads((ROOT / "docs" / "inventory.schema.json").read_text())
    assert json.loads(result.stdout) == committed, (
        "docs/inventory.schema.json is stale: run `hkcompute schema > docs/inventory.schema.json`")


def test_committed_rule_list_is_current() -> None:
    from hkcompute.cli.rules import rules_markdown

    assert (ROOT / "docs" / "rules.md").read_text() == rules_markdown(), (
        "docs/rules.md is stale: run `hkcompute rules -f markdown > docs/rules.md`")
