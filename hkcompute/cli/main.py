"""The `hkcompute` command: registers each command group's module."""

from __future__ import annotations

import typer

from hkcompute import __version__
from hkcompute.cli import inventory, validate

app = typer.Typer(
    name="hkcompute",
    help="Plan, check, configure and bring up a large AI computing centre, phase by phase.",
    no_args_is_help=True,
    # Inventories hold secrets: a traceback must never print local variables.
    pretty_exceptions_show_locals=False,
    # `--install-completion` / `--show-completion` for bash, zsh and fish.
    add_completion=True,
    # Engineers type -h out of habit; Click's context passes this on to every subcommand.
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hkcompute {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """hkcompute: inventory -> validate -> plan -> render -> deploy -> verify."""


app.command("validate")(validate.validate_cmd)
app.command("schema")(inventory.schema_cmd)
app.add_typer(inventory.app, name="inventory")

# Optional command groups register themselves here as they land.
for _mod in ("capacity", "catalog", "plan", "lock", "render", "deploy", "lab", "report", "rules"):
    try:
        module = __import__(f"hkcompute.cli.{_mod}", fromlist=["register"])
    except ModuleNotFoundError as exc:
        if exc.name != f"hkcompute.cli.{_mod}":
            raise
        continue
    module.register(app)


def run() -> None:
    app()
