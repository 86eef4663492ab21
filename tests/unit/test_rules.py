"""Each HK2xx/HK3xx rule of hkcompute.checks: where it fires (file and line) and a near miss
where it does not. Sites are the conftest's minimal site with one or two files replaced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hkcompute.checks import CheckContext, naming, phases, racks
from hkcompute.findings import RULES, Finding, Severity
from hkcompute.inventory.load import load_site
from hkcompute.validate import validate

from .conftest import MINIMAL_FILES, codes, only

Run = Callable[..., list[Finding]]

UNITS = str(MINIMAL_FILES["units.yaml"])


def facility(
    halls: str = "  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}\n",
    racks: str = '  - {name: "r[01-03]", hall: h1, phase: 1, row: A, x_m: 0, '
    "y_m: 0, power_kw: 45}\n",
) -> str:
    return f"halls:\n{halls}racks:\n{racks}"


RACK = (
    "{{name: {name}, hall: {hall}, phase: {phase}, row: A, x_m: 0, y_m: 0, power_kw: {kw}{more}}}"
)


def rack(name: str, hall: str = "h1", phase: int = 1, kw: float = 45, more: str = "") -> str:
    return "  - " + RACK.format(name=name, hall=hall, phase=phase, kw=kw, more=more) + "\n"


PHASES_2 = """\
phases:
  - {id: 1, name: one, due: 2026-06-30, target_pflops: 10}
  - {id: 2, name: two, due: 2026-12-31, target_pflops: 10}
"""


@pytest.fixture
def run(tmp_path: Path, write_site: Callable[..., Path]) -> Run:
    """``run(phase=None, **files)``: the minimal site with ``files`` replaced ("units_yaml"
    stands for units.yaml; None drops a file), validated; returns every finding."""

    def go(phase: int | None = None, **changes: str | None) -> list[Finding]:
        files = dict(MINIMAL_FILES)
        for key, text in changes.items():
            files[key.replace("_yaml", ".yaml")] = text
        path = write_site(tmp_path, files)
        return validate(path, phase).findings

    return go


def at(findings: list[Finding], code: str) -> list[tuple[str, int]]:
    """(file name, line) of each finding with ``code``."""
    return [(Path(f.location.path).name, f.location.line) for f in only(findings, code)]


def test_minimal_site_is_clean(run: Run) -> None:
    assert run() == []


def test_lab_site_is_clean() -> None:
    from .conftest import LAB

    assert validate(LAB).findings == []


def test_rule_codes_are_documented() -> None:
    for code in ("HK201", "HK209", "HK301", "HK311", "HK320", "HK325"):
        r = RULES[code]
        assert r.title and r.hint and r.severity in Severity


# --- references (naming.py) ------------------------------------------------------------------


def test_unit_tenant_undefined(run: Run) -> None:
    fs = run(units_yaml=UNITS.replace("tenant: t1}", "tenant: t11}"))
    assert at(fs, "HK301") == [("units.yaml", 21)]
    assert "did you mean 't1'" in only(fs, "HK301")[0].hint


def test_cluster_and_device_tenant_undefined(run: Run) -> None:
    fs = run(
        units_yaml=UNITS.replace("tenants: [t1]", "tenants: [t1, nobody]"),
        devices_yaml="devices:\n  - {name: su1-n01, tenant: ghost}\n",
    )
    assert sorted(at(fs, "HK301")) == [("devices.yaml", 2), ("units.yaml", 15)]


def test_tenant_names_missing_cluster_and_phase(run: Run) -> None:
    fs = run(
        tenants_yaml="tenants:\n  - {name: t1, kind: local, residency: HK, "
        "phases: [1, 4], clusters: [c1, c9]}\n"
    )
    assert at(fs, "HK302") == [("tenants.yaml", 2)]
    assert at(fs, "HK303") == [("tenants.yaml", 2)]
    assert "c9" in only(fs, "HK302")[0].message and "phase 4" in only(fs, "HK303")[0].message


def test_undefined_phases_everywhere(run: Run) -> None:
    fs = run(
        facility_yaml=facility(
            halls="  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}\n"
            "  - {name: h2, feed_mw: 1, cooling: air, pue: 1.3, phase: 8}\n",
            racks=rack('"r[01-03]"') + rack("r09", phase=7),
        ),
        units_yaml=UNITS + '      - {name: su2, phase: 6, racks: "r[02-03]", nodes: 0}\n',
        devices_yaml="devices:\n  - {name: su1-n02, phase: 5}\n",
        energy_yaml="energy:\n  - {name: pv, kind: solar, phase: 9, kw: 10}\n",
    )
    got = sorted(at(fs, "HK304"))
    assert ("facility.yaml", 3) in got  # hall h2
    assert ("facility.yaml", 6) in got  # rack r09
    assert ("units.yaml", 22) in got  # unit su2
    assert ("devices.yaml", 2) in got  # device override
    assert ("energy.yaml", 2) in got
    # nodes of su2 inherit its phase: one finding for the unit, none per node
    assert not any("su2-" in f.message for f in only(fs, "HK304"))


def test_defined_phases_pass(run: Run) -> None:
    fs = run(
        phases_yaml=PHASES_2,
        devices_yaml="devices:\n  - {name: su1-n02, phase: 2}\n",
        energy_yaml="energy:\n  - {name: pv, kind: solar, phase: 2, kw: 10}\n",
    )
    assert "HK304" not in codes(fs)


def test_cluster_hall_undefined(run: Run) -> None:
    fs = run(units_yaml=UNITS.replace("hall: h1", "hall: h7"))
    assert at(fs, "HK305") == [("units.yaml", 15)]


def test_energy_hall(run: Run) -> None:
    bad = run(energy_yaml="energy:\n  - {name: b1, kind: battery, phase: 1, hall: h3}\n")
    assert at(bad, "HK306") == [("energy.yaml", 2)]
    good = run(energy_yaml="energy:\n  - {name: b1, kind: battery, phase: 1, hall: h1}\n")
    assert "HK306" not in codes(good)


def test_template_switch_sets(run: Run) -> None:
    units = UNITS.replace(
        "  spines_per_group: 2\n",
        "  spines_per_group: 2\n"
        "    oob_switches: {model: oob-x, count: 1}\n"
        "    inband_switches: {model: sw, count: 1}\n",
    )
    fs = run(units_yaml=units)
    assert at(fs, "HK307") == [("units.yaml", 14)]
    assert "oob_switches" in only(fs, "HK307")[0].message
    assert "HK307" not in codes(run(units_yaml=units.replace("oob-x", "sw")))


def test_server_accelerator_missing(run: Run) -> None:
    cat = str(MINIMAL_FILES["catalog.yaml"]).replace("H100-SXM", "H100-SMX")
    fs = run(catalog_yaml=cat)
    assert at(fs, "HK308") == [("catalog.yaml", 3)]
    assert "did you mean 'H100-SXM'" in only(fs, "HK308")[0].hint


def test_hostname_too_long(run: Run) -> None:
    long = "a" * 64
    fs = run(
        devices_yaml=f"devices:\n  - {{name: {long}, role: service, model: svc-2u, "
        "rack: r01, u: 20}\n"
    )
    assert at(fs, "HK309") == [("devices.yaml", 2)]
    ok = run(
        devices_yaml=f"devices:\n  - {{name: {long[:63]}, role: service, model: svc-2u, "
        "rack: r01, u: 20}\n"
    )
    assert "HK309" not in codes(ok)


def test_long_unit_name_reported_once(run: Run) -> None:
    name = "u" * 60
    fs = run(units_yaml=UNITS.replace("name: su1,", f"name: {name},"))
    found = only(fs, "HK309")
    assert len(found) == 1 and "more from this line" in found[0].message


def test_override_model_and_rack(run: Run) -> None:
    fs = run(
        devices_yaml="devices:\n  - {name: su1-n01, model: nosuch}\n"
        "  - {name: su1-n02, model: sw}\n"
        "  - {name: su1-leaf1, rack: r99}\n"
    )
    assert sorted(at(fs, "HK310")) == [
        ("devices.yaml", 2),
        ("devices.yaml", 3),
        ("devices.yaml", 4),
    ]
    ok = run(devices_yaml="devices:\n  - {name: su1-n01, model: dgx-h100, rack: r03}\n")
    assert "HK310" not in codes(ok)


def test_device_named_like_unit(run: Run) -> None:
    fs = run(
        devices_yaml="devices:\n  - {name: su1, role: service, model: svc-2u, rack: r01, u: 20}\n"
    )
    assert at(fs, "HK311") == [("devices.yaml", 2)]
    assert only(fs, "HK311")[0].severity is Severity.WARNING


def test_duplicate_cluster(run: Run) -> None:
    second = "  - {name: c1, template: pod, hall: h1, network_racks: r01, units: []}\n"
    fs = run(units_yaml=UNITS + second)
    assert ("units.yaml", 22) in at(fs, "HK104")


# --- racks (racks.py) ------------------------------------------------------------------------


def test_overlap_reports_both_at_later_device(run: Run) -> None:
    fs = run(
        devices_yaml="devices:\n  - {name: svc1, role: service, model: svc-2u, rack: r03, u: 5}\n"
    )
    # svc1 (U5-6) overlaps su1-n01 (U2-5) and su1-n02 (U6-9): both named, at svc1's line
    assert at(fs, "HK201") == [("devices.yaml", 2)] * 2
    msgs = " ".join(f.message for f in only(fs, "HK201"))
    assert "'svc1' (U5-6)" in msgs and "'su1-n01' (U2-5)" in msgs and "'su1-n02'" in msgs
    fine = run(
        devices_yaml="devices:\n  - {name: svc1, role: service, model: svc-2u, rack: r03, u: 10}\n"
    )
    assert "HK201" not in codes(fine)


def test_overlap_only_counts_present_phase(run: Run) -> None:
    dev = "devices:\n  - {name: svc1, role: service, model: svc-2u, rack: r03, u: 5, phase: 2}\n"
    assert "HK201" in codes(run(phases_yaml=PHASES_2, devices_yaml=dev))
    assert "HK201" not in codes(run(phase=1, phases_yaml=PHASES_2, devices_yaml=dev))


def test_overlap_uses_the_overriding_models_height(run: Run) -> None:
    # dgx-h100 is 8U: at su1-n01's U2 it reaches U9, over su1-n02 (U6-9)
    fs = run(devices_yaml="devices:\n  - {name: su1-n01, model: dgx-h100}\n")
    assert at(fs, "HK201") == [("units.yaml", 21)]
    assert "'su1-n02' (U6-9) overlaps 'su1-n01' (U2-9)" in only(fs, "HK201")[0].message


def test_past_top_of_rack(run: Run) -> None:
    fs = run(
        devices_yaml="devices:\n  - {name: svc1, role: service, model: svc-2u, rack: r01, u: 48}\n"
    )
    assert at(fs, "HK202") == [("devices.yaml", 2)]
    assert "U48-49" in only(fs, "HK202")[0].message
    ok = run(
        devices_yaml="devices:\n  - {name: svc1, role: service, model: svc-2u, rack: r01, u: 47}\n"
    )
    assert "HK202" not in codes(ok)


def test_rack_power_over_budget(run: Run) -> None:
    fs = run(facility_yaml=facility(racks=rack('"r[01-02]"') + rack("r03", kw=15)))
    assert at(fs, "HK203") == [("facility.yaml", 5)]
    msg = only(fs, "HK203")[0].message
    assert "20.0 kW" in msg and "15 kW" in msg and "133%" in msg
    assert "HK203" not in codes(
        run(facility_yaml=facility(racks=rack('"r[01-02]"') + rack("r03", kw=20)))
    )


def test_rack_power_respects_phase(run: Run) -> None:
    fac = facility(racks=rack('"r[01-02]"') + rack("r03", kw=25))
    dev = "devices:\n  - {name: svc1, role: gpu_node, model: node-a, rack: r03, u: 20, phase: 2}\n"
    assert "HK203" in codes(run(phases_yaml=PHASES_2, facility_yaml=fac, devices_yaml=dev))
    assert "HK203" not in codes(
        run(phase=1, phases_yaml=PHASES_2, facility_yaml=fac, devices_yaml=dev)
    )


def test_hall_feed(run: Run) -> None:
    low = "  - {name: h1, feed_mw: 0.02, cooling: air, pue: 1.3, phase: 1}\n"
    fs = run(facility_yaml=facility(halls=low))
    assert at(fs, "HK204") == [("facility.yaml", 2)]
    msg = only(fs, "HK204")[0].message
    assert "22.0 kW IT" in msg and "28.6 kW" in msg and "20 kW feed" in msg and "143%" in msg
    ok = "  - {name: h1, feed_mw: 0.03, cooling: air, pue: 1.3, phase: 1}\n"
    assert "HK204" not in codes(run(facility_yaml=facility(halls=ok)))


FAT = """\
catalog:
  servers:
    fat:
      vendor: test
      cpu_cores: 8
      memory_gb: 64
      power_kw: 15
      rack_units: 2
"""


def _dense_run(run: Run, n: int, cooling: str) -> list[Finding]:
    """Rack r09 (200 kW budget, given cooling) holding ``n`` x 15 kW servers."""
    # catalog is one top-level key: merge FAT's server into the minimal catalogue's text
    cat = str(MINIMAL_FILES["catalog.yaml"]).replace(
        "  servers:\n", "  servers:\n" + FAT.split("  servers:\n")[1]
    )
    fac = facility(racks=rack('"r[01-03]"') + rack("r09", kw=200, more=f", cooling: {cooling}"))
    dev = (
        f'devices:\n  - {{name: "f[1-{n}]", role: service, model: fat, rack: r09, u: 1, '
        f"per_rack: {n}}}\n"
    )
    return run(catalog_yaml=cat, facility_yaml=fac, devices_yaml=dev)


def test_air_rack_density(run: Run) -> None:
    fs = _dense_run(run, 4, "air")  # 60 kW
    assert at(fs, "HK205") == [("facility.yaml", 5)]
    assert only(fs, "HK205")[0].severity is Severity.WARNING
    assert "HK205" not in codes(_dense_run(run, 4, "liquid"))
    assert "HK205" not in codes(_dense_run(run, 3, "air"))  # 45 kW


def test_rack_density_beyond_liquid(run: Run) -> None:
    fs = _dense_run(run, 9, "liquid")  # 135 kW
    assert at(fs, "HK206") == [("facility.yaml", 5)]
    assert "HK206" not in codes(_dense_run(run, 8, "liquid"))  # 120 kW


def test_device_before_rack(run: Run) -> None:
    fs = run(
        phases_yaml=PHASES_2,
        facility_yaml=facility(racks=rack('"r[01-02]"') + rack("r03", phase=2)),
    )
    assert at(fs, "HK207") == [("units.yaml", 21)]  # both nodes, one finding at the unit
    assert "2 devices" in only(fs, "HK207")[0].message
    ok = run(
        phases_yaml=PHASES_2,
        facility_yaml=facility(racks=rack('"r[01-02]"') + rack("r03", phase=2)),
        units_yaml=UNITS.replace("phase: 1, racks", "phase: 2, racks"),
    )
    assert "HK207" not in codes(ok)


def test_rack_before_hall(run: Run) -> None:
    fs = run(
        phases_yaml=PHASES_2,
        facility_yaml=facility(
            halls="  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 2}\n"
        ),
    )
    assert at(fs, "HK208") == [("facility.yaml", 4)]  # one for the range of three racks
    assert "3 racks ('r01' ... 'r03')" in only(fs, "HK208")[0].message
    assert "HK208" not in codes(run(phases_yaml=PHASES_2))


def test_unit_device_in_other_hall(run: Run) -> None:
    halls = (
        "  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}\n"
        "  - {name: h2, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}\n"
    )
    fs = run(facility_yaml=facility(halls=halls, racks=rack('"r[01-02]"') + rack("r03", hall="h2")))
    assert at(fs, "HK209") == [("units.yaml", 21)]
    assert "'h2'" in only(fs, "HK209")[0].message
    assert "HK209" not in codes(run(facility_yaml=facility(halls=halls)))


# --- phases and capacity (phases.py) --------------------------------------------------------


def test_phase_dates_out_of_order(run: Run) -> None:
    fs = run(phases_yaml=PHASES_2.replace("2026-12-31", "2026-01-31"))
    assert at(fs, "HK320") == [("phases.yaml", 3)]
    assert "HK320" not in codes(run(phases_yaml=PHASES_2))


def test_phase_targets_decrease(run: Run) -> None:
    fs = run(
        phases_yaml=PHASES_2.replace(
            "target_pflops: 10}\n  - {id: 2", "target_pflops: 12}\n  - {id: 2"
        )
    )
    assert at(fs, "HK321") == [("phases.yaml", 3)]


def test_phase_misses_target(run: Run) -> None:
    fs = run(phases_yaml="phases:\n  - {id: 1, name: one, due: 2026-06-30, target_pflops: 20}\n")
    assert at(fs, "HK322") == [("phases.yaml", 2)]
    msg = only(fs, "HK322")[0].message
    assert "15.8" in msg and "4.2 short" in msg and "79%" in msg
    assert only(fs, "HK322")[0].severity is Severity.WARNING


def test_retired_nodes_do_not_count(run: Run) -> None:
    fs = run(devices_yaml="devices:\n  - {name: su1-n01, status: retired}\n")
    assert "7.9" in only(fs, "HK322")[0].message


def test_phase_target_only_up_to_ctx_phase(run: Run) -> None:
    ph = PHASES_2.replace("2026-12-31, target_pflops: 10", "2026-12-31, target_pflops: 50")
    assert at(run(phases_yaml=ph), "HK322") == [("phases.yaml", 3)]
    assert "HK322" not in codes(run(phase=1, phases_yaml=ph))


def test_site_target(run: Run) -> None:
    site = str(MINIMAL_FILES["site.yaml"]).replace(
        "{pflops: 10, year: 2027}", "{pflops: 40, year: 2025}"
    )
    fs = run(site_yaml=site)
    assert at(fs, "HK323") == [("phases.yaml", 2)]
    assert at(fs, "HK324") == [("phases.yaml", 2)]
    assert "24.2 short" in only(fs, "HK323")[0].message


def test_site_target_skipped_for_partial_build(run: Run) -> None:
    site = str(MINIMAL_FILES["site.yaml"]).replace("pflops: 10,", "pflops: 40,")
    assert "HK323" in codes(run(site_yaml=site, phases_yaml=PHASES_2))
    assert "HK323" not in codes(run(phase=1, site_yaml=site, phases_yaml=PHASES_2))


def test_empty_unit(run: Run) -> None:
    fs = run(units_yaml=UNITS.replace("nodes: 2", "nodes: 0"))
    assert at(fs, "HK325") == [("units.yaml", 21)]


# --- speed: one pass per check, never pairwise ----------------------------------------------


def test_checks_scale_linearly(tmp_path: Path, write_site: Callable[..., Path]) -> None:
    """4,096 nodes in 128 units: every HK2xx/HK3xx check together well under a second."""
    import time

    units = (
        UNITS.split("    units:\n")[0]
        + "    units:\n"
        + "".join(
            f'      - {{name: su{i}, phase: 1, racks: "r[{2 * i + 2:03d}-{2 * i + 3:03d}]", '
            f"nodes: 32}}\n"
            for i in range(128)
        )
    )
    units = (
        units.replace("node_slots: 4", "node_slots: 32")
        .replace("nodes_per_rack: 4", "nodes_per_rack: 32")
        .replace("rails: 2", "rails: 8")
        .replace("network_racks: r01", 'network_racks: "r[000-001]"')
        .replace("units_per_group: 1", "units_per_group: 4")
        .replace("tenants: [t1]", "tenants: []")
    )
    cat = str(MINIMAL_FILES["catalog.yaml"]).replace("rack_units: 4", "rack_units: 1")
    fac = facility(
        halls="  - {name: h1, feed_mw: 100, cooling: liquid, pue: 1.3, phase: 1}\n",
        racks=rack('"r[000-257]"', kw=400, more=", units: 60"),
    )
    files = {
        **MINIMAL_FILES,
        "units.yaml": units,
        "catalog.yaml": cat,
        "facility.yaml": fac,
        "tenants.yaml": None,
    }
    site = load_site(write_site(tmp_path, files)).site  # loaded only: time our checks alone
    assert site is not None and len(site.devices) > 4096
    ctx = CheckContext(site)
    start = time.perf_counter()
    found = [
        f
        for mod in (naming, racks, phases)
        for fn in vars(mod).values()
        if callable(fn) and getattr(fn, "__name__", "").startswith("check_")
        for f in fn(ctx)
    ]
    assert time.perf_counter() - start < 1.0
    assert found  # 32 x 10 kW racks: over 120 kW, reported per rack


def test_missing_key_alone_is_reported_and_its_racks_stay_quiet(run: Run) -> None:
    """A required key left out (no typo to blame) is HK103; the racks it breaks are broken
    names, so the cluster's and unit's references to r01-r03 add nothing."""
    fs = run(
        facility_yaml=facility(
            racks='  - {name: "r[01-03]", hall: h1, phase: 1, x_m: 0, y_m: 0, power_kw: 45}\n'
        )
    )
    assert [(f.code, f.location.path.rsplit("/", 1)[-1], f.location.line) for f in fs] == [
        ("HK103", "facility.yaml", 4)
    ], fs


def test_broken_ranges_match_exactly() -> None:
    from hkcompute.inventory.parse import Broken

    b = Broken()
    b.add("racks", "r[0001-9999]")  # past the expansion bound: matched name by name
    b.add("racks", "s[1-3,7]")
    b.add("phases", 2)
    assert b.has("racks", "r0500") and b.has("racks", "r9999") and b.has("racks", "s7")
    assert not b.has("racks", "r500") and not b.has("racks", "r10000")
    assert not b.has("racks", "s4") and not b.has("units", "s1")
    assert b.has("phases", 2) and b.any("racks") and not b.any("clusters", "units")
