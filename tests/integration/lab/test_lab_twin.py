"""The whole Molecule-style sequence on the container twin of inventories/lab.

A copy of the lab site under a unique name (so a developer's own lab is never touched),
with a munge key given as an environment reference: create, converge, idempotence,
verify (files, services, time, DNS, BGP, routes, fabric pings), no secret in any artifact,
check mode changes nothing, a broken fabric link is named by verify, and a node stopped in
the middle of a deploy is finished by --resume touching only that host.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.lab
SECRET_ENV = "HK_TEST_MUNGE_KEY"


@dataclass
class Twin:
    site: Any
    state: Path
    render: Path
    name: str
    secret: str


def _deploy(t: Twin, **kw: Any) -> Any:
    from hkcompute.deploy.rollout import DeployOptions, deploy

    opts = DeployOptions(phase=1, render_dir=t.render, command="pytest", **kw)
    return deploy(t.site, t.state, opts)


@pytest.fixture(scope="module")
def twin(
    docker_client: Any,
    lab_site: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Twin]:
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_down, lab_up
    from hkcompute.plan import plan_for

    root = tmp_path_factory.mktemp("twin")
    site_dir = root / "site"
    shutil.copytree(ROOT / "inventories" / "lab", site_dir)
    text = (site_dir / "site.yaml").read_text()
    (site_dir / "site.yaml").write_text(re.sub(r"(?m)^  name: lab$", f"  name: {lab_site}", text))
    (site_dir / "secrets.yaml").write_text(f"secrets:\n  munge_key: {{env: {SECRET_ENV}}}\n")
    secret = "munge-" + secrets.token_hex(16)
    os.environ[SECRET_ENV] = secret
    loaded = load_site(site_dir)
    assert loaded.site is not None, [str(f.message) for f in loaded.findings]
    site = loaded.site
    # A developer's lab of the bundled site uses the same subnets: stop it first.
    lab_down("lab")
    state = root / "state"
    t0 = time.monotonic()
    lab_up(build_layout(site, plan_for(site, 1), 1), state)
    print(f"\nlab up: {time.monotonic() - t0:.1f}s")
    try:
        yield Twin(site, state, root / "build", lab_site, secret)
    finally:
        lab_down(lab_site, state)
        os.environ.pop(SECRET_ENV, None)


def test_converge_then_idempotence(twin: Twin) -> None:
    t0 = time.monotonic()
    first = _deploy(twin)
    took = time.monotonic() - t0
    assert first.ok, first.run.counts()
    assert {r.status for r in first.run.hosts.values()} <= {"ok", "changed"}
    assert sum(r.changed for r in first.run.hosts.values()) > 0
    t0 = time.monotonic()
    second = _deploy(twin)
    print(f"\nconverge {took:.1f}s, idempotence {time.monotonic() - t0:.1f}s")
    from hkcompute.lab.sequence import changed_tasks

    assert second.ok
    assert changed_tasks(second) == [], "a second deploy must change nothing"


def test_verify_passes_everything_including_the_fabric(twin: Twin) -> None:
    from hkcompute.verify.command import run_verify

    results = run_verify(twin.site, 1, twin.state, twin.render)
    bad = [(r.check.host, r.check.label(), r.found) for r in results if not r.ok]
    assert not bad
    kinds = {r.check.kind for r in results}
    assert {"file", "service", "port", "ntp", "dns", "bgp", "route", "ping"} <= kinds
    assert sum(r.check.kind == "bgp" for r in results) == 16  # 8 sessions, seen from each end


def test_no_secret_in_any_artifact(twin: Twin, capfd: pytest.CaptureFixture[str]) -> None:
    _deploy(twin, diff=True)
    out, err = capfd.readouterr()
    assert twin.secret not in out + err
    leaks = []
    for folder in (twin.state, twin.render):
        for p in folder.rglob("*"):
            if p.is_file() and not p.is_symlink() and twin.secret.encode() in p.read_bytes():
                leaks.append(str(p))
    assert leaks == []
    # ... while the host did get it: the secret reached its destination.
    from docker import from_env

    c = from_env().containers.get(f"hk-{twin.name}-lab-svc1")
    got = c.exec_run(["cat", "/etc/munge/munge.key"]).output.decode()
    assert got.strip() == twin.secret


def test_check_mode_changes_nothing(twin: Twin) -> None:
    from docker import from_env

    c = from_env().containers.get(f"hk-{twin.name}-lab-su1-n01")
    c.exec_run(["sh", "-c", "echo '# tampered' >> /etc/chrony/chrony.conf"])
    r = _deploy(twin, check=True, diff=True, limit="lab-su1-n01")
    assert r.run.check
    assert r.run.hosts["lab-su1-n01"].changed >= 1, "check mode reports the drift"
    after = c.exec_run(["cat", "/etc/chrony/chrony.conf"]).output.decode()
    assert "# tampered" in after, "check mode must not change the host"
    fixed = _deploy(twin, limit="lab-su1-n01")
    assert fixed.ok and fixed.run.hosts["lab-su1-n01"].changed >= 1
    # ansible-runner keeps a run's command line in its private folder: the run after a check
    # must not run in check mode again.
    command = (twin.state / "runner" / "artifacts" / fixed.run.run_id / "command").read_text()
    assert "--check" not in command
    assert "# tampered" not in c.exec_run(["cat", "/etc/chrony/chrony.conf"]).output.decode()


def test_a_broken_link_is_named_by_verify(twin: Twin) -> None:
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import break_link, lab_up
    from hkcompute.plan import plan_for
    from hkcompute.verify.command import run_verify

    layout = build_layout(twin.site, plan_for(twin.site, 1), 1)
    leaf = layout.host("lab-su1-leaf1")
    port = next(p for p in leaf.ports if p.name.startswith("swp"))
    plan = plan_for(twin.site, 1)
    link = next(x for x in plan.links if x.a == "lab-su1-leaf1" and x.a_port == port.name)
    peer = next(
        a.address.split("/")[0]
        for a in plan.addresses
        if a.device == link.b and a.interface == link.b_port
    )
    break_link(layout, twin.state, "lab-su1-leaf1", port.name)
    try:
        time.sleep(3)
        results = run_verify(twin.site, 1, twin.state, twin.render, limit="lab-su1-leaf1", settle=0)
        lost = [r for r in results if r.check.kind == "bgp" and not r.ok]
        assert [r.check.target for r in lost] == [peer], [(r.check.target, r.found) for r in lost]
        assert (
            lost[0].check.expected
            == f"Established {link.b} AS" + lost[0].check.expected.split(" AS")[-1]
        )
        assert sum(r.check.kind == "bgp" and r.ok for r in results) == 3
    finally:
        lab_up(layout, twin.state)  # plugs the link back in and re-addresses it
    results = run_verify(twin.site, 1, twin.state, twin.render, limit="lab-su1-leaf1")
    assert all(r.ok for r in results if r.check.kind == "bgp")


def test_node_lost_mid_deploy_then_resume_touches_only_it(twin: Twin) -> None:
    from docker import from_env

    from hkcompute.deploy.events import Tally
    from hkcompute.deploy.rollout import DeployOptions, deploy
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_up
    from hkcompute.plan import plan_for

    victim = "lab-su1-n04"
    c = from_env().containers.get(f"hk-{twin.name}-{victim}")
    for path in ("/etc/hosts", "/etc/chrony/chrony.conf"):
        c.exec_run(["sh", "-c", f"echo '# drift' >> {path}"])
    stopped = []

    def on_event(t: Tally) -> None:
        # Stop the node once the run is under way (its first tasks have run).
        if not stopped and t.hosts.get(victim) is not None and t.hosts[victim].ok >= 2:
            stopped.append(True)
            c.stop(timeout=1)

    opts = DeployOptions(phase=1, render_dir=twin.render, command="pytest fault")
    first = deploy(twin.site, twin.state, opts, on_event=on_event)
    assert stopped, "the node was never stopped"
    assert not first.ok
    assert first.run.hosts[victim].status in ("unreachable", "failed")
    others = {h: r.status for h, r in first.run.hosts.items() if h != victim}
    assert set(others.values()) <= {"ok", "changed"}, others
    lab_up(build_layout(twin.site, plan_for(twin.site, 1), 1), twin.state)  # node is back
    resumed = deploy(
        twin.site,
        twin.state,
        DeployOptions(
            phase=1, render_dir=twin.render, resume=first.run.run_id, command="pytest resume"
        ),
    )
    assert resumed.ok, resumed.run.counts()
    assert set(resumed.run.hosts) == {victim}
    assert resumed.run.resumed_from == first.run.run_id
    assert "# drift" not in c.exec_run(["cat", "/etc/chrony/chrony.conf"]).output.decode()
