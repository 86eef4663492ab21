"""Capacity of a site, phase by phase: compute, power, energy and storage.

Pure functions over the expanded ``Site`` (no I/O). Every figure is given both for what a
phase adds and cumulatively (everything built up to and including that phase), because
targets are cumulative: ``phases[].target_pflops`` is what the site must reach by that phase.

Counting rules, chosen so the figures can be checked by hand:

* PFLOPS are dense BF16 (``bf16_dense_tflops`` of the catalogue; sparse figures would be
  double and are never used). A compute node (role ``gpu_node``) gives
  ``accelerators x TFLOPS / 1000`` PFLOPS, the same count as the phase-target rule.
* Devices whose status is ``failed`` or ``retired`` give no PFLOPS, and their accelerators
  are not counted (so ``pflops == sum(count x TFLOPS) / 1000`` over ``accelerators``), nor
  does failed storage count toward usable TB or read bandwidth. They still count as nodes
  present (``nodes``, with ``excluded_nodes`` saying how many) and still draw power: a failed
  node waiting for RMA sits powered in its rack, so power and feed figures stay conservative.
* IT power is the catalogue power of every device present; facility power multiplies each
  device's IT power by the PUE of its own hall (halls differ: air vs liquid cooling).
* Renewable share, two figures. ``renewable_share`` is nameplate POWER: on-site renewable kW
  (energy assets of kind solar, wind, fuel-cell built by the phase) over cumulative facility
  kW, capped at 1. ``renewable_share_energy`` is ENERGY over a year, the figure an auditor
  accepts: renewable MWh/yr (``kw x capacity_factor x 8,760 h``, the factor the asset's own or
  its kind's default in ``CAPACITY_FACTORS``) over facility MWh/yr, capped at 1 (a surplus
  is exported, not stored).
* IT energy is at full IT load all year: ``IT kW x 8,760 h`` (the inventory states no
  utilisation, so this is the upper bound of consumption and the share a lower bound);
  facility energy multiplies each device's IT energy by its hall's annual ``pue`` (the
  design PUE sizes feeds, never energy).
* Storage runtime: minutes that the battery and UPS built by the phase carry the cumulative
  IT load, from both ratings: the largest T with ``sum(min(kw, kWh / T)) >= IT kW`` (each
  asset gives at most its power rating, and at most its energy spread over T). Assets
  without a ``kw`` count as able to deliver any power, so with none rated this is
  ``kWh / IT kW x 60``. When the rated power falls short of the IT load there is no runtime
  (None): ``storage_load_covered`` says which fraction of the load the assets can carry.
  The figure is site-wide: it assumes any asset can feed any hall.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hkcompute.model import Device, Site

PRECISION = "bf16-dense"
EXCLUDED_STATUSES = frozenset({"failed", "retired"})
RENEWABLE_KINDS = frozenset({"solar", "wind", "fuel-cell"})
STORED_ENERGY_KINDS = frozenset({"battery", "ups"})
HOURS_PER_YEAR = 8760.0

# Annual capacity factor (energy a year / (kW x 8,760 h)) of a renewable asset that does not
# state its own ``capacity_factor``. Hong Kong figures:
CAPACITY_FACTORS: dict[str, float] = {
    # Solar: EMSD renewable-energy portal (re.emsd.gov.hk, "Solar PV - Resource Potential"):
    # daily mean horizontal irradiation at the Hong Kong Observatory's King's Park station,
    # 2.75 (Feb) to 4.60 (Jul) kWh/m2/day, about 3.6 on average = about 1,300 kWh/m2 a year;
    # at a performance ratio of 0.8 that is about 1,050 kWh per kWp a year = 0.12. (EMSD's
    # own figure for a horizontal panel, 121 kWh/m2 a year, gives about 0.09 at 0.15 kWp/m2:
    # state the factor on the asset when the design yield is known.)
    "solar": 0.12,
    # Wind: HK Electric's Lamma Winds (Nordex N50, 800 kW, Lamma Island), capacity factor
    # about 13%, an average output of about 100 kW.
    "wind": 0.13,
    # Fuel cell: dispatchable, so its yield is the running hours a year the site plans
    # (capacity_factor = hours / 8,760), which only the site can state; unstated, it counts
    # no energy (an audited figure assumes no running hours).
    "fuel-cell": 0.0,
}


def capacity_factor(kind: str, stated: float | None) -> float:
    """The asset's own factor, else its kind's default (0 for a kind with none)."""
    return stated if stated is not None else CAPACITY_FACTORS.get(kind, 0.0)


def carry_hours(assets: list[tuple[float | None, float]], load_kw: float) -> float | None:
    """Hours that storage assets ``(kw or None, kWh)`` together carry ``load_kw``: the largest
    T with ``sum(min(kw, kWh / T)) >= load_kw``. None when their power cannot reach the
    load (or there is no load or no energy)."""
    if load_kw <= 0:
        return None
    # An asset rated 0 kW delivers nothing, whatever it stores.
    energy = [(kw, kwh) for kw, kwh in assets if kwh > 0 and (kw is None or kw > 0)]
    if not energy:
        return None
    if any(kw is None for kw, _ in energy):
        rated = float("inf")
    else:
        rated = sum(float(kw) for kw, _ in energy if kw is not None)
    if rated < load_kw - 1e-9:
        return None
    # f(T) = sum(min(kw, kWh/T)) falls as T grows. Past T_i = kWh_i / kw_i asset i is
    # energy-limited; between breakpoints f(T) = P + E / T, so solve on each segment.
    points = sorted({kwh / kw for kw, kwh in energy if kw is not None})
    lo = 0.0
    for hi in [*points, float("inf")]:
        # On (lo, hi]: assets with kWh/kw >= hi deliver kw, the others kWh/T.
        p = sum(float(kw) for kw, kwh in energy if kw is not None and kwh / kw >= hi)
        e = sum(kwh for kw, kwh in energy if kw is None or kwh / kw < hi)
        # f(T) = p + e / T = load  ->  T = e / (load - p)
        if p >= load_kw:
            if hi == float("inf"):  # unreachable: an asset with kWh is energy-limited at last
                return None
            lo = hi
            continue
        t = e / (load_kw - p) if e > 0 else 0.0
        if t <= hi + 1e-12:
            return max(t, lo)
        lo = hi
    return None


def load_covered(assets: list[tuple[float | None, float]], load_kw: float) -> float:
    """Fraction (0-1) of ``load_kw`` the assets' power ratings can deliver at all; unrated
    assets with energy count as covering it."""
    if load_kw <= 0:
        return 1.0
    live = [kw for kw, kwh in assets if kwh > 0]
    if not live:
        return 0.0
    if any(kw is None for kw in live):
        return 1.0
    return min(1.0, sum(float(kw) for kw in live if kw is not None) / load_kw)


def _nested_counts(raw: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Sorted copies, so JSON and tables come out in a stable order."""
    return {v: dict(sorted(models.items())) for v, models in sorted(raw.items())}


@dataclass
class _Tally:
    """Sums over a set of devices (one phase's, or everything up to a phase)."""

    tflops: float = 0.0
    accelerators: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    nodes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    excluded_nodes: int = 0
    devices: int = 0
    it_kw: float = 0.0
    facility_kw: float = 0.0
    usable_tb: float = 0.0
    read_gbytes_s: float = 0.0

    def add(self, site: Site, d: Device) -> None:
        self.devices += 1
        kw = site.catalog.power_kw(d.model)
        hall = site.halls.get(d.hall)
        self.it_kw += kw
        # A device whose hall is unknown (a finding elsewhere) counts at PUE 1.
        self.facility_kw += kw * (hall.pue if hall is not None else 1.0)
        counts = d.status not in EXCLUDED_STATUSES
        acc, n, acc_name = site.accelerators_of(d)
        server = site.catalog.servers.get(d.model)
        if d.role == "gpu_node":
            vendor = acc.vendor if acc is not None else (server.vendor if server else "unknown")
            self.nodes[vendor] += 1
            if not counts:
                self.excluded_nodes += 1
        # Only compute nodes count toward PFLOPS (as in the phase-target rule): an
        # accelerator in a service box is not in the scheduler's pool.
        if d.role == "gpu_node" and acc is not None and acc_name is not None and n and counts:
            self.tflops += acc.bf16_dense_tflops * n
            self.accelerators[acc.vendor][acc_name] += n
        store = site.catalog.storage.get(d.model)
        if store is not None and counts:
            self.usable_tb += store.usable_tb
            self.read_gbytes_s += store.read_gbytes_s

    @property
    def pflops(self) -> float:
        return self.tflops / 1000.0


@dataclass(frozen=True)
class StoredAsset:
    """A battery or UPS as capacity sees it: its power rating (None: not stated) and energy."""

    name: str
    kind: str
    kw: float | None
    kwh: float
    phase: int = 0
    hall: str | None = None

    def to_dict(self, load_kw: float) -> dict[str, Any]:
        """Against ``load_kw``: the fraction of the load its power can carry, and minutes it
        carries the whole load alone (None when its power cannot)."""
        hours = carry_hours([(self.kw, self.kwh)], load_kw)
        return {
            "name": self.name,
            "kind": self.kind,
            "phase": self.phase,
            "hall": self.hall,
            "kw": None if self.kw is None else round(self.kw, 3),
            "kwh": round(self.kwh, 3),
            "load_covered": round(load_covered([(self.kw, self.kwh)], load_kw), 4),
            "runtime_min": None if hours is None else round(hours * 60, 2),
        }


@dataclass(frozen=True)
class RenewableAsset:
    name: str
    kind: str
    kw: float
    capacity_factor: float
    factor_stated: bool

    @property
    def mwh_per_year(self) -> float:
        return self.kw * self.capacity_factor * HOURS_PER_YEAR / 1000.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "kw": round(self.kw, 3),
            "capacity_factor": round(self.capacity_factor, 4),
            "capacity_factor_source": "asset" if self.factor_stated else "default",
            "mwh_per_year": round(self.mwh_per_year, 3),
        }


@dataclass(frozen=True)
class PhaseCapacity:
    """The figures of one phase. Unprefixed figures (``pflops``, ``accelerators``, ``nodes``,
    ``it_power_kw``, ...) are what this phase adds; ``cumulative_*`` ones include every
    earlier phase. Energy (``renewable_kw``, ``stored_energy_kwh``) and what derives from it
    (``renewable_share``, ``storage_runtime_min``) is always what is built by this phase."""

    phase: int
    name: str
    due: str
    target_pflops: float
    site_target_pflops: float
    pflops: float
    cumulative_pflops: float
    accelerators: dict[str, dict[str, int]]
    cumulative_accelerators: dict[str, dict[str, int]]
    nodes: dict[str, int]
    cumulative_nodes: dict[str, int]
    excluded_nodes: int
    cumulative_excluded_nodes: int
    devices: int
    cumulative_devices: int
    it_power_kw: float
    cumulative_it_power_kw: float
    facility_power_kw: float
    cumulative_facility_power_kw: float
    renewable_kw: float
    stored_energy_kwh: float
    storage_usable_tb: float
    cumulative_storage_usable_tb: float
    storage_read_gbytes_s: float
    cumulative_storage_read_gbytes_s: float
    # Built by the phase, one entry per asset. Empty ``stored_assets``: runtime from
    # ``stored_energy_kwh`` alone, as if unrated.
    renewable_assets: tuple[RenewableAsset, ...] = ()
    stored_assets: tuple[StoredAsset, ...] = ()

    @property
    def it_energy_mwh_per_year(self) -> float:
        """Cumulative IT energy a year at full IT load (no utilisation is stated)."""
        return self.cumulative_it_power_kw * HOURS_PER_YEAR / 1000.0

    @property
    def facility_energy_mwh_per_year(self) -> float:
        """IT energy x each hall's annual PUE."""
        return self.cumulative_facility_power_kw * HOURS_PER_YEAR / 1000.0

    @property
    def renewable_energy_mwh_per_year(self) -> float:
        return sum(a.mwh_per_year for a in self.renewable_assets)

    @property
    def renewable_share_energy(self) -> float:
        """Renewable MWh a year over facility MWh a year, as a fraction in [0, 1]."""
        if self.facility_energy_mwh_per_year <= 0:
            return 0.0
        return min(1.0, self.renewable_energy_mwh_per_year / self.facility_energy_mwh_per_year)

    @property
    def _storage(self) -> list[tuple[float | None, float]]:
        if not self.stored_assets:
            return [(None, self.stored_energy_kwh)]
        return [(a.kw, a.kwh) for a in self.stored_assets]

    @property
    def storage_load_covered(self) -> float:
        """Fraction of the cumulative IT load the storage's power ratings can carry."""
        return load_covered(self._storage, self.cumulative_it_power_kw)

    @property
    def progress_pct(self) -> float:
        """Cumulative PFLOPS as a percentage of the site's final target."""
        if self.site_target_pflops <= 0:
            return 0.0
        return 100.0 * self.cumulative_pflops / self.site_target_pflops

    @property
    def gap_pflops(self) -> float:
        """PFLOPS still missing to the site's final target (0 once reached)."""
        return max(0.0, self.site_target_pflops - self.cumulative_pflops)

    @property
    def phase_gap_pflops(self) -> float:
        """PFLOPS missing to this phase's own (cumulative) target (0 when met)."""
        return max(0.0, self.target_pflops - self.cumulative_pflops)

    @property
    def target_met(self) -> bool:
        return self.cumulative_pflops >= self.target_pflops

    @property
    def renewable_share(self) -> float:
        """On-site renewable nameplate kW over cumulative facility kW, as a fraction in
        [0, 1]: a power ratio, not energy (see ``renewable_share_energy``)."""
        if self.cumulative_facility_power_kw <= 0:
            return 0.0
        return min(1.0, self.renewable_kw / self.cumulative_facility_power_kw)

    @property
    def storage_runtime_min(self) -> float | None:
        """Minutes the battery and UPS built so far carry the cumulative IT load, from their
        energy and power ratings (None when there is no load to carry, or their power cannot
        carry it: see ``storage_load_covered``)."""
        if self.cumulative_it_power_kw <= 0:
            return None
        if self.stored_energy_kwh <= 0:
            return 0.0
        hours = carry_hours(self._storage, self.cumulative_it_power_kw)
        return None if hours is None else hours * 60.0

    @property
    def cumulative_nodes_total(self) -> int:
        return sum(self.cumulative_nodes.values())

    def to_dict(self) -> dict[str, Any]:
        runtime = self.storage_runtime_min
        return {
            "phase": self.phase,
            "name": self.name,
            "due": self.due,
            "precision": PRECISION,
            "pflops": round(self.pflops, 3),
            "cumulative_pflops": round(self.cumulative_pflops, 3),
            "target_pflops": round(self.target_pflops, 3),
            "target_met": self.target_met,
            "phase_gap_pflops": round(self.phase_gap_pflops, 3),
            "site_target_pflops": round(self.site_target_pflops, 3),
            "progress_pct": round(self.progress_pct, 2),
            "gap_pflops": round(self.gap_pflops, 3),
            "accelerators": self.accelerators,
            "cumulative_accelerators": self.cumulative_accelerators,
            "nodes": self.nodes,
            "nodes_total": sum(self.nodes.values()),
            "cumulative_nodes": self.cumulative_nodes,
            "cumulative_nodes_total": self.cumulative_nodes_total,
            "excluded_nodes": self.excluded_nodes,
            "cumulative_excluded_nodes": self.cumulative_excluded_nodes,
            "devices": self.devices,
            "cumulative_devices": self.cumulative_devices,
            "it_power_kw": round(self.it_power_kw, 3),
            "cumulative_it_power_kw": round(self.cumulative_it_power_kw, 3),
            "facility_power_kw": round(self.facility_power_kw, 3),
            "cumulative_facility_power_kw": round(self.cumulative_facility_power_kw, 3),
            "renewable_kw": round(self.renewable_kw, 3),
            "renewable_share": round(self.renewable_share, 4),
            "renewable_share_basis": "nameplate kW over facility kW",
            "renewable_share_energy": round(self.renewable_share_energy, 4),
            "renewable_energy_mwh_per_year": round(self.renewable_energy_mwh_per_year, 3),
            "it_energy_mwh_per_year": round(self.it_energy_mwh_per_year, 3),
            "it_energy_basis": "full IT load, 8,760 h",
            "facility_energy_mwh_per_year": round(self.facility_energy_mwh_per_year, 3),
            "renewable_assets": [a.to_dict() for a in self.renewable_assets],
            "stored_energy_kwh": round(self.stored_energy_kwh, 3),
            "storage_runtime_min": None if runtime is None else round(runtime, 2),
            "storage_load_covered": round(self.storage_load_covered, 4),
            "stored_assets": [a.to_dict(self.cumulative_it_power_kw) for a in self.stored_assets],
            "storage_usable_tb": round(self.storage_usable_tb, 3),
            "cumulative_storage_usable_tb": round(self.cumulative_storage_usable_tb, 3),
            "storage_read_gbytes_s": round(self.storage_read_gbytes_s, 3),
            "cumulative_storage_read_gbytes_s": round(self.cumulative_storage_read_gbytes_s, 3),
        }


@dataclass(frozen=True)
class SiteCapacity:
    site: str
    site_target_pflops: float
    site_target_year: int
    site_target_precision: str
    phases: tuple[PhaseCapacity, ...]

    @property
    def final(self) -> PhaseCapacity | None:
        return self.phases[-1] if self.phases else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "precision": PRECISION,
            "site_target_pflops": round(self.site_target_pflops, 3),
            "site_target_year": self.site_target_year,
            "site_target_precision": self.site_target_precision,
            "phases": [p.to_dict() for p in self.phases],
        }


def _freeze(t: _Tally) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    return _nested_counts(t.accelerators), dict(sorted(t.nodes.items()))


def capacity(site: Site, phase: int | None = None) -> SiteCapacity:
    """Capacity per phase, in phase-id order; with ``phase``, only that phase (its
    cumulative figures still include every earlier phase)."""
    ids = site.phase_ids
    own: dict[int, _Tally] = {pid: _Tally() for pid in ids}
    for d in site.devices.values():
        tally = own.get(d.phase)
        if tally is not None:  # a device in an undefined phase is a finding, not capacity
            tally.add(site, d)
    target = float(site.info.target.pflops)
    out: list[PhaseCapacity] = []
    cum = _Tally()
    for pid in ids:
        # Cumulative tallies are rebuilt by re-adding devices rather than summing the
        # per-phase dicts, which keeps one code path for every figure.
        for d in site.devices.values():
            if d.phase == pid:
                cum.add(site, d)
        info = site.phase(pid)
        assert info is not None
        built = [e.spec for e in site.energy if e.spec.phase <= pid]
        renewables = tuple(
            RenewableAsset(
                e.name,
                e.kind,
                float(e.kw or 0.0),
                capacity_factor(e.kind, e.capacity_factor),
                e.capacity_factor is not None,
            )
            for e in built
            if e.kind in RENEWABLE_KINDS
        )
        stores = tuple(
            StoredAsset(
                e.name, e.kind, None if e.kw is None else float(e.kw), float(e.kwh), e.phase, e.hall
            )
            for e in built
            if e.kind in STORED_ENERGY_KINDS
        )
        renew = sum(a.kw for a in renewables)
        stored = sum(a.kwh for a in stores)
        t = own[pid]
        acc, nodes = _freeze(t)
        cacc, cnodes = _freeze(cum)
        if phase is not None and pid != phase:
            continue
        out.append(
            PhaseCapacity(
                phase=pid,
                name=info.name,
                due=info.due.isoformat(),
                target_pflops=float(info.target_pflops),
                site_target_pflops=target,
                pflops=t.pflops,
                cumulative_pflops=cum.pflops,
                accelerators=acc,
                cumulative_accelerators=cacc,
                nodes=nodes,
                cumulative_nodes=cnodes,
                excluded_nodes=t.excluded_nodes,
                cumulative_excluded_nodes=cum.excluded_nodes,
                devices=t.devices,
                cumulative_devices=cum.devices,
                it_power_kw=t.it_kw,
                cumulative_it_power_kw=cum.it_kw,
                facility_power_kw=t.facility_kw,
                cumulative_facility_power_kw=cum.facility_kw,
                renewable_kw=float(renew),
                stored_energy_kwh=float(stored),
                storage_usable_tb=t.usable_tb,
                cumulative_storage_usable_tb=cum.usable_tb,
                storage_read_gbytes_s=t.read_gbytes_s,
                cumulative_storage_read_gbytes_s=cum.read_gbytes_s,
                renewable_assets=renewables,
                stored_assets=stores,
            )
        )
    return SiteCapacity(
        site=site.info.name,
        site_target_pflops=target,
        site_target_year=site.info.target.year,
        site_target_precision=str(site.info.target.precision),
        phases=tuple(out),
    )
