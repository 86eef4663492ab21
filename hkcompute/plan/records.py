"""The plan's records: links, addresses, ASNs. Named tuples: immutable, compact, and made
about five times faster than frozen dataclasses (whose ``__init__`` sets each field through
``object.__setattr__``); the full site has a quarter of a million links and 150,000
addresses, so construction was a third of building the plan (see bench/bench_plan.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from hkcompute.findings import UNKNOWN, Finding, Location
from hkcompute.model import Device, Site
from hkcompute.plan.topology import Topology

# Link kinds: which builder made the link (used by checks, BOM and render).
NODE_LEAF = "node-leaf"
LEAF_SPINE = "leaf-spine"
SPINE_CORE = "spine-core"
ACCESS = "access"  # a server or storage port to a storage/in-band/OOB switch
UPLINK = "uplink"  # a unit's storage/in-band/OOB switch to a site-level switch
EXPLICIT = "explicit"  # written in the inventory's `links:`

CABLING_COLUMNS = (
    "a_device",
    "a_port",
    "b_device",
    "b_port",
    "network",
    "speed_gbps",
    "optic",
    "cable",
    "length_m",
    "phase",
    # Appended (existing positions stay): what the link runs and plugs into, and where a
    # switch end sits on its cages (swp3 of a twin-port OSFP switch: cage 2, port 1).
    "protocol",
    "form_factor",
    "a_cage",
    "a_cage_port",
    "b_cage",
    "b_cage_port",
)
ADDRESS_COLUMNS = ("device", "interface", "network", "address")


class Link(NamedTuple):
    """One cable. ``a`` is the lower tier (node, leaf, spine) and ``b`` the upper one for
    built links; explicit links keep the order written. ``optic`` is None when nothing in the
    catalogue fits and reaches (a finding says so), the a-end part then the b-end part
    (``a+b``) when they differ; ``cable`` is smf/mmf for transceivers, else the assembly kind
    (aoc, dac, utp). ``a_cage``/``a_sub`` (and b's) place a switch end on its cages, 0 for a
    port that is not a described cage."""

    a: str
    a_port: str
    b: str
    b_port: str
    network: str
    speed_gbps: float
    optic: str | None
    cable: str
    length_m: float
    phase: int
    kind: str
    cluster: str | None = None
    loc: Location = UNKNOWN
    protocol: str = ""
    form_factor: str = ""
    a_cage: int = 0
    a_sub: int = 0
    b_cage: int = 0
    b_sub: int = 0

    def row(self) -> tuple[str, ...]:
        """The CSV row (see CABLING_COLUMNS); numbers formatted so output is byte-stable."""
        return (
            self.a,
            self.a_port,
            self.b,
            self.b_port,
            self.network,
            fmt_num(self.speed_gbps),
            self.optic or "",
            self.cable,
            f"{self.length_m:.1f}",
            str(self.phase),
            self.protocol,
            self.form_factor,
            _num_or_blank(self.a_cage),
            _num_or_blank(self.a_sub),
            _num_or_blank(self.b_cage),
            _num_or_blank(self.b_sub),
        )

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.a, self.a_port, self.b, self.b_port)


class Address(NamedTuple):
    """One assignment; ``address`` is written with its prefix length (10.0.0.1/31)."""

    device: str
    interface: str
    network: str
    address: str
    phase: int

    def row(self) -> tuple[str, str, str, str]:
        return (self.device, self.interface, self.network, self.address)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.device, self.interface, self.network)


class Asn(NamedTuple):
    device: str
    asn: int
    tier: str  # leaf, spine or core
    phase: int


@dataclass(frozen=True, slots=True)
class Assignments:
    """Who does what, for the site as built up to ``phase`` (decided in ``plan.assign``).
    ``services`` maps each service (every one of ``schema.SERVICES``, then ``login``, then
    any other a host declares) to its hosts in device order; ``subnet_managers`` maps an
    InfiniBand switch to its OpenSM priority; ``managed`` lists the devices Ansible
    manages, in device order."""

    phase: int | None
    services: dict[str, tuple[str, ...]]
    subnet_managers: dict[str, int]
    managed: tuple[str, ...]

    def service_hosts(self, site: Site) -> dict[str, list[Device]]:
        """``services`` with the site's device records in place of names."""
        devices = site.devices
        return {s: [devices[n] for n in names] for s, names in self.services.items()}

    def runs(self) -> dict[str, list[str]]:
        """Host -> the services it runs, in the order of ``services``."""
        out: dict[str, list[str]] = {}
        for svc, names in self.services.items():
            for name in names:
                out.setdefault(name, []).append(svc)
        return out


@dataclass
class Plan:
    """Everything derived for a site up to ``phase`` (None = every phase)."""

    site: str
    phase: int | None
    links: list[Link] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)
    asns: list[Asn] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # The names and port pairs the links and addresses were built from (``build_plan``
    # sets it; None for a plan assembled by hand, e.g. a BOM's links alone).
    topology: Topology | None = None
    # Who does what (services, subnet managers, managed devices), for ``phase``.
    assignments: Assignments | None = None

    def links_upto(self, phase: int | None) -> list[Link]:
        return self.links if phase is None else [x for x in self.links if x.phase <= phase]

    def addresses_upto(self, phase: int | None) -> list[Address]:
        return self.addresses if phase is None else [x for x in self.addresses if x.phase <= phase]

    def asns_upto(self, phase: int | None) -> list[Asn]:
        return self.asns if phase is None else [x for x in self.asns if x.phase <= phase]


def fmt_num(v: float) -> str:
    """400.0 -> '400', 2.5 -> '2.5': integers print without a decimal point."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _num_or_blank(n: int) -> str:
    return str(n) if n else ""
