"""HK5xx: address pools, assignments and ASNs, over the plan (codes in plan.codes)."""

from __future__ import annotations

from collections.abc import Iterable

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import planned_on_broken
from hkcompute.findings import Finding
from hkcompute.plan import plan_for
from hkcompute.plan.addressing import check_pools, check_unique


@register("addressing")
def check(ctx: CheckContext) -> Iterable[Finding]:
    plan = plan_for(ctx.site, ctx.phase)
    out = [f for f in plan.findings if f.code.startswith("HK5")]
    out.extend(check_pools(ctx.site))
    out.extend(check_unique(ctx.site, plan.addresses))
    echoes = planned_on_broken(ctx.site)
    return [f for f in out if f.subject not in echoes] if echoes else out
