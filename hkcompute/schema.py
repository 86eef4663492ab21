"""The inventory schema: what a user may write in a site's YAML (pydantic models).

These models describe the *written* form, with name ranges and scalable units still folded.
``expand`` turns them into the typed, immutable site model (``hkcompute.model``).
Every model forbids unknown keys so that a typo becomes a finding with a did-you-mean hint.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9]([a-z0-9\-\[\],]*[a-z0-9\]])?$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=120)]
ModelName = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][\w.\-+]*$")]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
PosCount = Annotated[int, Field(ge=1, le=1_000_000)]
PhaseId = Annotated[int, Field(ge=1, le=99)]


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(enum.StrEnum):
    PLANNED = "planned"
    INSTALLED = "installed"
    IN_SERVICE = "in_service"
    FAILED = "failed"
    RETIRED = "retired"


class Precision(enum.StrEnum):
    BF16_DENSE = "bf16-dense"
    FP16_DENSE = "fp16-dense"


class Target(Spec):
    pflops: Positive
    precision: Precision = Precision.BF16_DENSE
    year: Annotated[int, Field(ge=2000, le=2100)]


class SiteInfo(Spec):
    name: Name
    location: str
    target: Target
    domain: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$")] = (
        "hkcompute.internal"
    )
    timezone: str = "Asia/Hong_Kong"
    description: str = ""
    ntp_upstream: list[str] = Field(
        default=["stdtime.gov.hk"],
        description="upstream NTP servers of the services hosts "
        "(default: the Hong Kong Observatory's)",
    )
    admin_users: list[str] = Field(default=["root"], description="accounts sshd admits")


# --- catalogue -------------------------------------------------------------------------------
# Hardware platforms as data (docs/platforms.md): what the code would otherwise know as vendor
# strings (which files a node needs, which exporter watches it, which protocol a switch or
# optic speaks) is a field of the part, so a new vendor or switch OS is a catalogue entry.

Network = Literal["compute", "storage", "inband", "oob"]
Protocol = Literal["infiniband", "ethernet"]
# The cage or plug of a port; "integrated": the port is part of the accelerator or board.
FormFactor = Literal[
    "osfp", "qsfp-dd", "qsfp112", "qsfp56", "qsfp28", "sfp28", "rj45", "integrated"
]
FibreGrade = Literal["OM3", "OM4", "OM5", "OS2"]
# A platform name a site may coin (a switch OS, a software package): lower case, no spaces.
PlatformName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][\w.+\-]*$")]
PortNumber = Annotated[int, Field(ge=1, le=65535)]


FileMode = Annotated[str, Field(pattern=r"^0?[0-7]{3,4}$")]
TemplatePath = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*\.j2$")]


class RenderFile(Spec):
    """One file a platform puts on a host: where it goes, the template that makes it (under
    ``templates/``, or the site's own ``templates/``), its mode, and the hkcompute.lint
    checkers that run the program that reads it (``render --lint``)."""

    path: Annotated[str, Field(pattern=r"^/[^\s*?]+$")] = Field(
        description="absolute path on the host"
    )
    template: TemplatePath
    mode: FileMode = "0644"
    owner: PlatformName = "root"
    group: PlatformName = "root"
    validate_with: Annotated[str, Field(pattern=r"%s")] | None = Field(
        default=None,
        description="a command the host runs on the new file (%s) before it replaces the "
        "old one, as Ansible's copy validate",
    )
    apply_with: str | None = Field(
        default=None,
        description="a command the host runs after the file changed, to apply it without a "
        "service restart (Cumulus: ifreload -a)",
    )
    checkers: list[PlatformName] = []


class Software(Spec):
    """One part of a node's software stack for its accelerators."""

    name: PlatformName = Field(description="the package or tool")
    what: str = Field(description="what it is, as the runbook names it, e.g. 'fabric manager'")
    apt: bool = Field(
        default=False,
        description="deploy installs it from the distribution's packages where the devices "
        "are present (unset: the vendor's own installer, outside deploy)",
    )


class StackService(Spec):
    """A systemd unit of a node's accelerator stack."""

    unit: Annotated[str, Field(pattern=r"^[A-Za-z0-9@_.\-]+$")]
    enable: bool = Field(default=False, description="deploy enables it for the next boot")
    restart_on_change: bool = Field(
        default=False, description="deploy restarts it when a file of the stack changes"
    )
    needs_device: bool = Field(
        default=False, description="it runs only where the devices are present (a driver's)"
    )


class Exporter(Spec):
    """The Prometheus exporter that watches a node's accelerators."""

    name: PlatformName = Field(description="e.g. dcgm-exporter, npu-exporter")
    job: PlatformName = Field(description="the Prometheus job its targets go in")
    port: PortNumber


class Accelerator(Spec):
    vendor: Annotated[str, Field(min_length=1)]
    bf16_dense_tflops: Positive
    fp8_dense_tflops: Positive | None = Field(
        default=None, description="dense FP8 TFLOPS; none when the device has no FP8 units"
    )
    memory_gb: Positive
    power_w: Positive
    gres: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")] = Field(
        description="the Slurm GRES name the scheduler sees, e.g. gpu or npu"
    )
    device_prefix: str = Field(description="device file prefix, e.g. /dev/nvidia or /dev/davinci")
    control_files: list[str] = Field(
        default=[],
        description="device files every job on the node needs besides its devices "
        "(e.g. /dev/nvidiactl, /dev/davinci_manager)",
    )
    software: list[Software] = Field(default=[], description="the node-side software stack")
    exporter: Exporter | None = Field(
        default=None, description="the Prometheus exporter that watches it (unset: none)"
    )
    nics_integrated: bool = Field(
        default=False,
        description="the compute ports are part of the accelerator (one per device), "
        "not separate NICs",
    )
    nic_protocol: Protocol | None = Field(
        default=None, description="the protocol of the integrated compute ports"
    )
    pci_vendor: Annotated[str, Field(pattern=r"^0x[0-9a-f]{4}$")] | None = Field(
        default=None,
        description="the PCI vendor id of its devices (/sys/bus/pci/devices/*/vendor): how "
        "deploy tells a node with devices from a container without",
    )
    services: list[StackService] = Field(default=[], description="the stack's systemd units")
    count_probe: str | None = Field(
        default=None,
        description="a shell command on the node that prints how many devices the driver "
        "sees (preflight compares it with the server's count)",
    )
    gres_type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,31}$")] | None = Field(
        default=None,
        description="the Slurm GRES type (gpu:<type>:N); unset: the model name, lower case, "
        "up to its first '-'",
    )
    colour: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] | None = Field(
        default=None, description="its vendor's colour in drawings (the capacity curve)"
    )
    devices_per_port: Annotated[int, Field(ge=1, le=8)] = Field(
        default=1,
        description="with integrated ports: devices that share one compute port (two dies "
        "of one module share its port)",
    )
    files: list[RenderFile] = Field(
        default=[], description="the files a node of this accelerator gets for its stack"
    )
    source: str = ""

    @model_validator(mode="after")
    def _integrated_ports_speak_a_protocol(self) -> Accelerator:
        if self.nics_integrated and self.nic_protocol is None:
            raise ValueError("'nics_integrated' needs 'nic_protocol' (infiniband or ethernet)")
        return self

    def device_files(self, count: int) -> tuple[str, ...]:
        """The files a node of ``count`` devices exposes: one per device, then the shared
        control files."""
        return tuple(f"{self.device_prefix}{i}" for i in range(count)) + tuple(self.control_files)

    @property
    def protocol(self) -> str | None:
        """The compute protocol the accelerator itself speaks: set only when its ports are
        integrated; otherwise the server's NIC decides (``Catalog.compute_protocols``)."""
        return self.nic_protocol if self.nics_integrated else None


class Nic(Spec):
    network: Network
    count: PosCount
    speed_gbps: Positive
    model: ModelName | None = Field(
        default=None, description="the card, an entry of catalog.nics (unset: not described)"
    )


class NicModel(Spec):
    """A network card (an HCA for InfiniBand)."""

    vendor: str
    protocols: Annotated[list[Protocol], Field(min_length=1)] = Field(
        description="what its ports can run (ConnectX-7 VPI: both)"
    )
    ports: PosCount
    speed_gbps: Positive
    form_factor: FormFactor
    host_interface: str = Field(default="", description="e.g. PCIe Gen5 x16")
    power_w: Positive | None = None
    part: str = Field(default="", description="the vendor's part number")
    files: list[RenderFile] = Field(
        default=[],
        description="the files a GPU node whose compute ports are this card gets on a "
        "lossless fabric: its QoS (DSCP trust, PFC, RDMA ToS) from the site's qos policy",
    )
    services: list[StackService] = Field(
        default=[], description="the systemd units of those files (deploy enables them)"
    )
    source: str = ""

    @property
    def protocol(self) -> str:
        """The first (native) protocol."""
        return self.protocols[0]


class Server(Spec):
    vendor: str
    accelerator: ModelName | None = None
    accelerators: Count = 0
    cpu_cores: PosCount
    sockets: PosCount = 2
    threads_per_core: Annotated[int, Field(ge=1, le=8)] = 2
    memory_gb: Positive
    nics: list[Nic] = []
    power_kw: Positive
    rack_units: Annotated[int, Field(ge=1, le=20)]
    os: str = "debian-12"
    source: str = ""

    @model_validator(mode="after")
    def _accelerators_need_model(self) -> Server:
        if self.accelerators and not self.accelerator:
            raise ValueError("'accelerators' > 0 needs 'accelerator' (the model)")
        return self


Breakout = Annotated[str, Field(pattern=r"^[1-8]x[0-9]+G$")]


class CageGroup(Spec):
    """Front-panel cages of one kind: ``count`` cages carrying ``ports_per_cage`` ports each,
    as the model is run (a twin-port OSFP cage of a Quantum-2 carries 2 NDR ports)."""

    count: PosCount
    form_factor: FormFactor
    ports_per_cage: Annotated[int, Field(ge=1, le=8)] = 1
    speed_gbps: Positive = Field(description="each port's speed, as run")
    breakouts: list[Breakout] = Field(
        default=[], description="other splits a cage supports, e.g. 4x200G"
    )


ManagementPort = Literal["ethernet", "console", "usb"]


class SwitchModel(Spec):
    vendor: str
    kind: Protocol = Field(description="the protocol: infiniband or ethernet")
    ports: PosCount
    speed_gbps: Positive
    power_kw: Positive
    rack_units: Annotated[int, Field(ge=1, le=20)]
    os: PlatformName | None = Field(
        default=None,
        description="the network OS: mlnx-os, cumulus, vrp, eos, frr-linux, or a site's own",
    )
    cages: list[CageGroup] = Field(default=[], description="front-panel cages, by kind")
    management: list[ManagementPort] = Field(default=[], description="management interfaces")
    source: str = ""

    @model_validator(mode="after")
    def _cages_give_the_ports(self) -> SwitchModel:
        # The plan counts 'ports'; cages are what is bought and cabled. They must agree, or
        # the port plan and the optics count would describe two different switches.
        if self.cages:
            total = sum(c.count * c.ports_per_cage for c in self.cages)
            if total != self.ports:
                raise ValueError(
                    f"the cages carry {total} ports (count x ports_per_cage) but 'ports' "
                    f"is {self.ports}"
                )
        return self

    @property
    def protocol(self) -> str:
        return self.kind

    @property
    def holds_ip(self) -> bool:
        """Whether the switch has IP addresses of its own (a loopback, routed ports): an
        Ethernet switch does; an InfiniBand one is programmed by its subnet manager."""
        return self.kind == "ethernet"

    @property
    def cage_count(self) -> int:
        return sum(c.count for c in self.cages)


OpticEnd = Literal["switch", "nic"]
Connector = Literal["mpo-12/apc", "mpo-12", "mpo-16", "lc-duplex", "rj45", "fixed"]


class Optic(Spec):
    speed_gbps: Positive
    reach_m: Positive
    fibre: Literal["mmf", "smf", "copper"]
    kind: Literal["transceiver", "aoc", "dac", "utp"]
    cost_usd: NonNegative
    protocols: list[Protocol] = Field(
        default=[], description="the protocols it carries (NVIDIA LinkX twin-port: both)"
    )
    form_factor: FormFactor | None = None
    lanes: Annotated[int, Field(ge=1, le=16)] | None = Field(
        default=None, description="electrical lanes of the whole module"
    )
    ports_per_module: Annotated[int, Field(ge=1, le=2)] = Field(
        default=1, description="2 for a twin-port module (two ports, two connectors)"
    )
    connector: Connector | None = None
    reach_by_grade: dict[FibreGrade, Positive] = Field(
        default={}, description="reach in metres on each fibre grade it is specified for"
    )
    wavelength_nm: Annotated[int, Field(ge=600, le=1700)] | None = None
    power_w: NonNegative | None = Field(default=None, description="per module, maximum")
    fits: list[OpticEnd] = Field(
        default=[], description="which end it plugs into: a switch cage, a NIC/HCA"
    )
    part: str = Field(default="", description="the vendor's part number")
    source: str = ""

    @model_validator(mode="after")
    def _grades_fit_the_fibre(self) -> Optic:
        # OM grades are multimode and OS2 single-mode: a reach quoted on the wrong one is a
        # copy error that would let the plan pick a part that cannot light the fibre.
        want = {"mmf": {"OM3", "OM4", "OM5"}, "smf": {"OS2"}, "copper": set()}[self.fibre]
        wrong = sorted(set(self.reach_by_grade) - want)
        if wrong:
            raise ValueError(f"reach_by_grade: {', '.join(wrong)} is not {self.fibre} fibre")
        return self


class StorageModel(Spec):
    vendor: str
    usable_tb: Positive
    read_gbytes_s: Positive
    power_kw: Positive
    rack_units: Annotated[int, Field(ge=1, le=20)]
    nics: list[Nic] = []
    source: str = ""


# What a switch does in its fabric, and so which of its OS's file sets it gets: a switch of a
# routed fabric routes (BGP); a subnet-manager host runs its fabric's subnet manager.
SwitchFunction = Literal["routed", "subnet_manager"]


class OsService(Spec):
    """A service a switch's OS runs for the files it gets, and the port it listens on."""

    unit: PlatformName = Field(description="the systemd unit")
    port: PortNumber | None = None


class SwitchOs(Spec):
    """A network operating system: how its switches are reached, named and configured."""

    vendor: str
    linux: bool = Field(
        description="a Linux NOS: Ansible reaches the switch over SSH like a server and places "
        "its files (unset: the files are rendered for the vendor's own tools to load)"
    )
    files: dict[SwitchFunction, list[RenderFile]] = Field(
        default={}, description="the files a switch gets for each function it has"
    )
    services: list[OsService] = Field(
        default=[], description="what runs on a switch that gets files (verify checks them)"
    )
    exporter: Exporter | None = Field(
        default=None, description="the Prometheus exporter on a switch that gets files"
    )
    source: str = ""


FabricControl = Literal["bgp", "subnet-manager"]
IpoibMode = Literal["datagram", "connected"]
# The largest IPoIB MTU of each mode: datagram carries one IB packet (4096-byte IB MTU less
# the 4-byte IPoIB header); connected mode, the RFC 4755 limit the Linux driver takes.
IPOIB_MAX_MTU: dict[str, int] = {"datagram": 4092, "connected": 65520}


class Ipoib(Spec):
    mode: IpoibMode = "datagram"
    mtu: Annotated[int, Field(ge=576, le=65535)] = 4092


class FabricManager(Spec):
    """The fabric-manager appliances of a cluster (UFM on InfiniBand): servers racked in the
    cluster's network racks whose fabric ports take the last node slot of the cluster's first
    units (DGX SuperPOD keeps that slot for the UFM connections); they run the subnet
    manager."""

    model: ModelName = Field(description="the appliance, an entry of catalog.servers")
    count: Annotated[int, Field(ge=1, le=8)] = Field(description="appliances per cluster")
    files: list[RenderFile] = Field(
        default=[], description="the subnet manager's files on an appliance that runs it"
    )


class FabricKind(Spec):
    """A kind of compute fabric: its protocol and how it is controlled, which decide what the
    plan gives its switches (addresses, ASNs, BGP sessions; or subnet managers)."""

    protocol: Protocol
    control: FabricControl = Field(
        description="bgp: every switch routes (a loopback, /31 links, an ASN); subnet-manager: "
        "a subnet manager programs the switches, which hold no addresses"
    )
    subnet_managers: Annotated[int, Field(ge=0, le=8)] = Field(
        default=0, description="subnet managers per cluster (master, then standbys)"
    )
    mtu: Annotated[int, Field(ge=576, le=9216)] = Field(
        default=9000, description="the IP MTU of node compute interfaces (Ethernet)"
    )
    ipoib: Ipoib | None = Field(
        default=None, description="IP over the fabric's own link layer (InfiniBand)"
    )
    lossless: bool = Field(default=False, description="PFC/ECN lossless class for RDMA")
    fabric_manager: FabricManager | None = Field(
        default=None,
        description="fabric-manager appliances per cluster: they take the last node slot of "
        "the cluster's first units (one leaf port per appliance fabric port) and run the "
        "subnet managers, master then standby (unset: none; the first cores or spines run "
        "them)",
    )
    source: str = ""

    @property
    def routed(self) -> bool:
        return self.control == "bgp"

    @property
    def has_subnet_manager(self) -> bool:
        return self.control == "subnet-manager"

    @property
    def host_mtu(self) -> int:
        return self.ipoib.mtu if self.ipoib is not None else self.mtu


class Catalog(Spec):
    fabrics: dict[ModelName, FabricKind] = {}
    switch_os: dict[PlatformName, SwitchOs] = {}
    accelerators: dict[ModelName, Accelerator] = {}
    servers: dict[ModelName, Server] = {}
    nics: dict[ModelName, NicModel] = {}
    switches: dict[ModelName, SwitchModel] = {}
    optics: dict[ModelName, Optic] = {}
    storage: dict[ModelName, StorageModel] = {}


# --- facility ------------------------------------------------------------------------------

Cooling = Literal["air", "liquid", "hybrid"]


class Hall(Spec):
    name: Name
    feed_mw: Positive
    cooling: Cooling
    pue: Annotated[float, Field(ge=1.0, le=3.0)] = Field(
        description="annual-average PUE: facility energy = IT energy x pue"
    )
    design_pue: Annotated[float, Field(ge=1.0, le=3.0)] | None = Field(
        default=None,
        description="design (peak) PUE the hall's feed is sized with (HK204); default: pue",
    )
    phase: PhaseId

    @model_validator(mode="after")
    def _design_not_below_annual(self) -> Hall:
        if self.design_pue is not None and self.design_pue < self.pue:
            raise ValueError(
                f"design_pue {self.design_pue:g} is below the annual pue {self.pue:g}: the peak "
                "PUE cannot be better than the year's average"
            )
        return self


class Rack(Spec):
    name: Name
    hall: Name
    phase: PhaseId
    row: Annotated[str, Field(min_length=1, max_length=16)]
    x_m: NonNegative
    y_m: NonNegative
    pitch_m: Positive = 0.6
    units: Annotated[int, Field(ge=1, le=60)] = 48
    power_kw: Positive
    cooling: Cooling | None = None


class Phase(Spec):
    id: PhaseId
    name: str
    due: dt.date
    target_pflops: Positive = Field(description="cumulative site PFLOPS due by this phase")
    description: str = ""


# --- scalable units ---------------------------------------------------------------------------


class SwitchSet(Spec):
    model: ModelName
    count: Annotated[int, Field(ge=0, le=64)]


class UnitTemplate(Spec):
    server: ModelName
    fabric: ModelName = Field(description="the kind of compute fabric, an entry of catalog.fabrics")
    node_slots: Annotated[int, Field(ge=1, le=512)] = 32
    rails: Annotated[int, Field(ge=1, le=16)] = 8
    node_racks: Annotated[int, Field(ge=1, le=64)]
    nodes_per_rack: Annotated[int, Field(ge=1, le=64)]
    network_racks: Annotated[int, Field(ge=0, le=8)] = 1
    node_u_start: Annotated[int, Field(ge=1, le=60)] = 2
    leaf: ModelName
    spine: ModelName
    units_per_group: Annotated[int, Field(ge=1, le=64)] = 4
    spines_per_group: Annotated[int, Field(ge=1, le=256)] = 16
    oversubscription: Annotated[float, Field(ge=1.0, le=8.0)] = 1.0
    core_uplinks_per_spine: Annotated[int, Field(ge=0, le=256)] = 0
    storage_leaves: SwitchSet | None = None
    inband_switches: SwitchSet | None = None
    oob_switches: SwitchSet | None = None


class Core(Spec):
    model: ModelName
    count: Annotated[int, Field(ge=1, le=256)]


class UnitSpec(Spec):
    name: Name
    phase: PhaseId
    racks: Name
    nodes: Annotated[int, Field(ge=0, le=512)] | None = None
    status: Status = Status.PLANNED
    tenant: Name | None = None


class Cluster(Spec):
    name: Name
    template: ModelName
    hall: Name
    network_racks: Name = Field(description="racks for spines and core switches (a range)")
    core: Core | None = None
    tenants: list[Name] = []
    units: list[UnitSpec]


# --- explicit devices and links ------------------------------------------------------------


class Role(enum.StrEnum):
    """What a device is in the site. A str enum: compares equal to its value, so templates,
    CSVs and JSON see the plain name."""

    GPU_NODE = "gpu_node"
    STORAGE = "storage"
    SERVICE = "service"
    FABRIC_MANAGER = "fabric_manager"
    LEAF = "leaf"
    SPINE = "spine"
    CORE = "core"
    STORAGE_LEAF = "storage_leaf"
    STORAGE_SPINE = "storage_spine"
    INBAND_SWITCH = "inband_switch"
    OOB_SWITCH = "oob_switch"


class SecretRef(Spec):
    """A secret is never written in plain text: it is an ansible-vault value or a reference."""

    vault: str | None = Field(default=None, description="an ansible-vault encrypted value")
    env: str | None = Field(default=None, description="an environment variable's name")
    file: str | None = Field(default=None, description="a file holding the value")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("vault", "env", "file") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a secret needs exactly one of 'vault', 'env' or 'file'")
        if self.vault is not None and not self.vault.lstrip().startswith("$ANSIBLE_VAULT;"):
            raise ValueError("'vault' must be an ansible-vault value ($ANSIBLE_VAULT;...)")
        return self


SecretName = Literal["munge_key", "bmc_password", "switch_password", "monitoring_token"]


class Bmc(Spec):
    user: str = "admin"
    password: SecretRef | None = None
    mac: str | None = None


ServiceName = Literal["dns", "dhcp", "ntp", "prometheus", "slurmctld", "login", "opensm"]
SERVICES: tuple[str, ...] = ("dns", "dhcp", "ntp", "prometheus", "slurmctld", "opensm")

MAC_PATTERN = r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$"


class DeviceSpec(Spec):
    name: Name
    role: Role | None = None
    model: ModelName | None = None
    rack: Name | None = None
    u: Annotated[int, Field(ge=1, le=60)] | None = None
    per_rack: Annotated[int, Field(ge=1, le=64)] = 1
    phase: PhaseId | None = None
    status: Status | None = None
    tenant: Name | None = None
    serial: str | None = None
    mac: Annotated[str, Field(pattern=MAC_PATTERN)] | None = None
    bmc: Bmc | None = None
    addresses: dict[Literal["oob", "inband", "storage", "loopback"], str] = {}
    services: list[ServiceName] = Field(
        default=[],
        description="what a service node runs; when no device names any, the "
        "first service node runs them all",
    )

    @field_validator("addresses")
    @classmethod
    def _valid_interfaces(cls, v: dict[str, str]) -> dict[str, str]:
        for net, addr in v.items():
            try:
                ipaddress.ip_interface(addr)
            except ValueError as exc:
                raise ValueError(f"{net}: {addr!r} is not an address") from exc
        return v


class LinkSpec(Spec):
    a: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*:[\w/.\-]+$")]
    b: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]*:[\w/.\-]+$")]
    network: Network
    speed_gbps: Positive | None = None
    optic: ModelName | None = None
    length_m: Positive | None = None
    phase: PhaseId | None = None


# --- networks, tenants, energy --------------------------------------------------------------

PoolName = Literal["oob", "inband", "storage", "compute", "loopback", "p2p"]


class Pool(Spec):
    cidr: str

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            ipaddress.ip_network(v, strict=True)
        except ValueError as exc:
            raise ValueError(f"{v!r} is not a network (host bits set, or malformed)") from exc
        return v


class AsnRange(Spec):
    first: Annotated[int, Field(ge=1, le=4_294_967_294)]
    last: Annotated[int, Field(ge=1, le=4_294_967_294)]

    @model_validator(mode="after")
    def _ordered(self) -> AsnRange:
        if self.last < self.first:
            raise ValueError("'last' is below 'first'")
        return self


class Networks(Spec):
    pools: dict[PoolName, Pool]
    asn: dict[Literal["leaf", "spine", "core"], AsnRange] = {}

    @model_validator(mode="after")
    def _ipv4_where_rendered_as_ipv4(self) -> Networks:
        # These pools' addresses become DNS A records, in-addr.arpa zones and DHCP ranges:
        # an IPv6 pool there planned fine, then crashed the render (found with the fuzz harness).
        for name in ("oob", "inband", "storage", "loopback"):
            pool = self.pools.get(name)
            if pool is not None and ipaddress.ip_network(pool.cidr).version != 4:
                raise ValueError(
                    f"pool {name!r} must be IPv4 ({pool.cidr}): its addresses go "
                    "into DNS A records, in-addr.arpa zones and DHCP"
                )
        return self


class Tenant(Spec):
    name: Name
    kind: Literal["local", "cross-border", "international"]
    sector: str = ""
    residency: Annotated[str, Field(min_length=2)]
    phases: list[PhaseId] = []
    clusters: list[Name] = []


class EnergyAsset(Spec):
    name: Name
    kind: Literal["solar", "wind", "fuel-cell", "battery", "ups"]
    hall: Name | None = None
    phase: PhaseId
    kw: NonNegative | None = Field(
        default=None,
        description="power rating in kW: nameplate (peak) output of solar, wind and fuel cells; "
        "the most a battery or UPS can deliver (omitted: not stated, runtime from kWh alone)",
    )
    kwh: NonNegative = Field(default=0, description="stored energy of a battery or UPS, kWh")
    capacity_factor: Annotated[float, Field(ge=0.0, le=1.0)] | None = Field(
        default=None,
        description="annual energy over kw x 8,760 h of a solar, wind or fuel-cell asset (a "
        "fuel cell: its running hours a year / 8,760); default: the kind's, see "
        "hkcompute/capacity.py",
    )


# --- QoS: one lossless-RoCE policy for the whole site ---------------------------------------
# What the switches of a lossless fabric (catalog fabrics ``lossless: true``) and its hosts'
# RDMA ports are configured with, from one place: the RoCE class, the CNP class, PFC and
# ECN. The defaults are the vendors' own lossless RoCE defaults:
# - NVIDIA Onyx "show roce" in lossless mode (Onyx user manual, RoCE commands) and Cumulus
#   Linux "RDMA over Converged Ethernet - RoCE", default RoCE configuration: RoCE on switch
#   priority 3 = traffic class 3 (WRR 50%), CNP on switch priority 6 = traffic class 6
#   (strict), PFC on switch priority 3 only, ECN absolute threshold 150-1500 KB (Cumulus:
#   "150000 1500000 bytes") on traffic class 3, trust L3 (DSCP).
# - Huawei CloudEngine lossless network configuration guide (EDOC1100155250, "Configuring
#   PFC"): queue 6 carries CNP, queues 3-5 RoCEv2 with PFC on their priorities, queues 6-7
#   strict priority.
# - DSCP 26 (AF31) for RoCE data and 48 (CS6) for CNP: the markings NVIDIA's RoCE
#   configuration uses for the two classes (ConnectX RoCE ToS 106 = DSCP 26 << 2 | ECT;
#   CNP DSCP 48), which a DSCP-trusting switch maps to priorities 3 and 6.

QosPriority = Annotated[int, Field(ge=0, le=7, description="an IEEE 802.1p priority, 0-7")]
Dscp = Annotated[int, Field(ge=0, le=63, description="a DSCP code point, 0-63")]


class TrafficClass(Spec):
    """A class of traffic: the priority (and so the switch queue and PFC priority) it rides
    on, and the DSCP its packets carry, which DSCP-trusting ports map to that priority."""

    priority: QosPriority
    dscp: Dscp

    @property
    def tos(self) -> int:
        """The IP ToS byte of the class: the DSCP in its upper six bits, ECN bits clear
        (what RDMA-CM's ``cma_roce_tos`` takes)."""
        return self.dscp << 2


class Pfc(Spec):
    """Priority flow control (IEEE 802.1Qbb) on the fabric's ports."""

    priorities: list[QosPriority] = Field(
        default=[3],
        description="the priorities PFC pauses (NVIDIA Onyx/Cumulus lossless RoCE: "
        "switch priority 3 only); each should carry a lossless class",
    )
    headroom_kb: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None,
        description="the PFC headroom a port reserves for the lossless priority, in KB "
        "(unset: the switch's own, computed from cable length and MTU; Huawei "
        "'dcb pfc buffer ... hdrm', NVIDIA 'buffer' per priority group)",
    )


class Ecn(Spec):
    """ECN marking (WRED, for DCQCN) on the RoCE queue of every fabric port."""

    min_kb: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=150,
        description="queue depth in KB where marking starts (NVIDIA Onyx/Cumulus lossless "
        "RoCE default: 150 KB)",
    )
    max_kb: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=1500,
        description="queue depth in KB where every packet is marked (NVIDIA Onyx/Cumulus "
        "default: 1500 KB)",
    )
    probability: Annotated[int, Field(ge=1, le=100)] = Field(
        default=100,
        description="marking probability in percent at max_kb (Cumulus Linux "
        "qos_features.conf ECN default: 100)",
    )


class Qos(Spec):
    """The site's one lossless-RoCE policy: what every switch and RDMA port of a lossless
    fabric is configured with (docs/inventory.md, section qos)."""

    roce: TrafficClass = Field(
        default=TrafficClass(priority=3, dscp=26),
        description="the RoCE data class: lossless, PFC on its priority, ECN-marked "
        "(NVIDIA and Huawei: priority/queue 3; DSCP 26)",
    )
    cnp: TrafficClass = Field(
        default=TrafficClass(priority=6, dscp=48),
        description="the DCQCN congestion notification packets: strict priority, not "
        "paused (NVIDIA: switch priority 6, traffic class 6 strict; Huawei: queue 6; DSCP 48)",
    )
    pfc: Pfc = Pfc()
    ecn: Ecn = Ecn()


class SiteSpec(Spec):
    """The whole written site. Top-level keys may be split over files as the user likes."""

    site: SiteInfo
    catalog: Catalog = Catalog()
    halls: list[Hall]
    racks: list[Rack]
    phases: list[Phase]
    unit_templates: dict[ModelName, UnitTemplate] = {}
    clusters: list[Cluster] = []
    devices: list[DeviceSpec] = []
    links: list[LinkSpec] = []
    networks: Networks
    tenants: list[Tenant] = []
    energy: list[EnergyAsset] = []
    secrets: dict[SecretName, SecretRef] = Field(
        default={}, description="site-wide secrets, as vault values or references"
    )
    qos: Qos = Field(
        default=Qos(),
        description="the lossless-RoCE policy of every lossless fabric (unset: the vendors' "
        "defaults, RoCE priority 3 DSCP 26, CNP priority 6 DSCP 48, PFC on 3, ECN 150-1500 KB)",
    )


TOP_LEVEL_KEYS = tuple(SiteSpec.model_fields)
SECRET_NAMES: tuple[str, ...] = ("munge_key", "bmc_password", "switch_password", "monitoring_token")
