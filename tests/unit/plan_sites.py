"""Small sites for the plan tests, with answers computable by hand.

``roce_files()`` is a 2-unit RoCE fabric: 4 node slots, 2 rails, 2 spines in one group of 2
units, 1:1 so U = 4 / 1 / 2 = 2 uplinks per leaf and spine. Racks r01 (spines), r02/r03
(su1: leaves, nodes), r04/r05 (su2), 0.6 m apart in one row.
"""

from __future__ import annotations

import textwrap

SITE = """\
site:
  name: t
  location: test bench
  target: {pflops: 10, year: 2027}
networks:
  pools:
    oob: {cidr: 192.168.0.0/24}
    inband: {cidr: 10.0.0.0/24}
    loopback: {cidr: 10.1.0.0/24}
    compute: {cidr: 10.2.0.0/24}
    p2p: {cidr: 10.3.0.0/24}
    storage: {cidr: 10.4.0.0/24}
  asn:
    # Private ASNs (RFC 6996 ends 2-byte private space at 65534; HK508 warns past it).
    leaf: {first: 65001, last: 65100}
    spine: {first: 65500, last: 65519}
    core: {first: 65520, last: 65529}
"""

PHASES = """\
phases:
  - {id: 1, name: one, due: 2026-06-30, target_pflops: 5}
  - {id: 2, name: two, due: 2026-12-31, target_pflops: 10}
  - {id: 3, name: three, due: 2027-06-30, target_pflops: 10}
"""

FACILITY = """\
halls:
  - {name: h1, feed_mw: 2, cooling: air, pue: 1.3, phase: 1}
racks:
  - {name: "r[01-09]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 60}
"""

CATALOG = """\
catalog:
  servers:
    node-a:
      vendor: nvidia
      accelerator: H100-SXM
      accelerators: 8
      cpu_cores: 64
      memory_gb: 1024
      nics:
        - {network: compute, count: 2, speed_gbps: 400}
        - {network: inband, count: 2, speed_gbps: 25}
        - {network: oob, count: 1, speed_gbps: 1}
      power_kw: 10
      rack_units: 4
  switches:
    sw:
      vendor: test
      kind: ethernet
      os: frr-linux
      ports: 32
      speed_gbps: 400
      power_kw: 0.5
      rack_units: 1
    mg:
      vendor: test
      kind: ethernet
      os: frr-linux
      ports: 48
      speed_gbps: 25
      power_kw: 0.2
      rack_units: 1
"""

TEMPLATE = """\
unit_templates:
  pod:
    server: node-a
    fabric: roce
    node_slots: 4
    rails: 2
    node_racks: 1
    nodes_per_rack: 4
    network_racks: 1
    leaf: sw
    spine: sw
    units_per_group: 2
    spines_per_group: 2
"""

CLUSTER = """\
clusters:
  - name: c1
    template: pod
    hall: h1
    network_racks: r01
    units:
      - {name: su1, phase: 1, racks: "r[02-03]", nodes: 4}
      - {name: su2, phase: 1, racks: "r[04-05]", nodes: 4}
"""


def roce_files(**changes: str | None) -> dict[str, str | None]:
    """The files of the 2-unit RoCE site; ``units_yaml=...`` replaces units.yaml, etc."""
    files: dict[str, str | None] = {
        "site.yaml": SITE,
        "phases.yaml": PHASES,
        "facility.yaml": FACILITY,
        "catalog.yaml": CATALOG,
        "units.yaml": TEMPLATE + CLUSTER,
    }
    for key, text in changes.items():
        files[key.replace("_yaml", ".yaml")] = None if text is None else textwrap.dedent(text)
    return files
