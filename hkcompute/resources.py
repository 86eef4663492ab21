"""Where the templates and playbooks are: inside the installed package, or in the checkout."""

from __future__ import annotations

import os
from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    override = os.environ.get(f"HKCOMPUTE_{name.upper()}")
    if override:
        return Path(override)
    shipped = _PKG / "data" / name
    if shipped.is_dir():
        return shipped
    checkout = _PKG.parent / name  # an editable install or a run from the repository
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"hkcompute's {name}/ folder is missing (looked in {shipped} and "
        f"{checkout}); reinstall the package"
    )


def templates_dir() -> Path:
    return _find("templates")


def playbooks_dir() -> Path:
    return _find("playbooks")
