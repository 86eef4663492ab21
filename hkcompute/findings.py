"""Findings: what a check reports, with a stable code, a severity, a location and a hint."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A place in the user's files. Line and column are 1-based, as editors count."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}:{self.column or 1}"
        return self.path


UNKNOWN = Location("<site>")


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    severity: Severity
    title: str
    hint: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    location: Location = UNKNOWN
    hint: str = ""
    subject: str = field(default="", compare=False)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.path, loc.line, loc.column, self.code, self.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "path": self.location.path,
            "line": self.location.line,
            "column": self.location.column,
            "hint": self.hint,
            "subject": self.subject,
        }


# The rule catalogue. Codes are stable: scripts and CI filter on them, so a code is never reused.
# HK0xx input and syntax, HK1xx schema and references, HK2xx racks, halls and power,
# HK3xx phases and capacity, HK4xx fabric, ports, links and optics, HK5xx addressing.
RULES: dict[str, Rule] = {}


def rule(code: str, severity: Severity, title: str, hint: str) -> Rule:
    if code in RULES:
        raise ValueError(f"rule {code} registered twice")
    r = Rule(code, severity, title, hint)
    RULES[code] = r
    return r


def make(
    r: Rule,
    message: str,
    location: Location = UNKNOWN,
    *,
    hint: str | None = None,
    subject: str = "",
) -> Finding:
    return Finding(r.code, r.severity, message, location, r.hint if hint is None else hint, subject)


E, W = Severity.ERROR, Severity.WARNING
YAML_SYNTAX = rule("HK001", E, "YAML syntax error", "Fix the YAML syntax at this position.")
DUPLICATE_KEY = rule("HK002", E, "duplicate key", "Each key may appear once; remove or merge one.")
DUPLICATE_TOP = rule(
    "HK003",
    E,
    "top-level key in two files",
    "Each top-level key may appear in one file of the site only.",
)
YAML11 = rule(
    "HK004",
    W,
    "YAML 1.1 ambiguity",
    "Quote the value, or write true/false or 0o-prefixed octal explicitly.",
)
LIMIT = rule("HK005", E, "input limit exceeded", "See docs/inventory.md, section Limits.")
UNKNOWN_KEY = rule("HK101", E, "unknown key", "Check the spelling against docs/inventory.md.")
BAD_VALUE = rule("HK102", E, "wrong type or value", "See docs/inventory.md for the field.")
MISSING_KEY = rule("HK103", E, "missing required key", "Add the key; see docs/inventory.md.")
DUPLICATE_NAME = rule("HK104", E, "duplicate name", "Names are unique across the whole site.")
MISSING_REF = rule(
    "HK105", E, "reference to something that does not exist", "Define it, or fix the name."
)
BAD_RANGE = rule(
    "HK106", E, "malformed name range", "Write ranges as prefix[001-128]suffix with start <= end."
)


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    out = {str(s): 0 for s in Severity}
    for f in findings:
        out[str(f.severity)] += 1
    return out


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


UNIT_RACKS = rule(
    "HK107",
    E,
    "scalable unit racks do not match its template",
    "Give each unit exactly network_racks + node_racks racks of its template.",
)
UNIT_NODES = rule(
    "HK108",
    E,
    "more nodes than the unit has slots or rack space for",
    "Lower 'nodes', or raise node_slots / nodes_per_rack in the template.",
)
NO_ROOM = rule(
    "HK109",
    E,
    "no rack space left for a cluster's network switches",
    "Add racks to the cluster's network_racks range.",
)
MISSING_FIELD = rule(
    "HK110",
    E,
    "a new device lacks a required field",
    "A device that is not produced by a unit needs role, model, rack and u.",
)
WRONG_KIND = rule(
    "HK111",
    E,
    "model of the wrong kind for the role",
    "gpu_node/service use a server model, storage a storage model, switch roles a switch model.",
)
