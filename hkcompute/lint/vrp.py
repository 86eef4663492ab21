"""VRP (Huawei CloudEngine): hkcompute's own closed grammar of the configuration it renders.

No program reads a VRP configuration off the switch, so this checker is not the vendor's
parser: it parses ``flash:/vrpcfg.cfg`` (templates/switch/vrp/vrpcfg.cfg.j2) back with a
grammar of exactly the commands that template writes, each in the view the template writes
it in (the commands and their ranges as cited in the ``vrp`` entry of
hkcompute/data/catalog/switch_os.yaml). Anything else is refused with its line number: a
misspelt command, a value out of range, a command in the wrong view, a line of another
dialect (FRR's ``router bgp`` or ``neighbor``). What it proves is that the file is what
hkcompute means to write, not that VRP accepts it; a command added to the template must be
added here too.

Layout, as ``display current-configuration`` prints it: system-view commands at column 0;
a view (``interface X``, ``bgp N``, ``route-policy N permit node K``) holds the lines
indented one space below it, ``ipv4-family unicast`` inside ``bgp`` the lines indented two;
``#`` alone closes every view (`` #`` inside ``bgp`` closes its address family), and
``return`` ends the file.

:func:`parse` gives a typed :class:`VrpConfig` (or raises :class:`VrpError` with every
refused line); :func:`consistency` finds what the file contradicts of itself (an address or
peer given twice, a reference to a group, policy, prefix list or VLAN it never defines);
:func:`against_plan` compares the file with the plan of the switch: every planned interface,
address, BGP peer and advertised network present exactly once, nothing else. The registered
checker ``vrp`` runs the first two on every rendered ``/vrpcfg.cfg``, in this process.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING

from hkcompute.lint.base import Program, Tool, ToolResult, register, result

if TYPE_CHECKING:
    from hkcompute.plan.records import Plan
    from hkcompute.schema import Qos

__all__ = [
    "Bgp",
    "Interface",
    "Peer",
    "PolicyNode",
    "PrefixEntry",
    "Problem",
    "Vrp",
    "VrpConfig",
    "VrpError",
    "against_plan",
    "consistency",
    "parse",
    "problems",
    "read",
]


@dataclass(frozen=True)
class Problem:
    """One finding: at a line of the file (1-based), or about an item of the plan (``line``
    None when the item is missing from the file)."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class VrpError(ValueError):
    """Lines the grammar refuses; ``problems`` holds each with its line number."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Command:
    line: int
    text: str


@dataclass
class Interface:
    """An ``interface X`` view: its commands in order, and what they set."""

    name: str
    line: int
    commands: list[Command] = field(default_factory=list)
    addresses: list[tuple[int, IPv4Interface]] = field(default_factory=list)
    description: str | None = None
    mtu: int | None = None
    layer3: bool = False  # ``undo portswitch`` (a LoopBack or Vlanif is Layer 3 by nature)
    link_type: str | None = None
    default_vlan: int | None = None
    # The port's share of the lossless policy: (line, command, arguments), the command one
    # of QOS_PORT_COMMANDS ("qos queue wred", (3, "roce")).
    qos: list[tuple[int, str, tuple[object, ...]]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``ethernet`` (<speed>GE<slot>/<subcard>/<port>), ``loopback`` or ``vlanif``."""
        return _kind(self.name)


@dataclass
class Peer:
    """One ``peer IP as-number N`` and the peer's commands after it (a second ``as-number``
    line for the same address is another Peer, so that duplicates stay visible)."""

    address: IPv4Address
    asn: int
    line: int
    group: str | None = None
    description: str | None = None
    enabled: list[int] = field(default_factory=list)  # lines of ``peer IP enable``


@dataclass
class Bgp:
    asn: int
    line: int
    router_id: IPv4Address | None = None
    keepalive: int | None = None
    hold: int | None = None
    groups: dict[str, int] = field(default_factory=dict)  # external group -> line
    peers: list[Peer] = field(default_factory=list)
    family_line: int | None = None  # ``ipv4-family unicast``
    networks: list[tuple[int, IPv4Network]] = field(default_factory=list)
    max_ebgp_paths: int | None = None
    as_path_relax: bool = False
    # (target, what, line): group-level family commands, ``peer FABRIC enable`` ...
    group_settings: list[tuple[str, str, int]] = field(default_factory=list)
    policies: list[tuple[str, str, str, int]] = field(default_factory=list)  # target, name, dir


@dataclass(frozen=True)
class PrefixEntry:
    name: str
    index: int
    action: str
    network: IPv4Network
    line: int


@dataclass
class PolicyNode:
    name: str
    action: str
    node: int
    line: int
    if_match: list[tuple[str, int]] = field(default_factory=list)  # ip-prefix name, line


@dataclass
class QosView:
    """A named QoS view of the system view (``dcb pfc roce``, ``diffserv domain roce``,
    ``drop-profile roce``) and its entries: (line, arguments)."""

    name: str
    line: int
    entries: list[tuple[int, tuple[object, ...]]] = field(default_factory=list)


QOS_PORT_COMMANDS = (
    "trust dscp",
    "trust upstream",
    "dcb pfc enable",
    "dcb pfc buffer",
    "qos queue wred",
    "qos queue ecn",
    "qos pq",
)
PHB = ("be", "af1", "af2", "af3", "af4", "ef", "cs6", "cs7")
"""The PHBs of queues 0 to 7 (VRP's ip-dscp-inbound reference)."""


@dataclass
class VrpConfig:
    """The parsed file. ``vlans`` are ``vlan batch`` entries (each with its line)."""

    sysname: str | None = None
    sysname_line: int | None = None
    vlans: list[tuple[int, int]] = field(default_factory=list)
    interfaces: list[Interface] = field(default_factory=list)
    bgp: Bgp | None = None
    prefixes: list[PrefixEntry] = field(default_factory=list)
    policies: list[PolicyNode] = field(default_factory=list)
    pfc_profiles: dict[str, QosView] = field(default_factory=dict)  # dcb pfc <name>
    diffserv_domains: dict[str, QosView] = field(default_factory=dict)
    drop_profiles: dict[str, QosView] = field(default_factory=dict)
    return_line: int | None = None

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    def addresses(self) -> list[tuple[Interface, int, IPv4Interface]]:
        """Every ``ip address`` of the file: its interface, line and address."""
        return [(i, line, a) for i in self.interfaces for line, a in i.addresses]


# --- the grammar --------------------------------------------------------------------------

_IP = r"(\d{1,3}(?:\.\d{1,3}){3})"
_NAME = r"([A-Za-z0-9][A-Za-z0-9_.-]*)"
_ETHERNET = re.compile(r"^(\d+GE)(\d+)/(\d+)/(\d+)$")
_LOOPBACK = re.compile(r"^LoopBack(\d+)$")
_VLANIF = re.compile(r"^Vlanif(\d+)$")

SYSTEM, INTERFACE, BGP, FAMILY, POLICY, SKIP = (
    "system",
    "interface",
    "bgp",
    "ipv4-family unicast",
    "route-policy",
    "unknown",
)
PFC, DOMAIN, DROP = "dcb pfc", "diffserv domain", "drop-profile"

# What another dialect's line looks like, and what VRP writes instead.
_FOREIGN = (
    (
        re.compile(r"^(router bgp|neighbor|address-family|exit-address-family|redistribute)\b"),
        "FRR/Cisco syntax, not VRP (VRP: bgp <as>, peer <ip> as-number <as>, ipv4-family unicast)",
    ),
    (
        re.compile(r"^(hostname|ip prefix-list|route-map|exit|end|no |line vty|log )"),
        "FRR/Cisco syntax, not VRP",
    ),
    (re.compile(r"^!"), "'!' is FRR's separator; VRP's is '#'"),
    (re.compile(r"^(iface|auto|address|bridge-)"), "ifupdown syntax, not VRP"),
    (re.compile(r"^ip address \S+/\d+$"), "VRP takes ip address <ip> <mask>, a dotted mask"),
)


def _kind(name: str) -> str:
    if _ETHERNET.match(name):
        return "ethernet"
    if _LOOPBACK.match(name):
        return "loopback"
    if _VLANIF.match(name):
        return "vlanif"
    return "unknown"


class _Refuse(Exception):
    pass


def _int(text: str, low: int, high: int, what: str) -> int:
    value = int(text)
    if not low <= value <= high:
        raise _Refuse(f"{what} {value} is out of range {low}-{high}")
    return value


def _ip(text: str) -> IPv4Address:
    try:
        return IPv4Address(text)
    except ValueError:
        raise _Refuse(f"{text!r} is not an IPv4 address") from None


def _mask(ip: str, mask: str) -> IPv4Interface:
    _ip(ip)
    try:
        IPv4Address(mask)
        iface = IPv4Interface(f"{ip}/{mask}")
    except ValueError:
        raise _Refuse(f"{mask!r} is not a contiguous network mask") from None
    if str(iface.netmask) != mask:
        raise _Refuse(f"{mask!r} is not a contiguous network mask")
    return iface


def _network(ip: str, prefix: IPv4Interface | int, text: str) -> IPv4Network:
    iface = prefix if isinstance(prefix, IPv4Interface) else IPv4Interface(f"{ip}/{prefix}")
    if iface.ip != iface.network.network_address:
        raise _Refuse(f"{text}: {ip} has host bits set (network {iface.network})")
    return iface.network


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    usage: str
    apply: Callable[[_Parser, re.Match[str], int, str], None]


class _Parser:
    def __init__(self) -> None:
        self.cfg = VrpConfig()
        self.problems: list[Problem] = []
        self.stack: list[str] = [SYSTEM]
        self.iface: Interface | None = None
        self.qview = QosView("", 0)
        self.policy: PolicyNode | None = None

    # System view.
    def sysname(self, m: re.Match[str], n: int, text: str) -> None:
        if self.cfg.sysname is not None:
            raise _Refuse(f"a second sysname (the first at line {self.cfg.sysname_line})")
        self.cfg.sysname, self.cfg.sysname_line = m.group(1), n

    def vlan_batch(self, m: re.Match[str], n: int, text: str) -> None:
        for v in m.group(1).split():
            self.cfg.vlans.append((n, _int(v, 1, 4094, "VLAN")))

    def interface(self, m: re.Match[str], n: int, text: str) -> None:
        name = m.group(1)
        kind = _kind(name)
        if kind == "unknown":
            raise _Refuse(
                f"interface {name!r}: hkcompute names <speed>GE<slot>/<subcard>/<port>, "
                "LoopBack<n> and Vlanif<vlan> only"
            )
        if kind == "vlanif":
            _int(name[6:], 1, 4094, "VLANIF")
        if kind == "loopback":
            _int(name[8:], 0, 1023, "LoopBack")
        seen = self.cfg.interface(name)
        if seen is not None:
            raise _Refuse(f"interface {name} opened a second time (first at line {seen.line})")
        self.iface = Interface(name, n)
        self.cfg.interfaces.append(self.iface)
        self.stack.append(INTERFACE)

    def bgp(self, m: re.Match[str], n: int, text: str) -> None:
        if self.cfg.bgp is not None:
            raise _Refuse(f"a second bgp view (the first at line {self.cfg.bgp.line})")
        self.cfg.bgp = Bgp(_int(m.group(1), 1, 4294967295, "AS number"), n)
        self.stack.append(BGP)

    def ip_prefix(self, m: re.Match[str], n: int, text: str) -> None:
        name, index, action, ip, length = m.groups()
        net = _network(ip, _int(length, 0, 32, "prefix length"), "ip ip-prefix")
        _ip(ip)
        entry = PrefixEntry(name, _int(index, 1, 4294967295, "index"), action, net, n)
        for e in self.cfg.prefixes:
            if e.name == name and e.index == entry.index:
                raise _Refuse(f"ip-prefix {name} index {entry.index} again (line {e.line})")
        self.cfg.prefixes.append(entry)

    def route_policy(self, m: re.Match[str], n: int, text: str) -> None:
        name, action, node = m.groups()
        self.policy = PolicyNode(name, action, _int(node, 0, 65535, "node"), n)
        for p in self.cfg.policies:
            if p.name == name and p.node == self.policy.node:
                raise _Refuse(f"route-policy {name} node {p.node} again (line {p.line})")
        self.cfg.policies.append(self.policy)
        self.stack.append(POLICY)

    def do_return(self, m: re.Match[str], n: int, text: str) -> None:
        self.cfg.return_line = n

    def _qos_view(self, views: dict[str, QosView], view: str, name: str, n: int) -> None:
        if name in views:
            raise _Refuse(f"{view} {name} again (line {views[name].line})")
        self.qview = views[name] = QosView(name, n)
        self.stack.append(view)

    def pfc_profile(self, m: re.Match[str], n: int, text: str) -> None:
        self._qos_view(self.cfg.pfc_profiles, PFC, m.group(1), n)

    def domain(self, m: re.Match[str], n: int, text: str) -> None:
        self._qos_view(self.cfg.diffserv_domains, DOMAIN, m.group(1), n)

    def drop_profile(self, m: re.Match[str], n: int, text: str) -> None:
        self._qos_view(self.cfg.drop_profiles, DROP, m.group(1), n)

    # QoS views.
    def pfc_priority(self, m: re.Match[str], n: int, text: str) -> None:
        prios = tuple(_int(p, 0, 7, "priority") for p in m.group(1).split())
        self.qview.entries.append((n, prios))

    def dscp_inbound(self, m: re.Match[str], n: int, text: str) -> None:
        dscp = _int(m.group(1), 0, 63, "DSCP")
        for line, (d, *_) in self.qview.entries:
            if d == dscp:
                raise _Refuse(f"DSCP {dscp} mapped again (line {line})")
        self.qview.entries.append((n, (dscp, m.group(2), m.group(3) or "green")))

    def ecn_buffer(self, m: re.Match[str], n: int, text: str) -> None:
        low, high = int(m.group(1)), int(m.group(2))
        if low > high:
            raise _Refuse(f"ECN low-limit {low} above high-limit {high}")
        self.qview.entries.append((n, (low, high, _int(m.group(3), 1, 100, "discard-percentage"))))

    # Interface view.
    def _if(self, n: int, text: str, *kinds: str) -> Interface:
        assert self.iface is not None
        if self.iface.kind not in kinds:
            raise _Refuse(f"{text!r} is not a command of a {self.iface.kind} interface")
        self.iface.commands.append(Command(n, text))
        return self.iface

    def undo_portswitch(self, m: re.Match[str], n: int, text: str) -> None:
        i = self._if(n, text, "ethernet")
        if i.link_type is not None:
            raise _Refuse("undo portswitch after a Layer 2 port link-type")
        i.layer3 = True

    def description(self, m: re.Match[str], n: int, text: str) -> None:
        self._if(n, text, "ethernet", "vlanif", "loopback").description = m.group(1)

    def mtu(self, m: re.Match[str], n: int, text: str) -> None:
        i = self._if(n, text, "ethernet", "vlanif")
        if i.kind == "ethernet" and not i.layer3:
            raise _Refuse("mtu on a Layer 2 port: undo portswitch first")
        i.mtu = _int(m.group(1), 46, 9600, "mtu")

    def ip_address(self, m: re.Match[str], n: int, text: str) -> None:
        i = self._if(n, text, "ethernet", "vlanif", "loopback")
        if i.kind == "ethernet" and not i.layer3:
            raise _Refuse("ip address on a Layer 2 port: undo portswitch first")
        iface = _mask(m.group(1), m.group(2))
        net = iface.network
        if net.prefixlen < 31 and iface.ip in (net.network_address, net.broadcast_address):
            raise _Refuse(f"{iface.ip} is the network or broadcast address of {net}")
        i.addresses.append((n, iface))

    def link_type(self, m: re.Match[str], n: int, text: str) -> None:
        i = self._if(n, text, "ethernet")
        if i.layer3:
            raise _Refuse("port link-type on a Layer 3 port (undo portswitch)")
        i.link_type = m.group(1)

    def default_vlan(self, m: re.Match[str], n: int, text: str) -> None:
        i = self._if(n, text, "ethernet")
        if i.link_type != "access":
            raise _Refuse("port default vlan before port link-type access")
        i.default_vlan = _int(m.group(1), 1, 4094, "VLAN")

    def _port_qos(self, n: int, text: str, what: str, *args: object) -> None:
        self._if(n, text, "ethernet").qos.append((n, what, args))

    def _defined(self, views: dict[str, QosView], view: str, name: str) -> str:
        if name not in views:
            raise _Refuse(f"{view} {name} is not defined above")
        return name

    def trust_dscp(self, m: re.Match[str], n: int, text: str) -> None:
        assert self.iface is not None
        if self.iface.layer3:
            raise _Refuse("trust dscp on a Layer 3 port (it trusts DSCP by default)")
        self._port_qos(n, text, "trust dscp")

    def trust_upstream(self, m: re.Match[str], n: int, text: str) -> None:
        name = self._defined(self.cfg.diffserv_domains, DOMAIN, m.group(1))
        self._port_qos(n, text, "trust upstream", name)

    def pfc_enable(self, m: re.Match[str], n: int, text: str) -> None:
        name = self._defined(self.cfg.pfc_profiles, PFC, m.group(1))
        self._port_qos(n, text, "dcb pfc enable", name, m.group(2))

    def pfc_buffer(self, m: re.Match[str], n: int, text: str) -> None:
        q = _int(m.group(1), 0, 7, "queue")
        self._port_qos(n, text, "dcb pfc buffer", q, int(m.group(2)))

    def queue_wred(self, m: re.Match[str], n: int, text: str) -> None:
        q = _int(m.group(1), 0, 7, "queue")
        name = self._defined(self.cfg.drop_profiles, DROP, m.group(2))
        self._port_qos(n, text, "qos queue wred", q, name)

    def queue_ecn(self, m: re.Match[str], n: int, text: str) -> None:
        q = _int(m.group(1), 0, 7, "queue")
        assert self.iface is not None
        if not any(w == "qos queue wred" and a[0] == q for _, w, a in self.iface.qos):
            raise _Refuse(f"qos queue {q} ecn before qos queue {q} wred <drop-profile>")
        self._port_qos(n, text, "qos queue ecn", q)

    def queue_pq(self, m: re.Match[str], n: int, text: str) -> None:
        self._port_qos(n, text, "qos pq", _int(m.group(1), 0, 7, "queue"))

    # BGP view.
    @property
    def b(self) -> Bgp:
        assert self.cfg.bgp is not None
        return self.cfg.bgp

    def router_id(self, m: re.Match[str], n: int, text: str) -> None:
        if self.b.router_id is not None:
            raise _Refuse("a second router-id")
        self.b.router_id = _ip(m.group(1))

    def timer(self, m: re.Match[str], n: int, text: str) -> None:
        self.b.keepalive = _int(m.group(1), 0, 21845, "keepalive")
        hold = int(m.group(2))
        if hold != 0:
            hold = _int(m.group(2), 3, 65535, "hold")
        self.b.hold = hold

    def group(self, m: re.Match[str], n: int, text: str) -> None:
        name = m.group(1)
        if _looks_ip(name):
            raise _Refuse(f"group name {name!r} is an address")
        if name in self.b.groups:
            raise _Refuse(f"group {name} again (line {self.b.groups[name]})")
        self.b.groups[name] = n

    def _peer(self, ip: str, text: str) -> Peer:
        addr = _ip(ip)
        for p in reversed(self.b.peers):
            if p.address == addr:
                return p
        raise _Refuse(f"{text!r}: peer {addr} has no 'peer {addr} as-number' before it")

    def _group(self, name: str) -> None:
        if name not in self.b.groups:
            raise _Refuse(f"group {name} is not defined (group {name} external)")

    def peer_as(self, m: re.Match[str], n: int, text: str) -> None:
        asn = _int(m.group(2), 1, 4294967295, "AS number")
        self.b.peers.append(Peer(_ip(m.group(1)), asn, n))

    def peer_group(self, m: re.Match[str], n: int, text: str) -> None:
        p = self._peer(m.group(1), text)
        self._group(m.group(2))
        if p.group is not None and p.group != m.group(2):
            raise _Refuse(f"peer {p.address} is already in group {p.group}")
        p.group = m.group(2)

    def peer_description(self, m: re.Match[str], n: int, text: str) -> None:
        self._peer(m.group(1), text).description = m.group(2)

    def family(self, m: re.Match[str], n: int, text: str) -> None:
        if self.b.family_line is not None:
            raise _Refuse(f"a second ipv4-family unicast (line {self.b.family_line})")
        self.b.family_line = n
        self.stack.append(FAMILY)

    # ipv4-family unicast view.
    def network(self, m: re.Match[str], n: int, text: str) -> None:
        iface = _mask(m.group(1), m.group(2))
        self.b.networks.append((n, _network(m.group(1), iface, "network")))

    def max_paths(self, m: re.Match[str], n: int, text: str) -> None:
        self.b.max_ebgp_paths = _int(m.group(1), 1, 128, "maximum load-balancing ebgp")

    def relax(self, m: re.Match[str], n: int, text: str) -> None:
        self.b.as_path_relax = True

    def _target(self, target: str, text: str) -> Peer | None:
        if _looks_ip(target):
            return self._peer(target, text)
        self._group(target)
        return None

    def family_enable(self, m: re.Match[str], n: int, text: str) -> None:
        p = self._target(m.group(1), text)
        if p is None:
            self.b.group_settings.append((m.group(1), "enable", n))
        else:
            p.enabled.append(n)

    def family_group(self, m: re.Match[str], n: int, text: str) -> None:
        p = self._peer(m.group(1), text)
        self._group(m.group(2))
        if p.group != m.group(2):
            raise _Refuse(f"peer {p.address} is in group {p.group} in the bgp view")

    def family_policy(self, m: re.Match[str], n: int, text: str) -> None:
        self._target(m.group(1), text)
        self.b.policies.append((m.group(1), m.group(2), m.group(3), n))

    def update_interval(self, m: re.Match[str], n: int, text: str) -> None:
        self._target(m.group(1), text)
        seconds = _int(m.group(2), 0, 600, "route-update-interval")
        self.b.group_settings.append((m.group(1), f"route-update-interval {seconds}", n))

    # route-policy node view.
    def if_match(self, m: re.Match[str], n: int, text: str) -> None:
        assert self.policy is not None
        self.policy.if_match.append((m.group(1), n))


def _looks_ip(text: str) -> bool:
    return re.fullmatch(_IP, text) is not None


def _rule(pattern: str, usage: str, apply: Callable[[_Parser, re.Match[str], int, str], None]):  # type: ignore[no-untyped-def]
    return _Rule(re.compile(pattern + r"$"), usage, apply)


_PEER = r"peer (\S+)"
GRAMMAR: dict[str, tuple[_Rule, ...]] = {
    SYSTEM: (
        _rule(r"sysname (\S+)", "sysname <host-name>", _Parser.sysname),
        _rule(r"vlan batch ((?:\d+ )*\d+)", "vlan batch <vlan> ...", _Parser.vlan_batch),
        _rule(r"interface (\S+)", "interface <name>", _Parser.interface),
        _rule(r"bgp (\d+)", "bgp <as-number>", _Parser.bgp),
        _rule(
            rf"ip ip-prefix {_NAME} index (\d+) (permit) {_IP} (\d+)",
            "ip ip-prefix <name> index <n> permit <ip> <length>",
            _Parser.ip_prefix,
        ),
        _rule(
            rf"route-policy {_NAME} (permit) node (\d+)",
            "route-policy <name> permit node <n>",
            _Parser.route_policy,
        ),
        _rule(rf"dcb pfc {_NAME}", "dcb pfc <profile>", _Parser.pfc_profile),
        _rule(rf"diffserv domain {_NAME}", "diffserv domain <name>", _Parser.domain),
        _rule(rf"drop-profile {_NAME}", "drop-profile <name>", _Parser.drop_profile),
        _rule(r"return", "return", _Parser.do_return),
    ),
    PFC: (_rule(r"priority (\d+(?: \d+){0,2})", "priority <p> &<1-3>", _Parser.pfc_priority),),
    DOMAIN: (
        _rule(
            rf"ip-dscp-inbound (\d+) phb ({'|'.join(PHB)})(?: (green|yellow|red))?",
            "ip-dscp-inbound <dscp> phb <be|af1-af4|ef|cs6|cs7> [green|yellow|red]",
            _Parser.dscp_inbound,
        ),
    ),
    DROP: (
        _rule(
            r"ecn buffer-size low-limit (\d+) high-limit (\d+) discard-percentage (\d+)",
            "ecn buffer-size low-limit <bytes> high-limit <bytes> discard-percentage <1-100>",
            _Parser.ecn_buffer,
        ),
    ),
    INTERFACE: (
        _rule(r"undo portswitch", "undo portswitch", _Parser.undo_portswitch),
        _rule(r"description (\S.*)", "description <text>", _Parser.description),
        _rule(r"mtu (\d+)", "mtu <46-9600>", _Parser.mtu),
        _rule(rf"ip address {_IP} {_IP}", "ip address <ip> <mask>", _Parser.ip_address),
        _rule(r"port link-type (access)", "port link-type access", _Parser.link_type),
        _rule(r"port default vlan (\d+)", "port default vlan <vlan>", _Parser.default_vlan),
        _rule(r"trust dscp", "trust dscp", _Parser.trust_dscp),
        _rule(rf"trust upstream {_NAME}", "trust upstream <domain>", _Parser.trust_upstream),
        _rule(
            rf"dcb pfc enable {_NAME} mode (manual|auto)",
            "dcb pfc enable <profile> mode manual|auto",
            _Parser.pfc_enable,
        ),
        _rule(
            r"dcb pfc buffer (\d+) hdrm (\d+) kbytes",
            "dcb pfc buffer <queue> hdrm <value> kbytes",
            _Parser.pfc_buffer,
        ),
        _rule(
            rf"qos queue (\d+) wred {_NAME}",
            "qos queue <q> wred <drop-profile>",
            _Parser.queue_wred,
        ),
        _rule(r"qos queue (\d+) ecn", "qos queue <q> ecn", _Parser.queue_ecn),
        _rule(r"qos pq (\d+)", "qos pq <q>", _Parser.queue_pq),
    ),
    BGP: (
        _rule(rf"router-id {_IP}", "router-id <ip>", _Parser.router_id),
        _rule(r"timer keepalive (\d+) hold (\d+)", "timer keepalive <k> hold <h>", _Parser.timer),
        _rule(rf"group {_NAME} external", "group <name> external", _Parser.group),
        _rule(rf"peer {_IP} as-number (\d+)", "peer <ip> as-number <as>", _Parser.peer_as),
        _rule(rf"peer {_IP} group {_NAME}", "peer <ip> group <name>", _Parser.peer_group),
        _rule(
            rf"peer {_IP} description (\S.*)",
            "peer <ip> description <text>",
            _Parser.peer_description,
        ),
        _rule(r"ipv4-family unicast", "ipv4-family unicast", _Parser.family),
    ),
    FAMILY: (
        _rule(rf"network {_IP} {_IP}", "network <ip> <mask>", _Parser.network),
        _rule(
            r"maximum load-balancing ebgp (\d+)",
            "maximum load-balancing ebgp <1-128>",
            _Parser.max_paths,
        ),
        _rule(r"load-balancing as-path-relax", "load-balancing as-path-relax", _Parser.relax),
        _rule(rf"{_PEER} enable", "peer <ip|group> enable", _Parser.family_enable),
        _rule(rf"peer {_IP} group {_NAME}", "peer <ip> group <name>", _Parser.family_group),
        _rule(
            rf"{_PEER} route-policy {_NAME} (import|export)",
            "peer <ip|group> route-policy <name> import|export",
            _Parser.family_policy,
        ),
        _rule(
            rf"{_PEER} route-update-interval (\d+)",
            "peer <ip|group> route-update-interval <0-600>",
            _Parser.update_interval,
        ),
    ),
    POLICY: (_rule(rf"if-match ip-prefix {_NAME}", "if-match ip-prefix <name>", _Parser.if_match),),
}

_VIEW_OF: dict[str, str] = {
    INTERFACE: "the interface view",
    BGP: "the bgp view",
    FAMILY: "the bgp ipv4-family unicast view",
    POLICY: "the route-policy view",
    SYSTEM: "the system view",
    PFC: "the dcb pfc view",
    DOMAIN: "the diffserv domain view",
    DROP: "the drop-profile view",
}


def _refused(view: str, command: str) -> str:
    """Why ``command`` is no command of ``view``: its usage when the keyword is known there,
    the dialect it comes from when recognisable."""
    word = command.split(" ", 1)[0]
    usages = [r.usage for r in GRAMMAR[view] if r.usage.split(" ", 1)[0] == word]
    msg = f"{command!r} is not a command hkcompute writes in {_VIEW_OF[view]}"
    for pattern, hint in _FOREIGN:
        if pattern.match(command):
            return f"{msg}: {hint}"
    if usages:
        return msg + " (expected " + "; ".join(usages) + ")"
    elsewhere = [v for v, rules in GRAMMAR.items() if any(r.pattern.match(command) for r in rules)]
    if elsewhere:
        return f"{msg}; it belongs in {_VIEW_OF[elsewhere[0]]}"
    return msg


def read(text: str) -> tuple[VrpConfig, list[Problem]]:
    """Parse as far as the grammar allows: what was understood, and every refused line."""
    p = _Parser()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    else:
        p.problems.append(Problem(len(lines), "the file does not end with a newline"))
    for n, raw in enumerate(lines, 1):
        if p.cfg.return_line is not None:
            p.problems.append(Problem(n, f"{raw!r} after return (line {p.cfg.return_line})"))
            break
        if raw.strip() == "":
            p.problems.append(Problem(n, "a blank line (VRP's sections are separated by '#')"))
            continue
        if raw != raw.rstrip() or "\t" in raw:
            p.problems.append(Problem(n, f"{raw!r}: trailing white space or a tab"))
            continue
        command = raw.lstrip(" ")
        depth = len(raw) - len(command)
        if command == "#":
            # '#' closes every view; ' #' inside bgp closes its address family.
            if depth == 0 or (depth == 1 and p.stack[1:2] == [BGP]):
                del p.stack[depth + 1 :]
            else:
                p.problems.append(Problem(n, f"'#' indented {depth} under no view it closes"))
            continue
        if depth >= len(p.stack):
            if p.stack[-1] != SKIP:
                p.problems.append(
                    Problem(n, f"{command!r} is indented {depth} under no view that holds it")
                )
            continue
        del p.stack[depth + 1 :]
        view = p.stack[depth]
        if view == SKIP:
            continue
        rule = next((r for r in GRAMMAR[view] if r.pattern.match(command)), None)
        try:
            if rule is None:
                raise _Refuse(_refused(view, command))
            match = rule.pattern.match(command)
            assert match is not None
            rule.apply(p, match, n, command)
        except _Refuse as exc:
            p.problems.append(Problem(n, str(exc)))
            # Lines under a refused view header are not judged again one by one.
            if len(p.stack) == depth + 1:
                p.stack.append(SKIP)
    if p.cfg.return_line is None:
        p.problems.append(Problem(len(lines) or 1, "the file does not end with 'return'"))
    if p.cfg.sysname is None:
        p.problems.append(Problem(1, "no sysname"))
    return p.cfg, p.problems


def parse(text: str) -> VrpConfig:
    """The typed configuration; :class:`VrpError` naming every refused line otherwise."""
    cfg, refused = read(text)
    if refused:
        raise VrpError(refused)
    return cfg


def consistency(cfg: VrpConfig) -> list[Problem]:
    """What a parsed file contradicts of itself: an address or a subnet on two interfaces,
    a peer declared twice or never enabled, a network advertised twice, a VLAN, group,
    route-policy or ip-prefix used but never defined."""
    out: list[Problem] = []
    vlans = {v for _, v in cfg.vlans}
    for line, v in _repeats([(ln, v) for ln, v in cfg.vlans]):
        out.append(Problem(line, f"VLAN {v} listed twice in vlan batch"))
    addrs = cfg.addresses()
    for i, (a_if, a_line, a) in enumerate(addrs):
        for o_if, o_line, other in addrs[i + 1 :]:
            if a.network.overlaps(other.network):
                where = "the same interface" if a_if is o_if else f"interface {a_if.name}"
                out.append(
                    Problem(
                        o_line,
                        f"ip address {other.with_prefixlen} on {o_if.name} overlaps "
                        f"{a.with_prefixlen} of {where} (line {a_line})",
                    )
                )
    for iface in cfg.interfaces:
        if iface.kind == "vlanif" and int(iface.name[6:]) not in vlans:
            out.append(
                Problem(iface.line, f"{iface.name}: VLAN {iface.name[6:]} not in vlan batch")
            )
        if iface.default_vlan is not None and iface.default_vlan not in vlans:
            out.append(
                Problem(
                    iface.line, f"{iface.name}: default VLAN {iface.default_vlan} not in vlan batch"
                )
            )
    b = cfg.bgp
    if b is not None:
        first: dict[IPv4Address, Peer] = {}
        for peer in b.peers:
            if peer.address in first:
                out.append(
                    Problem(
                        peer.line,
                        f"peer {peer.address} declared again (line {first[peer.address].line})",
                    )
                )
                continue
            first[peer.address] = peer
            if not peer.enabled and not any(
                t == peer.group and what == "enable" for t, what, _ in b.group_settings
            ):
                out.append(
                    Problem(
                        peer.line, f"peer {peer.address} is never enabled in ipv4-family unicast"
                    )
                )
        for line, net in _repeats(b.networks):
            out.append(Problem(line, f"network {net} advertised twice"))
        names = {p.name for p in cfg.policies}
        for _, name, _, line in b.policies:
            if name not in names:
                out.append(Problem(line, f"route-policy {name} is not defined"))
    prefixes = {e.name for e in cfg.prefixes}
    for node in cfg.policies:
        for name, line in node.if_match:
            if name not in prefixes:
                out.append(Problem(line, f"ip-prefix {name} is not defined"))
    return out


def _repeats(items: Sequence[tuple[int, object]]) -> list[tuple[int, object]]:
    seen: set[object] = set()
    out = []
    for line, item in items:
        if item in seen:
            out.append((line, item))
        seen.add(item)
    return out


def problems(text: str) -> list[Problem]:
    """Every refused line; when none, what the file contradicts of itself."""
    cfg, refused = read(text)
    return refused or consistency(cfg)


# --- the plan -----------------------------------------------------------------------------


def _plan_port(name: str) -> str | None:
    """The plan's name of a VRP interface of slot 1, subcard 0 (as the template names them):
    200GE1/0/65 -> swp65, LoopBack0 -> lo, Vlanif100 -> vlan100."""
    m = _ETHERNET.match(name)
    if m is not None:
        return f"swp{m.group(4)}" if (m.group(2), m.group(3)) == ("1", "0") else None
    if name == "LoopBack0":
        return "lo"
    m = _VLANIF.match(name)
    return f"vlan{m.group(1)}" if m is not None else None


def _lines(lines: Sequence[int]) -> str:
    return ", ".join(str(x) for x in lines)


def against_plan(cfg: VrpConfig, device: str, plan: Plan, qos: Qos | None = None) -> list[Problem]:
    """Where the file of ``device`` differs from the plan: every planned p2p, loopback and
    compute-gateway address, interface, BGP peer (the far end's p2p address and AS) and
    advertised network missing or present more than once, anything the plan does not
    have, and the sysname, AS and router ID. ``qos`` is the switch's lossless policy
    (``site.qos_of(cluster)``; None off a lossless fabric, when the file must have no QoS
    at all): its PFC profile, DSCP map and ECN profile once each, and each fabric port's
    share once. A finding about a planned item missing from the file has no line."""
    out: list[Problem] = []
    if cfg.sysname != device:
        out.append(Problem(cfg.sysname_line, f"sysname {cfg.sysname}, planned {device}"))
    asn = {a.device: a.asn for a in plan.asns}
    addr_at = {(a.device, a.interface): a for a in plan.addresses}
    mine = [
        a
        for a in plan.addresses
        if a.device == device and a.network in ("p2p", "loopback", "compute")
    ]
    by_port = {_plan_port(i.name): i for i in cfg.interfaces}

    # Interfaces: a planned address's port, and the node ports in the gateway's VLAN.
    planned_ports: dict[str, str] = {a.interface: f"{a.network} address" for a in mine}
    gateway = next((a.interface for a in mine if a.network == "compute"), None)
    access: dict[str, str] = {}
    peers: list[tuple[IPv4Address, int, str]] = []
    for link in plan.links:
        if device not in (link.a, link.b):
            continue
        port, theirs, their_port = (
            (link.a_port, link.b, link.b_port)
            if link.a == device
            else (link.b_port, link.a, link.a_port)
        )
        if link.kind == "node-leaf" and gateway is not None:
            access[port] = f"{theirs} {their_port}"
            planned_ports.setdefault(port, f"node port of {theirs}")
        a = addr_at.get((device, port))
        far = addr_at.get((theirs, their_port))
        if a is not None and a.network == "p2p" and far is not None and theirs in asn:
            peers.append((IPv4Interface(far.address).ip, asn[theirs], f"{theirs} {their_port}"))
    for port, what in planned_ports.items():
        if port not in by_port:
            out.append(Problem(None, f"no interface for planned port {port} ({what})"))
    for maybe, iface in by_port.items():
        if maybe is None or maybe not in planned_ports:
            out.append(Problem(iface.line, f"interface {iface.name} is not in the plan"))
    for port, who in access.items():
        node_port = by_port.get(port)
        if node_port is not None and (
            gateway is None or node_port.default_vlan != int(gateway.removeprefix("vlan"))
        ):
            out.append(
                Problem(
                    node_port.line,
                    f"interface {node_port.name} (to {who}): default VLAN "
                    f"{node_port.default_vlan}, planned {gateway and gateway.removeprefix('vlan')}",
                )
            )

    # Addresses: each planned one once, on its port; none else.
    found: dict[IPv4Interface, list[tuple[Interface, int]]] = defaultdict(list)
    for holder, line, address in cfg.addresses():
        found[address].append((holder, line))
    planned_addrs = {IPv4Interface(a.address) for a in mine}
    for a in mine:
        want = IPv4Interface(a.address)
        where = found.get(want, [])
        item = f"{a.network} address {want.with_prefixlen} of {device} {a.interface}"
        if not where:
            out.append(Problem(None, f"{item}: missing"))
        elif len(where) > 1:
            out.append(
                Problem(
                    where[1][1],
                    f"{item}: present {len(where)} times (lines {_lines([ln for _, ln in where])})",
                )
            )
        elif _plan_port(where[0][0].name) != a.interface:
            out.append(Problem(where[0][1], f"{item}: on {where[0][0].name}"))
    for got, where in found.items():
        if got not in planned_addrs:
            for holder, line in where:
                out.append(
                    Problem(
                        line, f"ip address {got.with_prefixlen} on {holder.name} is not in the plan"
                    )
                )

    fabric_ports = {p: p in access for p in planned_ports if p.startswith("swp")}
    out += _against_qos(cfg, by_port, fabric_ports, qos)

    # BGP: the AS, router ID, each planned peer once with its AS, the networks.
    b = cfg.bgp
    loopback = next((a for a in mine if a.network == "loopback"), None)
    networks = []
    if loopback is not None:
        networks.append(IPv4Interface(loopback.address).network)
    networks += [IPv4Interface(a.address).network for a in mine if a.network == "compute"]
    if b is None:
        if device in asn:
            out.append(Problem(None, f"no bgp view, planned AS {asn[device]}"))
        return out
    if b.asn != asn.get(device):
        out.append(Problem(b.line, f"bgp {b.asn}, planned AS {asn.get(device)}"))
    if loopback is not None and b.router_id != IPv4Interface(loopback.address).ip:
        out.append(
            Problem(
                b.line, f"router-id {b.router_id}, planned {IPv4Interface(loopback.address).ip}"
            )
        )
    declared: dict[IPv4Address, list[Peer]] = defaultdict(list)
    for peer in b.peers:
        declared[peer.address].append(peer)
    for ip, peer_asn, who in peers:
        item = f"BGP peer {ip} as-number {peer_asn} ({who})"
        peers_at = declared.get(ip, [])
        if not peers_at:
            out.append(Problem(None, f"{item}: missing"))
        elif len(peers_at) > 1:
            out.append(
                Problem(
                    peers_at[1].line,
                    f"{item}: present {len(peers_at)} times "
                    f"(lines {_lines([p.line for p in peers_at])})",
                )
            )
        elif peers_at[0].asn != peer_asn:
            out.append(Problem(peers_at[0].line, f"{item}: as-number {peers_at[0].asn}"))
        elif len(peers_at[0].enabled) > 1:
            on = _lines(peers_at[0].enabled)
            out.append(Problem(peers_at[0].enabled[1], f"{item}: enabled twice (lines {on})"))
        elif not peers_at[0].enabled and not any(
            t == peers_at[0].group and w == "enable" for t, w, _ in b.group_settings
        ):
            out.append(Problem(peers_at[0].line, f"{item}: not enabled in ipv4-family unicast"))
    planned_peers = {ip for ip, _, _ in peers}
    for ip, peers_at in declared.items():
        if ip not in planned_peers:
            for peer in peers_at:
                out.append(Problem(peer.line, f"BGP peer {ip} is not in the plan"))
    counts = Counter(net for _, net in b.networks)
    for net in networks:
        if counts[net] == 0:
            out.append(Problem(None, f"network {net} (advertised by {device}): missing"))
        elif counts[net] > 1:
            lines = [ln for ln, x in b.networks if x == net]
            out.append(
                Problem(
                    lines[1], f"network {net}: present {counts[net]} times (lines {_lines(lines)})"
                )
            )
    for line, net in b.networks:
        if net not in networks:
            out.append(Problem(line, f"network {net} is not in the plan"))
    return out


# --- the checker --------------------------------------------------------------------------


@register
class Vrp(Tool):
    """``vrp``: :func:`problems` on a rendered ``/vrpcfg.cfg``, in this process.

    No program of Huawei's runs offline; the only program is the Python running hkcompute
    (named so that the check is always available and the report can say who judged). It
    judges hkcompute's own grammar, not VRP's: see the module's documentation.
    """

    name = "vrp"
    programs = (Program(sys.executable, "python3"),)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        path = files[0]
        cmd = ["hkcompute.lint.vrp", str(path)]
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return result(self.name, path, cmd, 1, f"{path}: cannot read: {exc}")
        found = problems(text)
        if found:
            out = "".join(
                f"{path}:{p.line}: {p.message}\n"
                if p.line is not None
                else f"{path}: {p.message}\n"
                for p in found
            )
            return result(self.name, path, cmd, 1, out)
        cfg = parse(text)
        b = cfg.bgp
        summary = (
            f"{path}: sysname {cfg.sysname}, {len(cfg.interfaces)} interfaces, "
            f"{len(cfg.addresses())} addresses"
        )
        if b is not None:
            summary += f", bgp {b.asn} with {len(b.peers)} peers and {len(b.networks)} networks"
        return result(self.name, path, cmd, 0, summary + "\n")


def _one(views: dict[str, QosView], what: str, out: list[Problem]) -> QosView | None:
    if len(views) == 1:
        return next(iter(views.values()))
    if not views:
        out.append(Problem(None, f"{what}: missing"))
    else:
        lines = _lines([v.line for v in views.values()])
        out.append(Problem(list(views.values())[1].line, f"{what}: {len(views)} (lines {lines})"))
    return None


def _entries(view: QosView, want: Sequence[tuple[object, ...]], what: str) -> list[Problem]:
    """Each wanted entry of a QoS view once, nothing else."""
    out = []
    for args in want:
        lines = [ln for ln, got in view.entries if got == args]
        if not lines:
            out.append(Problem(view.line, f"{what} {view.name}: {_show(args)} missing"))
        elif len(lines) > 1:
            out.append(
                Problem(lines[1], f"{what} {view.name}: {_show(args)} present {len(lines)} times")
            )
    for ln, got in view.entries:
        if got not in want:
            out.append(Problem(ln, f"{what} {view.name}: {_show(got)} is not in the policy"))
    return out


def _show(args: tuple[object, ...]) -> str:
    return " ".join(str(a) for a in args)


def _against_qos(
    cfg: VrpConfig, by_port: dict[str | None, Interface], ports: dict[str, bool], qos: Qos | None
) -> list[Problem]:
    """The lossless policy in the file: the three profiles once each with the policy's
    figures, and on each fabric port (``ports``: plan port -> whether it is a node-facing
    Layer 2 port) its QoS commands once each."""
    out: list[Problem] = []
    if qos is None:
        for views, what in (
            (cfg.pfc_profiles, "dcb pfc"),
            (cfg.diffserv_domains, "diffserv domain"),
            (cfg.drop_profiles, "drop-profile"),
        ):
            for v in views.values():
                out.append(Problem(v.line, f"{what} {v.name}: the fabric is not lossless"))
        for iface in cfg.interfaces:
            for line, what, args in iface.qos:
                out.append(
                    Problem(line, f"{_cmd(what, args)} on {iface.name}: the fabric is not lossless")
                )
        return out
    pfc = _one(cfg.pfc_profiles, "PFC profile (dcb pfc)", out)
    domain = _one(cfg.diffserv_domains, "diffserv domain", out)
    drop = _one(cfg.drop_profiles, "ECN drop-profile", out)
    if pfc is not None:
        out += _entries(pfc, [tuple(qos.pfc.priorities)], "dcb pfc")
    if domain is not None:
        want_map = [
            (qos.roce.dscp, PHB[qos.roce.priority], "green"),
            (qos.cnp.dscp, PHB[qos.cnp.priority], "green"),
        ]
        out += _entries(domain, want_map, "diffserv domain")
    if drop is not None:
        ecn = (qos.ecn.min_kb * 1000, qos.ecn.max_kb * 1000, qos.ecn.probability)
        out += _entries(drop, [ecn], "drop-profile")
    roce, cnp = qos.roce.priority, qos.cnp.priority
    for port, layer2 in sorted(ports.items()):
        port_if = by_port.get(port)
        if port_if is None:
            continue
        want: list[tuple[str, tuple[object, ...]]] = [("trust dscp", ())] if layer2 else []
        if domain is not None:
            want.append(("trust upstream", (domain.name,)))
        if pfc is not None:
            want.append(("dcb pfc enable", (pfc.name, "manual")))
        if qos.pfc.headroom_kb:
            want += [("dcb pfc buffer", (p, qos.pfc.headroom_kb)) for p in qos.pfc.priorities]
        if drop is not None:
            want.append(("qos queue wred", (roce, drop.name)))
        want += [("qos queue ecn", (roce,)), ("qos pq", (cnp,))]
        for what, args in want:
            lines = [ln for ln, w, a in port_if.qos if (w, a) == (what, args)]
            item = f"{_cmd(what, args)} on {port_if.name} ({port})"
            if not lines:
                out.append(Problem(port_if.line, f"{item}: missing"))
            elif len(lines) > 1:
                out.append(Problem(lines[1], f"{item}: present {len(lines)} times"))
        for ln, what, args in port_if.qos:
            if (what, args) not in want:
                out.append(
                    Problem(ln, f"{_cmd(what, args)} on {port_if.name} is not in the policy")
                )
    return out


def _cmd(what: str, args: tuple[object, ...]) -> str:
    """A port QoS item as the command the template writes."""
    if what == "qos queue wred":
        return f"qos queue {args[0]} wred {args[1]}"
    if what == "qos queue ecn":
        return f"qos queue {args[0]} ecn"
    if what == "dcb pfc enable":
        return f"dcb pfc enable {args[0]} mode {args[1]}"
    if what == "dcb pfc buffer":
        return f"dcb pfc buffer {args[0]} hdrm {args[1]} kbytes"
    return " ".join([what, *(str(a) for a in args)])
