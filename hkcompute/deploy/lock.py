"""One deploy per site at a time.

The lock is a file created with O_EXCL and held with ``flock`` for the life of the run. Its
content names the holder (user, host, pid, run id, command). If the holder dies, the kernel
drops the flock but the file stays: that is how a *stale* lock is recognised. A stale lock
is never broken silently; ``break_stale`` does it when the user asks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hkcompute.errors import LockHeld

LOCK_NAME = "deploy.lock"


@dataclass(frozen=True)
class Holder:
    user: str
    host: str
    pid: int
    run_id: str
    started: str
    command: str

    def describe(self) -> str:
        return (
            f"run {self.run_id} by {self.user}@{self.host} (pid {self.pid}, started "
            f"{self.started}): {self.command}"
        )


def read_holder(path: Path) -> Holder | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Holder(
            str(doc["user"]),
            str(doc["host"]),
            int(doc["pid"]),
            str(doc["run_id"]),
            str(doc["started"]),
            str(doc["command"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_stale(path: Path) -> bool:
    """True when a lock file exists but nobody holds its flock (the holder died)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class SiteLock:
    """``with SiteLock(state, run_id, command):`` holds the site's deploy lock."""

    def __init__(self, state: Path, run_id: str, command: str) -> None:
        self.path = state / LOCK_NAME
        self.run_id = run_id
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "user": getpass.getuser(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "run_id": self.run_id,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "command": self.command,
        }
        # The lock file appears at its name only complete and already flocked: written and
        # locked under a private name, then hard-linked into place (link fails if the name
        # exists, like O_EXCL). Created in place instead, another deploy could read it empty
        # ("an unreadable lock file") or find it not yet flocked and call a live run stale.
        _sweep_private(self.path.parent)
        tmp = self.path.with_name(f".{LOCK_NAME}.{os.getpid()}.{self.run_id}")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
            os.fsync(fd)
            os.link(tmp, self.path)
        except FileExistsError:
            os.close(fd)
            holder = read_holder(self.path)
            who = holder.describe() if holder else "an unreadable lock file"
            if is_stale(self.path):
                raise LockHeld(
                    f"a stale deploy lock is left by {who}; that process is gone. Check the "
                    f"run with `hkcompute runs`, then break it with --break-lock"
                ) from None
            raise LockHeld(f"another deploy of this site is running: {who}") from None
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> SiteLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _sweep_private(state: Path) -> None:
    """Remove private lock names left by deploys killed between making one and linking it
    into place: their flock went with their process, so one we can flock is dead. A live
    one holds its flock until it has unlinked the name; a name younger than a minute is
    left alone too (between its creation and its flock, a live one is not yet locked)."""
    for p in state.glob(f".{LOCK_NAME}.*"):
        try:
            fd = os.open(p, os.O_RDWR | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if time.time() - os.fstat(fd).st_mtime < 60:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: a deploy is between those two steps right now
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        finally:
            os.close(fd)


def break_stale(state: Path) -> Holder | None:
    """Remove a stale lock (only if stale). Returns who held it; raises if it is live."""
    path = state / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        holder = read_holder(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = holder.describe() if holder else "an unknown holder"
            raise LockHeld(f"the lock is held by a live process: {who}; not breaking it") from None
        # Holding the stale file's flock, remove the name only if it still is that file: a
        # new deploy may have released it and another taken the name in the meantime.
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                path.unlink()
        return holder
    finally:
        os.close(fd)
