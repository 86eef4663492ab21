"""The Ansible inventory derived from the plan, as `ansible-inventory --list` prints it.

JSON with ``_meta.hostvars`` (Ansible's INI/YAML parsing was measured at about a minute for
5,000 hosts in older releases; JSON with _meta skips per-host script calls). Host vars stay
small: large per-host vars cost about 200 ms per host per task in ``get_vars``; everything
a role needs in bulk comes from the rendered tree that ``hk_tree`` points at.

``yaml_inventory`` writes the same hosts, groups and vars as a file for Ansible's YAML
inventory plugin, for people who give ``-i`` a plain file rather than an executable.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from hkcompute import schema as S
from hkcompute.model import Device, Site
from hkcompute.plan.assign import assign, assignments_of
from hkcompute.plan.records import Plan

_BAD = re.compile(r"[^A-Za-z0-9_]")


def group_name(*parts: object) -> str:
    """Ansible group names must be identifiers: 'hall-a' -> 'hall_a'."""
    return _BAD.sub("_", "_".join(str(p) for p in parts if p != ""))


def managed_devices(site: Site, phase: int | None) -> list[Device]:
    """What Ansible manages (decided by the plan, ``plan.assign``): servers, and fabric
    switches on a Linux network OS that route their fabric or host its subnet manager."""
    return [site.devices[n] for n in assign(site, phase).managed]


def os_vars(site: Site, d: Device, runs_sm: bool) -> dict[str, Any]:
    """What the fabric_switch role places on a switch of a Linux network OS, from the OS's
    catalogue entry: its files for the switch's function (each copied from the rendered
    tree, checked by the entry's ``validate_with`` before it replaces the old one) and the
    services that read them."""
    kind = site.fabric_of(d.cluster)
    nos = site.catalog.os_of(d.model)
    if kind is None or nos is None:
        return {}
    files = (
        nos.files.get("routed" if kind.routed else "subnet_manager", [])
        if (kind.routed or runs_sm)
        else []
    )
    return {
        "hk_os_files": [_file_vars(f) for f in files],
        "hk_os_services": [x.unit for x in nos.services],
    }


def _file_vars(f: S.RenderFile) -> dict[str, Any]:
    """A platform file as the roles copy it from the rendered tree."""
    return {
        "path": f.path,
        "mode": f.mode if f.mode.startswith("0") else f"0{f.mode}",
        "owner": f.owner,
        "group": f.group,
        **({"validate": f.validate_with} if f.validate_with else {}),
        **({"apply": f.apply_with} if f.apply_with else {}),
    }


def stack_vars(acc: S.Accelerator) -> dict[str, Any]:
    """What the gpu_node role does for an accelerator platform, from its catalogue entry:
    the PCI vendor id that tells real devices from a container, the distribution packages
    of its stack (installed only where devices are), its files, and its systemd units."""
    return {
        "pci_vendor": acc.pci_vendor,
        "packages": [x.name for x in acc.software if x.apt],
        "files": [_file_vars(f) for f in acc.files],
        "services": [x.model_dump(mode="json") for x in acc.services],
    }


def build_inventory(
    site: Site,
    plan: Plan,
    phase: int | None,
    tree: Path,
    connections: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``tree`` is the render output (its ``hosts/<name>`` folders); ``connections`` overrides
    how to reach a host (the container lab publishes sshd on 127.0.0.1 ports)."""
    addr: dict[tuple[str, str], str] = {}
    for a in plan.addresses_upto(phase):
        addr.setdefault((a.device, a.network), a.address.split("/")[0])
    assigned = assignments_of(site, plan, phase)
    runs = assigned.runs()
    groups: dict[str, set[str]] = defaultdict(set)
    hostvars: dict[str, dict[str, Any]] = {}
    devices = [site.devices[n] for n in assigned.managed]
    sm = assigned.subnet_managers
    tree = tree.resolve()
    group_vars: dict[str, dict[str, Any]] = {}
    for d in devices:
        acc, _n, acc_name = site.accelerators_of(d)
        c = site.cluster(d.cluster or "")
        hv: dict[str, Any] = {
            "hk_tree": str(tree / "hosts" / d.name),
            "hk_role": d.role.value,
            "hk_phase": d.phase,
        }
        if d.role in ("leaf", "spine", "core"):
            hv["ansible_host"] = addr.get((d.name, "oob")) or addr.get((d.name, "loopback"))
            hv.update(os_vars(site, d, d.name in sm))
            if d.name in sm:
                hv["hk_subnet_manager"] = True
            groups["fabric"].add(d.name)
        else:
            hv["ansible_host"] = addr.get((d.name, "inband")) or addr.get((d.name, "oob"))
            groups["servers"].add(d.name)
        if acc is not None:
            hv["hk_vendor"] = acc.vendor
            groups[group_name("vendor", acc.vendor)].add(d.name)
            # What the gpu_node role installs is the platform's, once per platform: group
            # vars, not host vars (thousands of nodes share a handful of platforms).
            accel = group_name("accel", acc_name)
            groups[accel].add(d.name)
            group_vars.setdefault(accel, {"hk_accel": stack_vars(acc)})
            # The compute card's own files (its QoS unit) where the fabric is lossless: a
            # group per card, as for platforms.
            nic = site.catalog.compute_nic(d.model)
            if nic is not None and nic.files and site.qos_of(d.cluster) is not None:
                card = group_name("nic", site.catalog.compute_nic_name(d.model))
                groups[card].add(d.name)
                group_vars.setdefault(
                    card,
                    {
                        "hk_nic": {
                            "files": [_file_vars(f) for f in nic.files],
                            "services": [x.model_dump(mode="json") for x in nic.services],
                        }
                    },
                )
            groups["slurm"].add(d.name)
            hv["hk_slurm_role"] = "compute"
        if d.name in runs:
            hv["hk_services"] = sorted(runs[d.name])
            if "slurmctld" in runs[d.name]:
                groups["slurm"].add(d.name)
                hv["hk_slurm_role"] = "controller"
        if hv.get("ansible_host") is None:
            hv.pop("ansible_host")
        if connections and d.name in connections:
            hv.update(connections[d.name])
        hostvars[d.name] = hv
        groups[d.role.value].add(d.name)
        groups[group_name("phase", d.phase)].add(d.name)
        groups[group_name("hall", d.hall)].add(d.name)
        groups[group_name("rack", d.rack)].add(d.name)
        if d.unit:
            groups[group_name("unit", d.unit)].add(d.name)
        if d.cluster:
            groups[group_name("cluster", d.cluster)].add(d.name)
        tenant = d.tenant or (c.tenants[0] if c is not None and len(c.tenants) == 1 else None)
        if tenant:
            groups[group_name("tenant", tenant)].add(d.name)
    doc: dict[str, Any] = {"_meta": {"hostvars": dict(sorted(hostvars.items()))}}
    names = sorted(groups)
    # Exactly what `ansible-inventory --list` prints for it (an empty 'ungrouped' is listed
    # under all.children but has no entry of its own).
    doc["all"] = {"children": ["ungrouped", *names]}
    for g in names:
        doc[g] = {"hosts": sorted(groups[g])}
        if g in group_vars:
            doc[g]["vars"] = group_vars[g]
    return doc


def write_inventory(inventory: dict[str, Any], folder: Path) -> Path:
    """Write the JSON and the executable that hands it to Ansible's script plugin (the fast
    path: one call with _meta, no per-host calls). Returns the path to give ``-i``."""
    from hkcompute.atomic import write_json, write_text

    data = folder / "inventory.json"
    write_json(data, inventory, mode=0o600)
    script = folder / "inventory.sh"
    write_text(
        script,
        "#!/bin/sh\n# Written by hkcompute: Ansible's script inventory.\n"
        'if [ "$1" = "--host" ]; then echo "{}"; else cat "$(dirname "$0")/'
        'inventory.json"; fi\n',
        mode=0o700,
    )
    return script


class _Vault(str):
    """A vault ciphertext, written with Ansible's ``!vault`` tag so it stays encrypted."""


class _InventoryDumper(yaml.SafeDumper):
    """Safe YAML plus the ``!vault`` tag; nothing else Ansible could read as code."""


def _vault_scalar(dumper: yaml.SafeDumper, value: _Vault) -> yaml.ScalarNode:
    return dumper.represent_scalar("!vault", str(value), style="|")


def _empty_scalar(dumper: yaml.SafeDumper, _value: None) -> yaml.ScalarNode:
    # `host:` rather than `host: null`, as Ansible's own examples write a bare member.
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_InventoryDumper.add_representer(_Vault, _vault_scalar)
_InventoryDumper.add_representer(type(None), _empty_scalar)


def _yaml_value(value: Any) -> Any:
    """JSON inventory values to YAML ones: the script format's ``{"__ansible_vault": ...}``
    (what secrets.ansible_value gives) becomes a ``!vault`` scalar, the YAML plugin's form."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_vault"}:
            return _Vault(value["__ansible_vault"])
        return {k: _yaml_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_value(v) for v in value]
    return value


def yaml_inventory(inventory: dict[str, Any], header: str = "") -> str:
    """The same inventory in the YAML inventory plugin's format, which ``ansible-inventory
    -i FILE`` reads as it is (the JSON with ``_meta`` is the script format and needs the
    executable wrapper of ``write_inventory``).

    Each host's vars are written once, under ``all.hosts``; the groups list their hosts with
    no vars. Ansible merges both, and a host in ``all`` plus another group is not
    'ungrouped', so ``ansible-inventory --list`` of this file equals ``inventory``. Keys are
    sorted so the same inventory gives the same bytes.
    """
    hostvars: dict[str, Any] = inventory.get("_meta", {}).get("hostvars", {})
    top = inventory.get("all", {})
    groups = sorted(g for g in inventory if g not in ("_meta", "all"))
    children: dict[str, Any] = {}
    for g in groups:
        spec = inventory[g]
        entry: dict[str, Any] = {}
        if spec.get("hosts"):
            entry["hosts"] = {h: None for h in spec["hosts"]}
        if spec.get("children"):
            entry["children"] = {c: None for c in spec["children"]}
        if spec.get("vars"):
            entry["vars"] = _yaml_value(spec["vars"])
        children[g] = entry or None
    # 'ungrouped' is Ansible's own group: it is filled (or left empty) by Ansible itself.
    all_: dict[str, Any] = {
        "hosts": {h: _yaml_value(hv) or None for h, hv in sorted(hostvars.items())},
        "children": children,
    }
    if top.get("vars"):
        all_["vars"] = _yaml_value(top["vars"])
    body = yaml.dump(
        {"all": all_},
        Dumper=_InventoryDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + "---\n" + body


def write_yaml_inventory(inventory: dict[str, Any], path: Path, header: str = "") -> Path:
    """Write ``yaml_inventory`` atomically; owner-only, as the JSON of ``write_inventory``
    (host vars name key files and hosts, which other users need not read)."""
    from hkcompute.atomic import write_text

    write_text(path, yaml_inventory(inventory, header), mode=0o600)
    return path
