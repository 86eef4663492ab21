"""ibnetdiscover's topology text as the tool prints it: switch and CA blocks, port lines from
both ends, `-g` chassis lines; the plan's port names (swpN, fab<r>) and the HCA port GUIDs;
bad input is a DiscoveryError naming file:line, never anything else (fuzzed)."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hkcompute.asbuilt import guids, ibnetdiscover
from hkcompute.asbuilt.names import Resolver
from hkcompute.asbuilt.observed import DiscoveryError, End

SAMPLE = """#
# Topology file: generated on Tue Jun  3 10:00:00 2025
#
# Initiated from node 946dae03006e1234 port 946dae03006e1234

vendid=0x2c9
devid=0xd2f0
sysimgguid=0xfc6a1c0300e2a0c0
switchguid=0xfc6a1c0300e2a0c0(fc6a1c0300e2a0c0)
Switch\t64 "S-fc6a1c0300e2a0c0"\t\t# "MF0;h800a-su01-leaf1:MQM9700/U1" enhanced port 0 lid 2 lmc 0
[1]\t"H-946dae03006e1234"[1](946dae03006e1234) \t\t# "h800a-su01-n01 mlx5_0" lid 5 4xNDR
[2]\t"H-946dae03006e5678"[1](946dae03006e5678) \t\t# "h800a-su01-n02 mlx5_0" lid 6 4xNDR
[33]\t"S-fc6a1c0300e2a1c0"[1]\t\t# "h800-a-g01-spine01" lid 3 4xNDR

vendid=0x2c9
devid=0xd2f0
sysimgguid=0xfc6a1c0300e2a1c0
switchguid=0xfc6a1c0300e2a1c0(fc6a1c0300e2a1c0)
Switch\t64 "S-fc6a1c0300e2a1c0"\t\t# "h800-a-g01-spine01" enhanced port 0 lid 3 lmc 0
[1]\t"S-fc6a1c0300e2a0c0"[33]\t\t# "MF0;h800a-su01-leaf1:MQM9700/U1" lid 2 4xNDR

vendid=0x2c9
devid=0x1021
sysimgguid=0x946dae03006e1234
caguid=0x946dae03006e1234
Ca\t1 "H-946dae03006e1234"\t\t# "h800a-su01-n01 mlx5_0"
[1](946dae03006e1234) \t"S-fc6a1c0300e2a0c0"[1]\t\t# lid 5 lmc 0 "MF0;h800a-su01-leaf1:MQM9700/U1" \
lid 2 4xNDR

vendid=0x2c9
devid=0x1021
sysimgguid=0x946dae03006e5678
caguid=0x946dae03006e5678
Ca\t1 "H-946dae03006e5678"\t\t# "h800a-su01-n02 HCA-1"
[1](946dae03006e5678) \t"S-fc6a1c0300e2a0c0"[2]\t\t# lid 6 lmc 0 "MF0;h800a-su01-leaf1:MQM9700/U1" \
lid 2 4xNDR
"""

RESOLVER = Resolver(["h800a-su01-leaf1", "h800-a-g01-spine01", "h800a-su01-n01", "h800a-su01-n02"])


def test_sample_maps_to_plan_names_and_guids() -> None:
    topo = ibnetdiscover.parse(SAMPLE, "fabric.txt")
    assert len(topo.nodes) == 4 and len(topo.links) == 6
    mapped = ibnetdiscover.to_inventory(topo, RESOLVER, "fabric.txt")
    edges = {(s.local, s.remote) for s in mapped.discovery.sightings}
    assert (End("h800a-su01-leaf1", "swp1"), End("h800a-su01-n01", "fab0")) in edges
    assert (End("h800a-su01-n02", "fab0"), End("h800a-su01-leaf1", "swp2")) in edges
    assert (End("h800-a-g01-spine01", "swp1"), End("h800a-su01-leaf1", "swp33")) in edges
    assert {d for d, _m in mapped.discovery.collected} == set(RESOLVER.devices)
    assert mapped.guids == {
        "h800a-su01-n01": {"fab0": "0x946dae03006e1234"},
        "h800a-su01-n02": {"fab0": "0x946dae03006e5678"},
    }
    first = next(s for s in mapped.discovery.sightings)
    assert first.source == "fabric.txt:11"


def test_grouped_output_and_unknown_nodes() -> None:
    text = (
        "Chassis 1 (guid 0x1)\n\n# Spine Nodes\nNon-Chassis Nodes\n"
        'switchguid=0x2(2)\nSwitch\t36 "S-0000000000000002"\t\t# "edge7" base port 0 lid 1 '
        'lmc 0\n[3][ext 3]\t"H-0000000000000009"[1](9) \t\t# "MT4129 ConnectX7" lid 4 '
        "4xHDR\n"
    )
    mapped = ibnetdiscover.to_inventory(ibnetdiscover.parse(text, "g.txt"), RESOLVER, "g.txt")
    (s,) = mapped.discovery.sightings
    assert s.local == End("?edge7", "swp3") and s.remote.device == "?MT4129 ConnectX7"
    assert mapped.guids == {} and mapped.discovery.notes


def test_guid_map_yaml_is_deterministic_and_loads() -> None:
    found = {"n10": {"fab1": "0x2", "fab0": "0x1"}, "n9": {"fab0": "0x3"}}
    text = guids.render(found, "hkstp", "fabric.txt")
    assert text == guids.render(dict(reversed(found.items())), "hkstp", "fabric.txt")
    doc = yaml.safe_load(text)
    assert list(doc["guids"]) == ["n9", "n10"]
    assert doc["guids"]["n10"] == {"fab0": "0x1", "fab1": "0x2"}
    assert yaml.safe_load(guids.render({}, "s", "f"))["guids"] == {}


@pytest.mark.parametrize(
    "text,line,words",
    [
        ('[1]\t"S-01"[2]\n', 1, "before any Switch or Ca line"),
        ('Switch\t2 "S-01"\t\t# "a"\n[1] garbage\n', 2, "not a line of ibnetdiscover"),
        ('Switch\t2 "S-01"\t\t# "a"\nSwitch\t2 "S-01"\t\t# "a"\n', 2, "appears twice"),
        ('Switch\t2 "S-01"\t\t# "a"\n[0]\t"S-02"[1]\n', 2, "port number out of range"),
        ("hello\n", 1, "not a line of ibnetdiscover"),
    ],
)
def test_malformed_lines_are_named(text: str, line: int, words: str) -> None:
    with pytest.raises(DiscoveryError) as exc:
        ibnetdiscover.parse(text, "f.txt")
    assert exc.value.location == f"f.txt:{line}" and words in exc.value.message


def test_no_node_at_all_is_an_error() -> None:
    with pytest.raises(DiscoveryError, match="no Switch or Ca node"):
        ibnetdiscover.parse("# nothing\n\n", "f.txt")


_LINES = st.sampled_from(SAMPLE.splitlines())


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES | st.text(max_size=40), max_size=20))
def test_fuzz_raises_only_discovery_errors(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        topo = ibnetdiscover.parse(text, "f.txt")
        ibnetdiscover.to_inventory(topo, RESOLVER, "f.txt")
    except DiscoveryError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.text(max_size=30))
def test_fuzz_mutations_raise_only_discovery_errors(cut: int, junk: str) -> None:
    try:
        topo = ibnetdiscover.parse(SAMPLE[:cut] + junk + SAMPLE[cut:], "f.txt")
        ibnetdiscover.to_inventory(topo, RESOLVER, "f.txt")
    except DiscoveryError:
        pass
