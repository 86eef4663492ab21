"""The plan's links set against what the devices report (pure: no I/O).

A sighting means a cable joins two ports, whichever end reported it, so sightings become
undirected edges. Each planned link in scope is then:

* ``ok``: its two ends are seen joined (other neighbours on the same ports are reported as
  unexpected edges of their own);
* ``not-collected``: neither end's device reported anything on the link's medium, so nothing
  is known (the device is listed once as not collected, not as missing links);
* ``missing``: nothing is seen on either end;
* ``miswired``: something else is seen on an end (``seen_a``/``seen_b`` say what);
* ``swap``: two miswired links each found carrying the other's far end (a1 with b2 and a2
  with b1): one row naming both, since one swap of two plugs fixes both.

An edge that no planned link explains (a cable in a port the plan leaves free, a second
neighbour on a planned port) is ``unexpected``; one touching a miswired or missing link's
end is shown on that link's row instead, so the work order lists each fault once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hkcompute.asbuilt.observed import Discovery, End
from hkcompute.plan.records import Link

OK, MISSING, MISWIRED, SWAP, UNEXPECTED, NOT_COLLECTED = (
    "ok",
    "missing",
    "miswired",
    "swap",
    "unexpected",
    "not-collected",
)
# The order problems are listed in: the quickest fixes first.
SEVERITY = (SWAP, MISWIRED, MISSING, UNEXPECTED, NOT_COLLECTED, OK)


@dataclass(frozen=True)
class Row:
    status: str
    a: End
    b: End
    network: str = ""
    seen_a: tuple[End, ...] = ()  # what is joined to ``a`` instead of ``b``
    seen_b: tuple[End, ...] = ()
    other: tuple[End, End] | None = None  # the second link of a swap
    action: str = ""
    sources: tuple[str, ...] = ()


@dataclass
class Verdict:
    rows: list[Row] = field(default_factory=list)
    not_collected: dict[str, str] = field(default_factory=dict)  # device -> why
    planned: int = 0

    def count(self, status: str) -> int:
        n = sum(1 for r in self.rows if r.status == status)
        return 2 * n if status == SWAP else n  # a swap row stands for two links

    @property
    def ok(self) -> bool:
        return (
            self.planned > 0
            and self.count(OK) == self.planned
            and not any(r.status == UNEXPECTED for r in self.rows)
        )


def _edges(disc: Discovery) -> dict[End, dict[End, list[str]]]:
    adj: dict[End, dict[End, list[str]]] = {}
    for s in disc.sightings:
        if s.local == s.remote:
            continue
        adj.setdefault(s.local, {}).setdefault(s.remote, []).append(s.source)
        adj.setdefault(s.remote, {}).setdefault(s.local, []).append(s.source)
    return adj


def _swap_action(a1: End, b1: End, a2: End, b2: End) -> str:
    places = []
    if a1.device == a2.device:
        places.append(f"{a1.device} {a1.port} and {a2.port}")
    if b1.device == b2.device:
        places.append(f"{b1.device} {b1.port} and {b2.port}")
    if not places:
        places.append(f"{a1} and {a2}")
    return "swap the two cables in " + " (or in ".join(places) + (")" if len(places) > 1 else "")


def _names(ends: Iterable[End]) -> str:
    return ", ".join(str(e) for e in ends)


def compare(
    links: Sequence[Link],
    disc: Discovery,
    medium: Callable[[Link], str],
    in_scope: Callable[[str], bool] = lambda _d: True,
) -> Verdict:
    """``medium(link)`` is ``ethernet`` or ``infiniband``: which discovery can see it."""
    planned = [x for x in links if in_scope(x.a) or in_scope(x.b)]
    adj = _edges(disc)
    v = Verdict(planned=len(planned))
    far: dict[End, End] = {}
    for x in planned:
        a, b = End(x.a, x.a_port), End(x.b, x.b_port)
        far[a], far[b] = b, a
    rows: list[Row | None] = []
    bad_ends: set[End] = set()
    for x in planned:
        a, b = End(x.a, x.a_port), End(x.b, x.b_port)
        m = medium(x)
        seen_a, seen_b = adj.get(a, {}), adj.get(b, {})
        if b in seen_a:
            rows.append(Row(OK, a, b, x.network, sources=tuple(sorted(set(seen_a[b])))))
            continue
        got_a, got_b = (x.a, m) in disc.collected, (x.b, m) in disc.collected
        if not got_a and not got_b and not seen_a and not seen_b:
            for dev in (x.a, x.b):
                if in_scope(dev):
                    v.not_collected.setdefault(dev, disc.failed.get(dev, f"no {m} discovery data"))
            rows.append(
                Row(
                    NOT_COLLECTED,
                    a,
                    b,
                    x.network,
                    action=f"collect {m} discovery data from {x.a} or {x.b}",
                )
            )
            continue
        bad_ends |= {a, b}
        sa, sb = tuple(sorted(seen_a)), tuple(sorted(seen_b))
        src = tuple(sorted({s for e in (seen_a, seen_b) for lst in e.values() for s in lst}))
        if not sa and not sb:
            rows.append(
                Row(
                    MISSING,
                    a,
                    b,
                    x.network,
                    action=f"connect {a} to {b}: no link is seen at either end",
                )
            )
        else:
            found = "; ".join(
                p
                for p in (
                    f"{a} has {_names(sa)}" if sa else "",
                    f"{b} has {_names(sb)}" if sb else "",
                )
                if p
            )
            rows.append(
                Row(
                    MISWIRED,
                    a,
                    b,
                    x.network,
                    sa,
                    sb,
                    action=f"re-cable so that {a} meets {b} ({found})",
                    sources=src,
                )
            )
    _pair_swaps(rows, adj, far)
    v.rows = [r for r in rows if r is not None]
    v.rows.extend(_unexpected(adj, far, bad_ends, in_scope))
    v.not_collected = dict(sorted(v.not_collected.items()))
    return v


def _pair_swaps(
    rows: list[Row | None], adj: dict[End, dict[End, list[str]]], far: dict[End, End]
) -> None:
    """Fold pairs of miswired rows that are one swap of two plugs into one swap row."""
    index = {r.a: i for i, r in enumerate(rows) if r is not None and r.status == MISWIRED}
    index.update({r.b: i for i, r in enumerate(rows) if r is not None and r.status == MISWIRED})
    for i, r in enumerate(rows):
        if r is None or r.status != MISWIRED:
            continue
        a1, b1 = r.a, r.b
        for x in sorted(adj.get(a1, {})):
            j = index.get(x, i)
            other = rows[j]
            if j == i or other is None or other.status != MISWIRED:
                continue
            # a1 carries x, an end of the other link; a swap when that link's far end (a2)
            # carries b1 in turn. Either end of a link may be its ``a``: no tier assumed.
            b2, a2 = x, far[x]
            if b1 in adj.get(a2, {}):
                src = tuple(sorted({*r.sources, *other.sources}))
                rows[i] = Row(
                    SWAP,
                    a1,
                    b1,
                    r.network,
                    (b2,),
                    (a2,),
                    (a2, b2),
                    _swap_action(a1, b1, a2, b2),
                    src,
                )
                rows[j] = None
                break


def _unexpected(
    adj: dict[End, dict[End, list[str]]],
    far: dict[End, End],
    bad: set[End],
    in_scope: Callable[[str], bool],
) -> list[Row]:
    out = []
    done: set[tuple[End, End]] = set()
    for u in sorted(adj):
        for w in sorted(adj[u]):
            key = (u, w) if u <= w else (w, u)
            if key in done:
                continue
            done.add(key)
            if far.get(u) == w or u in bad or w in bad:
                continue
            if not (in_scope(u.device) or in_scope(w.device)):
                continue
            src = tuple(sorted(set(adj[u][w])))
            out.append(
                Row(
                    UNEXPECTED,
                    key[0],
                    key[1],
                    "",
                    action=f"{key[0]} meets {key[1]}, which the plan does not have: "
                    "unplug it, or add it to the inventory",
                    sources=src,
                )
            )
    return out
