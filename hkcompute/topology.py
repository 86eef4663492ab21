"""The topology conventions of a cluster: device names and the leaf/spine/core port formulas.

Pure functions of a unit template and positions (no I/O, no site): the one place that says
what a unit's leaf of rail r is called, which spine port its uplink k to spine j lands on,
and which core port takes a spine's uplink. Expansion names devices with these, the plan
cables and numbers them with these, and the plan's ``Topology`` (``plan.topology``) gathers
them per unit and spine group; because there is only one copy of each formula, the point to
point addresses always sit on the ports that the cabling uses.

Names (render, deploy and the lab build on them; never change them lightly): a unit's node
slot s is ``<unit>-n{s+1:02d}``, its switch j of a set ``<unit>-<short>{j+1}`` (short:
``leaf`` per rail, ``sleaf``, ``mgmt``, ``oob``); a cluster's core j ``<cluster>-core{j+1:02d}``,
spine j of group g ``<cluster>-g{g+1:02d}-spine{j+1:02d}``, fabric-manager appliance j
``<cluster>-fm{j+1:02d}`` and out-of-band switch j of its network racks ``<cluster>-oob{j+1:02d}``.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from hkcompute.schema import SwitchModel, UnitTemplate

# Short names of a unit's switch sets, in the order expansion places them in the racks.
LEAF, STORAGE_LEAF, INBAND, OOB = "leaf", "sleaf", "mgmt", "oob"


class SwitchSet(NamedTuple):
    """One set of a unit's switches: ``n`` switches of ``model`` with role ``role``, named
    ``<unit>-<short>1..n`` (``n``, not ``count``: a tuple has a ``count`` method)."""

    role: str
    short: str
    n: int
    model: str


def unit_switch_sets(tpl: UnitTemplate) -> list[SwitchSet]:
    """A unit's switch sets in placement order: leaves (one per rail), then the storage
    leaves, in-band and OOB switches the template asks for."""
    out = [SwitchSet("leaf", LEAF, tpl.rails, tpl.leaf)]
    for role, sset, short in (
        ("storage_leaf", tpl.storage_leaves, STORAGE_LEAF),
        ("inband_switch", tpl.inband_switches, INBAND),
        ("oob_switch", tpl.oob_switches, OOB),
    ):
        if sset is not None and sset.count:
            out.append(SwitchSet(role, short, sset.count, sset.model))
    return out


# --- names -----------------------------------------------------------------------------------
def node_name(unit: str, slot: int) -> str:
    return f"{unit}-n{slot + 1:02d}"


def unit_switch_name(unit: str, short: str, j: int) -> str:
    return f"{unit}-{short}{j + 1}"


def leaf_name(unit: str, rail: int) -> str:
    return unit_switch_name(unit, LEAF, rail)


def group_label(cluster: str, group: int) -> str:
    """A spine group's name: its spines' prefix, and Slurm's switch for the group."""
    return f"{cluster}-g{group + 1:02d}"


def spine_name(cluster: str, group: int, j: int) -> str:
    return f"{group_label(cluster, group)}-spine{j + 1:02d}"


def core_name(cluster: str, j: int) -> str:
    return f"{cluster}-core{j + 1:02d}"


def fabric_manager_name(cluster: str, j: int) -> str:
    return f"{cluster}-fm{j + 1:02d}"


def cluster_oob_name(cluster: str, j: int) -> str:
    """Out-of-band switch j of a cluster's network racks (two digits, as cores and spines:
    never the same name as a unit's ``-oob1``)."""
    return f"{cluster}-oob{j + 1:02d}"


# The way back from a name to the unit or cluster that makes it (kept next to the names).
_UNIT_MADE = re.compile(r"(?P<owner>.+)-(?:n|leaf|sleaf|mgmt|oob)\d+")
_CLUSTER_MADE = re.compile(r"(?P<owner>.+)-(?:core\d+|g\d+-spine\d+|fm\d{2}|oob\d{2})")


def unit_of_name(name: str) -> str | None:
    """The unit whose convention would make ``name`` (a node or unit switch), if any."""
    m = _UNIT_MADE.fullmatch(name)
    return None if m is None else m["owner"]


def cluster_of_name(name: str) -> str | None:
    """The cluster whose convention would make ``name`` (a core or spine), if any."""
    m = _CLUSTER_MADE.fullmatch(name)
    return None if m is None else m["owner"]


# --- ports -----------------------------------------------------------------------------------
def uplinks_per_spine(tpl: UnitTemplate) -> tuple[int, bool]:
    """Uplinks from each leaf to each spine of its group, and whether the ratio is whole."""
    q = tpl.node_slots / tpl.oversubscription / tpl.spines_per_group
    n = math.floor(q + 1e-9)
    return max(1, n), abs(q - round(q)) < 1e-9 and n >= 1


def spine_down_ports(tpl: UnitTemplate) -> int:
    """Down ports a spine reserves for its full group (every unit position, every rail)."""
    return tpl.units_per_group * tpl.rails * uplinks_per_spine(tpl)[0]


def leaf_uplink_port(tpl: UnitTemplate, u: int, j: int, k: int) -> int:
    """The leaf's port of its uplink k to spine j (``u`` uplinks per spine): after the node
    slots, in spine order."""
    return tpl.node_slots + 1 + j * u + k


def spine_down_port(tpl: UnitTemplate, u: int, pos: int, rail: int, k: int) -> int:
    """The spine's port for uplink k of the leaf of ``rail`` of the unit at position ``pos``
    in its group (``u`` uplinks per spine)."""
    return 1 + (pos * tpl.rails + rail) * u + k


def spine_core_port(tpl: UnitTemplate, k: int) -> int:
    """The spine's port of its core uplink k: right after its reserved down ports."""
    return spine_down_ports(tpl) + 1 + k


def core_port(tpl: UnitTemplate, cores: int, g: int, j: int, k: int) -> tuple[int, int]:
    """(core index, core port) of uplink k of spine j of group g: uplinks are numbered across
    the cluster, n = (g*spines + j)*C + k, and dealt round the cores; a pure function of
    (g, j, k), so a new group never moves an earlier one, and the cores fill evenly."""
    n = (g * tpl.spines_per_group + j) * tpl.core_uplinks_per_spine + k
    return n % cores, n // cores + 1


# --- the fabric manager's slot ----------------------------------------------------------------
class ManagerPort(NamedTuple):
    """Fabric port ``port`` of appliance ``appliance``: it takes the leaf of ``rail`` of the
    cluster's unit ``unit`` (its index) on that leaf's last node-slot port."""

    appliance: int
    port: int
    unit: int
    rail: int
    leaf_port: int


def manager_ports(tpl: UnitTemplate, appliances: int, ports: int) -> tuple[ManagerPort, ...]:
    """Where the appliances' fabric ports land: port p of appliance a is connection
    q = a*ports + p, on rail q % rails of unit q // rails, leaf port ``node_slots`` (the last
    slot). Consecutive appliances so sit on different leaves (master and standby never share
    one), and the slot of a unit is reserved only when a port lands there."""
    out = []
    for a in range(appliances):
        for p in range(ports):
            q = a * ports + p
            out.append(ManagerPort(a, p, q // tpl.rails, q % tpl.rails, tpl.node_slots))
    return tuple(out)


def reserved_units(tpl: UnitTemplate, appliances: int, ports: int) -> int:
    """How many of a cluster's first units give their last node slot to the appliances."""
    return -(-appliances * ports // tpl.rails) if appliances and ports else 0


def access_ports(model: SwitchModel) -> int:
    """The ports an out-of-band switch gives to management ports: those of its first cage
    group when it has several (an SN2201's 48 RJ45; its QSFP28 cages are uplinks), else all."""
    if len(model.cages) > 1:
        first = model.cages[0]
        return first.count * first.ports_per_cage
    return model.ports


def oob_port(per_switch: int, i: int) -> tuple[int, int]:
    """(switch index, port) of management port i of a cluster's network racks: in blocks of
    ``per_switch`` in order (the appliances', the cores', then each spine group's), so a later
    group only appends."""
    return i // per_switch, i % per_switch + 1
