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
* Renewable share: on-site renewable kW (energy assets of kind solar, wind, fuel-cell built by
  the phase) over cumulative facility kW, capped at 1 (a surplus is exported, not stored).
* Storage runtime: minutes that the battery and UPS kWh built by the phase carry the
  cumulative IT load: ``kWh / IT kW x 60``.
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
        """On-site renewable kW over cumulative facility kW, as a fraction in [0, 1]."""
        if self.cumulative_facility_power_kw <= 0:
            return 0.0
        return min(1.0, self.renewable_kw / self.cumulative_facility_power_kw)

    @property
    def storage_runtime_min(self) -> float | None:
        """Minutes the battery and UPS energy built so far carry the cumulative IT load
        (None when there is no load to carry)."""
        if self.cumulative_it_power_kw <= 0:
            return None
        return self.stored_energy_kwh / self.cumulative_it_power_kw * 60.0

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
            "stored_energy_kwh": round(self.stored_energy_kwh, 3),
            "storage_runtime_min": None if runtime is None else round(runtime, 2),
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
        renew = sum(
            e.spec.kw for e in site.energy if e.spec.kind in RENEWABLE_KINDS and e.spec.phase <= pid
        )
        stored = sum(
            e.spec.kwh
            for e in site.energy
            if e.spec.kind in STORED_ENERGY_KINDS and e.spec.phase <= pid
        )
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
            )
        )
    return SiteCapacity(
        site=site.info.name,
        site_target_pflops=target,
        site_target_year=site.info.target.year,
        site_target_precision=str(site.info.target.precision),
        phases=tuple(out),
    )
