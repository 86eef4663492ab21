"""The runbook's records: commands, tables, stages and the runbook itself, and the
stage list."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from hkcompute.plan.bom import natural
from hkcompute.plan.cabling import length_bin

STAGES = (
    "facility",
    "racking",
    "cabling",
    "oob",
    "firmware-os",
    "fabric",
    "storage",
    "deploy",
    "verify",
    "acceptance",
    "handover",
)
# Up to this many new cables the runbook lists every one inline; above it, counts per rack
# and per switch inline and the full lists in the CSV files beside the runbook.
INLINE_CABLES = 400
SPARES_PCT = 2  # optics and cables to stock beyond the count: a site convention, stated


@dataclass(frozen=True)
class Command:
    cmd: str
    good: str  # what a good result looks like
    record: str = ""  # a journal run id to record under this label ("" = none)


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]]
    collapse: bool = False  # long tables fold away in the HTML page


@dataclass
class Stage:
    key: str
    title: str
    intro: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    checklist: list[str] = field(default_factory=list)
    gate: list[str] = field(default_factory=list)
    rollback: list[str] = field(default_factory=list)


@dataclass
class Runbook:
    site: str
    site_arg: str
    phase: int
    phase_name: str
    due: str
    previous: int | None
    scope: dict[str, Any]
    scope_tables: list[Table]
    prereq_tables: list[Table]
    prereq_notes: list[str]
    preparation: Stage
    stages: list[Stage]
    files: dict[str, str] = field(default_factory=dict)  # extra files (CSV) to write
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (caption, inline svg)

    @property
    def commands(self) -> list[str]:
        return [c.cmd for s in [self.preparation, *self.stages] for c in s.commands]

    @property
    def records(self) -> list[tuple[str, str, str]]:
        """(stage title, label, command) of every run id to record."""
        return [(s.title, c.record, c.cmd) for s in self.stages for c in s.commands if c.record]

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "phase": self.phase,
            "phase_name": self.phase_name,
            "due": self.due,
            "previous_phase": self.previous,
            "scope": self.scope,
            "stages": [
                {
                    "key": s.key,
                    "title": s.title,
                    "commands": [asdict(c) for c in s.commands],
                    "gate": s.gate,
                }
                for s in [self.preparation, *self.stages]
            ],
        }


# Sort keys and length bins repeat (port names, cable lengths) across ~100k cables of a
# large phase: computing each once keeps the runbook of the bundled site in seconds.
_natural = lru_cache(maxsize=65536)(natural)
_length_bin = lru_cache(maxsize=65536)(length_bin)
