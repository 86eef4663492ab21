"""The command line: thin Typer modules, one per command group."""
