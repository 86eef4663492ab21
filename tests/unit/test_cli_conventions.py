"""CLI conventions a user notices: -h, completion, validated --format, JSON on failure, quiet
and verbose, help examples that parse, tables that fit the terminal."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from hkcompute.cli.main import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _commands() -> list[tuple[list[str], click.Command]]:
    root = typer.main.get_command(app)
    found: list[tuple[list[str], click.Command]] = []

    def walk(prefix: list[str], cmd: click.Command) -> None:
        if hasattr(cmd, "commands"):  # a group (typer may bring its own click)
            for name, sub in sorted(cmd.commands.items()):  # type: ignore[attr-defined]
                walk([*prefix, name], sub)
        else:
            found.append((prefix, cmd))

    walk([], root)
    return found


COMMANDS = _commands()


def test_dash_h_is_help_everywhere() -> None:
    assert runner.invoke(app, ["-h"]).exit_code == 0
    for path, _cmd in COMMANDS:
        res = runner.invoke(app, [*path, "-h"])
        assert res.exit_code == 0 and "Usage" in res.stdout, path


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_shows_an_example_that_parses(path: list[str], cmd: click.Command) -> None:
    lines = [ln.strip() for ln in (cmd.help or "").splitlines() if "Example:" in ln]
    assert lines, f"hkcompute {' '.join(path)} --help shows no example"
    for line in lines:
        argv = shlex.split(line.split("Example:", 1)[1].split(">")[0])
        assert argv[: len(path) + 1] == ["hkcompute", *path], line
        # Parse the example's options as Click would, without running the command.
        cmd.make_context(
            " ".join(argv[: len(path) + 1]), argv[len(path) + 1 :], resilient_parsing=False
        )


def test_completion_is_offered() -> None:
    res = runner.invoke(app, ["--help"])
    assert "--install-completion" in res.stdout and "--show-completion" in res.stdout


@pytest.mark.parametrize(
    "path",
    [p for p, c in COMMANDS if any(o.name == "fmt" for o in c.params)],
    ids=lambda p: " ".join(p),
)
def test_format_values_are_checked(path: list[str]) -> None:
    res = runner.invoke(app, [*path, "--format", "yaml-or-so", "x"])
    assert res.exit_code == 2
    assert "Invalid value for '--format'" in res.output


def test_json_output_even_when_the_site_cannot_be_read(tmp_path: Path) -> None:
    for argv in (
        ["validate", str(tmp_path / "nope"), "--format", "json"],
        ["capacity", str(tmp_path / "nope"), "--format", "json"],
    ):
        res = runner.invoke(app, argv)
        assert res.exit_code == 2
        doc = json.loads(res.stdout)
        assert doc["ok"] is False and "no such site" in doc["error"]["message"]
        assert doc["findings"] == []


def test_json_failure_carries_the_inventory_findings(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text("site: [\n")
    res = runner.invoke(app, ["capacity", str(tmp_path), "--format", "json"])
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert [f["code"] for f in doc["findings"]] == ["HK001"]


def test_quiet_hides_progress_not_errors(tmp_path: Path) -> None:
    lab = str(REPO / "inventories" / "lab")
    loud = runner.invoke(app, ["render", lab, "--phase", "1", "--out", str(tmp_path / "a")])
    quiet = runner.invoke(app, ["render", lab, "--phase", "1", "--out", str(tmp_path / "b"), "-q"])
    assert loud.exit_code == quiet.exit_code == 0
    assert "written" in loud.stderr and quiet.stderr == ""
    (tmp_path / "file").write_text("")
    failed = runner.invoke(app, ["report", lab, "--out", str(tmp_path / "file" / "x"), "-q"])
    assert failed.exit_code == 2 and "cannot create output folder" in failed.stderr


def test_capacity_table_fits_a_100_column_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    res = runner.invoke(app, ["capacity", str(REPO / "inventories" / "hkstp")])
    assert res.exit_code == 0
    widths = [len(line) for line in res.stdout.splitlines()]
    assert max(widths) <= 100, max(widths)
    assert "41,379.192" in res.stdout  # every figure whole, on one line


def test_output_folder_errors_are_one_clear_message(tmp_path: Path) -> None:
    (tmp_path / "FILE").write_text("")
    lab = str(REPO / "inventories" / "lab")
    for argv in (
        ["report", lab, "--out", "/proc/hk-no/x"],
        ["runbook", lab, "--phase", "1", "--out", str(tmp_path / "FILE" / "sub")],
        ["render", lab, "--phase", "1", "--out", str(tmp_path / "FILE")],
    ):
        res = runner.invoke(app, argv)
        assert res.exit_code == 2, (argv, res.output)
        assert "internal error" not in res.stderr and "error:" in res.stderr
