"""The site report: a self-contained ``report.html`` and its SVG pictures.

``build_report(site)`` derives everything from the site, its plan and its capacity (no I/O);
``write_report(site, out)`` writes it. Output is deterministic (sorted, no timestamps) and
atomic: each top-level file is written beside its target and renamed over it; the folder of
per-rack elevations (about 1,175 files for the bundled site) is written whole into a fresh
folder that then replaces the old one, so a reader never sees a mix of two reports, and
elevations of racks no longer in the inventory disappear.

Layout of ``out``::

    report.html            the page (inline CSS and SVG; links to the files below)
    capacity.svg  power.svg  topology.svg  bom.svg
    floor-<hall>.svg       one per hall
    su-<cluster>.svg       the first scalable unit of each cluster
    racks/<rack>.svg       one elevation per rack
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.process
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute import atomic
from hkcompute.capacity import (
    STORED_ENERGY_KINDS,
    SiteCapacity,
    capacity,
    carry_hours,
    load_covered,
)
from hkcompute.errors import HkError
from hkcompute.model import Device, RackInfo, Site
from hkcompute.plan import plan_for
from hkcompute.plan.bom import SECTIONS, Bom, build_bom, natural
from hkcompute.report import html
from hkcompute.report.svg import inline, standalone
from hkcompute.report.svg.bom import bom_table
from hkcompute.report.svg.capacity import capacity_curve, vendor_pflops
from hkcompute.report.svg.fabric import su_fabric, unit_topology
from hkcompute.report.svg.floor import hall_floor
from hkcompute.report.svg.power import power_energy
from hkcompute.report.svg.rack import rack_elevation

RACK_DIR = "racks"
MAX_INLINE_RACKS = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def file_name(name: str) -> str:
    """A device or rack name as a file name (names are already tame; this is a guard)."""
    return _UNSAFE.sub("_", name) or "_"


@dataclass(frozen=True)
class RackLoad:
    rack: RackInfo
    devices: tuple[Device, ...]
    power_kw: float

    @property
    def fraction(self) -> float:
        return self.power_kw / self.rack.power_kw if self.rack.power_kw > 0 else 0.0

    @property
    def signature(self) -> tuple[tuple[int, int, str, str], ...]:
        """What the rack looks like from the front, names aside: racks with one signature
        are built the same way, so one of them represents all."""
        return tuple((d.u, d.height, d.model, d.role) for d in self.devices)


def rack_loads(
    site: Site, phase: int | None = None, devices: Iterable[Device] | None = None
) -> dict[str, RackLoad]:
    """Each rack's devices (bottom up) and IT load, for the site built up to ``phase``;
    racks in inventory order. Failed devices count: they still draw power."""
    per: dict[str, list[Device]] = defaultdict(list)
    for d in devices if devices is not None else site.devices_upto(phase):
        per[d.rack].append(d)
    out: dict[str, RackLoad] = {}
    for name, rack in site.racks.items():
        if phase is not None and rack.phase > phase and not per.get(name):
            continue
        devs = tuple(sorted(per.get(name, ()), key=lambda x: (x.u, x.name)))
        out[name] = RackLoad(rack, devs, sum(site.catalog.power_kw(d.model) for d in devs))
    return out


def hall_it_kw(site: Site) -> dict[tuple[str, int], float]:
    """Cumulative IT kW of each hall once each phase is built."""
    own: dict[tuple[str, int], float] = defaultdict(float)
    for d in site.devices.values():
        own[(d.hall, d.phase)] += site.catalog.power_kw(d.model)
    out: dict[tuple[str, int], float] = {}
    for hall in site.halls:
        acc = 0.0
        for p in site.phase_ids:
            acc += own.get((hall, p), 0.0)
            out[(hall, p)] = acc
    return out


# Rack elevations are drawn in worker processes when there are many: drawing ~1,175 racks
# is most of the report's time and each rack is independent. Output order (and so every
# byte) is the same either way: a rack's drawing depends only on its load, the models' power
# and its index (the SVG id prefix), all of which go to the worker with it.
#
# Workers are started by a fork server (or spawned), never forked from this process: the
# CLI runs threads (Rich's refresh), and a fork copies their locks in whatever state they
# are. A ProcessPoolExecutor, unlike multiprocessing.Pool, notices a worker that dies and
# fails every pending future with BrokenProcessPool, which becomes a clear error below.
#
# Processes pay only for large sites. Measured (two cores): drawing a rack takes ~0.8 ms of
# CPU (1,175 racks: ~0.95 s); starting the fork server, which imports the drawing code, and
# its workers takes 0.35 s on an idle machine and over 1 s on a busy one, and pickling the
# racks to them ~40 ms per 1,000. So ``jobs`` workers save ``racks * 0.8 ms * (1 - 1/jobs)``
# and cost ~0.5 s: worth it from ~830 racks on four CPUs and ~1,250 on two.
RACK_DRAW_S = 0.0008
POOL_START_S = 0.5
MAX_JOBS = 4


def _draw_chunk(loads: list[RackLoad], start: int, model_kw: dict[str, float]) -> list[str]:
    """The elevations of ``loads``, which begin at index ``start`` of the full list.

    Module level so that workers started by spawn or a fork server can unpickle it."""
    return [
        standalone(rack_elevation(x.rack, x.devices, x.power_kw, model_kw, f"r{i}-"))
        for i, x in enumerate(loads, start=start)
    ]


def _default_jobs() -> int:
    """Workers to use: the CPUs this process may run on (not the machine's), at most
    MAX_JOBS, since drawing is quick and more workers mostly add start-up cost."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return min(MAX_JOBS, cpus)


def min_parallel_racks(jobs: int) -> int:
    """The fewest racks for which ``jobs`` worker processes draw faster than this one."""
    if jobs < 2:
        return sys.maxsize
    return math.ceil(POOL_START_S / (RACK_DRAW_S * (1 - 1 / jobs)))


def _start_method() -> str:
    """A start method that is safe with threads running: a fork server where the platform
    has one, else spawn (both start workers from a fresh interpreter, not a fork of us)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _how_it_died(procs: list[multiprocessing.process.BaseProcess]) -> str:
    """Words for how a pool's worker died, from the exit codes of its workers.

    When one worker dies the pool terminates the others (SIGTERM), so a code other than
    that one names the worker that died first; if all were terminated, that is the cause."""
    codes = [c for c in (p.exitcode for p in procs) if c]  # None: still running
    first = [c for c in codes if c != -signal.SIGTERM] or codes
    if not first:
        return "its exit status is unknown"
    code = first[0]
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _draw_parallel(
    loads: list[RackLoad], model_kw: dict[str, float], jobs: int
) -> list[str] | None:
    """Draw in ``jobs`` worker processes; None when no processes can be had (process
    limits, no /dev/shm in a sandbox), so the caller draws serially."""
    step = -(-len(loads) // (jobs * 4))  # four chunks per worker evens out slow ones
    ctx = multiprocessing.get_context(_start_method())
    if ctx.get_start_method() == "forkserver":
        # The server imports the drawing code once and each worker forks from it, already
        # loaded (~0.3 s saved per worker). ``__main__`` stays first, as by default.
        ctx.set_forkserver_preload(["__main__", __name__])
    procs: list[multiprocessing.process.BaseProcess] = []
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            try:
                futures = [
                    pool.submit(_draw_chunk, loads[i : i + step], i, model_kw)
                    for i in range(0, len(loads), step)
                ]
            except (OSError, EOFError, ImportError):  # EOFError: the fork server died
                return None
            # Workers start as work is submitted; keep them to read their exit codes,
            # since the pool forgets them when it shuts down.
            procs = list(pool._processes.values())
            try:
                parts = [f.result() for f in futures]
            except BaseException:
                # Ctrl-C or a dead worker: drop the chunks not yet started rather than
                # draw them all while leaving the with-block.
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    except BrokenProcessPool as exc:
        # Leaving the with-block joined every worker, so their exit codes are set. The
        # work is not redone here: whatever killed a worker (the OOM killer, an operator,
        # a crash in the drawing code) would likely strike this process too.
        raise HkError(
            f"a report worker process died ({_how_it_died(procs)}) while "
            "drawing rack elevations; no report was written. Run the command "
            "again; if it recurs, look for memory limits or the OOM killer "
            "(dmesg)."
        ) from exc
    return [svg for part in parts for svg in part]


def rack_svgs(
    loads: list[RackLoad], model_kw: dict[str, float], jobs: int | None = None
) -> list[str]:
    """The standalone elevation of each rack of ``loads``, in order; in worker processes
    when there are enough racks for them to pay (see ``min_parallel_racks``)."""
    jobs = jobs if jobs is not None else _default_jobs()
    if len(loads) >= min_parallel_racks(jobs):
        svgs = _draw_parallel(loads, model_kw, jobs)
        if svgs is not None:
            return svgs
    return _draw_chunk(loads, 0, model_kw)


@dataclass
class Picture:
    key: str  # file name without .svg
    title: str
    caption: str
    standalone: str
    inline: str


@dataclass
class Report:
    site: str
    files: dict[str, str] = field(default_factory=dict)  # top-level files
    rack_files: dict[str, str] = field(default_factory=dict)  # racks/<name>.svg
    html: str = ""


def _bom_rows(bom: Bom) -> tuple[list[str], list[dict[str, object]]]:
    phases = sorted(bom.phases)
    total = bom.total()
    sections: list[dict[str, object]] = []
    for sec in SECTIONS:
        items = sorted(total[sec], key=natural)
        if items:
            sections.append(
                {
                    "name": sec,
                    "rows": [
                        (item, [bom.phases[p][sec].get(item, 0) for p in phases], total[sec][item])
                        for item in items
                    ],
                }
            )
    return [f"phase {p}" for p in phases], sections


def build_report(site: Site, cap: SiteCapacity | None = None) -> Report:
    cap = cap if cap is not None else capacity(site)
    plan = plan_for(site, None)
    loads = rack_loads(site)
    model_kw = {m: site.catalog.power_kw(m) for m in {d.model for d in site.devices.values()}}
    rep = Report(site.info.name)
    pictures: list[Picture] = []

    def add(key: str, title: str, caption: str, drawing: object) -> Picture:
        pic = Picture(key, title, caption, standalone(drawing), inline(drawing))
        rep.files[f"{key}.svg"] = pic.standalone
        pictures.append(pic)
        return pic

    cap_pic = add(
        "capacity",
        "Capacity curve",
        f"Cumulative dense BF16 PFLOPS by phase and vendor against the "
        f"{cap.site_target_year} target of {cap.site_target_pflops:,.0f} PFLOPS.",
        capacity_curve(site, cap),
    )
    floors: list[Picture] = []
    for hall in site.halls.values():
        racks = [x.rack for x in loads.values() if x.rack.hall == hall.name]
        href = {r.name: f"{RACK_DIR}/{file_name(r.name)}.svg" for r in racks}
        floors.append(
            add(
                f"floor-{file_name(hall.name)}",
                f"Floor plan of {hall.name}",
                "Rack positions; colour is each rack's power against its budget "
                "(click a rack for its elevation).",
                hall_floor(
                    hall, racks, {k: v.power_kw for k, v in loads.items()}, href, f"fl{len(floors)}"
                ),
            )
        )
    sus: list[Picture] = []
    for ci, c in enumerate(site.clusters):
        if c.units:
            u = c.units[0]
            sus.append(
                add(
                    f"su-{file_name(c.name)}",
                    f"Scalable unit {u.name}",
                    f"The compute fabric of {u.name} ({c.name}): every node's rail "
                    "NICs to the rail leaves, every leaf to the group's spines.",
                    su_fabric(site, u.name, plan.links, f"su{ci}"),
                )
            )
    topo = add(
        "topology",
        "Unit-level topology",
        "Clusters, spine groups, scalable units (by phase), core and storage core.",
        unit_topology(site, plan.links),
    )
    it_kw = hall_it_kw(site)
    power = add(
        "power",
        "Power and energy",
        "IT and facility load per hall after each phase, against the hall feed; the "
        "site's renewable share and battery/UPS runtime per phase.",
        power_energy(site.halls, it_kw, cap),
    )
    bom = build_bom(site, plan)
    bom_pic = add(
        "bom",
        "Bill of materials",
        "Items to order, per phase and in total.",
        bom_table(site.info.name, bom),
    )

    # One elevation per rack; the page shows one rack of each distinct build inline.
    ordered = list(loads.values())
    for load, svg in zip(ordered, rack_svgs(ordered, model_kw), strict=True):
        rep.rack_files[f"{file_name(load.rack.name)}.svg"] = svg
    shown: dict[tuple[tuple[int, int, str, str], ...], str] = {}
    elevations: list[Picture] = []
    for i, load in enumerate(ordered):
        name = load.rack.name
        if load.signature not in shown and len(shown) < MAX_INLINE_RACKS and load.devices:
            shown[load.signature] = name
            drawing = rack_elevation(load.rack, load.devices, load.power_kw, model_kw, f"r{i}-")
            elevations.append(
                Picture(
                    f"{RACK_DIR}/{file_name(name)}",
                    f"rack {name}",
                    "",
                    rep.rack_files[f"{file_name(name)}.svg"],
                    inline(drawing),
                )
            )
    halls_idx = []
    for hall_name in site.halls:
        in_hall = [x for x in loads.values() if x.rack.hall == hall_name]
        halls_idx.append(
            {
                "name": hall_name,
                "racks": [
                    {
                        "name": x.rack.name,
                        "href": f"{RACK_DIR}/{file_name(x.rack.name)}.svg",
                        "kw": x.power_kw,
                        "budget": x.rack.power_kw,
                        "pct": x.fraction * 100,
                        "over": x.fraction > 1.0,
                    }
                    for x in in_hall
                ],
            }
        )
    over = [x for x in loads.values() if x.fraction > 1.0]
    per_vendor = vendor_pflops(site, cap)
    power_rows = []
    for h in site.halls.values():
        for p in site.phase_ids:
            it = it_kw.get((h.name, p), 0.0)
            # Battery and UPS placed in this hall carry this hall's load, each at most at
            # its power rating (capacity.carry_hours: no runtime for power it cannot give).
            stored = [
                (e.spec.kw, e.spec.kwh)
                for e in site.energy
                if e.spec.hall == h.name
                and e.spec.phase <= p
                and e.spec.kind in STORED_ENERGY_KINDS
            ]
            kwh = sum(k for _kw, k in stored)
            hours = carry_hours(stored, it)
            power_rows.append(
                {
                    "hall": h.name,
                    "phase": p,
                    "it_kw": it,
                    "facility_kw": it * h.pue,
                    "pue": h.pue,
                    "feed_kw": h.feed_mw * 1000,
                    "kwh": kwh,
                    "runtime": hours * 60 if hours is not None else None,
                    "covered": load_covered(stored, it),
                }
            )
    bom_heads, bom_sections = _bom_rows(bom)
    rep.html = html.render(
        "report.html.j2",
        site=site,
        cap=cap,
        cap_rows=list(zip(cap.phases, per_vendor, strict=True)),
        vendors=sorted({v for per in per_vendor for v in per}),
        cap_pic=cap_pic,
        floors=floors,
        sus=sus,
        topo=topo,
        power=power,
        bom_pic=bom_pic,
        elevations=elevations,
        halls_idx=halls_idx,
        rack_count=len(loads),
        over=over,
        power_rows=power_rows,
        bom_heads=bom_heads,
        bom_sections=bom_sections,
        rack_dir=RACK_DIR,
        safe=html.safe,
        devices=len(site.devices),
        links=len(plan.links),
    )
    return rep


def _replace_dir(target: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a fresh folder beside ``target``, flush them once, and swap it in.

    One ``os.sync`` after writing stands in for an fsync per file: with ~1,200 small files
    per-file fsyncs cost seconds, and the swap (two renames) is what makes it atomic."""
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    try:
        for name, text in sorted(files.items()):
            (fresh / name).write_text(text, encoding="utf-8")
        os.chmod(fresh, 0o755)
        os.sync()
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.rmdir(old)
            os.replace(target, old)
        os.replace(fresh, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def write_report(site: Site, out: Path, cap: SiteCapacity | None = None) -> list[Path]:
    """Write the report into ``out``; returns the paths written (report.html first)."""
    rep = build_report(site, cap)
    out.mkdir(parents=True, exist_ok=True)
    _replace_dir(out / RACK_DIR, rep.rack_files)
    written = []
    for name, text in sorted(rep.files.items()):
        atomic.write_text(out / name, text)
        written.append(out / name)
    # The page last: once it is there, everything it links to is too.
    atomic.write_text(out / "report.html", rep.html)
    return [out / "report.html", *written, *(out / RACK_DIR / n for n in sorted(rep.rack_files))]
