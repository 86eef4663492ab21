"""HK430-HK433: the site's lossless-RoCE policy (``qos:``) as one consistent whole.

The schema bounds each figure (a DSCP 0-63, a priority 0-7); these rules check that the
figures work together. Each mistake renders and deploys without complaint, then loses RDMA
packets or stalls the fabric under load: the RoCE priority not paused (drops at the first
incast), CNP sharing the RoCE queue (congestion notifications stuck behind the traffic they
would slow, or paused with it), an ECN band upside down, or a priority paused that carries
nothing lossless (pause frames spread congestion for no gain). Each finding points at the
line of ``qos:`` that causes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from hkcompute.checks import CheckContext, register
from hkcompute.checks.naming import at
from hkcompute.findings import Finding, Location, Severity, make, rule
from hkcompute.model import Site

E, W = Severity.ERROR, Severity.WARNING

PFC_OFF = rule(
    "HK430",
    E,
    "PFC is not enabled on the RoCE priority",
    "Add qos.roce.priority to qos.pfc.priorities: without PFC the RoCE queue drops under "
    "incast and RDMA falls back to go-back-N retransmission.",
)
CNP_SHARES_ROCE = rule(
    "HK431",
    E,
    "the CNP class shares the RoCE class's priority or DSCP",
    "Give CNP its own priority and DSCP (NVIDIA and Huawei: priority 6, DSCP 48, strict "
    "priority), so congestion notifications are neither queued nor paused behind the RoCE "
    "traffic they slow down.",
)
ECN_BAND = rule(
    "HK432",
    E,
    "the ECN marking band starts above where it ends",
    "Make qos.ecn.min_kb at most qos.ecn.max_kb (NVIDIA default: 150 and 1500 KB).",
)
PFC_NOT_LOSSLESS = rule(
    "HK433",
    W,
    "PFC is enabled on a priority that carries no lossless class",
    "Remove the priority from qos.pfc.priorities, or move a lossless class (qos.roce) onto "
    "it: pausing a lossy priority only spreads congestion (and risks PFC deadlock).",
)


def _where(site: Site, *path: str | int) -> Location:
    """The line of ``qos:`` at ``path``; the site's first file when it cannot be placed."""
    fallback = Location(site.files[0]) if site.files else Location("<site>")
    return at(site, ("qos", *path), fallback)


@register("qos")
def check(ctx: CheckContext) -> Iterator[Finding]:
    site = ctx.site
    q = site.qos
    roce, cnp = q.roce, q.cnp
    if roce.priority not in q.pfc.priorities:
        yield make(
            PFC_OFF,
            f"qos: the RoCE class rides priority {roce.priority}, but PFC pauses "
            f"{_list(q.pfc.priorities)}",
            _where(site, "pfc", "priorities"),
            subject="qos.pfc",
        )
    if cnp.priority == roce.priority:
        yield make(
            CNP_SHARES_ROCE,
            f"qos: CNP and RoCE both ride priority {roce.priority}",
            _where(site, "cnp", "priority"),
            subject="qos.cnp",
        )
    if cnp.dscp == roce.dscp:
        yield make(
            CNP_SHARES_ROCE,
            f"qos: CNP and RoCE are both marked DSCP {roce.dscp}",
            _where(site, "cnp", "dscp"),
            subject="qos.cnp",
        )
    if q.ecn.min_kb > q.ecn.max_kb:
        yield make(
            ECN_BAND,
            f"qos: ECN marking starts at {q.ecn.min_kb} KB, above its maximum {q.ecn.max_kb} KB",
            _where(site, "ecn", "min_kb"),
            subject="qos.ecn",
        )
    lossless = {roce.priority}
    for i, prio in enumerate(q.pfc.priorities):
        if prio not in lossless:
            yield make(
                PFC_NOT_LOSSLESS,
                f"qos: PFC pauses priority {prio}, which carries no lossless class "
                f"(RoCE rides {roce.priority}"
                + (", CNP, never paused, this one)" if prio == cnp.priority else ")"),
                _where(site, "pfc", "priorities", i),
                subject="qos.pfc",
            )


def _list(prios: list[int]) -> str:
    return ", ".join(str(p) for p in prios) if prios else "none"
