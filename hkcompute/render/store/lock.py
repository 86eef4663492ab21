"""The render lock: one writer per output folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from hkcompute.errors import InputError, RenderError

RENDER_LOCK = ".render.lock"


@contextlib.contextmanager
def render_lock(out: Path) -> Iterator[None]:
    """One writer per output folder: two renders would both update the same spare
    generation. flock, so a killed render never leaves it held."""
    try:
        fd = os.open(out / RENDER_LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise InputError(f"cannot lock output folder {out}: {exc.strerror}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RenderError(
                f"another render is writing {out}; run again when it has finished"
            ) from None
        yield
    finally:
        os.close(fd)
