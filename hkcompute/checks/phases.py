"""Phases and capacity targets (HK3xx, capacity part).

Phase targets are cumulative: phase N's target_pflops is what the whole site must deliver
once phase N is built. Capacity is dense BF16 (vendor datasheets: sparse figures are double;
the site target is stated dense), counted over GPU nodes that are neither retired nor failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import broken_of, present
from hkcompute.findings import Finding, Severity, make, rule
from hkcompute.model import Site

E, W = Severity.ERROR, Severity.WARNING

# Devices in these states deliver nothing; planned and installed ones count towards the
# phase they are planned for (a target is about what the phase will deliver).
NOT_COUNTED = frozenset({"retired", "failed"})

PHASE_DATES = rule(
    "HK320",
    E,
    "phases out of date order",
    "Phase ids are built in order: a later phase must not be due before an earlier one.",
)
PHASE_TARGETS = rule(
    "HK321",
    E,
    "phase targets decrease",
    "target_pflops is cumulative (the site total once the phase is built), so it must not "
    "decrease from one phase to the next.",
)
PHASE_SHORT = rule(
    "HK322",
    W,
    "phase misses its capacity target",
    "Add GPU nodes (units) to this phase or earlier ones, or lower its target_pflops.",
)
SITE_SHORT = rule(
    "HK323",
    W,
    "the last phase misses the site target",
    "Plan more capacity in the phases, or revise site.target.pflops.",
)
SITE_LATE = rule(
    "HK324",
    W,
    "the last phase is due after the site target year",
    "Bring the last phase forward, or revise site.target.year.",
)
EMPTY_UNIT = rule(
    "HK325",
    W,
    "scalable unit with no nodes",
    "A unit with nodes: 0 builds its switches but no compute; give it nodes or remove it.",
)


# Sections whose broken entries leave GPU nodes (or their PFLOPS) out of the expanded site.
CAPACITY_KINDS = ("clusters", "units", "unit_templates", "devices", "servers", "accelerators")


def pflops_by_phase(site: Site) -> dict[int, float]:
    """Dense BF16 PFLOPS added in each phase (not cumulative), by one pass over devices."""
    added: dict[int, float] = defaultdict(float)
    per_model: dict[str, float] = {}
    for d in site.devices.values():
        if d.role != "gpu_node" or d.status in NOT_COUNTED:
            continue
        pf = per_model.get(d.model)
        if pf is None:
            acc, n, _name = site.accelerators_of(d)
            pf = per_model[d.model] = n * acc.bf16_dense_tflops / 1000 if acc else 0.0
        added[d.phase] += pf
    return dict(added)


def cumulative_pflops(site: Site) -> dict[int, float]:
    """Dense BF16 PFLOPS of the site once each defined phase is built."""
    added = pflops_by_phase(site)
    out: dict[int, float] = {}
    for pid in site.phase_ids:
        # Devices of undefined phases (reported elsewhere) count from the first phase >= theirs.
        out[pid] = sum(v for p, v in added.items() if p <= pid)
    return out


@register("phases")
def check_phases(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    phases = sorted(site.phases, key=lambda p: p.id)
    for prev, cur in pairwise(phases):
        if not present(ctx, cur.id):
            break
        if cur.due < prev.due:
            yield make(
                PHASE_DATES,
                f"phase {cur.id} is due {cur.due.isoformat()}, before phase "
                f"{prev.id} ({prev.due.isoformat()})",
                cur.loc,
                subject=str(cur.id),
            )
        if cur.target_pflops < prev.target_pflops:
            yield make(
                PHASE_TARGETS,
                f"phase {cur.id} targets {cur.target_pflops:,g} PFLOPS, "
                f"less than phase {prev.id}'s {prev.target_pflops:,g} (targets are "
                "cumulative)",
                cur.loc,
                subject=str(cur.id),
            )

    # A shortfall over a site that is missing GPU nodes or their figures (a broken cluster,
    # template, server, ...: errors already reported) would only echo those errors.
    complete = not broken_of(site).any(*CAPACITY_KINDS)
    have = cumulative_pflops(site)
    for p in phases:
        if not present(ctx, p.id):
            break
        got = have.get(p.id, 0.0)
        if complete and got < p.target_pflops:
            yield make(
                PHASE_SHORT,
                f"phase {p.id} ({p.name}) reaches {got:,.1f} dense BF16 "
                f"PFLOPS of its {p.target_pflops:,g} target: {p.target_pflops - got:,.1f} "
                f"short ({100 * got / p.target_pflops:.0f}%)",
                p.loc,
                subject=str(p.id),
            )

    # The site target is judged on the whole plan only, not on a partial --phase build.
    if phases and (ctx.phase is None or ctx.phase >= phases[-1].id):
        last = phases[-1]
        target = site.info.target
        got = have.get(last.id, 0.0)
        if complete and got < target.pflops:
            yield make(
                SITE_SHORT,
                f"the last phase ({last.id}) reaches {got:,.1f} dense PFLOPS "
                f"of the site target {target.pflops:,g}: {target.pflops - got:,.1f} "
                f"short ({100 * got / target.pflops:.0f}%)",
                last.loc,
                subject=str(last.id),
            )
        if last.due.year > target.year:
            yield make(
                SITE_LATE,
                f"the last phase ({last.id}) is due {last.due.isoformat()}, "
                f"after the site target year {target.year}",
                last.loc,
                subject=str(last.id),
            )

    for c in site.clusters:
        for u in c.units:
            if u.nodes == 0 and present(ctx, u.phase):
                yield make(EMPTY_UNIT, f"unit {u.name!r} has no nodes", u.loc, subject=u.name)
