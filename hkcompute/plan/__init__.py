"""The plan: everything derived from the site model to cable and number the centre.

``build_plan(site, phase)`` gives the links (with ports, optics and lengths), the addresses and
the ASNs of the site as built up to ``phase``, plus the findings met while building. It is a
pure function of the site and the phase; allocation is stable across phases (see
``plan.order``, ``plan.fabric``, ``plan.addressing`` and ``plan.asn`` for the conventions).
A site with a lock (``Site.lock``, what is built: ``plan.lock``) keeps every locked
allocation as it is, and the plan's findings refuse any change to one.
"""

from __future__ import annotations

import time
import weakref

from hkcompute.model import Site
from hkcompute.plan.addressing import allocate
from hkcompute.plan.asn import allocate_asns
from hkcompute.plan.assign import assign
from hkcompute.plan.cabling import OpticChooser
from hkcompute.plan.fabric import build_links
from hkcompute.plan.lock import compare_lock, reuse_lock
from hkcompute.plan.order import owners
from hkcompute.plan.records import Address, Asn, Assignments, Link, Plan
from hkcompute.plan.topology import build_topology

__all__ = [
    "Address",
    "Asn",
    "Assignments",
    "Link",
    "Plan",
    "build_plan",
    "plan_for",
    "remember_plan",
]

# Plans by site object (``id``), each with a weak reference to its site: the site is
# immutable and unhashable (it holds dicts), and its plans must go when it does.
_PLANS: dict[int, tuple[weakref.ref[Site], dict[int | None, Plan]]] = {}


def build_plan(site: Site, phase: int | None = None, *, honour_lock: bool = True) -> Plan:
    """The plan of ``site`` up to ``phase``. With ``honour_lock`` False the lock is left out
    (what the inventory alone would give: ``hkcompute diff`` sets that against the lock)."""
    t0 = time.perf_counter()
    order = owners(site)
    # Names and port pairs of every unit and spine group, made once for all three builders.
    topology = build_topology(site)
    plan = Plan(site.info.name, phase, topology=topology, assignments=assign(site, phase))
    links, f1 = build_links(site, phase, order, OpticChooser(site.catalog.optics), topology)
    t1 = time.perf_counter()
    addresses, f2, _pools = allocate(site, phase, order, topology)
    asns, f3 = allocate_asns(site, phase, order, topology)
    t2 = time.perf_counter()
    plan.links, plan.addresses, plan.asns = links, addresses, asns
    plan.findings = [*f1, *f2, *f3]
    if honour_lock and site.lock is not None:
        # Compared before the locked values go back in: the findings name what would move.
        plan.findings.extend(compare_lock(site, plan, site.lock).findings)
        reuse_lock(site, plan, site.lock)
    plan.timings = {"links_s": t1 - t0, "addresses_s": t2 - t1}
    return plan


def _plans_of(site: Site) -> dict[int | None, Plan]:
    key = id(site)
    entry = _PLANS.get(key)
    if entry is None or entry[0]() is not site:

        def forget(ref: weakref.ref[Site]) -> None:
            if _PLANS.get(key, (None,))[0] is ref:
                del _PLANS[key]

        entry = _PLANS[key] = (weakref.ref(site, forget), {})
    return entry[1]


def plan_for(site: Site, phase: int | None = None) -> Plan:
    """``build_plan`` memoised on the site object: validate's checks and the command that runs
    after them share one plan instead of building it twice. The site is immutable, so the
    plan cannot go stale."""
    cache = _plans_of(site)
    got = cache.get(phase)
    if got is None:
        got = cache[phase] = build_plan(site, phase)
    return got


def remember_plan(site: Site, plan: Plan) -> None:
    """Have ``plan_for(site, plan.phase)`` serve ``plan`` (one its caller built, or edited,
    for this site)."""
    _plans_of(site)[plan.phase] = plan
