"""Time load, validate and plan of a site; print the link count and peak memory.

    python bench/bench_plan.py [SITE] [--phase N] [--repeat K]

SITE defaults to inventories/hkstp. Prints figures only (no asserts): the issue's targets
are "seconds" for the whole bundled site and well under 2 GB of memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from hkcompute.checks import run_checks
from hkcompute.inventory.load import load_site
from hkcompute.plan import build_plan


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS)
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", nargs="?", default="inventories/hkstp")
    ap.add_argument("--phase", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1, help="plan this many times (best of)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    loaded = load_site(Path(args.site))
    t1 = time.perf_counter()
    if loaded.site is None:
        print(f"{args.site}: cannot be loaded ({len(loaded.findings)} findings)")
        return 2
    site = loaded.site
    findings = run_checks(site, args.phase)  # includes building the plan once (cached)
    t2 = time.perf_counter()
    best = float("inf")
    plan = None
    for _ in range(max(1, args.repeat)):
        s = time.perf_counter()
        plan = build_plan(site, args.phase)
        best = min(best, time.perf_counter() - s)
    assert plan is not None
    errors = sum(1 for f in findings if f.severity == "error")
    print(f"site            {site.info.name} (phase {args.phase or 'all'})")
    print(f"devices         {sum(1 for _ in site.devices_upto(args.phase)):,}")
    print(f"links           {len(plan.links):,}")
    print(f"addresses       {len(plan.addresses):,}")
    print(f"asns            {len(plan.asns):,}")
    print(f"findings        {len(findings):,} ({errors:,} errors)")
    print(f"load            {t1 - t0:6.2f} s")
    print(f"validate        {t2 - t1:6.2f} s  (every check, the plan included)")
    print(
        f"plan            {best:6.2f} s  (links {plan.timings['links_s']:.2f} s, "
        f"addresses and ASNs {plan.timings['addresses_s']:.2f} s)"
    )
    print(f"peak RSS        {peak_rss_mb():6.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
