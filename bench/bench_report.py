"""Time the site report (and optionally a runbook) of a site; print figures, no asserts.

    python bench/bench_report.py [SITE] [--out DIR] [--runbook-phase N]

SITE defaults to inventories/hkstp (10,705 devices, ~1,175 racks, ~195k links). The issue's
target is "seconds" for the whole bundled site. Load and validation are timed apart from
the report itself, which includes the plan of every phase, every picture and the writes.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from hkcompute.report.runbook import write_runbook
from hkcompute.report.site_report import write_report
from hkcompute.validate import load_valid_site


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)


def size_mb(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("site", nargs="?", default="inventories/hkstp")
    ap.add_argument("--out", type=Path, default=None, help="keep the output here")
    ap.add_argument(
        "--runbook-phase", type=int, default=None, help="also time the runbook of this phase"
    )
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        site, _ = load_valid_site(Path(args.site))
        t1 = time.perf_counter()
        paths = write_report(site, out / "report")
        t2 = time.perf_counter()
        print(f"{site.info.name}: {len(site.devices):,} devices, {len(site.racks):,} racks")
        print(f"  load + validate: {t1 - t0:.2f} s")
        print(
            f"  report: {t2 - t1:.2f} s, {len(paths):,} files, "
            f"{size_mb(out / 'report'):.1f} MB (report.html "
            f"{(out / 'report' / 'report.html').stat().st_size / 1e6:.2f} MB)"
        )
        if args.runbook_phase is not None:
            t3 = time.perf_counter()
            write_runbook(site, args.runbook_phase, out / "runbook", args.site)
            t4 = time.perf_counter()
            print(
                f"  runbook phase {args.runbook_phase}: {t4 - t3:.2f} s, "
                f"{size_mb(out / 'runbook'):.1f} MB"
            )
        print(f"  total: {time.perf_counter() - t0:.2f} s, peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
