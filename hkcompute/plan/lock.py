"""What is built never moves: the plan against ``hkcompute.lock`` (pure: no I/O).

``take_lock`` makes a lock from a plan (every allocation of the phases it covers, devices whose
status is ``retired`` left out: retiring releases). ``compare_lock`` sets a freshly built plan
against the lock, allocation by allocation, and gives a finding for each locked device whose
allocation the inventory would move (HK601), hand to another device (HK602) or drop (HK603),
naming the old and the new value and the inventory line responsible. ``reuse_lock`` then puts
the locked values back into the plan, so whatever reads the plan sees what is built.

A locked allocation is in scope of a plan when its device is in the plan's phases and not
retired; a device gone from the inventory altogether is dropped whatever the phase.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from hkcompute.asbuilt.lock import Lock, LockedAddress, LockedAsn, LockedLink
from hkcompute.findings import UNKNOWN, Finding, Location, Rule, make
from hkcompute.model import Device, Site, Status
from hkcompute.plan import codes as R
from hkcompute.plan.records import Address, Asn, Link, Plan


def _link_of(x: Link) -> LockedLink:
    return LockedLink(x.a, x.a_port, x.b, x.b_port, x.network, x.optic, x.cable)


def take_lock(site: Site, plan: Plan, previous: Lock | None = None) -> Lock:
    """The lock of ``plan`` (built for a phase, with any earlier lock honoured): every
    allocation but those of retired devices. ``released`` keeps the devices released before,
    adds the locked ones retired since, and drops any that hold allocations again."""
    assert plan.phase is not None, "a lock is taken of a phase"
    retired = {d.name for d in site.devices_upto(plan.phase) if d.status == Status.RETIRED}
    lock = Lock(
        site.info.name,
        plan.phase,
        site.inventory_hash,
        tuple(LockedAddress(*a.row()) for a in plan.addresses if a.device not in retired),
        tuple(LockedAsn(a.device, a.asn) for a in plan.asns if a.device not in retired),
        tuple(_link_of(x) for x in plan.links if x.a not in retired and x.b not in retired),
    )
    released: set[str] = set()
    if previous is not None:
        released = set(previous.released) | (previous.devices() & retired)
    return replace(lock, released=tuple(released - lock.devices())).sorted()


def release(lock: Lock, devices: Iterable[str]) -> tuple[Lock, list[str]]:
    """``lock`` without the allocations of ``devices`` (links touching one go too), and the
    names it did not hold (the caller refuses those: a typo must not pass for a release)."""
    names = set(devices)
    unknown = sorted(names - lock.devices())
    kept = Lock(
        lock.site,
        lock.phase,
        lock.inventory_hash,
        tuple(a for a in lock.addresses if a.device not in names),
        tuple(a for a in lock.asns if a.device not in names),
        tuple(x for x in lock.links if x.a not in names and x.b not in names),
        tuple(sorted(set(lock.released) | (names - set(unknown)))),
        lock.path,
    )
    return kept.sorted(), unknown


@dataclass
class LockCheck:
    """A plan set against a lock: what is identical, what would change (as findings, and as
    one line each for ``hkcompute diff``), and what is released."""

    addresses: int = 0
    asns: int = 0
    links: int = 0
    findings: list[Finding] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    released: list[tuple[str, str]] = field(default_factory=list)

    @property
    def stable(self) -> bool:
        return not self.findings


class _Checker:
    def __init__(self, site: Site, plan: Plan, lock: Lock) -> None:
        self.site, self.plan, self.lock = site, plan, lock
        self.out = LockCheck()
        # One finding per device and rule (the first change named, the rest counted): a pool
        # change moves thousands of addresses, and the reader needs each device once.
        self.grouped: dict[tuple[str, str], tuple[Rule, str, Location, int]] = {}

    def device(self, name: str) -> Device | None:
        return self.site.devices.get(name)

    def in_scope(self, name: str) -> bool:
        d = self.device(name)
        if d is None or d.status == Status.RETIRED:
            return False
        return self.plan.phase is None or d.phase <= self.plan.phase

    def loc(self, name: str) -> Location:
        d = self.device(name)
        return d.loc if d is not None else UNKNOWN

    def report(self, r: Rule, device: str, message: str, loc: Location) -> None:
        self.out.changes.append(message)
        key = (device, r.code)
        got = self.grouped.get(key)
        self.grouped[key] = (r, message, loc, 1) if got is None else (*got[:3], got[3] + 1)

    def gone(self) -> set[str]:
        """Locked devices no longer in the inventory: one finding each, at their lock line."""
        lk = self.lock
        first: dict[str, Location] = {}
        for section, names in (
            ("addresses", [a.device for a in lk.addresses]),
            ("asns", [a.device for a in lk.asns]),
            ("links", [n for x in lk.links for n in x.devices]),
        ):
            step = 2 if section == "links" else 1
            for i, name in enumerate(names):
                if name not in self.site.devices and name not in first:
                    first[name] = lk.where(section, i // step)
        for name in sorted(first):
            self.report(
                R.LOCK_DROPPED,
                name,
                f"{name} is locked in {lk.path} but is no longer in the inventory",
                first[name],
            )
        return set(first)

    def addresses(self) -> None:
        planned = {a.key: a for a in self.plan.addresses}
        holder: dict[str, Address] = {}
        for a in self.plan.addresses:
            holder.setdefault(a.address.split("/", 1)[0], a)
        for la in self.lock.addresses:
            if not self.in_scope(la.device):
                continue
            what = f"{la.device} {la.interface} ({la.network})"
            p = planned.get(la.key)
            if p is None:
                self.report(
                    R.LOCK_DROPPED,
                    la.device,
                    f"{what} is locked at {la.address}; the plan no longer gives it an address",
                    self.loc(la.device),
                )
                continue
            if p.address == la.address:
                self.out.addresses += 1
                continue
            ip = la.address.split("/", 1)[0]
            other = holder.get(ip)
            if other is not None and other.device != la.device:
                d = self.device(other.device)
                how = "explicitly" if d is not None and _explicit(d, ip) else "by the plan"
                self.report(
                    R.LOCK_REUSED,
                    la.device,
                    f"{what} is locked at {la.address}; the plan would move it to {p.address} "
                    f"because {other.device} {other.interface} is given {ip} {how}",
                    self.loc(other.device),
                )
            else:
                self.report(
                    R.LOCK_MOVED,
                    la.device,
                    f"{what} is locked at {la.address}; the plan would move it to {p.address}",
                    self.loc(la.device),
                )

    def asns(self) -> None:
        planned = {a.device: a.asn for a in self.plan.asns}
        for la in self.lock.asns:
            if not self.in_scope(la.device):
                continue
            got = planned.get(la.device)
            if got == la.asn:
                self.out.asns += 1
            elif got is None:
                self.report(
                    R.LOCK_DROPPED,
                    la.device,
                    f"{la.device} is locked at ASN {la.asn}; the plan no longer gives it one",
                    self.loc(la.device),
                )
            else:
                self.report(
                    R.LOCK_MOVED,
                    la.device,
                    f"{la.device} is locked at ASN {la.asn}; the plan would give it {got}",
                    self.loc(la.device),
                )

    def links(self) -> None:
        ends: dict[tuple[str, str], Link] = {}
        for x in self.plan.links:
            ends.setdefault((x.a, x.a_port), x)
            ends.setdefault((x.b, x.b_port), x)
        for ll in self.lock.links:
            if not (self.in_scope(ll.a) and self.in_scope(ll.b)):
                continue
            p = ends.get((ll.a, ll.a_port)) or ends.get((ll.b, ll.b_port))
            if p is None:
                self.report(
                    R.LOCK_DROPPED,
                    ll.a,
                    f"link {_show(ll)} is locked; the plan no longer has it",
                    self.loc(ll.a),
                )
                continue
            got = _link_of(p)
            if _same(got, ll):
                self.out.links += 1
                continue
            # An explicit link written in the inventory points at its own line.
            loc = p.loc if p.loc != UNKNOWN else self.loc(ll.a)
            self.report(
                R.LOCK_MOVED,
                ll.a,
                f"link {_show(ll)} is locked; the plan would make it {_show(got)}",
                loc,
            )

    def run(self) -> LockCheck:
        self.gone()
        self.addresses()
        self.asns()
        self.links()
        for d in sorted(self.lock.devices()):
            dev = self.device(d)
            if dev is not None and dev.status == Status.RETIRED:
                self.out.released.append((d, "retired"))
        self.out.released.extend((d, "released") for d in self.lock.released)
        for (device, _code), (r, message, loc, n) in self.grouped.items():
            more = f" (and {n - 1} more of {device})" if n > 1 else ""
            self.out.findings.append(make(r, message + more, loc, subject=device))
        return self.out


def _explicit(d: Device, ip: str) -> bool:
    return any(text.split("/", 1)[0] == ip for _net, text in d.addresses)


def _same(got: LockedLink, want: LockedLink) -> bool:
    """The same cable: the same two ends (explicit links may be written either way round),
    network, optic and cable."""
    ends = {(got.a, got.a_port), (got.b, got.b_port)}
    return ends == {(want.a, want.a_port), (want.b, want.b_port)} and (
        got.network,
        got.optic,
        got.cable,
    ) == (want.network, want.optic, want.cable)


def _show(x: LockedLink) -> str:
    return f"{x.a}:{x.a_port} <-> {x.b}:{x.b_port} ({x.network}, {x.optic or 'no optic'}/{x.cable})"


def compare_lock(site: Site, plan: Plan, lock: Lock) -> LockCheck:
    """``plan`` (built without the lock's values put back) set against ``lock``."""
    return _Checker(site, plan, lock).run()


def reuse_lock(site: Site, plan: Plan, lock: Lock) -> None:
    """Put every locked value in scope back into ``plan`` (in place): an address, ASN or link
    the inventory would move stays as it is built, and ``compare_lock``'s findings refuse the
    change. A value another device now holds is left alone: that clash is the HK602 finding
    already, and putting it back would only report it twice (as HK503 or HK401)."""
    check = _Checker(site, plan, lock)
    addr = {la.key: la.address for la in lock.addresses if check.in_scope(la.device)}
    if addr:
        owner: dict[str, str] = {}
        for a in plan.addresses:
            owner.setdefault(a.address.split("/", 1)[0], a.device)

        def keep(a: Address) -> Address:
            want = addr.get(a.key)
            if want is None or want == a.address:
                return a
            held = owner.get(want.split("/", 1)[0], a.device)
            return a._replace(address=want) if held == a.device else a

        plan.addresses = [keep(a) for a in plan.addresses]
    asn = {la.device: la.asn for la in lock.asns if check.in_scope(la.device)}
    if asn:
        plan.asns = [
            Asn(a.device, asn[a.device], a.tier, a.phase) if a.device in asn else a
            for a in plan.asns
        ]
    by_end: dict[tuple[str, str], LockedLink] = {}
    for ll in lock.links:
        if check.in_scope(ll.a) and check.in_scope(ll.b):
            by_end[(ll.a, ll.a_port)] = ll
            by_end[(ll.b, ll.b_port)] = ll
    if by_end:
        used: dict[tuple[str, str], int] = {}
        for i, x in enumerate(plan.links):
            used.setdefault((x.a, x.a_port), i)
            used.setdefault((x.b, x.b_port), i)
        out: list[Link] = []
        for i, x in enumerate(plan.links):
            got = by_end.get((x.a, x.a_port)) or by_end.get((x.b, x.b_port))
            if (
                got is not None
                and not _same(_link_of(x), got)
                and used.get((got.a, got.a_port), i) == i
                and used.get((got.b, got.b_port), i) == i
            ):
                x = x._replace(
                    a=got.a,
                    a_port=got.a_port,
                    b=got.b,
                    b_port=got.b_port,
                    network=got.network,
                    optic=got.optic,
                    cable=got.cable,
                )
            out.append(x)
        plan.links = out
