"""Expand a parsed site (ranges, scalable units) into the typed site model.

Order is deterministic: clusters and units in the order written, then explicit devices.
Placement of switches in a cluster's network racks is a pure function of the order of
units, so adding a later phase never moves a device of an earlier one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hkcompute import model as M
from hkcompute import topology as T
from hkcompute.findings import (
    BAD_RANGE,
    DUPLICATE_NAME,
    LIMIT,
    MISSING_FIELD,
    MISSING_REF,
    NO_ROOM,
    UNIT_NODES,
    UNIT_RACKS,
    WRONG_KIND,
    Finding,
    Location,
    make,
)
from hkcompute.inventory import schema as S
from hkcompute.inventory.parse import Broken, Parsed
from hkcompute.inventory.ranges import RangeError, expand
from hkcompute.inventory.yamlsrc import PathKey, Source

_ROLE_KIND = {
    "gpu_node": "servers",
    "service": "servers",
    "fabric_manager": "servers",
    "storage": "storage",
}

# Site-wide bounds (docs/inventory.md, section Limits). MAX_RANGE caps one range, but a file
# may hold thousands of ranges: without a total, 1,000 lines of `x[1-100000]` build 100
# million devices and exhaust memory. 100,000 devices validate in a few seconds.
MAX_SITE_NAMES = 200_000
MAX_DEVICES = 100_000


def _made_by_broken(name: str, broken: Broken) -> bool:
    """Whether ``name`` is a device that a broken (so unexpanded) unit or cluster makes
    (by the naming conventions of ``hkcompute.topology``)."""
    unit = T.unit_of_name(name)
    if unit is not None and broken.has("units", unit):
        return True
    cluster = T.cluster_of_name(name)
    return cluster is not None and broken.has("clusters", cluster)


class _TooBig(Exception):
    """Raised once a site-wide bound is passed: expansion stops, one HK005 says why."""

    def __init__(self, message: str, where: Location) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


class _Expander:
    def __init__(self, parsed: Parsed, src: Source, defaults: Source | None) -> None:
        self.p = parsed
        self.src = src
        self.defaults = defaults
        self.findings: list[Finding] = []
        self.devices: dict[str, M.Device] = {}
        self._catalog: M.Catalog | None = None
        self._names = 0  # names expanded from ranges so far, against MAX_SITE_NAMES

    # --- helpers ---------------------------------------------------------------------------
    def loc(self, path: PathKey) -> Location:
        return self.src.locate(path)

    def names(self, expr: str, where: Location, subject: str = "") -> list[str]:
        try:
            out = expand(expr)
        except RangeError as exc:
            self.findings.append(
                make(LIMIT if exc.limit else BAD_RANGE, str(exc), where, subject=subject)
            )
            return []
        self._names += len(out)
        if self._names > MAX_SITE_NAMES:
            raise _TooBig(
                f"the site's name ranges expand to more than {MAX_SITE_NAMES:,} "
                "names in all (the limit)",
                where,
            )
        return out

    def missing(
        self,
        what: str,
        name: str,
        where: Location,
        subject: str = "",
        options: list[str] | None = None,
        *,
        kind: str,
    ) -> None:
        """Report a reference to an undefined ``kind`` (a section; "models" is any catalogue
        kind), unless it is defined but broken: that is reported where it is defined."""
        if self.p.broken.model(name) if kind == "models" else self.p.broken.has(kind, name):
            return
        hint = None
        if options:
            import difflib

            close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else None
        self.findings.append(
            make(MISSING_REF, f"{what} {name!r} is not defined", where, hint=hint, subject=subject)
        )

    def left_out(self, c: S.Cluster) -> None:
        """``c`` cannot be expanded for an error already reported: record it and its units
        as broken, so that what refers to them (tenants, device overrides) stays quiet."""
        self.p.broken.add("clusters", c.name)
        for u in c.units:
            self.p.broken.add("units", u.name)

    def add_device(self, dev: M.Device) -> None:
        if len(self.devices) >= MAX_DEVICES and dev.name not in self.devices:
            raise _TooBig(
                f"the site expands to more than {MAX_DEVICES:,} devices (the limit)", dev.loc
            )
        if dev.name in self.devices:
            first = self.devices[dev.name]
            self.findings.append(
                make(
                    DUPLICATE_NAME,
                    f"device {dev.name!r} is defined twice (first at {first.loc})",
                    dev.loc,
                    subject=dev.name,
                )
            )
            return
        self.devices[dev.name] = dev

    # --- sections --------------------------------------------------------------------------
    def catalog(self) -> M.Catalog:
        cat = self.p.catalog
        locs: dict[tuple[str, str], Location] = {}
        for (kind, name), path in self.p.catalog_paths.items():
            in_site = self.src.positions.get(path)
            if in_site is not None:
                locs[(kind, name)] = in_site
            elif self.defaults is not None:
                locs[(kind, name)] = self.defaults.locate(path)
        return M.Catalog(
            fabrics=dict(cat.get("fabrics", {})),
            switch_os=dict(cat.get("switch_os", {})),
            accelerators=dict(cat.get("accelerators", {})),
            servers=dict(cat.get("servers", {})),
            nics=dict(cat.get("nics", {})),
            switches=dict(cat.get("switches", {})),
            optics=dict(cat.get("optics", {})),
            storage=dict(cat.get("storage", {})),
            locs=locs,
        )

    def halls(self) -> dict[str, M.HallInfo]:
        out: dict[str, M.HallInfo] = {}
        for path, h in self.p.items.get("halls", []):
            loc = self.loc(path)
            if h.name in out:
                self.findings.append(
                    make(DUPLICATE_NAME, f"hall {h.name!r} is defined twice", loc, subject=h.name)
                )
                continue
            out[h.name] = M.HallInfo(
                h.name, h.feed_mw, h.cooling, h.pue, h.phase, loc, design_pue=h.design_pue
            )
        return out

    def racks(self, halls: dict[str, M.HallInfo]) -> dict[str, M.RackInfo]:
        out: dict[str, M.RackInfo] = {}
        for path, r in self.p.items.get("racks", []):
            loc = self.loc(path)
            hall = halls.get(r.hall)
            if hall is None:
                self.missing(
                    "hall", r.hall, self.loc((*path, "hall")), r.name, list(halls), kind="halls"
                )
            cooling = r.cooling or (hall.cooling if hall else "air")
            for i, name in enumerate(self.names(r.name, loc, r.name)):
                if name in out:
                    self.findings.append(
                        make(
                            DUPLICATE_NAME,
                            f"rack {name!r} is defined twice (first at {out[name].loc})",
                            loc,
                            subject=name,
                        )
                    )
                    continue
                out[name] = M.RackInfo(
                    name,
                    r.hall,
                    r.phase,
                    r.row,
                    round(r.x_m + i * r.pitch_m, 3),
                    r.y_m,
                    r.units,
                    r.power_kw,
                    cooling,
                    loc,
                )
        return out

    def phases(self) -> tuple[M.PhaseInfo, ...]:
        seen: set[int] = set()
        out = []
        for path, ph in self.p.items.get("phases", []):
            loc = self.loc(path)
            if ph.id in seen:
                self.findings.append(
                    make(DUPLICATE_NAME, f"phase {ph.id} is defined twice", loc, subject=str(ph.id))
                )
                continue
            seen.add(ph.id)
            out.append(M.PhaseInfo(ph.id, ph.name, ph.due, ph.target_pflops, ph.description, loc))
        return tuple(out)

    def clusters(
        self, racks: dict[str, M.RackInfo], catalog: M.Catalog
    ) -> tuple[M.ClusterInfo, ...]:
        out = []
        seen_units: dict[str, Location] = {}
        for cpath, c in self.p.items.get("clusters", []):
            cloc = self.loc(cpath)
            tpl = self.p.templates.get(c.template)
            if tpl is None:
                self.missing(
                    "unit template",
                    c.template,
                    self.loc((*cpath, "template")),
                    c.name,
                    list(self.p.templates),
                    kind="unit_templates",
                )
                self.left_out(c)
                continue
            server = catalog.servers.get(tpl.server)
            if server is None:
                self.missing(
                    "server model",
                    tpl.server,
                    self.loc(("unit_templates", c.template, "server")),
                    c.name,
                    list(catalog.servers),
                    kind="servers",
                )
                self.left_out(c)
                continue
            for role, model_name in (("leaf", tpl.leaf), ("spine", tpl.spine)):
                if model_name not in catalog.switches:
                    self.missing(
                        f"{role} switch model",
                        model_name,
                        self.loc(("unit_templates", c.template, role)),
                        c.name,
                        list(catalog.switches),
                        kind="switches",
                    )
            net_racks = self.names(c.network_racks, self.loc((*cpath, "network_racks")), c.name)
            for rname in net_racks:
                if rname not in racks:
                    self.missing(
                        "rack",
                        rname,
                        self.loc((*cpath, "network_racks")),
                        c.name,
                        list(racks),
                        kind="racks",
                    )
            units: list[M.Unit] = []
            per_unit = tpl.network_racks + tpl.node_racks
            fm_model, fm_count, fm_ports = _fabric_manager(catalog, tpl)
            n_reserved = T.reserved_units(tpl, fm_count, fm_ports)
            for upath_i, u in enumerate(c.units):
                upath = (*cpath, "units", upath_i)
                uloc = self.loc(upath)
                unames = self.names(u.name, uloc, u.name)
                rnames = self.names(u.racks, self.loc((*upath, "racks")), u.name)
                if unames and len(rnames) != len(unames) * per_unit:
                    self.findings.append(
                        make(
                            UNIT_RACKS,
                            f"{len(unames)} unit(s) of template {c.template!r} need "
                            f"{len(unames) * per_unit} racks ({per_unit} each); {u.racks!r} gives "
                            f"{len(rnames)}",
                            self.loc((*upath, "racks")),
                            subject=u.name,
                        )
                    )
                    continue
                for rname in rnames:
                    if rname not in racks:
                        self.missing(
                            "rack",
                            rname,
                            self.loc((*upath, "racks")),
                            u.name,
                            list(racks),
                            kind="racks",
                        )
                asked = tpl.node_slots if u.nodes is None else u.nodes
                room = tpl.node_racks * tpl.nodes_per_rack
                if asked > tpl.node_slots or asked > room:
                    self.findings.append(
                        make(
                            UNIT_NODES,
                            f"unit {u.name!r} asks for {asked} nodes; template "
                            f"{c.template!r} has {tpl.node_slots} slots and room for {room}",
                            self.loc((*upath, "nodes")),
                            subject=u.name,
                        )
                    )
                    asked = min(asked, tpl.node_slots, room)
                # The first units give their last slot to the fabric manager's appliances.
                kept = [n for n in unames[: max(0, n_reserved - len(units))] if n]
                if kept and asked > tpl.node_slots - 1:
                    self.findings.append(
                        make(
                            UNIT_NODES,
                            f"unit {kept[0]!r} asks for {asked} nodes; its slot "
                            f"{tpl.node_slots} is kept for the {fm_count} {fm_model} "
                            f"fabric-manager appliance(s) of fabric {tpl.fabric!r}, so it holds "
                            f"{tpl.node_slots - 1}",
                            self.loc((*upath, "nodes")),
                            subject=kept[0],
                            hint=f"give the first {n_reserved} unit(s) of the cluster at most "
                            f"{tpl.node_slots - 1} nodes",
                        )
                    )
                for k, uname in enumerate(unames):
                    if uname in seen_units:
                        self.findings.append(
                            make(
                                DUPLICATE_NAME,
                                f"unit {uname!r} is defined twice (first at {seen_units[uname]})",
                                uloc,
                                subject=uname,
                            )
                        )
                        continue
                    seen_units[uname] = uloc
                    chunk = rnames[k * per_unit : (k + 1) * per_unit]
                    index = len(units)
                    nodes = min(asked, tpl.node_slots - 1) if index < n_reserved else asked
                    units.append(
                        M.Unit(
                            uname,
                            c.name,
                            index,
                            index // tpl.units_per_group,
                            u.phase,
                            u.status,
                            tuple(chunk[: tpl.network_racks]),
                            tuple(chunk[tpl.network_racks :]),
                            nodes,
                            u.tenant,
                            uloc,
                        )
                    )
            groups = (max(u.group for u in units) + 1) if units else 0
            acc = server.accelerator
            vendor = (
                catalog.accelerators[acc].vendor if acc in catalog.accelerators else server.vendor
            )
            cluster = M.ClusterInfo(
                c.name,
                c.template,
                tpl,
                c.hall,
                vendor,
                acc,
                tuple(units),
                groups,
                c.core,
                tuple(c.tenants),
                tuple(net_racks),
                cloc,
            )
            out.append(cluster)
            self.unit_devices(cluster, racks, catalog)
            self.spine_devices(cluster, racks, catalog)
        return tuple(out)

    def unit_devices(
        self, c: M.ClusterInfo, racks: dict[str, M.RackInfo], catalog: M.Catalog
    ) -> None:
        tpl = c.template
        node_h = catalog.rack_units(tpl.server)
        for unit in c.units:

            def hall_of(rack: str) -> str:
                r = racks.get(rack)
                return r.hall if r else c.hall

            # Switches of the unit stack from U1 of its network rack, or above the nodes of its
            # first node rack when the template has no network rack.
            sw_racks = unit.network_racks or unit.node_racks[:1]
            next_u = 1 if unit.network_racks else tpl.node_u_start + tpl.nodes_per_rack * node_h
            rack_i = 0
            for role, short, count, model in T.unit_switch_sets(tpl):
                h = catalog.rack_units(model)
                for j in range(count):
                    rack = sw_racks[rack_i] if rack_i < len(sw_racks) else sw_racks[-1]
                    top = racks[rack].units if rack in racks else 48
                    if next_u + h - 1 > top and rack_i + 1 < len(sw_racks):
                        rack_i += 1
                        rack = sw_racks[rack_i]
                        next_u = 1
                    name = T.unit_switch_name(unit.name, short, j)
                    self.add_device(
                        M.Device(
                            name,
                            M.Role(role),
                            model,
                            rack,
                            next_u,
                            h,
                            unit.phase,
                            unit.status,
                            hall_of(rack),
                            c.name,
                            unit.name,
                            j,
                            unit.group,
                            unit.tenant,
                            loc=unit.loc,
                        )
                    )
                    next_u += h
            for slot in range(unit.nodes):
                rack = unit.node_racks[slot // tpl.nodes_per_rack]
                u = tpl.node_u_start + (slot % tpl.nodes_per_rack) * node_h
                self.add_device(
                    M.Device(
                        T.node_name(unit.name, slot),
                        M.Role.GPU_NODE,
                        tpl.server,
                        rack,
                        u,
                        node_h,
                        unit.phase,
                        unit.status,
                        hall_of(rack),
                        c.name,
                        unit.name,
                        slot,
                        unit.group,
                        unit.tenant,
                        loc=unit.loc,
                    )
                )

    def spine_devices(
        self, c: M.ClusterInfo, racks: dict[str, M.RackInfo], catalog: M.Catalog
    ) -> None:
        """Cores first, then each spine group's spines, packed into the network racks in
        order: a later group only ever appends, so earlier positions never move."""
        tpl = c.template
        wanted: list[tuple[str, str, str, int, int | None, int, M.Status]] = []
        first_phase = min((u.phase for u in c.units), default=1)
        first_status = c.units[0].status if c.units else M.Status.PLANNED
        if c.core is not None:
            for j in range(c.core.count):
                wanted.append(
                    (
                        T.core_name(c.name, j),
                        "core",
                        c.core.model,
                        j,
                        None,
                        first_phase,
                        first_status,
                    )
                )
        for g in range(c.groups):
            members = [u for u in c.units if u.group == g]
            phase = min(u.phase for u in members)
            status = members[0].status
            for j in range(tpl.spines_per_group):
                wanted.append((T.spine_name(c.name, g, j), "spine", tpl.spine, j, g, phase, status))
        wanted += self.management_devices(c, catalog, wanted)
        rack_i, next_u = 0, 1
        for placed, (name, role, model, idx, group, phase, status) in enumerate(wanted):
            h = catalog.rack_units(model)
            while rack_i < len(c.network_racks):
                rinfo = racks.get(c.network_racks[rack_i])
                top = rinfo.units if rinfo else 48
                if next_u + h - 1 <= top:
                    break
                rack_i, next_u = rack_i + 1, 1
            if rack_i >= len(c.network_racks):
                self.findings.append(
                    make(
                        NO_ROOM,
                        f"cluster {c.name!r}: {len(wanted) - placed} of {len(wanted)} "
                        f"network-rack devices (cores, spines, fabric managers, OOB switches) "
                        f"do not fit in network racks {c.network_racks[:1]}... (the first "
                        f"left out: {name})",
                        c.loc,
                        subject=c.name,
                    )
                )
                return
            rack = c.network_racks[rack_i]
            hall = racks[rack].hall if rack in racks else c.hall
            self.add_device(
                M.Device(
                    name,
                    M.Role(role),
                    model,
                    rack,
                    next_u,
                    h,
                    phase,
                    status,
                    hall,
                    c.name,
                    None,
                    idx,
                    group,
                    loc=c.loc,
                )
            )
            next_u += h

    def management_devices(
        self,
        c: M.ClusterInfo,
        catalog: M.Catalog,
        switches: list[tuple[str, str, str, int, int | None, int, M.Status]],
    ) -> list[tuple[str, str, str, int, int | None, int, M.Status]]:
        """What the network racks hold after the cores and spines: the fabric manager's
        appliances, then the OOB switches (the template's OOB model) for every management port
        there (the appliances' BMCs, the cores' and spines' ``eth0``), as many as those ports
        need. An appliance comes with the unit whose slot its first port takes; an OOB switch
        with the earliest device it serves."""
        tpl = c.template
        fm_model, fm_count, fm_ports = _fabric_manager(catalog, tpl)
        out: list[tuple[str, str, str, int, int | None, int, M.Status]] = []
        served: list[tuple[int, M.Status]] = []
        fm_server = catalog.servers.get(fm_model) if fm_model else None
        for mp in T.manager_ports(tpl, fm_count, max(fm_ports, 1)):
            if mp.port:
                continue
            unit = c.units[min(mp.unit, len(c.units) - 1)] if c.units else None
            phase = unit.phase if unit else 1
            status = unit.status if unit else M.Status.PLANNED
            out.append(
                (
                    T.fabric_manager_name(c.name, mp.appliance),
                    "fabric_manager",
                    fm_model,
                    mp.appliance,
                    None,
                    phase,
                    status,
                )
            )
            if fm_server is not None and any(n.network == "oob" for n in fm_server.nics):
                served.append((phase, status))
        served += [(phase, status) for *_rest, phase, status in switches]
        sset = tpl.oob_switches
        model = catalog.switches.get(sset.model) if sset is not None and sset.count else None
        if sset is None or model is None or not served:
            return out
        per = max(T.access_ports(model), 1)
        for j in range(-(-len(served) // per)):
            block = served[j * per : (j + 1) * per]
            phase = min(p for p, _s in block)
            out.append(
                (
                    T.cluster_oob_name(c.name, j),
                    "oob_switch",
                    sset.model,
                    j,
                    None,
                    phase,
                    block[0][1],
                )
            )
        return out

    def explicit_devices(self, racks: dict[str, M.RackInfo], catalog: M.Catalog) -> None:
        self._catalog = catalog
        for path, d in self.p.items.get("devices", []):
            loc = self.loc(path)
            names = self.names(d.name, loc, d.name)
            rack_names = self.names(d.rack, self.loc((*path, "rack")), d.name) if d.rack else []
            for i, name in enumerate(names):
                existing = self.devices.get(name)
                if existing is not None:
                    self.devices[name] = self._override(existing, d, loc)
                    continue
                missing = [k for k in ("role", "model", "rack", "u") if getattr(d, k) is None]
                if missing and _made_by_broken(name, self.p.broken):
                    break  # an override of a device its broken unit or cluster would make
                if missing:
                    self.findings.append(
                        make(
                            MISSING_FIELD,
                            f"device {name!r} is not produced by any unit, so it "
                            f"needs {', '.join(missing)}",
                            loc,
                            subject=name,
                        )
                    )
                    break
                assert d.role and d.model and d.u is not None
                rack = rack_names[min(i // d.per_rack, len(rack_names) - 1)] if rack_names else ""
                if len(rack_names) > 1 and i // d.per_rack >= len(rack_names):
                    self.findings.append(
                        make(
                            UNIT_RACKS,
                            f"{len(names)} devices at {d.per_rack} per rack need "
                            f"{-(-len(names) // d.per_rack)} racks; {d.rack!r} gives "
                            f"{len(rack_names)}",
                            self.loc((*path, "rack")),
                            subject=name,
                        )
                    )
                    break
                kind = catalog.model_kind(d.model)
                if kind is None:
                    self.missing(
                        "model",
                        d.model,
                        self.loc((*path, "model")),
                        name,
                        list(catalog.servers) + list(catalog.switches) + list(catalog.storage),
                        kind="models",
                    )
                    break
                want = _ROLE_KIND.get(d.role, "switches")
                if kind != want:
                    self.findings.append(
                        make(
                            WRONG_KIND,
                            f"device {name!r} has role {d.role!r} but {d.model!r} is in "
                            f"catalog.{kind}, not catalog.{want}",
                            self.loc((*path, "model")),
                            subject=name,
                        )
                    )
                    break
                h = catalog.rack_units(d.model)
                rinfo = racks.get(rack)
                if rinfo is None:
                    self.missing(
                        "rack", rack, self.loc((*path, "rack")), name, list(racks), kind="racks"
                    )
                u = d.u + (i % d.per_rack) * h
                phase = d.phase if d.phase is not None else (rinfo.phase if rinfo else 1)
                self.add_device(
                    M.Device(
                        name,
                        M.Role(d.role),
                        d.model,
                        rack,
                        u,
                        h,
                        phase,
                        M.Status(d.status or "planned"),
                        rinfo.hall if rinfo else "",
                        None,
                        None,
                        i,
                        None,
                        d.tenant,
                        d.serial,
                        d.mac,
                        d.bmc,
                        tuple(sorted(d.addresses.items())),
                        tuple(d.services),
                        loc,
                    )
                )

    def _override(self, dev: M.Device, d: S.DeviceSpec, loc: Location) -> M.Device:
        """An explicit entry for an expanded device overrides what it states."""
        changes: dict[str, Any] = {"loc": loc}
        for field in ("phase", "tenant", "serial", "mac", "bmc", "u", "model", "role"):
            value = getattr(d, field)
            if value is not None:
                changes[field] = value
        if d.status is not None:
            changes["status"] = str(d.status)
        if d.rack is not None:
            changes["rack"] = d.rack
        if d.addresses:
            changes["addresses"] = tuple(sorted(d.addresses.items()))
        if d.services:
            changes["services"] = tuple(d.services)
        if "model" in changes and self._catalog is not None:
            changes["height"] = self._catalog.rack_units(changes["model"])
        return replace(dev, **changes)

    def links(self) -> tuple[M.LinkInfo, ...]:
        return tuple(
            M.LinkInfo(spec, self.loc(path)) for path, spec in self.p.items.get("links", [])
        )

    def tenants(self) -> dict[str, M.TenantInfo]:
        out: dict[str, M.TenantInfo] = {}
        for path, t in self.p.items.get("tenants", []):
            loc = self.loc(path)
            if t.name in out:
                self.findings.append(
                    make(DUPLICATE_NAME, f"tenant {t.name!r} is defined twice", loc, subject=t.name)
                )
                continue
            out[t.name] = M.TenantInfo(t, loc)
        return out

    def energy(self) -> tuple[M.EnergyInfo, ...]:
        return tuple(M.EnergyInfo(e, self.loc(path)) for path, e in self.p.items.get("energy", []))


def _fabric_manager(catalog: M.Catalog, tpl: S.UnitTemplate) -> tuple[str, int, int]:
    """(model, appliances, fabric ports each) of a template's fabric manager; ("", 0, 0)
    when its fabric kind has none. An appliance the catalogue does not describe is counted
    with one fabric port (validate reports the missing model)."""
    kind = catalog.fabrics.get(tpl.fabric)
    fm = kind.fabric_manager if kind is not None else None
    if fm is None:
        return "", 0, 0
    server = catalog.servers.get(fm.model)
    ports = sum(n.count for n in server.nics if n.network == "compute") if server else 1
    return fm.model, fm.count, ports


def build_site(
    parsed: Parsed, src: Source, defaults: Source | None = None, inventory_hash: str = ""
) -> tuple[M.Site | None, list[Finding]]:
    """Expand ``parsed`` into a ``Site``. Returns None when the essentials are missing."""
    if parsed.site is None or parsed.networks is None:
        return None, []
    ex = _Expander(parsed, src, defaults)
    catalog = ex.catalog()
    try:
        halls = ex.halls()
        racks = ex.racks(halls)
        phases = ex.phases()
        clusters = ex.clusters(racks, catalog)
        ex.explicit_devices(racks, catalog)
    except _TooBig as big:
        # A half-expanded site would only produce misleading findings: report the limit.
        return None, [*ex.findings, make(LIMIT, big.message, big.where)]
    site = M.Site(
        info=parsed.site,
        catalog=catalog,
        halls=halls,
        racks=racks,
        phases=phases,
        templates=dict(parsed.templates),
        clusters=clusters,
        devices=ex.devices,
        links=ex.links(),
        networks=parsed.networks,
        tenants=ex.tenants(),
        energy=ex.energy(),
        secrets=dict(parsed.secrets),
        qos=parsed.qos,
        files=tuple(src.files),
        inventory_hash=inventory_hash,
        broken=parsed.broken,
        locate=src.locate,
    )
    return site, ex.findings
