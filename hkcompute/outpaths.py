"""Output paths: one check for every command that writes files.

Every writer (render, runbook, report, lock, exports) goes through these two functions, so a
folder that cannot be made, a file where a folder should be, or an unwritable place all end
in the same clear ``InputError`` (exit 2) before any work is done, never in a traceback
halfway through.
"""

from __future__ import annotations

import os
from pathlib import Path

from hkcompute.errors import InputError


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def prepare_out_dir(path: Path) -> Path:
    """Make sure ``path`` is a writable folder (created with its parents if missing)."""
    if path.exists() and not path.is_dir():
        raise InputError(f"output {path} exists and is not a folder")
    base = _nearest_existing(path)
    if base != path and not base.is_dir():
        raise InputError(f"cannot create output folder {path}: {base} is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {path}: {exc.strerror or exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"output folder {path} is not writable")
    return path


def prepare_out_file(path: Path) -> Path:
    """Make sure ``path`` can be written as a file (its folder created if missing)."""
    if path.is_dir():
        raise InputError(f"output {path} is a folder; give a file name")
    prepare_out_dir(path.parent if str(path.parent) else Path("."))
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"output file {path} is not writable")
    return path
