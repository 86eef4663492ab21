"""The records of discovery: a port, one sighting of a neighbour, and what was collected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from hkcompute.errors import InputError


class DiscoveryError(InputError):
    """Discovery data that cannot be read (exit 2); ``location`` is ``file:line`` or
    ``file: json.path`` when the error has no line of its own."""


class End(NamedTuple):
    """One port of one device, by the inventory's names (``swp5``, ``fab0``)."""

    device: str
    port: str

    def __str__(self) -> str:
        return f"{self.device} {self.port}"


class Sighting(NamedTuple):
    """``local`` received ``remote``'s advertisement, so a cable joins the two ports.
    ``source`` says where it was read (``file:line`` or ``ssh:host``), for the report."""

    local: End
    remote: End
    source: str = ""


@dataclass
class Discovery:
    """What the devices reported: the devices that answered, per medium (``ethernet`` from
    LLDP, ``infiniband`` from ibnetdiscover: LLDP says nothing of a node's HCAs), even with no
    neighbour at all (an empty answer is news, no answer is not), and every sighting."""

    collected: set[tuple[str, str]] = field(default_factory=set)  # (device, medium)
    sightings: list[Sighting] = field(default_factory=list)
    # device -> why nothing was collected from it (unreachable, lldpd not running, ...)
    failed: dict[str, str] = field(default_factory=dict)
    # notes for the operator (files that name no device, say); never a failure by themselves
    notes: list[str] = field(default_factory=list)

    def merge(self, other: Discovery) -> None:
        self.collected |= other.collected
        self.sightings.extend(other.sightings)
        for dev, why in other.failed.items():
            self.failed.setdefault(dev, why)
        self.notes.extend(other.notes)
