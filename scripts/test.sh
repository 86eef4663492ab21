#!/usr/bin/env bash
# The whole test suite, after installing everything it needs (Python packages, and on
# Debian the system packages: docker.io, mmdebstrap and the tools that check rendered files).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
if [ "${CI:-}" = "true" ]; then
  export HKCOMPUTE_REQUIRE_DOCKER=1 HKCOMPUTE_REQUIRE_TOOLS=1
fi
PYTHON=${PYTHON:-python}
command -v "$PYTHON" >/dev/null || PYTHON=python3
set +e
"$PYTHON" -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
