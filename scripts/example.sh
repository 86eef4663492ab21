#!/usr/bin/env bash
# The main job on the bundled Science Park site: install what is needed, then check the
# inventory, show its capacity and plan, render phase 1's files, and write the phase-1
# runbook and the site report (open build/hkstp/report/report.html in a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
SITE=inventories/hkstp
OUT=build/hkstp
mkdir -p build
set -x
hkcompute validate "$SITE"
hkcompute capacity "$SITE"
hkcompute plan "$SITE"
hkcompute bom "$SITE" --phase 1
hkcompute diff "$SITE" --from-phase 1 --to-phase 2
hkcompute cabling "$SITE" --phase 1 > "$OUT-cabling-phase-1.csv"
hkcompute render "$SITE" --phase 1 --out "$OUT/phase-1"
hkcompute runbook "$SITE" --phase 2 --out "$OUT/runbook-phase-2"
hkcompute report "$SITE" --out "$OUT/report"
