"""The plan's rules: HK4xx fabric, ports, links and optics; HK5xx addresses and ASNs; HK6xx
what is built (``hkcompute.lock``: see ``plan.lock``).

They live with the plan (not under ``checks/``) because the builders report while they build;
``hkcompute.checks.fabric`` and ``hkcompute.checks.addressing`` hand them to ``validate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from hkcompute.findings import Finding, Location, Rule, Severity, make, rule

E, W = Severity.ERROR, Severity.WARNING

PORT_REUSED = rule(
    "HK401",
    E,
    "a port is used by more than one link",
    "Each port takes one cable: move one link to a free port.",
)
SPEED_MISMATCH = rule(
    "HK402",
    E,
    "the two ends of a link differ in speed",
    "Use ports of the same speed at both ends, or state the link's speed.",
)
TOO_MANY_LINKS = rule(
    "HK403",
    E,
    "more links on a device than it has ports",
    "Use a switch with more ports, fewer uplinks, or another switch.",
)
BAD_PORT = rule(
    "HK404",
    E,
    "a link names a port the device does not have",
    "Switch ports are swp1..swpN (N = ports of the model); node ports fab0.., "
    "stor0.., mgmt0.., bmc (see hkcompute/plan/fabric.py).",
)
BEYOND_REACH = rule(
    "HK405",
    E,
    "a link is longer than its optic reaches",
    "Name an optic of longer reach, or move the racks closer.",
)
CABLE_TOO_LONG = rule(
    "HK406", E, "a DAC or AOC is longer than it can be", "Use transceivers and fibre for this run."
)
NO_OPTIC = rule(
    "HK407",
    E,
    "no optic in the catalogue fits both ends and reaches this link",
    "Add a part of this speed and protocol that plugs into both ends (cage form factor, "
    "twin-port or single-port) and reaches, to the catalogue.",
)
FIBRE_MISMATCH = rule(
    "HK408",
    E,
    "the two ends of a link use different fibre types",
    "Use single-mode optics at both ends, or multimode at both ends.",
)
UNKNOWN_OPTIC = rule(
    "HK409",
    E,
    "a link names an optic the catalogue does not have",
    "Name a model from catalog.optics.",
)
OPTIC_SPEED = rule(
    "HK410",
    E,
    "an optic's speed differs from its link's speed",
    "Name an optic of the link's speed.",
)
UPLINK_RATIO = rule(
    "HK411",
    W,
    "uplinks per leaf and spine are not a whole number",
    "Make node_slots / oversubscription / spines_per_group a whole number; the plan rounds down.",
)
NOT_CONNECTED = rule(
    "HK412",
    E,
    "a fabric is not connected",
    "Every leaf needs a path to every other leaf of its cluster: add spines, "
    "core uplinks or links.",
)
HOP_COUNT = rule(
    "HK413",
    E,
    "two GPU nodes are further apart than the fabric allows",
    "Rail-optimised: 2 hops on one leaf, 4 via a spine, 6 via the core.",
)
NO_REDUNDANCY = rule(
    "HK414",
    E,
    "one switch's loss cuts a dual-homed node off its network",
    "Cable the node's two in-band ports to two switches that are both "
    "connected to the rest of the in-band network.",
)
NODE_ISOLATED = rule(
    "HK415",
    E,
    "a GPU node has no compute-fabric link",
    "Check the unit's rails and leaves, and explicit links.",
)
UNKNOWN_DEVICE = rule(
    "HK416",
    E,
    "a link names a device that does not exist",
    "Fix the device name, or define the device.",
)
STORAGE_SPLIT = rule(
    "HK418",
    W,
    "the storage fabric falls apart into islands",
    "Add storage spines (role storage_spine): the plan uplinks every unit's "
    "storage leaves to them and spreads storage systems over them.",
)
NIC_SHORT = rule(
    "HK417",
    E,
    "a server has fewer compute NICs than the template's rails",
    "Use a server with one compute NIC per rail, or lower 'rails'.",
)
TWIN_CAGE_MIXED = rule(
    "HK419",
    E,
    "the two ports of a twin-port cage were given different modules",
    "One module serves both ports of the cage: give both links the same twin-port part "
    "(an explicit optic, or racks close enough for the same reach).",
)

POOL_OVERLAP = rule("HK501", E, "two address pools overlap", "Give every pool its own range.")
POOL_SMALL = rule(
    "HK502",
    E,
    "an address pool is too small",
    "Widen the pool (a shorter prefix); blocks are sized for full units.",
)
ADDRESS_TWICE = rule(
    "HK503", E, "an address is assigned twice", "Change one of the explicit addresses."
)
OUTSIDE_POOL = rule(
    "HK504",
    W,
    "an explicit address lies outside its pool",
    "Move it into the pool, or widen the pool.",
)
POOL_MISSING = rule(
    "HK505", E, "a pool the plan needs is not defined", "Add it under networks.pools."
)
ASN_SHORT = rule(
    "HK506",
    E,
    "an ASN range is missing or too small",
    "Add or widen networks.asn (leaf: one per leaf, spine: one per spine group, "
    "core: one per cluster core).",
)
ASN_PUBLIC = rule(
    "HK508",
    W,
    "an ASN range lies outside the private ranges of RFC 6996",
    "Use private ASNs, 64512-65534 or 4200000000-4294967294 (RFC 6996), unless the site "
    "holds these public ASNs.",
)
ASN_OVERLAP = rule(
    "HK507", E, "two ASN ranges overlap", "Give leaf, spine and core their own ASN ranges."
)

# What is in service never moves: an inventory change that would move, hand to another device
# or drop an allocation held in hkcompute.lock is refused (released allocations excepted).
_RELEASE = (
    "release the device first (hkcompute lock SITE --release DEVICE, or status: retired) "
    "if it really is being rebuilt"
)
LOCK_MOVED = rule(
    "HK601",
    E,
    "a locked allocation would change",
    f"What is built never moves: undo the inventory change, or {_RELEASE}.",
)
LOCK_REUSED = rule(
    "HK602",
    E,
    "a locked address is given to another device",
    f"Give the other device an address of its own, or {_RELEASE}.",
)
LOCK_DROPPED = rule(
    "HK603",
    E,
    "a locked device or allocation is no longer planned",
    f"Put it back in the inventory, or {_RELEASE}.",
)


@dataclass
class _Group:
    rule: Rule
    message: str
    subject: str
    count: int = 1


class Aggregator:
    """Findings about built links are grouped (one per place, rule and key) so a catalogue
    slip reads as one message with a count, not 60,000 lines."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str, Location], _Group] = {}

    def add(self, r: Rule, key: str, message: str, loc: Location, subject: str) -> None:
        k = (r.code, key, loc)
        g = self.groups.get(k)
        if g is None:
            self.groups[k] = _Group(r, message, subject)
        else:
            g.count += 1

    def findings(self) -> Iterator[Finding]:
        for (_code, _key, loc), g in self.groups.items():
            more = f" (and {g.count - 1} more like it)" if g.count > 1 else ""
            yield make(g.rule, f"{g.message}{more}", loc, subject=g.subject)
