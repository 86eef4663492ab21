"""The rollout runbook of one phase, derived from the site, its plan and its capacity.

Nothing in a runbook is written per site: scope, racks, cables, hosts, commands and the
figures a good result shows all come from the inventory, so a runbook can be regenerated
whenever the inventory changes and is the same text for the same inventory (no dates).

``build_runbook(site, phase, site_arg)`` gives a ``Runbook`` (no I/O): a scope, then the
stages in the order the floor works (facility, racking, cabling, out-of-band and
provisioning, firmware and OS, fabric, storage, deploy, verify, acceptance, hand-over), each
with the commands to type and what a good result looks like, a checklist, a go/no-go gate,
a rollback, and the journal run ids to record. ``write_runbook`` writes ``runbook.md``, the
self-contained ``runbook.html``, ``runbook.json`` (the scope and the commands, for scripts)
and the phase's cable lists as CSV.

``site_arg`` is the site as the engineer types it (the CLI passes its argument through), so
every command in the runbook can be pasted as it is.
"""

from hkcompute.report.runbook.build import (
    build_runbook,
    render_html,
    render_markdown,
    write_runbook,
)
from hkcompute.report.runbook.records import STAGES, Command, Runbook, Stage, Table

__all__ = [
    "STAGES",
    "Command",
    "Runbook",
    "Stage",
    "Table",
    "build_runbook",
    "render_html",
    "render_markdown",
    "write_runbook",
]
