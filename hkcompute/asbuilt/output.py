"""The verdict as a text table (problems first, for the floor), JSON or CSV (every planned
link, for work orders and scripts). Pure: strings in, strings out, the same for the same
input."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hkcompute.asbuilt.compare import (
    MISSING,
    MISWIRED,
    NOT_COLLECTED,
    OK,
    SEVERITY,
    SWAP,
    UNEXPECTED,
    Row,
    Verdict,
)
from hkcompute.asbuilt.observed import End

CSV_COLUMNS = (
    "status",
    "a_device",
    "a_port",
    "b_device",
    "b_port",
    "network",
    "seen_at_a",
    "seen_at_b",
    "swap_a_device",
    "swap_a_port",
    "swap_b_device",
    "swap_b_port",
    "action",
)


def summary(v: Verdict) -> dict[str, int]:
    return {
        "planned": v.planned,
        "ok": v.count(OK),
        "swapped": v.count(SWAP),
        "miswired": v.count(MISWIRED),
        "missing": v.count(MISSING),
        "not_collected": v.count(NOT_COLLECTED),
        "unexpected": v.count(UNEXPECTED),
    }


def headline(v: Verdict, title: str) -> str:
    s = summary(v)
    return (
        f"{title}: {s['planned']:,} planned links: {s['ok']:,} ok, {s['swapped']:,} in "
        f"swapped pairs, {s['miswired']:,} miswired, {s['missing']:,} missing, "
        f"{s['not_collected']:,} unverified (device not collected); "
        f"{s['unexpected']:,} unexpected"
    )


def _link(a: End, b: End) -> str:
    return f"{a} - {b}"


def text(v: Verdict, title: str) -> str:
    table: list[tuple[str, str, str, str]] = []
    order = {s: i for i, s in enumerate(SEVERITY)}
    for r in sorted(
        (r for r in v.rows if r.status not in (OK, NOT_COLLECTED)), key=lambda r: order[r.status]
    ):
        if r.status == SWAP and r.other is not None:
            a2, b2 = r.other
            table.append((r.status, _link(r.a, r.b), _link(r.a, b2), r.action))
            table.append(("", _link(a2, b2), _link(a2, r.b), ""))
        elif r.status == MISWIRED:
            found = [_link(r.a, x) for x in r.seen_a] + [_link(x, r.b) for x in r.seen_b]
            table.append((r.status, _link(r.a, r.b), found[0], f"re-cable {r.a} to {r.b}"))
            table.extend(("", "", f, "") for f in found[1:])
        elif r.status == MISSING:
            table.append(
                (r.status, _link(r.a, r.b), "nothing at either end", f"connect {r.a} to {r.b}")
            )
        else:
            table.append((r.status, "", _link(r.a, r.b), "unplug it, or add it to the inventory"))
    lines = [headline(v, title)]
    if table:
        heads = ("status", "planned", "found", "fix")
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(heads)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
        lines += ["", fmt.format(*heads).rstrip()]
        lines += [fmt.format(*row).rstrip() for row in table]
    if v.not_collected:
        n = len(v.not_collected)
        lines += [
            "",
            f"not collected ({n} device{'' if n == 1 else 's'}; links with no other "
            "end collected are not verified):",
        ]
        lines += [f"  {dev}: {why}" for dev, why in v.not_collected.items()]
    return "\n".join(lines)


def _end(e: End) -> dict[str, str]:
    return {"device": e.device, "port": e.port}


def row_dict(r: Row) -> dict[str, Any]:
    return {
        "status": r.status,
        "a": _end(r.a),
        "b": _end(r.b),
        "network": r.network,
        "seen_at_a": [_end(e) for e in r.seen_a],
        "seen_at_b": [_end(e) for e in r.seen_b],
        "swap_with": ({"a": _end(r.other[0]), "b": _end(r.other[1])} if r.other else None),
        "action": r.action,
        "sources": list(r.sources),
    }


def to_json(v: Verdict, extra: dict[str, Any]) -> str:
    doc = {
        **extra,
        "ok": v.ok,
        "summary": summary(v),
        "not_collected": v.not_collected,
        "links": [row_dict(r) for r in v.rows],
    }
    return json.dumps(doc, indent=2)


def to_csv(v: Verdict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in v.rows:
        o = r.other
        w.writerow(
            (
                r.status,
                r.a.device,
                r.a.port,
                r.b.device,
                r.b.port,
                r.network,
                "; ".join(map(str, r.seen_a)),
                "; ".join(map(str, r.seen_b)),
                o[0].device if o else "",
                o[0].port if o else "",
                o[1].device if o else "",
                o[1].port if o else "",
                r.action,
            )
        )
    return buf.getvalue()
