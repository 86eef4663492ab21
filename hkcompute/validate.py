"""Validation as a library call: load, expand and run every rule (used by CLI and CI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hkcompute.checks import run_checks, sort_findings
from hkcompute.errors import UsageError
from hkcompute.findings import Finding, has_errors
from hkcompute.inventory.load import Loaded, load_site
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.plan.codes import LOCK_DROPPED, LOCK_MOVED, LOCK_REUSED

LOCK_CODES = frozenset(r.code for r in (LOCK_MOVED, LOCK_REUSED, LOCK_DROPPED))


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
        findings.extend(lock_findings(loaded.site, phase))
    return Validation(loaded, sort_findings(findings))


def lock_findings(site: Site, phase: int | None) -> list[Finding]:
    """What the inventory would change of what is built (HK6xx). Checked on a plan that holds
    every locked phase, whatever phase was asked for: validating phase 1 of a site locked at
    phase 2 must still refuse a move of phase 2's allocations."""
    if site.lock is None:
        return []
    cover = None if phase is None else max(phase, site.lock.phase)
    return [f for f in plan_for(site, cover).findings if f.code in LOCK_CODES]


def load_valid_site(
    path: Path,
    phase: int | None = None,
    loaded: Loaded | None = None,
    *,
    tolerate: frozenset[str] = frozenset(),
) -> tuple[Site, list[Finding]]:
    """For commands that need a usable site: errors in the inventory stop them (exit 1).
    Errors whose code is in ``tolerate`` do not (``hkcompute diff`` reports the lock's)."""
    from hkcompute.errors import InventoryErrors

    v = validate(path, phase, loaded)
    if v.site is None or any(f.severity == "error" and f.code not in tolerate for f in v.findings):
        errors = [f for f in v.findings if f.severity == "error"]
        first = "\n".join(f"  {f.location}: {f.code} {f.message}" for f in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise InventoryErrors(
            f"the inventory has {len(errors)} error(s); run `hkcompute "
            f"validate` for all of them:\n{first}{more}",
            [f.to_dict() for f in v.findings],
        )
    return v.site, v.findings
