"""Shared fixtures for unit tests: write small site folders and validate them.

Usage in a test::

    def test_something(tmp_path, write_site, minimal_files, findings_of):
        files = {**minimal_files, "devices.yaml": "devices:\\n  - {name: x, ...}\\n"}
        site = write_site(tmp_path, files)
        assert "HK201" in codes(findings_of(site))

``MINIMAL_FILES`` is a complete, valid site (no findings at all) split one top-level key
group per file, so a test replaces one file and knows the line numbers of what it wrote.
Set a file to ``None`` in the mapping to leave it out. Everything is written below
``tmp_path``; nothing touches the network.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from hkcompute.findings import Finding
from hkcompute.validate import validate

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab"

# A valid site: one hall, three racks (r01 spines, r02 leaves, r03 nodes), one phase, one
# cluster with one unit of two 8-GPU nodes (2 x 8 x 989 TFLOPS = 15.8 PFLOPS), one tenant.
# Line numbers matter to tests: keep one item per line and append rather than insert.
MINIMAL_FILES: dict[str, str | None] = {
    "site.yaml": """\
        site:
          name: mini
          location: test bench
          target: {pflops: 10, year: 2027}
        networks:
          pools:
            oob: {cidr: 192.168.0.0/24}
            inband: {cidr: 10.0.0.0/24}
            storage: {cidr: 10.1.0.0/24}
            compute: {cidr: 10.2.0.0/22}
            loopback: {cidr: 10.3.0.0/24}
            p2p: {cidr: 10.4.0.0/24}
          asn:
            leaf: {first: 4200000001, last: 4200000999}
            spine: {first: 4200001000, last: 4200001099}
            core: {first: 4200002000, last: 4200002099}
        """,
    "phases.yaml": """\
        phases:
          - {id: 1, name: one, due: 2026-06-30, target_pflops: 10}
        """,
    "facility.yaml": """\
        halls:
          - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}
        racks:
          - {name: "r[01-03]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, power_kw: 45}
        """,
    "catalog.yaml": """\
        catalog:
          servers:
            node-a:
              vendor: nvidia
              accelerator: H100-SXM
              accelerators: 8
              cpu_cores: 64
              memory_gb: 1024
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
        """,
    "units.yaml": """\
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
            units_per_group: 1
            spines_per_group: 2
        clusters:
          - name: c1
            template: pod
            hall: h1
            network_racks: r01
            tenants: [t1]
            units:
              - {name: su1, phase: 1, racks: "r[02-03]", nodes: 2, tenant: t1}
        """,
    "tenants.yaml": """\
        tenants:
          - {name: t1, kind: local, residency: HK, phases: [1], clusters: [c1]}
        """,
}


# Dedented once here so that tests can edit the texts with str.replace and append lines.
MINIMAL_FILES = {k: textwrap.dedent(v) if v else v for k, v in MINIMAL_FILES.items()}


def _write_site(root: Path, files: dict[str, str | None]) -> Path:
    """Write ``files`` (name -> YAML text, dedented; None = leave out) into ``root/site``.

    Returns the site folder. Text is dedented so tests can indent YAML with the code.
    Bytes are not accepted here: tests of binary input write their file themselves.
    """
    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is None:
            continue
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return site


@pytest.fixture
def write_site() -> Callable[[Path, dict[str, str | None]], Path]:
    """``write_site(tmp_path, files) -> Path``: write a site folder, return its path."""
    return _write_site


@pytest.fixture
def minimal_files() -> dict[str, str | None]:
    """A fresh copy of ``MINIMAL_FILES`` (a valid site) to modify per test."""
    return dict(MINIMAL_FILES)


@pytest.fixture
def minimal_site(tmp_path: Path) -> Path:
    """The minimal valid site, written to ``tmp_path/site``."""
    return _write_site(tmp_path, MINIMAL_FILES)


@pytest.fixture
def findings_of() -> Callable[..., list[Finding]]:
    """``findings_of(path, phase=None)``: every finding of ``hkcompute.validate.validate``.

    Paths in findings are relative to the working directory; tests compare the file's name
    (``f.location.path.endswith("units.yaml")``) so they do not depend on it.
    """

    def run(path: Path, phase: int | None = None) -> list[Finding]:
        return validate(path, phase).findings

    return run


def codes(findings: Iterable[Finding]) -> set[str]:
    """The set of codes in ``findings``."""
    return {f.code for f in findings}


def only(findings: Iterable[Finding], code: str) -> list[Finding]:
    """The findings with ``code``."""
    return [f for f in findings if f.code == code]
