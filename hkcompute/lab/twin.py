"""Bring the container twin of a phase up and down.

``lab_up`` creates (or reconciles) the networks and containers of ``layout.build_layout``,
puts the lab's SSH key in every container, records each container's own host keys (read
through the engine, a trusted channel) in the site's known_hosts, configures the fabric
interfaces, and writes the connection overlay that deploy, preflight and verify use.
Everything carries the labels ``hkcompute.lab=1`` and ``hkcompute.site=<site>``, and
``lab_down`` removes by label: what the lab made and nothing else.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hkcompute.atomic import write_json, write_text
from hkcompute.lab import images as I
from hkcompute.lab.docker_engine import LabError, ensure_engine
from hkcompute.lab.layout import HostSpec, Layout, interface_script

log = logging.getLogger(__name__)

KEY_NAME = "id_ed25519"


@dataclass
class LabHost:
    name: str
    container: str
    ssh_port: int
    image: str


def lab_dir(state: Path) -> Path:
    return state / "lab"


def ensure_key(state: Path) -> tuple[Path, str]:
    """The lab's own SSH key pair (never a user's key)."""
    d = lab_dir(state)
    d.mkdir(parents=True, exist_ok=True)
    key = d / KEY_NAME
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hkcompute-lab", "-f", str(key)],
            check=True,
            timeout=30,
        )
    return key, (d / f"{KEY_NAME}.pub").read_text().strip()


def container_name(site: str, host: str) -> str:
    return f"hk-{site}-{host}"


def _update_known_hosts(path: Path, entries: dict[str, list[str]]) -> None:
    """Replace the lines of the lab's own [127.0.0.1]:port names; keep everything else."""
    keep = []
    if path.is_file():
        for line in path.read_text().splitlines():
            name = line.split(" ", 1)[0]
            if name not in entries:
                keep.append(line)
    for name in sorted(entries):
        keep.extend(entries[name])
    write_text(path, "\n".join(keep) + "\n")


def lab_up(
    layout: Layout, state: Path, progress: Callable[[str], None] | None = None
) -> list[LabHost]:
    say = progress or (lambda _m: None)
    client = ensure_engine()
    say("building images (only when their recipe changed)")
    tags = {
        name: I.ensure_image(client, name)
        for name in sorted({h.image for h in layout.hosts} | {"base"})
    }
    key_path, public = ensure_key(state)
    site = layout.site
    existing = {
        n.name: n for n in client.networks.list(filters={"label": f"hkcompute.site={site}"})
    }
    for net in layout.networks:
        network = existing.get(net.name)
        if network is None:
            say(f"network {net.name} ({net.kind})")
            try:
                # Not "internal": the engine's isolation rules for internal networks drop
                # every packet whose addresses lie outside the network's own subnet, and the
                # fabric speaks the plan's addresses, not the placeholders. Nothing leaves
                # the machine all the same: containers lose their default route (see
                # layout.interface_script).
                network = I.create_network(
                    client,
                    net.name,
                    site=site,
                    subnet=net.subnet,
                    gateway=net.gateway,
                    labels={"hkcompute.kind": net.kind},
                )
            except Exception as exc:  # the engine says why (overlap with another network...)
                raise LabError(f"cannot create network {net.name} {net.subnet}: {exc}") from exc
        if net.kind in ("link", "segment"):
            # These stand for cables: LLDP must cross them as it crosses a cable, for
            # `hkcompute cabling verify --collect`. The management network stays deaf to it.
            try:
                I.forward_lldp(network)
            except LabError as exc:
                log.warning("%s", exc)
                say(f"warning: {exc}; `cabling verify --collect` will see no neighbours")
    mgmt = next(n.name for n in layout.networks if n.kind == "mgmt")
    hosts: list[LabHost] = []
    known: dict[str, list[str]] = {}
    connections: dict[str, dict[str, Any]] = {}
    for h in layout.hosts:
        cname = container_name(site, h.name)
        c = _existing(client, cname)
        if c is not None and tags[h.image] not in (c.image.tags or []):
            say(f"{h.name}: its image recipe changed; recreating the container")
            c.remove(force=True, v=True)
            c = None
        if c is None:
            say(f"container {h.name} ({h.image})")
            nets = [mgmt, *[p.network for p in h.ports]]
            ipv4 = {mgmt: h.mgmt_address, **{p.network: p.placeholder for p in h.ports}}
            caps = I.SWITCH_CAPS if h.is_switch else ("NET_ADMIN",)
            sysctls = {
                "net.ipv4.ip_forward": "1" if h.is_switch else "0",
                "net.ipv4.conf.all.rp_filter": "0",
                "net.ipv4.conf.default.rp_filter": "0",
            }
            lc = I.start_container(
                client,
                name=cname,
                image=tags[h.image],
                site=site,
                labels={"hkcompute.host": h.name},
                hostname=h.name,
                networks=nets,
                ipv4=ipv4,
                cap_add=caps,
                sysctls=sysctls,
                dns=layout.dns,
            )
            container, port = lc.container, lc.ssh_port
        else:
            if c.status != "running":
                say(f"starting {h.name}")
                c.start()
                I.wait_for_systemd(c)
                c.reload()
            attached = set(c.attrs.get("NetworkSettings", {}).get("Networks") or {})
            for p in h.ports:
                if p.network not in attached:
                    say(f"{h.name}: plugging {p.name} back in")
                    client.networks.get(p.network).connect(c, ipv4_address=p.placeholder)
            container = c
            port = _ssh_port(c)
        if port is None:
            raise LabError(f"container {cname} publishes no SSH port")
        configure_interfaces(container, h, state)
        I.install_authorized_key(container, public)
        keys = I.host_public_keys(container)
        known.update({f"[127.0.0.1]:{port}": I.known_hosts_lines("127.0.0.1", port, keys)})
        connections[h.name] = {
            "ansible_host": "127.0.0.1",
            "ansible_port": port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(key_path.resolve()),
        }
        hosts.append(LabHost(h.name, cname, port, tags[h.image]))
    _update_known_hosts(state / "known_hosts", known)
    write_json(lab_dir(state) / "connections.json", connections)
    write_json(
        lab_dir(state) / "layout.json",
        {
            "site": site,
            "phase": layout.phase,
            "skipped": layout.skipped,
            "hosts": {
                h.name: {"container": h.container, "ssh_port": h.ssh_port, "image": h.image}
                for h in hosts
            },
        },
    )
    return hosts


def configure_interfaces(container: Any, h: HostSpec, state: Path | None = None) -> None:
    rc, out = I.exec_text(container, ["sh", "-c", interface_script(h)])
    if rc != 0:
        raise LabError(f"{h.name}: configuring its interfaces failed: {out.strip()[-400:]}")
    if state is not None:
        names_file = lab_dir(state) / "ifnames.json"
        names = json.loads(names_file.read_text()) if names_file.is_file() else {}
        mine = names.setdefault(h.name, {})
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "renamed":
                mine[parts[2]] = parts[1]
        write_json(names_file, names)


def break_link(layout: Layout, state: Path, host: str, port: str) -> str:
    """Unplug one fabric port: give the interface back its engine name (the engine finds it
    by that name) and disconnect its network. ``lab up`` plugs it back in."""
    from hkcompute.lab.docker_engine import ensure_engine as _engine

    h = layout.host(host)
    p = next((x for x in h.ports if x.name == port), None)
    if p is None:
        raise LabError(f"{host} has no fabric port {port} in the lab")
    names_file = lab_dir(state) / "ifnames.json"
    names = json.loads(names_file.read_text()) if names_file.is_file() else {}
    original = names.get(host, {}).get(port)
    if original is None:
        raise LabError(f"the engine's name of {host} {port} is not recorded; run lab up")
    client = _engine()
    c = client.containers.get(container_name(layout.site, host))
    rc, out = I.exec_text(
        c, ["sh", "-c", f"ip link set {port} down && ip link set {port} name {original}"]
    )
    if rc != 0:
        raise LabError(f"{host}: cannot unplug {port}: {out.strip()}")
    client.networks.get(p.network).disconnect(c, force=True)
    return p.network


def _existing(client: Any, name: str) -> Any:
    from docker.errors import NotFound

    try:
        return client.containers.get(name)
    except NotFound:
        return None


def _ssh_port(c: Any) -> int | None:
    bindings = (c.attrs.get("NetworkSettings", {}).get("Ports") or {}).get("22/tcp")
    return int(bindings[0]["HostPort"]) if bindings else None


def lab_down(site: str, state: Path | None = None) -> int:
    """Remove every container and network labelled with this site (and the overlay)."""
    client = ensure_engine()
    n = I.remove_lab_objects(client, site=site)
    if state is not None:
        conn = lab_dir(state) / "connections.json"
        if conn.is_file():
            conn.unlink()
        layout = lab_dir(state) / "layout.json"
        if layout.is_file():
            layout.unlink()
    return n


def read_layout(state: Path) -> dict[str, Any] | None:
    p = lab_dir(state) / "layout.json"
    if not p.is_file():
        return None
    data: dict[str, Any] = json.loads(p.read_text())
    return data
