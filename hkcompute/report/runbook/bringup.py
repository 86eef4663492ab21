"""The bring-up stages: firmware and OS, fabric, storage, deploy."""

from __future__ import annotations

from collections import Counter

from hkcompute.deploy.ansible_inventory import group_name, managed_devices
from hkcompute.report.runbook.facts import _counts, _Ctx, _n
from hkcompute.report.runbook.records import Command, Stage, Table


def _firmware(c: _Ctx) -> Stage:
    rows = []
    models = Counter(d.model for d in c.new if d.role in ("gpu_node", "service", "storage"))
    for model, n in sorted(models.items()):
        server = c.site.catalog.servers.get(model)
        acc = c.site.catalog.accelerators.get(server.accelerator or "") if server else None
        # The node-side stack is the accelerator platform's data (catalog.yaml `software`).
        stack = ", ".join(sw.what for sw in acc.software) if acc is not None else ""
        rows.append(
            [
                model,
                f"{n:,}",
                server.os if server else "vendor appliance",
                f"{server.accelerators} x {server.accelerator}"
                if server and server.accelerator
                else "-",
                stack or "-",
            ]
        )
    k = len(c.managed)
    limit = c.pg
    return Stage(
        "firmware-os",
        "5. Firmware and OS",
        intro=[
            "Bring BIOS, BMC, NIC and accelerator firmware to the approved baseline, install the "
            "OS image, then prove each host is what the inventory says before anything is "
            "configured on it."
        ],
        tables=[
            Table(
                "Servers of this phase",
                ["model", "count", "OS", "accelerators", "vendor stack"],
                rows,
            )
        ],
        commands=[
            Command(
                c.hk("hostkeys", "--phase", str(c.phase), "--limit", limit, "--scan"),
                f"`{k:,} new key(s) recorded; 0 problem(s)` (a changed key is a stop: "
                "find out why before going on)",
            ),
            Command(
                c.hk("preflight", "--phase", str(c.phase), "--limit", limit),
                f"exit 0 and `preflight: {k:,}/{k:,} hosts ok` (OS release, disk, NIC "
                "count and link speed, accelerator count all as planned)",
            ),
        ],
        checklist=[
            "firmware baseline applied (BIOS, BMC, NICs, accelerators)",
            "OS image installed on every server of the phase",
            "host keys recorded",
            "preflight clean",
        ],
        gate=[f"preflight: {k:,}/{k:,} hosts ok"],
        rollback=[
            "Re-image the host (nothing is in service on it yet); a host that cannot "
            "pass preflight is marked failed in the inventory and left out."
        ],
    )


def _fabric(c: _Ctx) -> Stage:
    roles = Counter(d.role.value for d in c.new if d.role in ("leaf", "spine", "core"))
    fab = [d for d in c.managed if d.role in ("leaf", "spine", "core")]
    fabrics = Counter(
        cl.fabric for cl in c.site.clusters if any(u.phase == c.phase for u in cl.units)
    )
    new_fab = Counter(x.kind for x in c.links if x.network == "compute")
    old_fab_touched = sorted(
        {(x.a if x.a in c.old_names else x.b) for x in c.landing if x.network == "compute"}
    )
    limit = f"{c.pg}:&fabric"
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
            f"exit 0; only the phase's {len(fab):,} managed fabric hosts change",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                limit,
                "--batch",
                "25%",
                "--max-fail",
                "0%",
            ),
            "run ok; every batch completes",
            record="fabric",
        ),
    ]
    if old_fab_touched:
        cmds.insert(
            0,
            Command(
                c.hk(
                    "deploy",
                    "--phase",
                    str(c.phase),
                    "--limit",
                    f"fabric:!{c.pg}",
                    "--check",
                    "--diff",
                ),
                f"only the {len(old_fab_touched):,} in-service switches with new links show "
                "differences, and only new neighbours and ports",
            ),
        )
    return Stage(
        "fabric",
        "6. Fabric bring-up",
        intro=[
            f"Switches of the phase: {_counts(roles)}; clusters by fabric: "
            f"{_counts(fabrics)}. Compute cables of the phase: {_counts(new_fab)}. "
            f"{len(fab):,} fabric hosts are managed by "
            "Ansible (switches on a Linux network OS: routing ones, and subnet manager "
            "hosts); switches on a vendor OS load their rendered configuration with the "
            "vendor's tools, and a subnet-managed fabric's switches are configured by its "
            "subnet manager."
        ],
        commands=cmds,
        checklist=[
            "switch OS / firmware at baseline",
            "management addresses reachable",
            "every compute link of the phase up at its planned speed",
            "routed fabrics: every planned BGP session Established; subnet-managed "
            "fabrics: every port Active, subnet manager master elected",
            "no errors counters rising on the new links (after 15 minutes)",
        ],
        gate=[
            "fabric deploy run ok (run id recorded)",
            "all planned links up, no link at reduced width or speed",
        ],
        rollback=[
            "Shut the new ports on in-service switches, then deploy the previous "
            "phase's tree to them"
            + (f": `{c.back('fabric', '1')}`" if c.prev is not None else "."),
            "New switches carry no traffic yet: power them off if they misbehave.",
        ],
    )


def _storage(c: _Ctx) -> Stage:
    storage = [d for d in c.new if d.role == "storage"]
    rows = []
    for d in sorted(storage, key=lambda d: d.name):
        m = c.site.catalog.storage.get(d.model)
        rows.append(
            [d.name, d.model, d.rack, _n(m.usable_tb if m else 0), _n(m.read_gbytes_s if m else 0)]
        )
    limit = f"{c.pg}:&storage"
    leaves = sum(1 for d in c.new if d.role == "storage_leaf")
    core = Counter(x.a if x.a in c.old_names else x.b for x in c.landing if x.network == "storage")
    return Stage(
        "storage",
        "7. Storage",
        intro=[
            f"{len(storage):,} storage systems ({_n(c.pc.storage_usable_tb)} TB usable, "
            f"{_n(c.pc.storage_read_gbytes_s)} GB/s read) and {leaves:,} storage leaves in this "
            "phase.",
            *(
                [
                    f"{sum(core.values()):,} storage cables of this phase land on {len(core)} "
                    "in-service storage core switches: bring their ports up one switch at a "
                    "time and watch the existing tenants' storage traffic between switches."
                ]
                if core
                else []
            ),
        ],
        tables=[
            Table("Storage systems", ["system", "model", "rack", "usable TB", "read GB/s"], rows)
        ]
        if rows
        else [],
        commands=[
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
                "exit 0; only the phase's storage hosts change",
            ),
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--batch", "25%"),
                "run ok on every storage host",
                record="storage",
            ),
        ],
        checklist=[
            "storage leaves up, uplinks to the storage core up",
            "file systems created and exported as planned",
            "read bandwidth test reaches the catalogue figure within 10%",
        ],
        gate=["storage deploy run ok (run id recorded)", "bandwidth test passed"],
        rollback=[
            "New storage holds no tenant data yet: unexport it; earlier phases' "
            "storage is not touched by this stage.",
            *(
                [
                    "Shut the new ports on the storage core switches listed in the scope; "
                    "their existing ports keep serving."
                ]
                if core
                else []
            ),
        ],
    )


def _deploy(c: _Ctx) -> Stage:
    nodes = [d for d in c.managed if d.role == "gpu_node"]
    limit = f"{c.pg}:&gpu_node"
    canary = group_name("unit", c.units[0].name) if c.units else None
    old_hosts = sum(1 for d in managed_devices(c.site, c.phase) if d.phase < c.phase)
    # A dry run over every host up to the phase first: the one place where an unexpected
    # change to an in-service host shows before anything is touched.
    cmds = [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--check", "--diff"),
            f"exit 0; the {len(c.managed):,} hosts of phase {c.phase} show their new "
            f"configuration; of the {old_hosts:,} hosts of earlier phases only the "
            "services, Slurm and fabric files named in this runbook change",
        )
    ]
    if canary:
        cmds += [
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", canary, "--check", "--diff"),
                "exit 0; the unit's nodes show their full new configuration, nothing else changes",
            ),
            Command(
                c.hk("deploy", "--phase", str(c.phase), "--limit", canary),
                f"run ok on every host of {c.units[0].name} (the canary unit)",
                record="canary unit",
            ),
        ]
    cmds += [
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--limit", limit, "--check", "--diff"),
            f"exit 0 over {len(nodes):,} compute nodes; no failed or unreachable host",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                limit,
                "--batch",
                "10%",
                "--max-fail",
                "5%",
            ),
            "exit 0 and `all hosts done`; a batch with more than 5% failures stops the run",
            record="compute nodes",
        ),
        Command(
            c.hk("deploy", "--phase", str(c.phase), "--resume", "RUN_ID"),
            "only if the previous run stopped: re-runs the hosts that failed or were not "
            "reached in RUN_ID; ends with `all hosts done`",
            record="resume (if any)",
        ),
        Command(
            c.hk(
                "deploy", "--phase", str(c.phase), "--limit", f"slurm:!{c.pg}", "--check", "--diff"
            ),
            "exit 0; on in-service hosts only the Slurm configuration changes (the new "
            "nodes and their topology)",
        ),
        Command(
            c.hk(
                "deploy",
                "--phase",
                str(c.phase),
                "--limit",
                f"slurm:!{c.pg}",
                "--batch",
                "5%",
                "--max-fail",
                "1%",
            ),
            "run ok; the controllers reload with the new nodes",
            record="slurm update",
        ),
        Command(f"hkcompute runs {c.arg}", "every run above listed with status ok"),
    ]
    return Stage(
        "deploy",
        "8. Deploy: nodes and the scheduler",
        intro=[
            f"{len(nodes):,} compute nodes of the phase get their configuration, first one "
            "scalable unit as a canary, then in batches; then the Slurm controllers and the "
            "in-service nodes learn about them."
        ],
        commands=cmds,
        checklist=[
            "canary unit deployed and checked by hand (one job per node)",
            "all batches completed",
            "failed hosts resumed or marked failed in the inventory",
            "Slurm configuration rolled out to in-service hosts",
        ],
        gate=[
            "every deploy run of this stage ok (run ids recorded)",
            "no in-service host changed anything but its Slurm configuration",
        ],
        rollback=[
            "A stopped run: fix the cause, then `--resume RUN_ID`.",
            "In-service hosts: deploy the previous phase's tree to them"
            + (f": `{c.back(f'slurm:!{c.pg}', '5%')}`" if c.prev is not None else "."),
            "New nodes: keep them drained in Slurm until fixed.",
        ],
    )
