"""`python -m hkcompute` runs the CLI."""

from hkcompute.cli.main import run

run()
