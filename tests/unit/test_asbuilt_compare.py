"""The comparison: ok, missing, miswired (with what is there), one swap row for two crossed
cables, unexpected edges, devices not collected, scope and per-medium collection."""

from __future__ import annotations

from hkcompute.asbuilt.compare import (
    MISSING,
    MISWIRED,
    NOT_COLLECTED,
    OK,
    SWAP,
    UNEXPECTED,
    compare,
)
from hkcompute.asbuilt.observed import Discovery, End, Sighting
from hkcompute.plan.records import Link


def _link(a: str, ap: str, b: str, bp: str, cluster: str | None = None) -> Link:
    return Link(a, ap, b, bp, "compute", 100.0, None, "dac", 1.0, 1, "leaf-spine", cluster)


LINKS = [
    _link("leaf1", "swp5", "spine1", "swp1"),
    _link("leaf1", "swp6", "spine1", "swp2"),
    _link("leaf2", "swp5", "spine1", "swp3"),
    _link("leaf2", "swp6", "spine2", "swp3"),
]


def _eth(_x: Link) -> str:
    return "ethernet"


def _disc(pairs: list[tuple[str, str, str, str]], collected: list[str]) -> Discovery:
    d = Discovery(collected={(c, "ethernet") for c in collected})
    d.sightings = [Sighting(End(a, ap), End(b, bp), "t") for a, ap, b, bp in pairs]
    return d


def test_all_ok_from_one_end_only() -> None:
    d = _disc(
        [
            ("leaf1", "swp5", "spine1", "swp1"),
            ("leaf1", "swp6", "spine1", "swp2"),
            ("leaf2", "swp5", "spine1", "swp3"),
            ("spine2", "swp3", "leaf2", "swp6"),
        ],
        ["leaf1", "leaf2", "spine2"],
    )
    v = compare(LINKS, d, _eth)
    assert [r.status for r in v.rows] == [OK] * 4 and v.ok


def test_a_swap_is_one_row_naming_both_links() -> None:
    d = _disc(
        [
            ("leaf1", "swp5", "spine1", "swp2"),
            ("leaf1", "swp6", "spine1", "swp1"),
            ("leaf2", "swp5", "spine1", "swp3"),
            ("leaf2", "swp6", "spine2", "swp3"),
        ],
        ["leaf1", "leaf2", "spine1", "spine2"],
    )
    v = compare(LINKS, d, _eth)
    assert [r.status for r in v.rows] == [SWAP, OK, OK]
    swap = v.rows[0]
    assert (swap.a, swap.b) == (End("leaf1", "swp5"), End("spine1", "swp1"))
    assert swap.other == (End("leaf1", "swp6"), End("spine1", "swp2"))
    assert swap.seen_a == (End("spine1", "swp2"),) and swap.seen_b == (End("leaf1", "swp6"),)
    assert "leaf1 swp5 and swp6" in swap.action and "spine1 swp1 and swp2" in swap.action
    assert v.count(SWAP) == 2 and not v.ok


def test_missing_miswired_unexpected_and_not_collected() -> None:
    d = _disc(
        [
            ("leaf1", "swp6", "spine1", "swp9"),  # miswired: spine1 swp9 instead
            ("leaf1", "swp40", "spine2", "swp40"),
        ],  # a cable the plan does not have
        ["leaf1", "spine1"],
    )
    d.failed["spine2"] = "ssh: timed out"
    v = compare(LINKS, d, _eth)
    by = {(r.a, r.b): r for r in v.rows}
    assert by[End("leaf1", "swp5"), End("spine1", "swp1")].status == MISSING
    mis = by[End("leaf1", "swp6"), End("spine1", "swp2")]
    assert mis.status == MISWIRED and mis.seen_a == (End("spine1", "swp9"),)
    assert "spine1 swp9" in mis.action
    # leaf2 was not collected but spine1 was: its empty port says the cable is missing
    assert by[End("leaf2", "swp5"), End("spine1", "swp3")].status == MISSING
    # neither leaf2 nor spine2 answered: nothing is known, listed once per device
    assert by[End("leaf2", "swp6"), End("spine2", "swp3")].status == NOT_COLLECTED
    assert v.not_collected == {"leaf2": "no ethernet discovery data", "spine2": "ssh: timed out"}
    unexpected = [r for r in v.rows if r.status == UNEXPECTED]
    assert [(r.a, r.b) for r in unexpected] == [(End("leaf1", "swp40"), End("spine2", "swp40"))]
    # the edge seen at the miswired link's end is on that link's row, not listed again
    assert all(End("spine1", "swp9") not in (r.a, r.b) for r in unexpected)


def test_scope_and_medium() -> None:
    d = _disc([("leaf1", "swp5", "spine1", "swp1")], ["leaf1", "spine1", "leaf2", "spine2"])
    v = compare(LINKS, d, _eth, in_scope=lambda dev: dev == "leaf1")
    assert v.planned == 2 and [r.status for r in v.rows] == [OK, MISSING]
    # LLDP answers say nothing about InfiniBand links: those devices are not collected there
    ib = compare(LINKS[2:], _disc([], ["leaf2", "spine1", "spine2"]), lambda _x: "infiniband")
    assert {r.status for r in ib.rows} == {NOT_COLLECTED}
    assert set(ib.not_collected) == {"leaf2", "spine1", "spine2"}
