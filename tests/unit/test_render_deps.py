"""Input fingerprints (``render.deps``) never reuse a stale file: every single change to a
device record, a plan record (address, link, ASN) or a site-wide setting, made one at a time
to a synthetic site with both fabric kinds, gives an incremental render over the previous
tree that equals a full render of the changed site, and rendering the original again gives
the original back.

Changes are made to the expanded model (and the plan cached on it), not to YAML, so that
every field of every kind of record is reached, including plan records no inventory line
sets directly; each changed site gets a new inventory hash, as any edit does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hkcompute.inventory import schema as S
from hkcompute.inventory.load import load_site
from hkcompute.model import Device, Site
from hkcompute.plan import build_plan, plan_for, remember_plan
from hkcompute.plan.records import Plan
from hkcompute.render.pipeline import render_files, render_site
from hkcompute.render.renderer import Renderer
from hkcompute.render.tree import entry_of, safe_rel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import synth  # noqa: E402  (the benchmark's generator: both fabrics, every host kind)

Change = Callable[[Site], Site]


LAB = ROOT / "inventories" / "lab"


def _load(folder: Path) -> Site:
    loaded = load_site(folder)
    assert loaded.site is not None
    return loaded.site


@pytest.fixture(scope="module")
def lab() -> Site:
    """Every host kind but InfiniBand's: fast enough to try every change."""
    return _load(LAB)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """Both fabrics, a core tier and InfiniBand subnet managers, several services hosts."""
    return _load(synth.write_site(4, tmp_path_factory.mktemp("synth") / "site"))


def _expected(site: Site) -> dict[str, dict[str, str]]:
    """A full render's manifest, made in memory."""
    return {safe_rel(f.host, f.path): entry_of(f) for f in render_files(site, None)}


def _manifest(out: Path) -> dict[str, dict[str, str]]:
    files: dict[str, dict[str, str]] = json.loads((out / "manifest.json").read_text())["files"]
    return files


def _with(site: Site, tag: str, **changes: Any) -> Site:
    return dataclasses.replace(site, inventory_hash=f"{site.inventory_hash}+{tag}", **changes)


def _device(name: str, **fields: Any) -> Change:
    def change(site: Site) -> Site:
        devices = dict(site.devices)
        devices[name] = dataclasses.replace(devices[name], **fields)
        return _with(site, f"{name}:{sorted(fields)}", devices=devices)

    return change


def _plan(edit: Callable[[Plan], None], tag: str) -> Change:
    def change(site: Site) -> Site:
        plan = build_plan(site, None)
        edit(plan)
        new = _with(site, tag)
        remember_plan(new, plan)  # what plan_for serves for this site
        assert plan_for(new, None) is plan
        return new

    return change


def _samples(site: Site) -> dict[str, Device]:
    """One device of each kind of context (and two that get no files)."""
    r = Renderer(site, plan_for(site, None), None)
    out: dict[str, Device] = {}
    for d in site.devices.values():
        kind = r.kind(d) or d.role
        if kind == "node":
            acc, _n, _m = site.accelerators_of(d)
            kind = d.role if acc is None else f"node-{acc.vendor}"
        if kind == "routed":
            kind = f"roce-{d.role}"
        out.setdefault(kind, d)
    return out


def _device_changes(site: Site) -> Iterator[tuple[str, Change]]:
    samples = _samples(site)
    racks = list(site.racks)
    for kind, d in samples.items():
        other_model = next(
            (
                m
                for m in site.catalog.servers
                if m != d.model and site.catalog.model_kind(d.model) == "servers"
            ),
            d.model,
        )
        other_tenant = next((t for t in site.tenants if t != d.tenant), None)
        values: dict[str, Any] = {
            "model": other_model,
            "rack": next(r for r in racks if r != d.rack),
            "u": d.u + 1,
            "height": d.height + 1,
            "phase": d.phase + 1,
            "status": next(s for s in S.Status if s != d.status),
            "hall": d.hall + "x",
            "index": d.index + 1,
            "group": (d.group or 0) + 1,
            "tenant": other_tenant,
            "serial": "SN-CHANGED",
            "mac": "02:00:00:00:00:99",
            "bmc": S.Bmc(mac="02:00:00:00:00:98"),
            "addresses": (*d.addresses, ("inband", "10.250.0.9/24")),
            "services": ("dns", "dhcp", "ntp", "prometheus", "slurmctld")
            if d.role == "service"
            else (),
        }
        for field, value in values.items():
            if value == getattr(d, field):
                continue
            yield f"{kind} {d.name} {field}", _device(d.name, **{field: value})


def _plan_changes(site: Site) -> Iterator[tuple[str, Change]]:
    plan = plan_for(site, None)
    samples = {d.name for d in _samples(site).values()}
    seen: set[tuple[str, str]] = set()
    for i, a in enumerate(plan.addresses):
        if a.device not in samples or (a.device, a.network) in seen:
            continue
        seen.add((a.device, a.network))
        ip, plen = a.address.split("/")
        octets = ip.split(".")
        moved = ".".join([*octets[:3], str((int(octets[3]) + 100) % 256)]) + f"/{plen}"

        def edit(p: Plan, i: int = i, moved: str = moved) -> None:
            p.addresses[i] = p.addresses[i]._replace(address=moved)

        yield f"address {a.device} {a.network}", _plan(edit, f"addr{i}")

        def rename(p: Plan, i: int = i) -> None:
            p.addresses[i] = p.addresses[i]._replace(interface=p.addresses[i].interface + "x")

        yield f"interface {a.device} {a.network}", _plan(rename, f"ifc{i}")
    kinds: set[str] = set()
    for i, x in enumerate(plan.links):
        if x.kind in kinds:
            continue
        kinds.add(x.kind)
        for field, value in (
            ("a_port", x.a_port + "9"),
            ("b_port", x.b_port + "9"),
            ("kind", x.kind + "x"),
            ("network", x.network + "x"),
            ("speed_gbps", x.speed_gbps * 2),
            ("optic", "other-optic"),
            ("cable", "other-cable"),
            ("length_m", x.length_m + 1),
            ("cluster", "other"),
        ):

            def link(p: Plan, i: int = i, field: str = field, value: Any = value) -> None:
                p.links[i] = p.links[i]._replace(**{field: value})

            yield f"link {x.kind} {field}", _plan(link, f"link{i}{field}")
    for i, n in enumerate(plan.asns[:3] + plan.asns[-3:]):

        def asn(p: Plan, n: Any = n) -> None:
            j = p.asns.index(n)
            p.asns[j] = n._replace(asn=n.asn + 7)

        yield f"asn {n.device}", _plan(asn, f"asn{i}")


def _site_changes(site: Site) -> Iterator[tuple[str, Change]]:
    info = site.info
    for field, value in (
        ("timezone", "Europe/London"),
        ("domain", "changed.internal"),
        ("admin_users", ["root", "ops2"]),
        ("ntp_upstream", ["192.0.2.1"]),
        ("name", "renamed"),
    ):
        yield (
            f"site {field}",
            lambda s, f=field, v=value: _with(s, f"info{f}", info=info.model_copy(update={f: v})),
        )
    pools = dict(site.networks.pools)
    for pool in pools:

        def net(s: Site, pool: str = pool) -> Site:
            changed = dict(pools)
            old = ipaddress.ip_network(pools[pool].cidr)
            changed[pool] = S.Pool(
                cidr=f"{old.network_address + old.num_addresses}/{old.prefixlen}"
            )  # the next block of its size
            return _with(
                s, f"pool{pool}", networks=s.networks.model_copy(update={"pools": changed})
            )

        yield f"pool {pool} moved", net

        def wider(s: Site, pool: str = pool) -> Site:
            changed = dict(pools)  # same first address, so the plan may not move at all
            changed[pool] = S.Pool(cidr=str(ipaddress.ip_network(pools[pool].cidr).supernet()))
            return _with(
                s, f"wide{pool}", networks=s.networks.model_copy(update={"pools": changed})
            )

        yield f"pool {pool} wider", wider
    for name, acc in site.catalog.accelerators.items():
        for field, value in (
            ("power_w", acc.power_w + 1),
            ("device_prefix", "dev"),
            ("gres", "gpu" if acc.gres != "gpu" else "npu"),
        ):

            def accel(s: Site, name: str = name, field: str = field, value: Any = value) -> Site:
                accs = dict(s.catalog.accelerators)
                accs[name] = accs[name].model_copy(update={field: value})
                return _with(
                    s,
                    f"acc{name}{field}",
                    catalog=dataclasses.replace(s.catalog, accelerators=accs),
                )

            yield f"accelerator {name} {field}", accel
    for name, srv in site.catalog.servers.items():

        def server(s: Site, name: str = name, srv: Any = srv) -> Site:
            servers = dict(s.catalog.servers)
            servers[name] = srv.model_copy(update={"vendor": srv.vendor + "x"})
            return _with(s, f"srv{name}", catalog=dataclasses.replace(s.catalog, servers=servers))

        yield f"server {name} vendor", server
    for c in site.clusters:

        def tenants(s: Site, name: str = c.name) -> Site:
            return _with(
                s,
                f"ten{name}",
                clusters=tuple(
                    dataclasses.replace(x, tenants=(*x.tenants, "t-extra")) if x.name == name else x
                    for x in s.clusters
                ),
            )

        yield f"cluster {c.name} tenants", tenants


def _all_changes(site: Site) -> list[tuple[str, Change]]:
    return [*_device_changes(site), *_plan_changes(site), *_site_changes(site)]


def _check(base: Site, changes: list[tuple[str, Change]], out: Path) -> None:
    render_site(base, None, out)
    original = _manifest(out)
    assert original == _expected(base)
    checked = 0
    stale: list[str] = []
    for name, change in changes:
        site = change(base)
        try:
            want = _expected(site)
        except Exception:
            continue
        render_site(site, None, out)
        if _manifest(out) != want:
            stale.append(name)
        render_site(base, None, out)
        if _manifest(out) != original:
            stale.append(f"{name} (back)")
        checked += 1
    assert not stale, f"incremental render differs from a full render after: {stale}"
    assert checked >= 0.9 * len(changes)


def test_every_single_change_renders_incrementally_as_a_full_render(
    lab: Site, tmp_path: Path
) -> None:
    changes = _all_changes(lab)
    assert len(changes) > 100  # every kind of record is reached
    _check(lab, changes, tmp_path / "out")


def test_infiniband_and_core_changes_render_incrementally_as_a_full_render(
    big: Site, tmp_path: Path
) -> None:
    """The kinds the lab lacks: subnet managers, InfiniBand and core switches, their links."""
    samples = _samples(big)
    mine = {samples[k].name for k in ("sm", "roce-core") if k in samples}
    assert len(mine) == 2
    changes = [
        (n, c)
        for n, c in _all_changes(big)
        if n.split()[1] in mine or n.startswith(("link spine-core", "cluster"))
    ]
    assert len(changes) > 30
    _check(big, changes, tmp_path / "out")


def test_a_local_change_builds_few_contexts(
    big: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the fingerprints are for: a new MAC on one node builds the contexts of that node,
    its leaves and the aggregate hosts (services, subnet managers), not every host's."""
    base = big
    out = tmp_path / "out"
    render_site(base, None, out)
    built: list[str] = []
    real = Renderer.plan_host

    def counting(self: Renderer, d: Device, **kw: Any) -> Any:
        built.append(d.name)
        return real(self, d, **kw)

    monkeypatch.setattr(Renderer, "plan_host", counting)
    node = next(d for d in base.devices.values() if d.role == "gpu_node")
    site = _device(node.name, mac="02:00:00:00:00:77")(base)
    inc = render_site(site, None, out)
    monkeypatch.setattr(Renderer, "plan_host", real)
    assert _manifest(out) == _expected(site)
    assert node.name in built
    kinds = {d.role for d in base.devices.values() if d.name in built}
    assert kinds <= {"gpu_node", "leaf", "service", "spine", "core", "fabric_manager"}
    assert len(built) < inc.hosts / 5, built
    assert inc.rendered_hosts >= 2  # the node and the DHCP server


def test_a_site_without_an_inventory_hash_never_reuses_its_aggregate_hosts(
    lab: Site, tmp_path: Path
) -> None:
    """The services host reads every device; with no inventory hash to tell a change, it is
    rebuilt every time rather than trusted."""
    out = tmp_path / "out"
    bare = dataclasses.replace(lab, inventory_hash="")
    render_site(bare, None, out)
    node = next(d for d in lab.devices.values() if d.role == "gpu_node")
    devices = dict(lab.devices)
    devices[node.name] = dataclasses.replace(node, mac="02:00:00:00:00:55")
    changed = dataclasses.replace(lab, inventory_hash="", devices=devices)
    render_site(changed, None, out)
    assert _manifest(out) == _expected(changed)


def test_a_dns_servers_section_survives_a_render_that_reuses_it(lab: Site, tmp_path: Path) -> None:
    """A render that reuses every host (here: the same site under a host pattern that
    matches them all) keeps each DNS server's DNS section record, so a later change takes
    the zones from the tree instead of rendering them again."""
    from hkcompute.render.tree import read_state

    out = tmp_path / "out"
    render_site(lab, None, out)
    before = read_state(out).dns
    assert before  # the lab's services host serves DNS
    again = render_site(lab, None, out, hosts="lab-*")
    assert again.rendered_hosts == 0
    assert read_state(out).dns == before
