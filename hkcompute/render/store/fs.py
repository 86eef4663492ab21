"""File-system helpers the store's modules share: reading, hashing, removing, fsync.

Every module of the store calls ``os`` and ``shutil`` through its own module name (never
``from os import ...``): the crash tests stand in for both, module by module, to kill a
render before each of its file-system steps.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from hkcompute.render.store.paths import sha256

DISCARDED = "-discarded"  # the suffix of a host folder renamed away to be removed


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def read_json(path: Path) -> dict[str, object] | None:
    """The JSON object in the file (keys, stamps); None when there is none."""
    raw = read(path)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def mode_of(st: os.stat_result) -> str:
    """A file's permission bits as the manifest writes them ("0644")."""
    return f"{st.st_mode & 0o7777:04o}"


def file_digest(path: str) -> tuple[str, str] | None:
    """(sha256, mode) of the file at ``path``, read; None when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError:
        return None
    return sha256(data), mode_of(st)


def walk_files(top: str, rel: str, found: dict[str, tuple[str, int | None]]) -> None:
    """Every non-directory below ``top`` (symlinks included, not followed), with its inode."""
    with contextlib.suppress(OSError), os.scandir(top) as it:
        for de in it:
            r = f"{rel}/{de.name}"
            if de.is_dir(follow_symlinks=False):
                walk_files(de.path, r, found)
            else:
                found[r] = (de.path, de.inode())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def discard(p: Path) -> None:
    """Remove a host folder so that a half-removed one never keeps its name: folders are
    reused by name, and rmtree killed midway would leave a folder missing files that the next
    render would take as complete. Renaming it away first is atomic."""
    if p.is_dir() and not p.is_symlink() and not p.name.endswith(DISCARDED):
        trash = p.with_name(f"{p.name}.tmp-{os.getpid()}{DISCARDED}")
        try:
            os.rename(p, trash)
            p = trash
        except OSError:
            pass
    remove(p)
