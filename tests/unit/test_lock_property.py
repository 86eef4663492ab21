"""Property: whatever phase 2 adds to a locked lab (a cluster, devices with or without explicit
addresses, resized or moved pools and ASN ranges, fewer nodes), every locked allocation is
either unchanged or the change is refused with an HK6xx finding naming the device.

"Unchanged" is checked on the plan the inventory alone gives (no lock values put back), so a
move the checker missed cannot hide behind the plan's reuse of the lock. Derandomized and
bounded (about 40 examples) so CI stays quick and repeatable.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hkcompute.asbuilt.lock import LOCK_NAME
from hkcompute.cli.main import app
from hkcompute.inventory.load import load_site
from hkcompute.plan import build_plan, plan_for
from hkcompute.validate import LOCK_CODES, validate

from .test_lock_plan import SVC1, UNIT_1, add_cluster, edit, lab_with_phase_2

POOLS = {
    "oob": ["192.168.100.0/24", "192.168.100.0/23", "192.168.101.0/24"],
    "inband": ["10.100.0.0/24", "10.100.0.0/23", "10.100.1.0/24"],
    "p2p": ["10.104.0.0/24", "10.104.0.0/23", "10.104.8.0/24"],
}

# One phase-2 explicit device: a service node at a free U of lab-r01, maybe with an explicit
# in-band address from the low end of the pool (where phase 1's allocations are).
device = st.tuples(
    st.sampled_from(["svc-2u", "ddn-ai400x2"]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
)
change = st.fixed_dictionaries(
    {
        "cluster": st.booleans(),
        "devices": st.lists(device, max_size=3),
        "pools": st.dictionaries(st.sampled_from(sorted(POOLS)), st.integers(0, 2), max_size=2),
        "leaf_first": st.sampled_from([4200000001, 4200000001, 4200000005]),
        "nodes": st.sampled_from([4, 4, 3]),
    }
)


def _locked_lab(root: Path) -> tuple[Path, str]:
    site = lab_with_phase_2(root)
    result = CliRunner().invoke(app, ["lock", str(site), "--phase", "1"])
    assert result.exit_code == 0, result.output
    return site, (site / LOCK_NAME).read_text(encoding="utf-8")


def _apply(site: Path, c: dict[str, object]) -> None:
    if c["cluster"]:
        add_cluster(site)
    extra = ""
    for i, (model, host) in enumerate(c["devices"]):  # type: ignore[attr-defined]
        role = "storage" if model.startswith("ddn") else "service"
        addr = f", addresses: {{inband: 10.100.0.{host}}}" if host is not None else ""
        extra += (
            f"  - {{name: lab-x{i}, role: {role}, model: {model}, rack: lab-r01, "
            f"u: {4 + 4 * i}, phase: 2{addr}}}\n"
        )
    edit(site / "fabric.yaml", SVC1, SVC1 + extra)
    for name, pick in c["pools"].items():  # type: ignore[attr-defined]
        edit(
            site / "fabric.yaml",
            f"{name}: {{cidr: {POOLS[name][0]}}}",
            f"{name}: {{cidr: {POOLS[name][pick]}}}",
        )
    edit(site / "fabric.yaml", "first: 4200000001", f"first: {c['leaf_first']}")
    edit(site / "fabric.yaml", UNIT_1, UNIT_1.replace("nodes: 4", f"nodes: {c['nodes']}"))


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(change)
def test_locked_allocations_never_move_silently(c: dict[str, object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site, _text = _locked_lab(Path(tmp))
        _apply(site, c)
        found = validate(site).findings
        refused = {f.subject for f in found if f.code in LOCK_CODES}
        s = load_site(site).site
        assert s is not None and s.lock is not None
        lock = s.lock
        # What the inventory alone gives, with no locked value put back.
        fresh = build_plan(replace(s, lock=None), None)
        addresses = {a.key: a.address for a in fresh.addresses}
        asns = {a.device: a.asn for a in fresh.asns}
        links = {(x.a, x.a_port, x.b, x.b_port, x.network, x.optic, x.cable) for x in fresh.links}
        for a in lock.addresses:
            if addresses.get(a.key) != a.address:
                assert a.device in refused, (a, addresses.get(a.key), found)
        for n in lock.asns:
            if asns.get(n.device) != n.asn:
                assert n.device in refused, (n, asns.get(n.device))
        for x in lock.links:
            if tuple(x) not in links:
                assert x.a in refused or x.b in refused, x
        if not refused:
            # Nothing refused: what every command reads holds the lock byte for byte.
            honoured = plan_for(s, None)
            assert {tuple(a) for a in lock.addresses} <= {a.row() for a in honoured.addresses}
            assert {(n.device, n.asn) for n in lock.asns} <= {
                (a.device, a.asn) for a in honoured.asns
            }
