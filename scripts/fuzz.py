#!/usr/bin/env python3
"""The long fuzz run: mutate the bundled inventories for a while and report what broke.

    python scripts/fuzz.py --minutes 20 [--seed N] [--save]

Each input runs in a forked child with a time limit and an address-space limit (see
tests/fuzz/harness.py). Prints how many inputs it tried and the outcome counts; every
distinct bug (by exception type and innermost hkcompute frame) is printed once and, with
--save, kept under tests/fuzz/corpus/ for the regression test to replay. Exits 1 if any
bug was found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz import harness


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=15.0)
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--save", action="store_true", help="keep crashing inputs in the corpus")
    ap.add_argument(
        "--big-every",
        type=int,
        default=25,
        help="every Nth input mutates the full bundled site (validate and plan only)",
    )
    args = ap.parse_args()
    # The fuzzer itself must not take the machine down: children get 1.5 GiB each (the
    # harness), the parent 4 GiB.
    limit = 4 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    bugs: list[str] = []

    def on_bug(files: harness.Files, out: harness.Outcome, sig: str) -> None:
        digest = hashlib.sha256(b"".join(files[k] for k in sorted(files))).hexdigest()[:12]
        bugs.append(sig)
        print(f"BUG [{out.kind}] {sig} ({out.seconds:.1f} s)\n{out.detail[-1500:]}\n", flush=True)
        if args.save:
            where = harness.save_case(
                files, f"{out.kind}-{digest}", f"{sig}\nfound by scripts/fuzz.py --seed {args.seed}"
            )
            print(f"  kept as {where}", flush=True)

    t0 = time.monotonic()
    print(f"fuzzing for {args.minutes} min, seed {args.seed}", flush=True)

    def progress(counts: dict[str, int]) -> None:
        print(f"  {time.monotonic() - t0:5.0f} s: {json.dumps(counts, sort_keys=True)}", flush=True)

    counts = harness.fuzz(
        args.iterations,
        args.minutes * 60,
        args.seed,
        on_bug,
        big_every=args.big_every,
        progress=progress,
    )
    took = time.monotonic() - t0
    print(
        json.dumps(
            {
                "tried": counts["tried"],
                "seconds": round(took),
                "seed": args.seed,
                "outcomes": counts,
                "distinct_bugs": len(bugs),
            },
            sort_keys=True,
        )
    )
    print(
        f"tried {counts['tried']:,} inputs in {took / 60:.1f} min; {len(bugs)} distinct bug(s)",
        flush=True,
    )
    return 1 if bugs else 0


if __name__ == "__main__":
    raise SystemExit(main())
