"""The closing stages: verify, acceptance, hand-over."""

from __future__ import annotations

from collections import defaultdict

from hkcompute.report.runbook.facts import _Ctx, _n
from hkcompute.report.runbook.records import Command, Stage, Table


def _verify(c: _Ctx) -> Stage:
    return Stage(
        "verify",
        "9. Verify",
        intro=[
            "Acceptance checks derived from the plan run on the hosts: addresses, routes and BGP "
            "sessions, services, the accelerators and the scheduler's view."
        ],
        commands=[
            Command(
                c.hk("verify", "--phase", str(c.phase), "--limit", c.pg),
                "exit 0: every check passes on every host of the phase",
            ),
            Command(
                c.hk("verify", "--phase", str(c.phase)),
                "exit 0 across the whole site: earlier phases unaffected",
            ),
            Command(
                c.hk("preflight", "--phase", str(c.phase), "--limit", c.pg),
                f"`preflight: {len(c.managed):,}/{len(c.managed):,} hosts ok`",
            ),
        ],
        checklist=["verify clean on the phase", "verify clean on the whole site"],
        gate=["verify exits 0 twice (phase, site)"],
        rollback=[
            "Nothing is changed by verification; drain failing nodes in Slurm and "
            "return to the stage that owns the failure."
        ],
    )


def _acceptance(c: _Ctx) -> Stage:
    pc = c.pc
    rows = []
    for vendor, models in pc.accelerators.items():
        for model, n in models.items():
            rows.append(
                [
                    vendor,
                    model,
                    f"{n:,}",
                    f"{pc.cumulative_accelerators.get(vendor, {}).get(model, 0):,}",
                ]
            )
    return Stage(
        "acceptance",
        "10. Acceptance",
        intro=[
            f"The phase is accepted when the counted capacity is in service: "
            f"{_n(pc.pflops, 3)} PFLOPS added, {_n(pc.cumulative_pflops, 3)} cumulative against a "
            f"target of {_n(pc.target_pflops)} (dense BF16)."
        ],
        tables=[Table("Accelerators", ["vendor", "model", "added", "cumulative"], rows)],
        commands=[
            Command(
                c.hk("capacity", "--phase", str(c.phase), "--format", "json"),
                f'"cumulative_pflops": {round(pc.cumulative_pflops, 3)}, '
                f'"target_met": {"true" if pc.target_met else "false"}',
            )
        ],
        checklist=[
            "burn-in passed on every node (accelerator stress, memory, NIC loopback)",
            "collective bandwidth test across each new scalable unit within 10% of the "
            "fabric's line rate",
            "HPL or equivalent run recorded",
            "failed nodes marked failed in the inventory (capacity recomputed)",
        ],
        gate=[
            "cumulative PFLOPS at or above the phase target",
            "acceptance report signed by the operator and the owner",
        ],
        rollback=["Not accepted: nodes stay drained; open RMAs; re-run the stage at fault."],
    )


def _handover(c: _Ctx) -> Stage:
    per: dict[str, list[str]] = defaultdict(list)
    for u in c.units:
        cl = c.site.cluster(u.cluster)
        tenants = [u.tenant] if u.tenant else list(cl.tenants if cl else ())
        for t in tenants or ["(unassigned)"]:
            per[t].append(u.name)
    rows = []
    for t, units in sorted(per.items()):
        info = c.site.tenants.get(t)
        rows.append(
            [
                t,
                info.spec.kind if info else "-",
                info.spec.residency if info else "-",
                f"{len(units):,}",
                f"{units[0]} .. {units[-1]}" if len(units) > 1 else units[0],
            ]
        )
    return Stage(
        "handover",
        "11. Hand-over to tenants",
        intro=[
            "Open the new capacity to the tenants it is planned for, with their residency terms."
        ],
        tables=[
            Table(
                "Tenants of this phase's units",
                ["tenant", "kind", "residency", "units", "which"],
                rows,
            )
        ],
        commands=[
            Command(
                c.hk("ansible-inventory", "--phase", str(c.phase)),
                "each tenant_<name> group holds exactly the units above",
            ),
            # Closing the phase: from here its addresses, ASNs and cables never move.
            Command(
                c.hk("lock", "--phase", str(c.phase)),
                f"`locked {c.site.info.name} up to phase {c.phase}: ...`; commit "
                "hkcompute.lock next to the inventory",
            ),
        ],
        checklist=[
            f"lock the phase: hkcompute lock SITE --phase {c.phase}, commit hkcompute.lock",
            "accounts, quotas and Slurm partitions/QoS for each tenant",
            "residency terms confirmed in writing for cross-border and international tenants",
            "monitoring dashboards and alerts cover the new units",
            "tenants notified; support contacts exchanged",
        ],
        gate=["each tenant confirms access", "operations accepts the phase into service"],
        rollback=[
            "Revoke tenant access to the new partitions and drain them; earlier "
            "tenants' access is unchanged."
        ],
    )
