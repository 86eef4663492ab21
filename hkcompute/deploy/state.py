"""Where a site's run state lives: ``$HKCOMPUTE_STATE_DIR/<site>`` or ``./state/<site>``."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir(site_name: str, override: Path | None = None) -> Path:
    if override is not None:
        return override
    base = os.environ.get("HKCOMPUTE_STATE_DIR")
    root = Path(base) if base else Path("state")
    return root / site_name
