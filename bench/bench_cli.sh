#!/usr/bin/env bash
# The bundled site through the CLI, as a user runs it: validate (twice), a full render into
# an empty folder, a render with nothing changed, a one-rack change (new MACs for the four
# nodes of rack a-r002) rendered over the tree and back, twice (so both generations exist),
# and render --check with nothing changed (twice). Prints wall, CPU and peak RSS per command
# and each render's own line. Figures only; never run as a test.
#
#   bash bench/bench_cli.sh [PHASE]
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-3}
work=$(mktemp -d /tmp/hk-bench-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r inventories/hkstp "$work/rc"
python - "$work/rc/devices.yaml" <<'PY'
import sys
from pathlib import Path
p = Path(sys.argv[1])
s = p.read_text()
first = '  - {name: h800a-su01-n01, serial: HKSTP-H800-0001, mac: "b8:3f:d2:00:01:01"}\n'
assert first in s, "devices.yaml changed: update the one-rack edit"
extra = "".join(f'  - {{name: h800a-su01-n0{i}, mac: "b8:3f:d2:00:01:{i:02x}"}}\n' for i in (2, 3, 4))
p.write_text(s.replace(first, first.replace(":01:01", ":01:99") + extra))
PY
t() { /usr/bin/time -f "  %e s wall, %U+%S s CPU, %M KB peak" "$@"; }
for i in 1 2; do echo "validate ($i)"; t hkcompute validate inventories/hkstp >/dev/null; done
echo "render, full"; t hkcompute render inventories/hkstp --phase "$phase" --out "$work/out"
echo "render, nothing changed"; t hkcompute render inventories/hkstp --phase "$phase" --out "$work/out"
for i in 1 2; do
  echo "render, one-rack change ($i)"; t hkcompute render "$work/rc" --phase "$phase" --out "$work/out"
  echo "render, back ($i)"; t hkcompute render inventories/hkstp --phase "$phase" --out "$work/out"
done
sleep 1  # past the stamps' racy window
for i in 1 2; do
  echo "render --check ($i)"; t hkcompute render inventories/hkstp --phase "$phase" --out "$work/out" --check
done
