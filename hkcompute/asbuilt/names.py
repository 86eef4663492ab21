"""How devices and ports are named by discovery, mapped to the inventory's names: the one
place that knows it.

Devices
    LLDP: by the chassis's system name (lldpd sends the hostname, which is the device name;
    a domain after the first dot is dropped when the full name is no device), else by the
    chassis MAC (``mac`` of a device in the inventory), else by a management address the
    plan or the inventory gives the device. ibnetdiscover: an HCA's node description is
    ``"<hostname> <hca>"`` (``"lab-su1-n01 mlx5_0"``, as the HCA driver sets it); a switch's
    is its name, or NVIDIA's ``"MF0;<hostname>:<model>/U1"``.

Ports (the plan's names are in ``hkcompute.plan.fabric``)
    LLDP: the port ID when its subtype is ``ifname`` (the lab and the rendered hosts set
    ``portidsubtype ifname``), else the port description, else the ID as it is.
    InfiniBand switch: port number N (ibnetdiscover's ``[N]``) is the plan's ``swpN``.
    InfiniBand HCA: the HCA of rail r is ``mlx5_r`` (one port each, ConnectX-7), the plan's
    ``fab<r>``; ``HCA-<k>`` (1-based, some drivers' default) is ``fab<k-1>``; a description
    with a host name only (one multi-port HCA) gives port N as ``fab<N-1>``. Anything else
    keeps a name no plan uses (``<hca>/<port>``), so it reports as unexpected, never as ok.

A name that matches no device is kept with a ``?`` in front: it can never match a planned
link, and the report shows what the device called itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence

UNKNOWN_PREFIX = "?"
_MAC_SEP = re.compile(r"[^0-9a-f]")
_HCA_MLX = re.compile(r"^mlx\d+_(\d+)$")
_HCA_NUM = re.compile(r"^hca-(\d+)$", re.IGNORECASE)


def norm_mac(value: str) -> str | None:
    """``AA-BB-CC-DD-EE-FF``, ``aabb.ccdd.eeff`` ... -> ``aa:bb:cc:dd:ee:ff`` (None if no
    MAC)."""
    digits = _MAC_SEP.sub("", value.lower())
    if len(digits) != 12:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def norm_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_interface(value.strip()).ip)
    except ValueError:
        return None


class Resolver:
    """Device names of the inventory, found by name, MAC or management address."""

    def __init__(
        self,
        devices: Iterable[str],
        macs: Mapping[str, str] | None = None,
        ips: Mapping[str, str] | None = None,
    ) -> None:
        self.devices = frozenset(devices)
        self._macs = {m: d for mac, d in (macs or {}).items() if (m := norm_mac(mac))}
        self._ips = {i: d for ip, d in (ips or {}).items() if (i := norm_ip(ip))}

    def by_name(self, name: str) -> str | None:
        name = name.strip()
        if name in self.devices:
            return name
        short = name.split(".", 1)[0]
        return short if short in self.devices else None

    def lldp_device(
        self, name: str | None, chassis_id: tuple[str, str] | None, mgmt_ips: Sequence[str]
    ) -> str:
        if name:
            found = self.by_name(name)
            if found:
                return found
        if chassis_id is not None and chassis_id[0] == "mac":
            mac = norm_mac(chassis_id[1])
            if mac and mac in self._macs:
                return self._macs[mac]
        for ip in mgmt_ips:
            n = norm_ip(ip)
            if n and n in self._ips:
                return self._ips[n]
        label = name or (f"{chassis_id[0]}:{chassis_id[1]}" if chassis_id else "no-id")
        return UNKNOWN_PREFIX + label

    def ib_switch(self, desc: str) -> str | None:
        candidates = [desc]
        m = re.match(r"^[^;]*;([^:]+):", desc)  # NVIDIA: "MF0;<hostname>:<model>/U1"
        if m:
            candidates.append(m.group(1))
        candidates.extend(desc.split())
        for c in candidates:
            found = self.by_name(c) if c.strip() else None
            if found:
                return found
        return None

    def ib_ca(self, desc: str) -> tuple[str | None, str]:
        """(device, HCA name) of an HCA's node description ``"<host> <hca>"``."""
        words = desc.split()
        if not words:
            return None, ""
        return self.by_name(words[0]), (words[1] if len(words) > 1 else "")


def lldp_port(id_type: str | None, id_value: str | None, descr: str | None) -> str:
    if id_type == "ifname" and id_value:
        return id_value
    if descr:
        return descr
    return id_value or "?"


def ib_switch_port(num: int) -> str:
    return f"swp{num}"


def ib_hca_port(hca: str, num: int) -> str:
    if not hca:
        return f"fab{num - 1}"
    m = _HCA_MLX.match(hca)
    if m and num == 1:
        return f"fab{int(m.group(1))}"
    m = _HCA_NUM.match(hca)
    if m and num == 1 and int(m.group(1)) >= 1:
        return f"fab{int(m.group(1)) - 1}"
    return f"{hca}/{num}"
