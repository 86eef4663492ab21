"""Check rendered configuration files with the real programs that will read them.

Each checker runs the program that will read a file on the target host (BIND, dnsmasq,
FRR, Prometheus, chrony, OpenSSH, netplan, Slurm, ifupdown2), from Debian's packages (all
installed but ifupdown2's, which is extracted: :mod:`hkcompute.lint.ifupdown2`), in a
mode that parses and validates without starting a service, and returns a
:class:`ToolResult` holding the program's own words. Nothing here prints except through
:mod:`hkcompute.lint.report`.

The render engine's file specs name each file's checkers (``FileSpec.checkers``); each
module below registers its checkers (:func:`base.register`) behind the
:class:`base.Checker` protocol; :func:`tree.check_tree` walks a rendered tree and asks the
registry, once per distinct content. A new kind of file: a spec naming a checker, and a
module here defining it (imported below). How each program is run without touching the
checking machine: :mod:`hkcompute.lint.sandbox`.
"""

from __future__ import annotations

# Importing the checker modules fills the registry; the list is the set of checkers.
from hkcompute.lint import (
    bind,
    chrony,
    dnsmasq,
    frr,
    ifupdown2,
    netplan,
    prometheus,
    slurm,
    sshd,
    vrp,
)
from hkcompute.lint.base import (
    DEFAULT_TIMEOUT,
    REGISTRY,
    Checker,
    Program,
    ToolResult,
    available,
    check,
    tools_required,
)
from hkcompute.lint.bind import zones_of
from hkcompute.lint.report import LintReport, lint_output
from hkcompute.lint.tree import check_tree, recognise

__all__ = [
    "DEFAULT_TIMEOUT",
    "REGISTRY",
    "Checker",
    "LintReport",
    "Program",
    "ToolResult",
    "available",
    "bind",
    "check",
    "check_tree",
    "chrony",
    "dnsmasq",
    "frr",
    "ifupdown2",
    "lint_output",
    "names",
    "netplan",
    "prometheus",
    "recognise",
    "slurm",
    "sshd",
    "tools_required",
    "vrp",
    "zones_of",
]


def names() -> tuple[str, ...]:
    """Every registered checker's name, in registration order."""
    return tuple(REGISTRY)
