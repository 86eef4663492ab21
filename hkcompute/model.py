"""The expanded site model: typed, immutable, free of I/O.

Everything downstream (checks, plan, render, deploy) reads this, never the YAML. Devices
keep the location of the line that produced them (a range, a unit, a cluster) so findings
point at what the user wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from hkcompute import schema as S
from hkcompute.asbuilt.guids import GuidMap
from hkcompute.asbuilt.lock import Lock
from hkcompute.findings import UNKNOWN, Location

SWITCH_ROLES = frozenset(
    {
        "leaf",
        "spine",
        "core",
        "storage_leaf",
        "storage_spine",
        "inband_switch",
        "oob_switch",
    }
)
SERVER_ROLES = frozenset({"gpu_node", "service", "fabric_manager"})

# Maps a path of the written YAML (keys and list indexes) to its Location, so checks can point
# at the exact key (a template's switch model, say) rather than the enclosing item.
Locate = Callable[[Iterable[str | int]], Location]


class BrokenItems(Protocol):
    """What the loader could not build, its errors already reported (``inventory.parse.Broken``
    is the one the loader records): checks stay quiet about references to these."""

    def has(self, kind: str, name: object) -> bool: ...

    def model(self, name: object) -> bool: ...

    def any(self, *kinds: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class HallInfo:
    name: str
    feed_mw: float
    cooling: str
    pue: float
    phase: int
    loc: Location = UNKNOWN
    design_pue: float | None = None

    @property
    def feed_pue(self) -> float:
        """The PUE the feed is sized with: the design (peak) PUE, else the annual one."""
        return self.pue if self.design_pue is None else self.design_pue


@dataclass(frozen=True, slots=True)
class RackInfo:
    name: str
    hall: str
    phase: int
    row: str
    x_m: float
    y_m: float
    units: int
    power_kw: float
    cooling: str
    loc: Location = UNKNOWN


@dataclass(frozen=True, slots=True)
class PhaseInfo:
    id: int
    name: str
    due: dt.date
    target_pflops: float
    description: str = ""
    loc: Location = UNKNOWN


# What a device is, and its lifecycle state: the inventory's own enums, so model and schema
# can never disagree.
Role = S.Role
Status = S.Status


@dataclass(frozen=True, slots=True)
class Device:
    """One physical device. ``index`` is the node slot, the leaf's rail, or the switch number
    within its set (0-based); ``group`` is the spine group of a unit's devices and spines."""

    name: str
    role: Role
    model: str
    rack: str
    u: int
    height: int
    phase: int
    status: Status
    hall: str
    cluster: str | None = None
    unit: str | None = None
    index: int = 0
    group: int | None = None
    tenant: str | None = None
    serial: str | None = None
    mac: str | None = None
    bmc: S.Bmc | None = None
    addresses: tuple[tuple[str, str], ...] = ()
    services: tuple[str, ...] = ()
    loc: Location = UNKNOWN

    def __post_init__(self) -> None:
        # Expansion and tests may hand plain strings: the record always holds the enums
        # (an unknown value is a ValueError, which the schema has already ruled out).
        if type(self.role) is not Role:
            object.__setattr__(self, "role", Role(self.role))
        if type(self.status) is not Status:
            object.__setattr__(self, "status", Status(self.status))

    @property
    def is_switch(self) -> bool:
        return self.role in SWITCH_ROLES

    @property
    def top_u(self) -> int:
        return self.u + self.height - 1


@dataclass(frozen=True, slots=True)
class Unit:
    """A scalable unit: one instance of a unit template inside a cluster."""

    name: str
    cluster: str
    index: int
    group: int
    phase: int
    status: Status
    network_racks: tuple[str, ...]
    node_racks: tuple[str, ...]
    nodes: int
    tenant: str | None
    loc: Location = UNKNOWN


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    name: str
    template_name: str
    template: S.UnitTemplate
    hall: str
    vendor: str
    accelerator: str | None
    units: tuple[Unit, ...]
    groups: int
    core: S.Core | None
    tenants: tuple[str, ...]
    network_racks: tuple[str, ...]
    loc: Location = UNKNOWN

    @property
    def fabric(self) -> str:
        """The name of its fabric kind (an entry of ``catalog.fabrics``)."""
        return self.template.fabric


@dataclass(frozen=True, slots=True)
class LinkInfo:
    spec: S.LinkSpec
    loc: Location = UNKNOWN


@dataclass(frozen=True, slots=True)
class TenantInfo:
    spec: S.Tenant
    loc: Location = UNKNOWN

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class EnergyInfo:
    spec: S.EnergyAsset
    loc: Location = UNKNOWN


@dataclass(frozen=True)
class Catalog:
    """The hardware parts a site may use, by kind; ``locs`` says where each was written.

    Code asks a part for a capability (``switch_os``, ``compute_protocols``, an
    accelerator's ``device_files``) rather than comparing vendor names (docs/platforms.md).
    """

    fabrics: dict[str, S.FabricKind] = field(default_factory=dict)
    switch_os: dict[str, S.SwitchOs] = field(default_factory=dict)
    accelerators: dict[str, S.Accelerator] = field(default_factory=dict)
    servers: dict[str, S.Server] = field(default_factory=dict)
    nics: dict[str, S.NicModel] = field(default_factory=dict)
    switches: dict[str, S.SwitchModel] = field(default_factory=dict)
    optics: dict[str, S.Optic] = field(default_factory=dict)
    storage: dict[str, S.StorageModel] = field(default_factory=dict)
    locs: dict[tuple[str, str], Location] = field(default_factory=dict)

    def model_kind(self, model: str) -> str | None:
        for kind in ("servers", "switches", "storage"):
            if model in getattr(self, kind):
                return kind
        return None

    def power_kw(self, model: str) -> float:
        for kind in ("servers", "switches", "storage"):
            entry = getattr(self, kind).get(model)
            if entry is not None:
                return float(entry.power_kw)
        return 0.0

    def rack_units(self, model: str) -> int:
        for kind in ("servers", "switches", "storage"):
            entry = getattr(self, kind).get(model)
            if entry is not None:
                return int(entry.rack_units)
        return 1

    def platform(self, server: str) -> S.Accelerator | None:
        """The accelerator platform of a server model (None: no accelerators, or unknown)."""
        entry = self.servers.get(server)
        if entry is None or not entry.accelerator or not entry.accelerators:
            return None
        return self.accelerators.get(entry.accelerator)

    def compute_nic_name(self, server: str) -> str | None:
        """The name of the card of a server model's compute ports, when a line names one."""
        entry = self.servers.get(server)
        if entry is None:
            return None
        return next(
            (n.model for n in entry.nics if n.network == "compute" and n.model is not None),
            None,
        )

    def compute_nic(self, server: str) -> S.NicModel | None:
        """The card of a server model's compute ports, when its NIC line names one."""
        name = self.compute_nic_name(server)
        return self.nics.get(name) if name is not None else None

    def compute_protocols(self, server: str) -> tuple[str, ...]:
        """What a server model's compute ports can run: the accelerator's own ports when
        they are integrated, else its compute NIC's; () when not described."""
        acc = self.platform(server)
        if acc is not None and acc.protocol is not None:
            return (acc.protocol,)
        nic = self.compute_nic(server)
        return tuple(nic.protocols) if nic is not None else ()

    def nics_integrated(self, server: str) -> bool:
        acc = self.platform(server)
        return acc is not None and acc.nics_integrated

    def os_name(self, model: str) -> str | None:
        """The network OS a switch model runs (None: unknown model, or not stated)."""
        entry = self.switches.get(model)
        return entry.os if entry is not None else None

    def os_of(self, model: str) -> S.SwitchOs | None:
        """The network OS entry of a switch model (None: not stated, or not catalogued)."""
        name = self.os_name(model)
        return self.switch_os.get(name) if name is not None else None

    def switch_protocol(self, model: str) -> str | None:
        entry = self.switches.get(model)
        return entry.protocol if entry is not None else None


@dataclass(frozen=True)
class Site:
    """The whole expanded site. Mappings keep a deterministic order (the order written)."""

    info: S.SiteInfo
    catalog: Catalog
    halls: dict[str, HallInfo]
    racks: dict[str, RackInfo]
    phases: tuple[PhaseInfo, ...]
    templates: dict[str, S.UnitTemplate]
    clusters: tuple[ClusterInfo, ...]
    devices: dict[str, Device]
    links: tuple[LinkInfo, ...]
    networks: S.Networks
    tenants: dict[str, TenantInfo]
    energy: tuple[EnergyInfo, ...]
    secrets: dict[str, S.SecretRef] = field(default_factory=dict)
    # The lossless-RoCE policy (``qos:``) of every lossless fabric: the vendors' defaults
    # when the site writes none.
    qos: S.Qos = field(default_factory=S.Qos)
    files: tuple[str, ...] = ()
    inventory_hash: str = ""
    # What is built (``hkcompute.lock`` beside the inventory, set by the loader): the plan
    # reuses it and refuses to move it. None when the site has no lock yet.
    lock: Lock | None = None
    # The HCA port GUIDs ibnetdiscover found (``.asbuilt/guids.yaml`` beside the inventory,
    # written by ``hkcompute cabling verify``, set by the loader): the subnet manager's tenant
    # partitions name their members by them. None before the fabric is discovered.
    guids: GuidMap | None = None
    # The site's own templates (``SITE/templates``, set by the loader), searched before the
    # bundled ones: where a site's made-up platform keeps the templates its entries name.
    template_dirs: tuple[str, ...] = ()
    # Where the site came from, for findings only: no part of what the site *is*, so left
    # out of equality. None for a site made in code (nothing broken, nothing to locate).
    broken: BrokenItems | None = field(default=None, compare=False, repr=False)
    locate: Locate | None = field(default=None, compare=False, repr=False)

    @cached_property
    def phase_ids(self) -> tuple[int, ...]:
        return tuple(sorted(p.id for p in self.phases))

    def phase(self, pid: int) -> PhaseInfo | None:
        return next((p for p in self.phases if p.id == pid), None)

    def devices_upto(self, phase: int | None) -> Iterator[Device]:
        """Devices present once ``phase`` is built (all when ``phase`` is None)."""
        for d in self.devices.values():
            if phase is None or d.phase <= phase:
                yield d

    def cluster(self, name: str) -> ClusterInfo | None:
        return next((c for c in self.clusters if c.name == name), None)

    def fabric_of(self, cluster: str | None) -> S.FabricKind | None:
        """The fabric kind of a cluster (None: no such cluster, or its kind is not
        catalogued, which validate reports). Code asks it what the fabric does
        (``routed``, ``has_subnet_manager``, ``protocol``), never its name."""
        c = self.cluster(cluster or "")
        return self.catalog.fabrics.get(c.fabric) if c is not None else None

    def qos_of(self, cluster: str | None) -> S.Qos | None:
        """The QoS policy the hosts and switches of a cluster apply: the site's, when the
        cluster's fabric is lossless; None otherwise (no PFC or ECN to configure)."""
        kind = self.fabric_of(cluster)
        return self.qos if kind is not None and kind.lossless else None

    def accelerators_of(self, device: Device) -> tuple[S.Accelerator | None, int, str | None]:
        """(accelerator model, count, accelerator model name) of a device."""
        server = self.catalog.servers.get(device.model)
        if server is None or not server.accelerator or not server.accelerators:
            return None, 0, None
        return (
            self.catalog.accelerators.get(server.accelerator),
            server.accelerators,
            server.accelerator,
        )
