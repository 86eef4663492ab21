"""HK5xx: address pools, assignments and ASNs, over the plan (codes in plan.codes)."""

from __future__ import annotations

from collections.abc import Iterable

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import planned_on_broken
from hkcompute.findings import Finding, make
from hkcompute.model import Site
from hkcompute.plan import codes as R
from hkcompute.plan import plan_for
from hkcompute.plan.addressing import check_pools, check_unique
from hkcompute.plan.locate import find_text

# RFC 6996: the ASNs reserved for private use, 2-byte and 4-byte.
PRIVATE_ASNS = ((64512, 65534), (4_200_000_000, 4_294_967_294))


@register("addressing")
def check(ctx: CheckContext) -> Iterable[Finding]:
    plan = plan_for(ctx.site, ctx.phase)
    out = [f for f in plan.findings if f.code.startswith("HK5")]
    out.extend(check_pools(ctx.site))
    out.extend(check_unique(ctx.site, plan.addresses))
    out.extend(check_private_asns(ctx.site))
    echoes = planned_on_broken(ctx.site)
    return [f for f in out if f.subject not in echoes] if echoes else out


def check_private_asns(site: Site) -> list[Finding]:
    """A warning for each ASN range not wholly inside one private range: a public ASN in
    BGP that leaks past the site's border would be someone else's."""
    out = []
    for tier, r in sorted(site.networks.asn.items()):
        if not any(lo <= r.first and r.last <= hi for lo, hi in PRIVATE_ASNS):
            out.append(
                make(
                    R.ASN_PUBLIC,
                    f"ASN range networks.asn.{tier} ({r.first}-{r.last}) is not wholly "
                    "private (RFC 6996: 64512-65534, 4200000000-4294967294)",
                    find_text(site, f"{tier}:", str(r.first)),
                    subject=tier,
                )
            )
    return out
