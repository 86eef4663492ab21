"""One root exception; the CLI maps each kind to an exit code (see docs/architecture.md)."""

from __future__ import annotations


class HkError(Exception):
    """Root of every expected hkcompute error. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class InventoryErrors(HkError):
    """The inventory has error findings, so a command that needs a usable site stops.

    ``findings`` keeps them as data, so ``--format json`` can still print them on stdout.
    """

    exit_code = 1

    def __init__(self, message: str, findings: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.findings = findings


class InputError(HkError):
    """The input cannot be read at all (missing folder, unreadable YAML, limits exceeded)."""

    exit_code = 2


class UsageError(HkError):
    """The command line asks for something that does not exist (an unknown phase, say)."""

    exit_code = 2


class RenderError(HkError):
    """A template or the output tree failed; the previous tree is left untouched."""

    exit_code = 1


class LockHeld(HkError):
    """Another run of the same site holds the lock."""

    exit_code = 1
