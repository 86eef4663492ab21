"""What plugs into each end of a link, and the cheapest parts that fit both ends and reach.

An end is described by what the catalogue knows of it (``End``): whether it is a switch cage
or a NIC, the protocol the link runs, the cage's form factor and how many ports one cage
carries. A part fits an end when it is specified for that kind of end (``fits``), carries the
protocol, plugs into the cage (``CAGE_ACCEPTS``) and runs the port's speed; a twin-port
module (``ports_per_module: 2``) serves two ports of one twin-port cage, so its speed per
port is half its module speed and it fits only such a cage. Unknown facts (a NIC without a
model, a switch without cages) constrain nothing, so lab-sized catalogues keep working; a
twin-port module on a switch whose cages are not described is counted once per port (the
plan cannot pair ports it knows no cages for).

A link is either one assembly (DAC, AOC, UTP) that fits both ends and is at least as long as
the run, or a transceiver at each end: the two on the same fibre, with the same connector and
lanes per port (an SR4 port talks to an SR4 port), and the run within both reaches. A
twin-port assembly (a 2x400G twin-port OSFP DAC) carries both ports of one cage to both
ports of one cage at the other end, so it fits a switch end only when that cage is wired
whole to one cage of one peer, sub-port to sub-port (``End.whole_cage``, which
``plan.ends`` works out from the topology); one cable then serves the cage's two links. The
cost of a part is its price divided by the ports it serves, so a twin-port module or cable
is charged half to each of its two links. Cheapest first; ties go to the longer reach, then
the names, so the choice is the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass

from hkcompute.schema import Optic

SWITCH = "switch"
NIC = "nic"

# Which plugs a cage takes: the QSFP family is backward compatible (a QSFP28 module seats in
# a QSFP56, QSFP112 or QSFP-DD cage); OSFP, SFP28 and RJ45 take only their own.
CAGE_ACCEPTS: dict[str, frozenset[str]] = {
    "qsfp-dd": frozenset({"qsfp-dd", "qsfp112", "qsfp56", "qsfp28"}),
    "qsfp112": frozenset({"qsfp112", "qsfp56", "qsfp28"}),
    "qsfp56": frozenset({"qsfp56", "qsfp28"}),
}


@dataclass(frozen=True, slots=True)
class End:
    """One end of a link as the catalogue describes it; None: not known, so no constraint."""

    kind: str | None  # SWITCH or NIC
    protocol: str | None
    form_factor: str | None
    ports_per_cage: int | None = None
    # A switch port whose twin-port cage goes whole to one cage of one peer, sub-port to
    # sub-port: the only end a twin-port assembly fits (it cannot split the cage).
    whole_cage: bool = False


ANY = End(None, None, None)


@dataclass(frozen=True, slots=True)
class Pick:
    """The parts chosen for a link: ``a`` and ``b`` the part at each end (the same name at
    both ends for an assembly), ``cost`` what the link is charged."""

    a: str
    b: str
    cost: float
    reach: float

    @property
    def optic(self) -> str:
        """The link's optic as written in the cabling CSV: one name when both ends take the
        same part (or one assembly serves both), else ``a+b`` (a-end first)."""
        return self.a if self.a == self.b else f"{self.a}+{self.b}"


def port_speed(o: Optic) -> float:
    """The speed of each port a part serves (a twin-port 800G module: 400)."""
    return float(o.speed_gbps) / o.ports_per_module


def is_assembly(o: Optic) -> bool:
    return o.kind != "transceiver"


def fits(o: Optic, end: End, speed: float) -> bool:
    if port_speed(o) != float(speed):
        return False
    if end.kind is not None and o.fits and end.kind not in o.fits:
        return False
    if end.protocol is not None and o.protocols and end.protocol not in o.protocols:
        return False
    if end.form_factor is not None and o.form_factor is not None:
        accepts = CAGE_ACCEPTS.get(end.form_factor, frozenset({end.form_factor}))
        if o.form_factor not in accepts:
            return False
    # A twin-port cage takes a twin-port module; a single-port cage a single-port part.
    if end.ports_per_cage is not None and o.ports_per_module != end.ports_per_cage:
        return False
    # A twin-port cable ends in one cage at each end: only a cage known to be wired whole to
    # one cage of one peer (an end of unknown cages is not, or any short link would take it).
    return not (is_assembly(o) and o.ports_per_module > 1 and not end.whole_cage)


def _lanes_per_port(o: Optic) -> int | None:
    return None if o.lanes is None else o.lanes // o.ports_per_module


def pair_ok(x: Optic, y: Optic) -> bool:
    """Two transceivers that can light one fibre run between them."""
    if x.fibre != y.fibre:
        return False
    if x.connector is not None and y.connector is not None and x.connector != y.connector:
        return False
    lx, ly = _lanes_per_port(x), _lanes_per_port(y)
    return lx is None or ly is None or lx == ly


def candidates(optics: dict[str, Optic], speed: float, length: float, a: End, b: End) -> list[Pick]:
    """Every way to equip the link, cheapest first (see the module docstring)."""
    out: list[Pick] = []
    at_a = [(n, o) for n, o in optics.items() if fits(o, a, speed) and o.reach_m >= length]
    at_b = [(n, o) for n, o in optics.items() if fits(o, b, speed) and o.reach_m >= length]
    names_b = {n for n, _o in at_b}
    for n, o in at_a:
        if is_assembly(o) and n in names_b:
            out.append(Pick(n, n, float(o.cost_usd) / o.ports_per_module, float(o.reach_m)))
    for na, oa in at_a:
        if is_assembly(oa):
            continue
        for nb, ob in at_b:
            if is_assembly(ob) or not pair_ok(oa, ob):
                continue
            cost = oa.cost_usd / oa.ports_per_module + ob.cost_usd / ob.ports_per_module
            out.append(Pick(na, nb, float(cost), float(min(oa.reach_m, ob.reach_m))))
    out.sort(key=lambda p: (p.cost, -p.reach, p.a != p.b, p.a, p.b))
    return out


def fibre_grade(a: Optic, b: Optic, length: float) -> str:
    """The lowest fibre grade on which both ends reach ``length`` (OM3 before OM4 before OM5;
    OS2 for single mode); "" when the parts name no grades (copper, or a part described
    only by its overall reach)."""
    grades = [g for g in ("OM3", "OM4", "OM5", "OS2") if g in a.reach_by_grade]
    for g in grades:
        reach_b = b.reach_by_grade.get(g)
        if reach_b is None:
            continue
        if a.reach_by_grade[g] >= length and reach_b >= length:
            return g
    return ""
