"""lldpcli's JSON in the shapes lldpd prints: one neighbour (a dict keyed by interface), several
(a list of single-key dicts), a chassis with and without a system name, json0, nothing; bad
input is a DiscoveryError naming file:line, never anything else (fuzzed)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hkcompute.asbuilt import lldp
from hkcompute.asbuilt.names import Resolver
from hkcompute.asbuilt.observed import DiscoveryError, End

ONE = """{
  "lldp": {
    "interface": {
      "swp5": {
        "via": "LLDP",
        "rid": "1",
        "age": "0 day, 00:00:10",
        "chassis": {
          "lab-g01-spine01": {
            "id": {"type": "mac", "value": "02:42:ac:12:00:02"},
            "descr": "Debian GNU/Linux 12 (bookworm)",
            "mgmt-ip": "172.18.0.2",
            "mgmt-iface": "538",
            "capability": [{"type": "Bridge", "enabled": false},
                           {"type": "Router", "enabled": true}]
          }
        },
        "port": {"id": {"type": "ifname", "value": "swp1"}, "descr": "swp1", "ttl": "20"}
      }
    }
  }
}
"""

SEVERAL = """{
  "lldp": {
    "interface": [
      {"swp5": {"via": "LLDP", "rid": "1",
                "chassis": {"lab-g01-spine01.lab.example": {"id": {"type": "mac",
                            "value": "02:42:ac:12:00:02"}}},
                "port": {"id": {"type": "mac", "value": "02:42:ac:12:00:02"},
                         "descr": "swp1"}}},
      {"swp6": {"via": "LLDP", "rid": "2",
                "chassis": {"id": {"type": "mac", "value": "0c:42:A1:00:00:07"},
                            "mgmt-ip": ["10.0.0.9", "fe80::1"]},
                "port": {"id": {"type": "ifname", "value": "swp2"}}}},
      {"swp6": {"via": "LLDP", "rid": "3",
                "chassis": {"id": {"type": "local", "value": "stranger"}},
                "port": {"id": {"type": "local", "value": "Gi0/1"}}}}
    ]
  }
}
"""

JSON0 = json.dumps(
    {
        "lldp": [
            {
                "interface": [
                    {
                        "name": "swp7",
                        "via": "LLDP",
                        "chassis": [
                            {
                                "id": [{"type": "mac", "value": "02:00:00:00:00:01"}],
                                "name": [{"value": "lab-g01-spine02"}],
                            }
                        ],
                        "port": [{"id": [{"type": "ifname", "value": "swp1"}]}],
                    }
                ]
            }
        ]
    }
)

RESOLVER = Resolver(
    ["lab-su1-leaf1", "lab-g01-spine01", "lab-g01-spine02", "lab-svc1"],
    macs={"0C-42-A1-00-00-07": "lab-svc1"},
    ips={"10.0.0.9/24": "lab-svc1"},
)


def _seen(text: str) -> list[tuple[End, End]]:
    found = lldp.sightings(lldp.parse(text, "leaf1.json"), "lab-su1-leaf1", RESOLVER, "leaf1.json")
    return [(s.local, s.remote) for s in found]


def test_one_neighbour_is_a_dict_keyed_by_interface() -> None:
    assert _seen(ONE) == [(End("lab-su1-leaf1", "swp5"), End("lab-g01-spine01", "swp1"))]
    (n,) = lldp.parse(ONE, "x.json")
    assert n.line == 4 and n.mgmt_ips == ("172.18.0.2",)


def test_several_neighbours_are_a_list_and_names_fall_back() -> None:
    assert _seen(SEVERAL) == [
        # a domain after the host name is dropped; a MAC port id falls back to descr
        (End("lab-su1-leaf1", "swp5"), End("lab-g01-spine01", "swp1")),
        # no system name: the chassis MAC the inventory gives the device
        (End("lab-su1-leaf1", "swp6"), End("lab-svc1", "swp2")),
        # nothing known: kept, marked, so it can never match a planned link
        (End("lab-su1-leaf1", "swp6"), End("?local:stranger", "Gi0/1")),
    ]


def test_json0_and_empty_answers() -> None:
    assert _seen(JSON0) == [(End("lab-su1-leaf1", "swp7"), End("lab-g01-spine02", "swp1"))]
    for empty in ('{"lldp": {}}', '{"lldp": [{}]}', '{\n  "lldp": {\n\n  }\n}'):
        assert lldp.parse(empty, "x.json") == []


def test_a_neighbour_found_by_management_address_only() -> None:
    text = (
        '{"lldp": {"interface": {"eth0": {"chassis": {"id": {"type": "local", '
        '"value": "x"}, "mgmt-ip": "10.0.0.9"}, "port": {"descr": "p1"}}}}}'
    )
    assert _seen(text)[0][1] == End("lab-svc1", "p1")


@pytest.mark.parametrize(
    "text,where,words",
    [
        (
            '{"lldp": {"interface": {"swp5": {\n "chassis": [1, 2], "port": {}}}}}',
            "x.json:1",
            "chassis: expected an object, found a list",
        ),
        (
            '{"lldp": {"interface": {\n"swp5": {"chassis": {"a": {}}, "port": 7}}}}',
            "x.json:2",
            "lldp.interface[swp5].port: expected an object",
        ),
        (
            '{"lldp":\n {"interface": [ {"a": {}, "b": {}} ]}}',
            "x.json",
            "one interface name as its key",
        ),
        (
            '{"lldp": {"interface": {"swp5": {"chassis": {"n": {"id": 5}}, "port": {"id": '
            '{"type": "ifname", "value": "swp1"}}}}}}',
            "x.json:1",
            'expected {"type"',
        ),
        ('{"lldp": {\n  "interface": {\n', "x.json:3", "not JSON"),
        ('{"neighbours": []}', "x.json:1", 'expected {"lldp": ...}'),
        (
            '{"lldp": {"interface": {"swp5": {"chassis": {"n": {}}, "port": {}}}}}',
            "x.json:1",
            "neither an id nor a descr",
        ),
    ],
)
def test_malformed_input_names_the_place(text: str, where: str, words: str) -> None:
    with pytest.raises(DiscoveryError) as exc:
        lldp.parse(text, "x.json")
    assert exc.value.location == where and words in exc.value.message, str(exc.value)
    assert exc.value.exit_code == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "lldp",
                    "interface",
                    "chassis",
                    "port",
                    "id",
                    "type",
                    "value",
                    "name",
                    "descr",
                    "mgmt-ip",
                    "swp1",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_fuzz_shapes_raise_only_discovery_errors(doc: object) -> None:
    text = (
        json.dumps({"lldp": doc})
        if not isinstance(doc, dict) or "lldp" not in doc
        else json.dumps(doc)
    )
    try:
        neighbours = lldp.parse(text, "f.json")
        lldp.sightings(neighbours, "lab-su1-leaf1", RESOLVER, "f.json")
    except DiscoveryError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_text_raises_only_discovery_errors(text: str) -> None:
    for candidate in (text, ONE[: len(text) % len(ONE)] + text):
        with contextlib.suppress(DiscoveryError):
            lldp.parse(candidate, "f.json")


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(DiscoveryError):
        lldp.parse('{"lldp": ' + "[" * 100000 + "]" * 100000 + "}", "deep.json")
