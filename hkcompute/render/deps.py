"""Input fingerprints: which inputs each host's context is built from, hashed without building
the context (pure: no I/O).

A render key (``pipeline._Keys``) hashes a host's whole context, so computing it means building
every host's context: most of a one-rack render on a full site, spent to learn that 7,000
hosts did not change. A fingerprint hashes what the context is *made from* instead:

- the site-wide inputs every context may read (``Fingerprints.common``): the code that builds
  and renders contexts, the phase, the site's settings, catalogue, networks, clusters and
  tenants, the context parts shared by every host (services, hosts file entries, Slurm),
  and the table of gateways (each compute subnet's leaf address: a node's routes per rail);
- for a GPU node or a storage node: its own record (every field but its place in the YAML),
  its addresses and ASN;
- for a routing switch: its own record, addresses and ASN, its links (ends, ports and kind:
  what its port descriptions say), and the addresses and ASN of every device at the far end
  of one of its links (its BGP peers: a node's new MAC does not touch its leaves);
- for the aggregate hosts (services: DNS zones, DHCP, Prometheus; subnet manager hosts:
  partitions of a whole cluster): the inventory's hash, so any change at all rebuilds them.

A fingerprint equal to the one recorded with the current tree means the context would be the
same, so the host's files are reused without building it. When it differs, the context is
built and its render key decides, as before; a fingerprint can therefore only cost time by
being too wide, and would leave a stale file only by missing an input. What a context reads
is listed in ``context.ContextBuilder``; ``tests/unit/test_render_deps.py`` changes every
field of devices, plan records and site settings, one at a time, and checks that the
incremental render still equals a full one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import marshal
import operator
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from hkcompute.model import Device
from hkcompute.plan.records import Link
from hkcompute.render.context import ContextBuilder
from hkcompute.render.renderer import ROUTED, SERVICE, SM

AGGREGATE = frozenset({SERVICE, SM})  # contexts built from the whole site


def plain(value: Any) -> Any:
    """``value`` as plain data (dicts, lists, strings, numbers) for hashing: dataclasses and
    pydantic models by field, without ``loc`` (a line number is no input of a file: moving
    a line must not look like a change)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name != "loc"
        }
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value)


def digest(value: Any) -> bytes:
    return hashlib.sha256(marshal.dumps(plain(value), 2)).digest()


class Fingerprints:
    """Per host, the fingerprint of its context's inputs (see the module doc)."""

    def __init__(
        self, b: ContextBuilder, kind: Callable[[Device], str | None], common: Iterable[bytes]
    ) -> None:
        self.b = b
        self.kind = kind
        site = b.site
        h = hashlib.sha256()
        for data in common:
            h.update(data)
        catalog = {
            f.name: getattr(site.catalog, f.name)
            for f in dataclasses.fields(site.catalog)
            if f.name != "locs"
        }
        for part in (
            b.phase,
            site.info,
            catalog,
            site.networks,
            site.clusters,
            site.tenants,
            b.hosts_common,
            {k: [d.name for d in v] for k, v in b.services.items()},
            b.ix.gateway,
        ):
            h.update(digest(part))
        self.common = h.digest()
        # A site built without an inventory hash (not by the loader) gives the aggregate hosts
        # a fingerprint that never matches: they are always rebuilt, never reused stale.
        self.inventory_hash = site.inventory_hash or f"unhashed {secrets.token_hex(16)}"
        self._own: dict[str, bytes] = {}
        self._net: dict[str, bytes] = {}
        self._zones: bytes | None = None

    def zones(self) -> bytes:
        """What the DNS zones are made from: every device's name and addresses (with the
        domain and the phase, which ``common`` holds)."""
        if self._zones is None:
            b = self.b
            self._zones = hashlib.sha256(
                marshal.dumps(
                    (
                        [d.name for d in b.site.devices_upto(b.phase)],
                        list(map(tuple, b.plan.addresses_upto(b.phase))),
                    ),
                    2,
                )
            ).digest()
        return self._zones

    def dns(self, d: Device) -> str:
        """The fingerprint of a DNS server's DNS section: its files are rendered from
        ``site`` and ``dns`` alone (``renderer.DNS_ONLY``), and ``dns`` from the zones, the
        server's name and the networks allowed to query it."""
        h = hashlib.sha256(self.common)
        h.update(b"dns\0" + d.name.encode() + b"\0" + self.zones())
        return h.hexdigest()

    def own(self, d: Device) -> bytes:
        """A device's own inputs: its record (but where it was written), its addresses and
        its ASN."""
        got = self._own.get(d.name)
        if got is None:
            b = d.bmc
            got = hashlib.sha256(
                marshal.dumps(
                    (_fields(d), d.role.value, d.status.value, None if b is None else plain(b)), 2
                )
                + self.net(d.name)
            ).digest()
            self._own[d.name] = got
        return got

    def net(self, name: str) -> bytes:
        """A device's addresses and ASN: what a switch's BGP context reads of its peers."""
        got = self._net.get(name)
        if got is None:
            ix = self.b.ix
            got = hashlib.sha256(
                marshal.dumps((list(map(tuple, ix.by_device.get(name, ()))), ix.asn.get(name)), 2)
            ).digest()
            self._net[name] = got
        return got

    def of(self, d: Device) -> str | None:
        """The fingerprint of ``d``'s context inputs; None for a device that gets no files."""
        kind = self.kind(d)
        if kind is None:
            return None
        h = hashlib.sha256(self.common)
        h.update(kind.encode())
        h.update(d.name.encode())
        if kind in AGGREGATE:
            h.update(self.inventory_hash.encode())
            return h.hexdigest()
        h.update(self.own(d))
        if kind == ROUTED:  # its links, and each peer's addresses and ASN (its BGP peers)
            links = self.b.ix.links_of.get(d.name, ())
            h.update(marshal.dumps(list(map(_link_inputs, links)), 2))
            net, name = self.net, d.name
            h.update(b"".join([net(x[2] if x[0] == name else x[0]) for x in links]))
        return h.hexdigest()


# Every field of a device but where it was written (``loc``) and the three that are not plain
# data (``role`` and ``status``, enums; ``bmc``, a model), which ``own`` adds apart.
_fields = operator.attrgetter(
    *(f.name for f in dataclasses.fields(Device) if f.name not in ("loc", "role", "status", "bmc"))
)
# What a switch context reads of a link (``ContextBuilder.switch``): its ends and ports (the
# port's name and description, the peer's address) and its kind (the description).
_link_inputs = operator.itemgetter(
    *(Link._fields.index(f) for f in ("a", "a_port", "b", "b_port", "kind"))
)
