#!/usr/bin/env bash
# The main job on the bundled Science Park site: install what is needed, then validate the
# inventory, show its capacity per phase and its plan, and render phase 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
SITE=inventories/hkstp
hkcompute validate "$SITE"
hkcompute capacity "$SITE"
if hkcompute --help | grep -q " bom "; then
  hkcompute bom "$SITE"
fi
if hkcompute --help | grep -q " render "; then
  hkcompute render "$SITE" --phase 1 --out build/hkstp/phase-1
fi
