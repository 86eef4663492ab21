"""Cable lengths and optic choice.

Length of a link (tests/unit/test_plan_cabling.py pins the figures):

* different racks: Manhattan distance between the racks' floor positions (``x_m``, ``y_m``)
  plus ``VERTICAL_M`` (2.0 m) at each end: from the device up the rack to the overhead tray;
* same rack: the vertical distance between the two devices (``U_M`` = 0.04445 m per U) plus
  ``IN_RACK_M`` (0.5 m) at each end for the cable manager;
* then slack: 10 % of the run, at least 1 m (patching, bend radius, service loops);
* rounded *up* to the next 0.1 m (a cable ordered never falls short). The rounding works on
  integer decimetres so the same inputs give the same figure on every machine.

Optic choice (``plan.optics``): the cheapest parts that fit both ends (kind of end, protocol,
cage, speed) and whose reach is at least the length (a link exactly at reach is fine). A link
costs one assembly for DAC, AOC and UTP, and one module per end for transceivers (half a
twin-port module, which serves two ports). Ties go to the longer reach, then the names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hkcompute.inventory.schema import Optic
from hkcompute.model import RackInfo
from hkcompute.plan.optics import ANY, End, candidates

VERTICAL_M = 2.0
IN_RACK_M = 0.5
U_M = 0.04445
SLACK_RATIO = 0.10
SLACK_MIN_M = 1.0

# Stock lengths for the BOM's bins (metres): a cable is counted in the first bin that holds it.
LENGTH_BINS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 100, 150, 300, 500, 1000, 2000, 10000)


def round_up_dm(metres: float) -> float:
    """Round up to 0.1 m; ``round(..., 6)`` first so 2.3000000001 stays 2.3."""
    return math.ceil(round(metres * 10.0, 6)) / 10.0


def with_slack(run_m: float) -> float:
    return round_up_dm(run_m + max(SLACK_MIN_M, run_m * SLACK_RATIO))


def link_length(ra: RackInfo | None, ua: int, rb: RackInfo | None, ub: int) -> float:
    """Cable length between a device at U ``ua`` of rack ``ra`` and one at ``ub`` of ``rb``."""
    if ra is None or rb is None:
        return with_slack(2 * VERTICAL_M)  # unknown rack: reported elsewhere; assume adjacent
    if ra.name == rb.name:
        return with_slack(abs(ua - ub) * U_M + 2 * IN_RACK_M)
    return with_slack(abs(ra.x_m - rb.x_m) + abs(ra.y_m - rb.y_m) + 2 * VERTICAL_M)


def length_bin(metres: float) -> str:
    for b in LENGTH_BINS:
        if metres <= b:
            return f"{b}m"
    return f">{LENGTH_BINS[-1]}m"


def cable_of(optic: Optic) -> str:
    """What is pulled between the ends: the fibre for transceivers, else the assembly."""
    return optic.fibre if optic.kind == "transceiver" else optic.kind


@dataclass(frozen=True, slots=True)
class Choice:
    """``optic`` as the cabling CSV writes it (``a+b`` when the ends differ), ``cable`` what
    is pulled, ``a``/``b`` the part at each end (None when nothing fits)."""

    optic: str | None
    cable: str
    a: str | None = None
    b: str | None = None


class OpticChooser:
    """Picks the parts of a link (``plan.optics``); memoised on (speed, length, ends) because
    a site has few distinct cases."""

    def __init__(self, optics: dict[str, Optic]) -> None:
        self.optics = optics
        self._memo: dict[tuple[float, float, End, End], Choice] = {}

    def choose(self, speed: float, length: float, a: End = ANY, b: End = ANY) -> Choice:
        key = (float(speed), length, a, b)
        got = self._memo.get(key)
        if got is None:
            picks = candidates(self.optics, speed, length, a, b)
            if picks:
                p = picks[0]
                got = Choice(p.optic, cable_of(self.optics[p.a]), p.a, p.b)
            else:
                got = Choice(None, "none")
            self._memo[key] = got
        return got

    def max_reach(self, speed: float, a: End = ANY, b: End = ANY) -> float:
        """The longest run any parts fitting both ends reach (0 when none fit at all)."""
        picks = candidates(self.optics, speed, 0.0, a, b)
        return max((p.reach for p in picks), default=0.0)
