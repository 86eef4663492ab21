"""Rules over the expanded site. Each concern is one module exposing ``check(ctx)``.

A rule never raises on bad data: it reports. ``run_checks`` collects every module's findings,
de-duplicates and sorts them so output is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hkcompute.findings import Finding
from hkcompute.model import Site


@dataclass
class CheckContext:
    """What a check sees: the site, the phase asked for (None = all), and shared extras."""

    site: Site
    phase: int | None = None
    extras: dict[str, object] = field(default_factory=dict)


CheckFn = Callable[[CheckContext], Iterable[Finding]]
_CHECKS: list[tuple[str, CheckFn]] = []


def register(name: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        _CHECKS.append((name, fn))
        return fn

    return deco


_loaded = False


def _load_modules() -> None:
    """Import every check module once. Importing registers; the list is explicit so the
    order (and output) is stable. A flag, not "is the registry empty": a caller that
    imported one module directly must not make run_checks skip all the others."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from hkcompute.checks import (  # noqa: F401
        addressing,
        catalog_refs,
        fabric,
        guids,
        identity,
        naming,
        phases,
        platform_fit,
        qos,
        racks,
    )


def run_checks(
    site: Site, phase: int | None = None, extras: dict[str, object] | None = None
) -> list[Finding]:
    _load_modules()
    ctx = CheckContext(site, phase, dict(extras or {}))
    seen: set[Finding] = set()
    out: list[Finding] = []
    for _name, fn in _CHECKS:
        for f in fn(ctx):
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)
