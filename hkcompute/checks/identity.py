"""What names one physical box: MAC addresses (the host's and its BMC's) and serial numbers
(HK112, HK113). DHCP reservations, the as-built comparison and asset records key on them, so
two devices claiming one would hand one box's address or history to the other. One pass over
the devices with a dict per key; the later device (in written order) is the one reported,
at its own line."""

from __future__ import annotations

from collections.abc import Iterator

from hkcompute.checks import CheckContext, register
from hkcompute.findings import Finding, Severity, make, rule

DUPLICATE_MAC = rule(
    "HK112",
    Severity.ERROR,
    "two devices (or a device and a BMC) have the same MAC address",
    "Every host and BMC port has its own MAC: correct the one copied from another device.",
)
DUPLICATE_SERIAL = rule(
    "HK113",
    Severity.ERROR,
    "two devices have the same serial number",
    "A serial names one box: correct the copied one, or drop it until the box is received.",
)


def normal_mac(mac: str) -> str:
    """B8:3F:D2:00:01:01 and b8:3f:d2:00:01:01 are one address: compare hex digits only."""
    return "".join(c for c in mac.lower() if c in "0123456789abcdef")


@register("identity")
def check_identity(ctx: CheckContext) -> Iterator[Finding]:
    macs: dict[str, str] = {}  # normalised MAC -> "device" or "device's BMC"
    serials: dict[str, str] = {}
    for d in ctx.site.devices_upto(ctx.phase):
        owned = [(d.mac, d.name)]
        if d.bmc is not None:
            owned.append((d.bmc.mac, f"{d.name}'s BMC"))
        for mac, who in owned:
            if not mac:
                continue
            first = macs.setdefault(normal_mac(mac), who)
            if first != who:
                yield make(
                    DUPLICATE_MAC,
                    f"MAC {mac} of {who} is already that of {first}",
                    d.loc,
                    subject=d.name,
                )
        if d.serial:
            first = serials.setdefault(d.serial.strip().upper(), d.name)
            if first != d.name:
                yield make(
                    DUPLICATE_SERIAL,
                    f"serial {d.serial} of {d.name} is already that of {first}",
                    d.loc,
                    subject=d.name,
                )
