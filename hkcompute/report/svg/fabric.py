"""Fabric pictures: one scalable unit in full (nodes, rails, leaves, spines), and the site's
unit-level topology (clusters, spine groups, units, cores, the storage core).

Both are drawn from the plan's links, not from the templates, so they show what will be
cabled: a unit filled to 31 of 32 slots shows 31 nodes and the links they really have.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

import drawsvg as dw  # type: ignore[import-untyped]

from hkcompute.model import Device, Site
from hkcompute.plan.records import LEAF_SPINE, NODE_LEAF, Link
from hkcompute.report.svg import (
    RAIL_COLOURS,
    ROLE_COLOURS,
    fmt,
    new_drawing,
    phase_colour,
    text,
)


def su_fabric(site: Site, unit_name: str, links: Iterable[Link], prefix: str = "su") -> dw.Drawing:
    unit = next(u for c in site.clusters for u in c.units if u.name == unit_name)
    cluster = site.cluster(unit.cluster)
    members = [d for d in site.devices.values() if d.unit == unit_name]
    nodes = sorted((d for d in members if d.role == "gpu_node"), key=lambda d: (d.index, d.name))
    leaves = sorted((d for d in members if d.role == "leaf"), key=lambda d: (d.index, d.name))
    names = {d.name for d in members}
    node_leaf: list[Link] = []
    up: Counter[tuple[str, str]] = Counter()
    access: Counter[tuple[str, str]] = Counter()  # (network, switch role) -> links
    for link in links:
        if link.kind == NODE_LEAF and link.a in names:
            node_leaf.append(link)
        elif link.kind == LEAF_SPINE and link.a in names:
            up[(link.a, link.b)] += 1
        elif link.a in names or link.b in names:
            other = link.b if link.a in names else link.a
            dev = site.devices.get(other)
            access[(link.network, dev.role if dev is not None else "?")] += 1
    spines = sorted(
        {b for _a, b in up}, key=lambda n: (site.devices[n].index if n in site.devices else 0, n)
    )
    step = 20.0 if len(nodes) > 40 else 28.0
    width = max(900.0, 120 + max(len(nodes), 1) * step + 260)
    height = 640
    fabric = cluster.fabric if cluster is not None else "?"
    d = new_drawing(width, height, prefix, f"scalable unit {unit_name}: compute fabric")
    d.append(
        text(
            f"scalable unit {unit_name} ({unit.cluster}, {fabric}): {len(nodes)} nodes, "
            f"{len(leaves)} rail leaves, {len(spines)} spines of group {unit.group + 1}",
            15,
            10,
            22,
            font_weight="bold",
        )
    )
    d.append(
        text(
            f"{len(node_leaf):,} node-to-leaf and {sum(up.values()):,} leaf-to-spine "
            "cables; line colour = rail",
            11,
            10,
            40,
            fill="#555",
        )
    )
    plot_w = width - 120 - 260
    y_sp, y_lf, y_nd = 90.0, 300.0, 520.0

    def xs(count: int, w: float) -> list[float]:
        gap = plot_w / max(count, 1)
        return [round(120 + gap * (i + 0.5) - w / 2, 2) for i in range(count)]

    sx = dict(zip(spines, xs(len(spines), 40), strict=True))
    lx = dict(zip((x.name for x in leaves), xs(len(leaves), 60), strict=True))
    nx = dict(zip((x.name for x in nodes), xs(len(nodes), step - 6), strict=True))
    rail_of = {x.name: x.index for x in leaves}
    wires = dw.Group(fill="none", stroke_width=0.8, opacity=0.55)
    for link in node_leaf:
        if link.a in nx and link.b in lx:
            wires.append(
                dw.Line(
                    round(nx[link.a] + (step - 6) / 2, 2),
                    y_nd,
                    lx[link.b] + 30,
                    y_lf + 24,
                    stroke=RAIL_COLOURS[rail_of[link.b] % len(RAIL_COLOURS)],
                )
            )
    for (a, b), n in sorted(up.items()):
        if a in lx and b in sx:
            wires.append(
                dw.Line(
                    lx[a] + 30,
                    y_lf,
                    sx[b] + 20,
                    y_sp + 24,
                    stroke="#555",
                    stroke_width=round(0.6 + 0.4 * n, 2),
                )
            )
    d.append(wires)
    for name, x in sx.items():
        g = dw.Group()
        g.append(
            dw.Title(
                f"{name} ({site.devices[name].model if name in site.devices else ''})"
                f": {sum(n for (_a, b), n in up.items() if b == name)} links from "
                "this unit"
            )
        )
        g.append(
            dw.Rectangle(
                x, y_sp, 40, 24, fill=ROLE_COLOURS["spine"], stroke="#333", stroke_width=0.6
            )
        )
        g.append(text(name.rsplit("-", 1)[-1], 8, x + 20, y_sp + 15, text_anchor="middle"))
        d.append(g)
    for leaf in leaves:
        x = lx[leaf.name]
        g = dw.Group()
        g.append(dw.Title(f"{leaf.name} ({leaf.model}): rail {leaf.index + 1}"))
        g.append(
            dw.Rectangle(
                x,
                y_lf,
                60,
                24,
                fill=RAIL_COLOURS[leaf.index % len(RAIL_COLOURS)],
                stroke="#333",
                stroke_width=0.6,
            )
        )
        g.append(
            text(
                f"rail {leaf.index + 1}",
                9,
                x + 30,
                y_lf + 15,
                text_anchor="middle",
                fill="#fff",
                font_weight="bold",
            )
        )
        d.append(g)
    for node in nodes:
        x = nx[node.name]
        g = dw.Group()
        g.append(dw.Title(f"{node.name} ({node.model}), slot {node.index + 1}, {node.status}"))
        g.append(
            dw.Rectangle(
                x,
                y_nd,
                step - 6,
                36,
                fill=ROLE_COLOURS["gpu_node"],
                stroke="#c00" if str(node.status) == "failed" else "#333",
                stroke_width=0.6,
            )
        )
        d.append(g)
    d.append(text("spines", 11, 10, y_sp + 16, font_weight="bold"))
    d.append(text("leaves", 11, 10, y_lf + 16, font_weight="bold"))
    d.append(text(f"nodes ({len(nodes)})", 11, 10, y_nd + 22, font_weight="bold"))
    if nodes:
        d.append(text(nodes[0].name, 9, nx[nodes[0].name], y_nd + 50))
        d.append(
            text(nodes[-1].name, 9, nx[nodes[-1].name] + step - 6, y_nd + 64, text_anchor="end")
        )
    # The unit's other networks, as counts: they are cabled in the same racks.
    bx = width - 240
    d.append(text("other networks of the unit", 11, bx, y_sp + 4, font_weight="bold"))
    others = Counter(m.role.value for m in members if m.role not in ("gpu_node", "leaf"))
    row = 0
    for role, n in sorted(others.items()):
        row += 1
        d.append(dw.Rectangle(bx, y_sp + 4 + row * 20, 14, 14, fill=ROLE_COLOURS.get(role, "#eee")))
        d.append(text(f"{n} × {role.replace('_', ' ')}", 10, bx + 20, y_sp + 15 + row * 20))
    for (net, role), n in sorted(access.items()):
        row += 1
        d.append(
            text(
                f"{n:,} {net} cables to {role.replace('_', ' ')}",
                10,
                bx,
                y_sp + 15 + row * 20,
                fill="#555",
            )
        )
    return d


def _bucket(dev: Device | None) -> str:
    if dev is None:
        return "other"
    if dev.unit:
        return f"unit:{dev.unit}"
    if dev.role == "spine" and dev.cluster is not None:
        return f"group:{dev.cluster}:{dev.group or 0}"
    if dev.role == "core" and dev.cluster is not None:
        return f"core:{dev.cluster}"
    if dev.role in ("storage_spine", "storage"):
        return f"{dev.role}"
    return "site"


def unit_topology(site: Site, links: Iterable[Link], prefix: str = "topo") -> dw.Drawing:
    """Clusters as panels: cores on top, spine groups, then units (coloured by phase), with
    the number of cables between each pair of tiers taken from the plan."""
    bucket = {name: _bucket(dev) for name, dev in site.devices.items()}
    edges: Counter[tuple[str, str]] = Counter()
    for link in links:
        a, b = bucket.get(link.a, "other"), bucket.get(link.b, "other")
        if a != b:
            edges[(a, b) if a <= b else (b, a)] += 1
    spines: Counter[str] = Counter()
    cores: Counter[str] = Counter()
    for dev in site.devices.values():
        if dev.role == "spine":
            spines[bucket[dev.name]] += 1
        elif dev.role == "core" and dev.cluster:
            cores[dev.cluster] += 1
    box, gap = 14.0, 4.0
    widest = max((len(c.units) for c in site.clusters), default=1)
    width = max(900.0, 200 + widest * (box + gap) + 40)
    panel_h = 170.0
    height = 80 + panel_h * len(site.clusters) + 60
    d = new_drawing(width, height, prefix, f"{site.info.name}: unit-level topology")
    d.append(
        text(
            f"{site.info.name}: unit-level topology (cores, spine groups, scalable "
            "units; unit colour = phase; numbers = cables)",
            15,
            10,
            22,
            font_weight="bold",
        )
    )
    for ci, c in enumerate(site.clusters):
        top = 50 + ci * panel_h
        d.append(dw.Rectangle(6, top, width - 12, panel_h - 10, fill="#fafafa", stroke="#ccc"))
        d.append(text(f"{c.name}", 13, 14, top + 20, font_weight="bold"))
        d.append(
            text(
                f"{c.hall} · {c.fabric} · {c.vendor} {c.accelerator or ''}",
                10,
                14,
                top + 36,
                fill="#555",
            )
        )
        d.append(
            text(
                f"{len(c.units)} units, {sum(u.nodes for u in c.units):,} nodes",
                10,
                14,
                top + 50,
                fill="#555",
            )
        )
        x0 = 190.0
        unit_x = {u.name: x0 + i * (box + gap) for i, u in enumerate(c.units)}
        groups: dict[int, list[str]] = defaultdict(list)
        for u in c.units:
            groups[u.group].append(u.name)
        y_core, y_grp, y_unit = top + 14, top + 70, top + 126
        wires = dw.Group(stroke="#888", stroke_width=0.7, fill="none")
        ncore = cores.get(c.name, 0)
        core_links = 0
        for g, members in sorted(groups.items()):
            gx0 = unit_x[members[0]]
            gx1 = unit_x[members[-1]] + box
            key = f"group:{c.name}:{g}"
            for m in members:
                wires.append(dw.Line(unit_x[m] + box / 2, y_unit, unit_x[m] + box / 2, y_grp + 14))
            if ncore:
                n = edges.get(
                    (f"core:{c.name}", key) if f"core:{c.name}" <= key else (key, f"core:{c.name}"),
                    0,
                )
                core_links += n
                wires.append(dw.Line((gx0 + gx1) / 2, y_grp, (gx0 + gx1) / 2, y_core + 18))
            gg = dw.Group()
            gg.append(
                dw.Title(
                    f"{c.name} spine group {g + 1}: {spines.get(key, 0)} spines, "
                    f"units {', '.join(members)}"
                )
            )
            gg.append(
                dw.Rectangle(
                    round(gx0, 2),
                    y_grp,
                    round(gx1 - gx0, 2),
                    14,
                    fill=ROLE_COLOURS["spine"],
                    stroke="#333",
                    stroke_width=0.5,
                )
            )
            d.append(gg)
        d.append(wires)
        if ncore:
            cx1 = max(unit_x.values()) + box
            cg = dw.Group()
            cg.append(
                dw.Title(f"{c.name}: {ncore} core switches, {core_links:,} spine-core cables")
            )
            cg.append(
                dw.Rectangle(
                    x0,
                    y_core,
                    round(cx1 - x0, 2),
                    18,
                    fill=ROLE_COLOURS["core"],
                    stroke="#333",
                    stroke_width=0.5,
                )
            )
            cg.append(
                text(
                    f"core: {ncore} switches · {core_links:,} spine-core cables",
                    10,
                    x0 + 6,
                    y_core + 13,
                )
            )
            d.append(cg)
        else:
            d.append(
                text("no core tier: the spine group is the top", 10, x0, y_core + 13, fill="#555")
            )
        for u in c.units:
            up = sum(
                n
                for (a, b), n in edges.items()
                if (a == f"unit:{u.name}" and b.startswith("group:"))
                or (b == f"unit:{u.name}" and a.startswith("group:"))
            )
            ug = dw.Group()
            ug.append(
                dw.Title(
                    f"{u.name}: phase {u.phase}, {u.nodes} nodes, {u.status}, "
                    f"{up:,} leaf-spine cables, tenant {u.tenant or '-'}"
                )
            )
            ug.append(
                dw.Rectangle(
                    round(unit_x[u.name], 2),
                    y_unit,
                    box,
                    box,
                    fill=phase_colour(u.phase),
                    stroke="#333",
                    stroke_width=0.4,
                )
            )
            d.append(ug)
        d.append(text("units", 9, x0 - 6, y_unit + 11, text_anchor="end", fill="#555"))
        d.append(text("spine groups", 9, x0 - 6, y_grp + 11, text_anchor="end", fill="#555"))
    # Storage core: every unit's storage leaves and every storage system meet there.
    sy = 50 + panel_h * len(site.clusters) + 10
    n_spine = sum(1 for dv in site.devices.values() if dv.role == "storage_spine")
    to_leaf = sum(
        n
        for (a, b), n in edges.items()
        if "storage_spine" in (a, b) and (a.startswith("unit:") or b.startswith("unit:"))
    )
    to_sys = edges.get(("storage", "storage_spine"), 0)
    d.append(
        text(
            f"storage core: {n_spine} storage spines, {fmt(to_leaf)} cables from unit "
            f"storage leaves, {fmt(to_sys)} from storage systems",
            11,
            14,
            sy + 14,
        )
    )
    phases = sorted({u.phase for c in site.clusters for u in c.units})
    for i, p in enumerate(phases):
        d.append(dw.Rectangle(14 + i * 90, sy + 26, 12, 12, fill=phase_colour(p)))
        d.append(text(f"phase {p}", 10, 30 + i * 90, sy + 36))
    return d
