"""A synthetic site of N scalable units, written as an inventory folder.

    python bench/synth.py UNITS OUT [--rack-change]

Mixed vendors and both fabric kinds, like the bundled site: three quarters of the units are
NVIDIA H800 on InfiniBand (template ``h800-lc``: 31 nodes, 8 rails, 5 racks), one quarter
Huawei Ascend 910C on RoCE (``a3-lc``: 64 nodes, 8 rails, 14 racks). Units fill halls of up
to 64 InfiniBand and 16 RoCE units each (a cluster per fabric and hall, with a core tier),
with storage, storage spines and service nodes sized to match. The hardware catalogue and
the unit templates are the bundled site's (``inventories/hkstp``), so the figures measure
the same code paths. 166 units is about the bundled site (40,000 PFLOPS dense BF16).

``--rack-change`` adds the "one-rack change" the incremental benchmark measures: new MAC
addresses for the nodes of one rack (their netplan, and the DHCP hosts, change).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
HKSTP = HERE.parent / "inventories" / "hkstp"

IB_PER_HALL = 64  # the most units an InfiniBand cluster may have (512 spines)
ROCE_PER_HALL = 16
IB_RACKS = 5  # h800-lc: 1 network + 4 node racks of 8
ROCE_RACKS = 14  # a3-lc: 1 network + 13 node racks of 5
FULL_UNITS = 166  # the bundled site


def split(units: int) -> tuple[int, int]:
    """(InfiniBand units, RoCE units): even counts (two units a spine group), 3:1."""
    roce = max(2, 2 * round(units / 4 / 2))
    ib = max(2, 2 * round((units - roce) / 2))
    return ib, roce


def halls_for(ib: int, roce: int) -> list[tuple[int, int]]:
    n = max(math.ceil(ib / IB_PER_HALL), math.ceil(roce / ROCE_PER_HALL), 1)
    out = []
    for h in range(n):
        i = min(IB_PER_HALL, max(0, ib - h * IB_PER_HALL))
        r = min(ROCE_PER_HALL, max(0, roce - h * ROCE_PER_HALL))
        out.append((i, r))
    return out


def _hall_name(i: int) -> str:
    return f"h{i + 1:02d}"


def _ranges(prefix: str, first: int, count: int, width: int = 3) -> str:
    return f"{prefix}[{first:0{width}d}-{first + count - 1:0{width}d}]"


def generate(units: int, rack_change: bool = False) -> dict[str, Any]:
    """The inventory's documents by file name."""
    site_doc = yaml.safe_load((HKSTP / "site.yaml").read_text())
    fabric_src = yaml.safe_load((HKSTP / "fabric.yaml").read_text())
    ib, roce = split(units)
    halls = halls_for(ib, roce)
    site_doc["site"].update(
        name=f"synth{units}",
        domain=f"synth{units}.hkcompute.internal",
        description=f"synthetic site: {ib} InfiniBand and {roce} RoCE units",
    )
    pflops = ib * 31 * 8 * 0.989 + roce * 64 * 8 * 0.8
    site_doc["site"]["target"] = {
        "pflops": int(pflops * 0.95),
        "precision": "bf16-dense",
        "year": 2030,
    }
    site_doc["phases"] = [
        {
            "id": 1,
            "name": "phase 1",
            "due": "2030-12-31",
            "target_pflops": int(pflops * 0.95),
            "description": "the whole synthetic site",
        }
    ]

    hall_docs: list[dict[str, Any]] = []
    racks: list[dict[str, Any]] = []
    clusters: list[dict[str, Any]] = []
    tenants: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    storage_total = 0
    for h, (n_ib, n_roce) in enumerate(halls):
        hall = _hall_name(h)
        x = 30.0 * h
        row = 0
        kw = 0.0

        def add_racks(
            prefix: str,
            first: int,
            count: int,
            power: float,
            cooling: str | None = None,
            hall: str = hall,
            x: float = x,
        ) -> None:
            nonlocal row, kw
            done = 0
            while done < count:
                take = min(40, count - done)
                r: dict[str, Any] = {
                    "name": _ranges(f"{hall}-{prefix}", first + done, take),
                    "hall": hall,
                    "phase": 1,
                    "row": f"R{row:02d}",
                    "x_m": x,
                    "y_m": 3.0 * row,
                    "power_kw": power,
                }
                if cooling:
                    r["cooling"] = cooling
                racks.append(r)
                kw += take * power
                row += 1
                done += take

        def add_cluster(
            kind: str,
            n: int,
            template: str,
            unit_prefix: str,
            node_racks: str,
            racks_per_unit: int,
            net_racks: str,
            n_net: int,
            core: str,
            nodes: int,
            hall: str = hall,
            h: int = h,
        ) -> None:
            """One cluster of ``n`` units in this hall, with its tenant (the two fabric
            kinds differ only in these parameters and in their racks)."""
            groups = n // 2
            tenant = f"t-{hall}-{kind}"
            tenants.append(
                {
                    "name": tenant,
                    "kind": "local",
                    "sector": "research",
                    "residency": "HK",
                    "phases": [1],
                    "clusters": [f"{kind}-{hall}"],
                }
            )
            clusters.append(
                {
                    "name": f"{kind}-{hall}",
                    "template": template,
                    "hall": hall,
                    "network_racks": _ranges(f"{hall}-{net_racks}", 1, n_net),
                    "core": {"model": core, "count": 8 * groups},
                    "tenants": [tenant],
                    "units": [
                        {
                            "name": _ranges(f"{unit_prefix}{h + 1:02d}-su", 1, n, 2),
                            "phase": 1,
                            "racks": _ranges(f"{hall}-{node_racks}", 1, n * racks_per_unit),
                            "nodes": nodes,
                            "status": "in_service",
                            "tenant": tenant,
                        }
                    ],
                }
            )

        if n_ib:
            net_racks = math.ceil(24 * (n_ib // 2) / 48)
            add_racks("i", 1, n_ib * IB_RACKS, 90)
            add_racks("in", 1, net_racks, 85, "hybrid")
            add_cluster("ib", n_ib, "h800-lc", "ib", "i", IB_RACKS, "in", net_racks, "qm9700", 31)
        if n_roce:
            add_racks("a", 1, n_roce * ROCE_RACKS, 50)
            add_racks("an", 1, n_roce // 2, 55, "hybrid")
            add_cluster(
                "roce", n_roce, "a3-lc", "as", "a", ROCE_RACKS, "an", n_roce // 2, "sn5600-400", 64
            )
        # storage: about 3 GB/s of read per node (0.75 ddn-ai400x2 per H800 unit)
        stor = max(2, math.ceil(n_ib * 0.75 + n_roce * 1.5))
        srack = math.ceil(stor / 8) + 1  # + one rack for service nodes
        add_racks("s", 1, srack, 30, "hybrid")
        devices.append(
            {
                "name": _ranges(f"stor-{hall}-", 1, stor, 3),
                "role": "storage",
                "model": "ddn-ai400x2",
                "rack": _ranges(f"{hall}-s", 1, srack - 1),
                "u": 2,
                "per_rack": 8,
                "phase": 1,
                "status": "in_service",
            }
        )
        storage_total += stor
        last = f"{hall}-s{srack:03d}"
        if h == 0:
            devices += [
                {
                    "name": "slurmctl[01-02]",
                    "role": "service",
                    "model": "svc-2u",
                    "rack": last,
                    "u": 2,
                    "per_rack": 2,
                    "phase": 1,
                    "status": "in_service",
                    "services": ["slurmctld"],
                },
                {
                    "name": "svc[01-02]",
                    "role": "service",
                    "model": "svc-2u",
                    "rack": last,
                    "u": 6,
                    "per_rack": 2,
                    "phase": 1,
                    "status": "in_service",
                    "services": ["dns", "dhcp", "ntp", "prometheus"],
                },
            ]
        devices.append(
            {
                "name": _ranges(f"login-{hall}-", 1, 4, 2),
                "role": "service",
                "model": "svc-2u",
                "rack": last,
                "u": 10,
                "per_rack": 4,
                "phase": 1,
                "status": "in_service",
                "services": ["login"],
            }
        )
        hall_docs.append(
            {
                "name": hall,
                "feed_mw": math.ceil(kw * 1.15 / 1000) + 1,
                "cooling": "liquid",
                "pue": 1.2,
                "phase": 1,
            }
        )

    # site-wide storage spines (16U chassis, 3 a rack): 16, as the bundled site; beyond its
    # size a (synthetic) chassis with twice the line cards, as the leaves have no more ports
    spines = 16
    spine_model = "7808r3-100g"
    if units > FULL_UNITS:
        switches = site_doc["catalog"]["switches"]
        big = dict(switches[spine_model])
        big["ports"] = big["ports"] * math.ceil(units / FULL_UNITS)
        big["source"] = "synthetic: the 7808r3-100g with more line cards (bench/synth.py)"
        spine_model = "synth-spine-100g"
        switches[spine_model] = big
    xr = math.ceil(spines / 3)
    racks.append(
        {
            "name": _ranges("x-r", 1, xr, 2),
            "hall": "h01",
            "phase": 1,
            "row": "X",
            "x_m": 0,
            "y_m": 300.0,
            "power_kw": 30,
        }
    )
    devices.append(
        {
            "name": _ranges("stspine", 1, spines, 2),
            "role": "storage_spine",
            "model": spine_model,
            "rack": _ranges("x-r", 1, xr, 2),
            "u": 1,
            "per_rack": 3,
            "phase": 1,
            "status": "in_service",
        }
    )
    if rack_change:
        # one rack: the first node rack of the first InfiniBand unit (8 nodes)
        for n in range(1, 9):
            devices.append({"name": f"ib01-su01-n{n:02d}", "mac": f"02:00:5e:10:00:{n:02x}"})

    networks = {
        "networks": {
            "pools": {
                "oob": {"cidr": "10.0.0.0/13"},
                "inband": {"cidr": "10.8.0.0/13"},
                "storage": {"cidr": "10.16.0.0/12"},
                "loopback": {"cidr": "10.32.0.0/16"},
                "compute": {"cidr": "10.64.0.0/11"},
                "p2p": {"cidr": "10.96.0.0/11"},
            },
            "asn": {
                "leaf": {"first": 4200000000, "last": 4200099999},
                "spine": {"first": 4200100000, "last": 4200109999},
                "core": {"first": 4200110000, "last": 4200110999},
            },
        }
    }
    return {
        "site.yaml": site_doc,
        "fabric.yaml": {"unit_templates": fabric_src["unit_templates"], "clusters": clusters},
        "facility.yaml": {"halls": hall_docs, "racks": racks},
        "networks.yaml": networks,
        "tenants.yaml": {"tenants": tenants},
        "devices.yaml": {"devices": devices},
    }


def write_site(units: int, out: Path, rack_change: bool = False) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for name, doc in generate(units, rack_change).items():
        (out / name).write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("units", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rack-change", action="store_true")
    args = ap.parse_args(argv)
    write_site(args.units, args.out, args.rack_change)
    ib, roce = split(args.units)
    print(f"{args.out}: {ib} InfiniBand + {roce} RoCE units")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
