"""HK4xx: fabric, ports, links and optics, over the plan of the site (codes in plan.codes)."""

from __future__ import annotations

from collections.abc import Iterable

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import planned_on_broken
from hkcompute.findings import Finding
from hkcompute.plan import plan_for
from hkcompute.plan.graph import check_compute, check_inband, check_storage
from hkcompute.plan.linkcheck import check_links


@register("fabric")
def check(ctx: CheckContext) -> Iterable[Finding]:
    plan = plan_for(ctx.site, ctx.phase)
    out = [f for f in plan.findings if f.code.startswith("HK4")]
    out.extend(check_links(ctx.site, plan.links))
    out.extend(check_compute(ctx.site, plan.links, ctx.phase))
    out.extend(check_inband(ctx.site, plan.links, ctx.phase))
    out.extend(check_storage(ctx.site, plan.links))
    echoes = planned_on_broken(ctx.site)
    return [f for f in out if f.subject not in echoes] if echoes else out
