"""Golden trees: rendered files reviewed in diffs (tests/golden/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def assert_matches_golden(got: dict[str, bytes], golden: Path) -> None:
    """``got`` (``host/path`` -> bytes) is exactly the tree under ``golden``, file for file.
    With HKCOMPUTE_UPDATE_GOLDEN=1 the tree is rewritten first, after an intended change."""
    if os.environ.get("HKCOMPUTE_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        for rel, data in got.items():
            p = golden / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    want = {str(p.relative_to(golden)): p.read_bytes() for p in golden.rglob("*") if p.is_file()}
    assert sorted(got) == sorted(want)
    for rel in sorted(got):
        assert got[rel] == want[rel], f"{rel} differs from the golden file"
