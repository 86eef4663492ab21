"""Cable lengths and optic choice.

Length of a link (tests/unit/test_plan_cabling.py pins the figures):

* different racks: Manhattan distance between the racks' floor positions (``x_m``, ``y_m``)
  plus ``VERTICAL_M`` (2.0 m) at each end: from the device up the rack to the overhead tray;
* same rack: the vertical distance between the two devices (``U_M`` = 0.04445 m per U) plus
  ``IN_RACK_M`` (0.5 m) at each end for the cable manager;
* then slack: 10 % of the run, at least 1 m (patching, bend radius, service loops);
* rounded *up* to the next 0.1 m (a cable ordered never falls short). The rounding works on
  integer decimetres so the same inputs give the same figure on every machine.

Optic choice: the cheapest catalogue optic of the link's speed whose reach is at least the
length (a link exactly at reach is fine). A link costs one assembly for DAC, AOC and UTP, and
two modules (one per end) for transceivers. Ties go to the longer reach, then the name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hkcompute.inventory.schema import Optic
from hkcompute.model import RackInfo

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


def link_cost(optic: Optic) -> float:
    return optic.cost_usd * (2 if optic.kind == "transceiver" else 1)


@dataclass(frozen=True, slots=True)
class Choice:
    optic: str | None
    cable: str


class OpticChooser:
    """Picks optics; memoised on (speed, length) because a site has few distinct pairs."""

    def __init__(self, optics: dict[str, Optic]) -> None:
        self.optics = optics
        self._by_speed: dict[float, list[tuple[float, float, str]]] = {}
        for name, o in optics.items():
            self._by_speed.setdefault(float(o.speed_gbps), []).append(
                (link_cost(o), -float(o.reach_m), name)
            )
        for lst in self._by_speed.values():
            lst.sort()
        self._memo: dict[tuple[float, float], Choice] = {}

    def choose(self, speed: float, length: float) -> Choice:
        key = (speed, length)
        got = self._memo.get(key)
        if got is None:
            got = Choice(None, "none")
            for _cost, neg_reach, name in self._by_speed.get(float(speed), ()):
                if -neg_reach >= length:
                    got = Choice(name, cable_of(self.optics[name]))
                    break
            self._memo[key] = got
        return got

    def max_reach(self, speed: float) -> float:
        return max((-r for _c, r, _n in self._by_speed.get(float(speed), ())), default=0.0)
