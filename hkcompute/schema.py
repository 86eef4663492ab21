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

Network = Literal["compute", "storage", "inband", "oob"]


class Accelerator(Spec):
    vendor: Annotated[str, Field(min_length=1)]
    bf16_dense_tflops: Positive
    memory_gb: Positive
    power_w: Positive
    gres: Literal["gpu", "npu"]
    device_prefix: str = Field(description="device file prefix, e.g. /dev/nvidia or /dev/davinci")
    source: str = ""


class Nic(Spec):
    network: Network
    count: PosCount
    speed_gbps: Positive


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


class SwitchModel(Spec):
    vendor: str
    kind: Literal["infiniband", "ethernet"]
    ports: PosCount
    speed_gbps: Positive
    power_kw: Positive
    rack_units: Annotated[int, Field(ge=1, le=20)]
    source: str = ""


class Optic(Spec):
    speed_gbps: Positive
    reach_m: Positive
    fibre: Literal["mmf", "smf", "copper"]
    kind: Literal["transceiver", "aoc", "dac", "utp"]
    cost_usd: NonNegative
    source: str = ""


class StorageModel(Spec):
    vendor: str
    usable_tb: Positive
    read_gbytes_s: Positive
    power_kw: Positive
    rack_units: Annotated[int, Field(ge=1, le=20)]
    nics: list[Nic] = []
    source: str = ""


class Catalog(Spec):
    accelerators: dict[ModelName, Accelerator] = {}
    servers: dict[ModelName, Server] = {}
    switches: dict[ModelName, SwitchModel] = {}
    optics: dict[ModelName, Optic] = {}
    storage: dict[ModelName, StorageModel] = {}


# --- facility ------------------------------------------------------------------------------

Cooling = Literal["air", "liquid", "hybrid"]


class Hall(Spec):
    name: Name
    feed_mw: Positive
    cooling: Cooling
    pue: Annotated[float, Field(ge=1.0, le=3.0)]
    phase: PhaseId


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
    fabric: Literal["infiniband", "roce"]
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

Role = Literal[
    "gpu_node",
    "storage",
    "service",
    "leaf",
    "spine",
    "core",
    "storage_leaf",
    "storage_spine",
    "inband_switch",
    "oob_switch",
]


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
    kw: NonNegative = 0
    kwh: NonNegative = 0


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


TOP_LEVEL_KEYS = tuple(SiteSpec.model_fields)
SECRET_NAMES: tuple[str, ...] = ("munge_key", "bmc_password", "switch_password", "monitoring_token")
