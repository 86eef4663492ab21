"""Validation as a library call: load, expand and run every rule (used by CLI and CI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hkcompute.checks import run_checks, sort_findings
from hkcompute.errors import UsageError
from hkcompute.findings import Finding, has_errors
from hkcompute.inventory.load import Loaded, load_site
from hkcompute.model import Site


@dataclass
class Validation:
    loaded: Loaded
    findings: list[Finding]

    @property
    def site(self) -> Site | None:
        return self.loaded.site

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)


def validate(path: Path, phase: int | None = None, loaded: Loaded | None = None) -> Validation:
    """Load (unless the caller has ``load_site(path)`` already) and run every rule."""
    if loaded is None:
        loaded = load_site(path)
    findings = list(loaded.findings)
    if loaded.site is not None:
        if phase is not None and phase not in loaded.site.phase_ids:
            raise UsageError(
                f"phase {phase} is not defined; phases: "
                f"{', '.join(map(str, loaded.site.phase_ids)) or 'none'}"
            )
        findings.extend(run_checks(loaded.site, phase))
    return Validation(loaded, sort_findings(findings))


def load_valid_site(
    path: Path, phase: int | None = None, loaded: Loaded | None = None
) -> tuple[Site, list[Finding]]:
    """For commands that need a usable site: errors in the inventory stop them (exit 1)."""
    from hkcompute.errors import InventoryErrors

    v = validate(path, phase, loaded)
    if v.site is None or not v.ok:
        errors = [f for f in v.findings if f.severity == "error"]
        first = "\n".join(f"  {f.location}: {f.code} {f.message}" for f in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise InventoryErrors(
            f"the inventory has {len(errors)} error(s); run `hkcompute "
            f"validate` for all of them:\n{first}{more}",
            [f.to_dict() for f in v.findings],
        )
    return v.site, v.findings
