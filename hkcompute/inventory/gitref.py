"""A site folder as it was at a git commit, for ``hkcompute diff --base REF``.

The files are read with ``git ls-tree`` and ``git show REF:path`` into a temporary folder
(removed on exit), so the working tree is never touched. Every failure (no git, not a
repository, an unknown ref, a site the commit does not have) is an ``InputError``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hkcompute.asbuilt.lock import LOCK_NAME
from hkcompute.errors import InputError

# What the loader reads (inventory YAML) and the lock beside it; nothing else is needed.
_SUFFIXES = (".yaml", ".yml")


def _git(top: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("git")
    if exe is None:
        raise InputError("--base needs git, which is not installed")
    return subprocess.run([exe, "-C", str(top), *args], capture_output=True, check=False)


def _toplevel(site: Path) -> Path:
    start = site if site.is_dir() else site.parent
    got = _git(start.resolve(), "rev-parse", "--show-toplevel")
    if got.returncode != 0:
        raise InputError(f"--base: {site} is not inside a git repository")
    return Path(got.stdout.decode().strip())


@contextmanager
def site_at(ref: str, site: Path) -> Iterator[Path]:
    """The path of ``site`` (a folder or one file) as it was at ``ref``, in a temporary copy."""
    top = _toplevel(site)
    rel = site.resolve().relative_to(top.resolve()).as_posix()
    if (
        ref.startswith("-")
        or _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode
    ):
        raise InputError(f"--base: {ref!r} is not a commit of the repository at {top}")
    listed = _git(top, "ls-tree", "-r", "-z", "--name-only", ref, "--", rel)
    names = [n for n in listed.stdout.decode().split("\0") if n]
    wanted = [n for n in names if n.endswith(_SUFFIXES) or n.endswith(LOCK_NAME)]
    if listed.returncode != 0 or not wanted:
        raise InputError(f"--base: {rel} holds no inventory at {ref}")
    with tempfile.TemporaryDirectory(prefix="hkcompute-base-") as tmp:
        root = Path(tmp)
        for name in wanted:
            blob = _git(top, "show", f"{ref}:{name}")
            if blob.returncode != 0:
                raise InputError(f"--base: cannot read {name} at {ref}")
            out = root / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(blob.stdout)
        yield root / rel
