"""Stat stamps: what ``lstat`` said of a generation's files once render had finished with
them (``stamps.json``), and the folder stamps recorded in keys.json. A file whose stat is
still its stamp holds what the manifest says, so ``--check`` need not read it."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hkcompute.render.store import fs
from hkcompute.render.store.paths import Entry, host_folders, path_on_host, sha256

if TYPE_CHECKING:
    from hkcompute.render.store.state import TreeState

# A file whose change time is this close to when its stamp was taken is not trusted by
# --check (it could have been changed again within the same tick of the kernel's clock,
# which has 1-10 ms granularity; 250 ms is 25 of the coarsest ticks): it is read, as git
# does with its "racily clean" files.
RACY_NS = 250_000_000

Stamp = list[int]  # [inode, size, mtime_ns, ctime_ns]
STAMPS_FORMAT = 2


@dataclass
class FileStamps:
    """What ``lstat`` said of each file of a generation once render had finished with it. A
    file whose stat is still the same (the change time can only move forwards, and with it
    the inode) still holds what the manifest says, so ``--check`` need not read it. Missing
    stamps only cost a read.

    Kept by inode: per host, its path on the host -> inode; per inode, [size, mtime_ns,
    ctime_ns]. Identical files on many hosts are one inode, and a render that links a new
    host folder to it moves that inode's change time: one entry to update, not one per host
    that shares the file (that was a third of a one-rack render)."""

    hosts: dict[str, dict[str, int]] = field(default_factory=dict)
    inodes: dict[str, list[int]] = field(default_factory=dict)  # str(inode) -> rest of stamp
    # Inodes too new to stamp when the generation was written (racy), to be stamped by a
    # later render once it has read them and found the recorded content: str(inode) ->
    # [path below .hosts, sha256, mode].
    pending: dict[str, list[str]] = field(default_factory=dict)

    def stamp(self, host: str, suffix: str) -> Stamp | None:
        ino = self.hosts.get(host, {}).get(suffix)
        rest = self.inodes.get(str(ino)) if type(ino) is int else None
        if rest is None or type(rest) is not list or len(rest) != 3:
            return None
        return [ino, *rest]  # type: ignore[list-item]


def read_stamps(path: Path) -> FileStamps:
    doc = fs.read_json(path)
    if doc is None or doc.get("format") != STAMPS_FORMAT:
        return FileStamps()  # none, or an older layout: --check reads the files once
    hosts, inodes, pending = doc.get("hosts"), doc.get("inodes"), doc.get("pending", {})
    if not isinstance(hosts, dict) or not isinstance(inodes, dict) or not isinstance(pending, dict):
        return FileStamps()
    return FileStamps(
        {h: v for h, v in hosts.items() if isinstance(v, dict)},
        inodes,
        {
            k: v
            for k, v in pending.items()
            if isinstance(v, list) and len(v) == 3 and all(isinstance(x, str) for x in v)
        },
    )


def stamp_of(st: os.stat_result) -> Stamp:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def verified_stat(
    path: str, sha: str, mode: str, memo: dict[tuple[int, int, str], str] | None = None
) -> os.stat_result | None:
    """The file's ``lstat``, when it is a plain file with this mode whose content hashes to
    ``sha`` (read once, the stat taken before: a change while reading moves its ctime past
    the stat, so the stamp will not vouch for it). ``memo`` keeps each inode's digest for
    the files many hosts share (keyed with its ctime, so a change in between reads again)."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or fs.mode_of(st) != mode:
            return None
        key = (st.st_ino, st.st_ctime_ns, mode)
        digest = memo.get(key) if memo is not None else None
        if digest is None:
            with open(path, "rb") as fh:
                digest = sha256(fh.read())
            if memo is not None:
                memo[key] = digest
    except OSError:
        return None
    return st if digest == sha else None


def folder_stamp(root: str, host: str, rels: Iterable[str]) -> int | None:
    """The latest change time (ctime, ns) of the folders of a host's files (``root`` is its
    folder): the kernel sets a folder's ctime whenever an entry is made, removed or renamed
    in it, and nobody can set it back. Recorded when render makes the host's folder; the
    same stamp at --check time means no file was added to or removed from it since
    (contents are hashed anyway). None when a folder is missing."""
    try:
        return max(os.lstat(d).st_ctime_ns for d in host_folders(root, host, rels))
    except OSError:
        return None


def stamps_bytes(
    hdir: Path,
    keys: Mapping[str, Mapping[str, object]],
    made: list[tuple[str, str, Mapping[str, Entry]]],
    state: TreeState,
) -> bytes:
    """The new generation's file stamps, taken once every link of this render is made (a
    new hard link changes the change time of the file it links to). Files of hosts made now
    hold what render wrote or linked (link sources are verified first, ``Writer.source``)
    and are stat'ed; too new ones (racy) become pending. Other hosts keep their stamps. A
    file render did not just write is stamped only after reading it and finding the
    recorded content: pending inodes, and hosts of a tree without stamps."""
    at = time.time_ns()
    prev = state.file_stamps()
    inodes = dict(prev.inodes)
    pending: dict[str, list[str]] = {}
    hosts: dict[str, dict[str, int]] = {}
    read: dict[tuple[int, int, str], str] = {}  # each shared inode is read once
    for host, folder, entries in made:
        mine: dict[str, int] = {}
        for rel, e in entries.items():
            suffix = path_on_host(host, rel)
            try:
                st = os.lstat(f"{hdir}/{folder}{suffix}")
            except OSError:
                continue
            ino = str(st.st_ino)
            mine[suffix] = st.st_ino
            if st.st_ctime_ns < at - RACY_NS:
                inodes[ino] = stamp_of(st)[1:]
            else:  # too new to vouch for: read by --check, stamped by a later render
                inodes.pop(ino, None)
                pending[ino] = [f"{folder}{suffix}", e["sha256"], e["mode"]]
        hosts[host] = mine
    for host, kv in keys.items():
        if host in hosts:
            continue
        old = prev.hosts.get(host)
        if old is not None and len(old) == state.host_count(host):
            hosts[host] = old  # the same folder as in the current tree: its stamps hold
            continue
        # A tree without stamps (an older one): read what is missing before stamping it.
        mine = dict(old or {})
        for rel, e in state.host_entries(host).items():
            suffix = path_on_host(host, rel)
            if suffix in mine:
                continue
            seen = verified_stat(f"{hdir}/{kv['dir']}{suffix}", e["sha256"], e["mode"], read)
            if seen is not None and seen.st_ctime_ns < at - RACY_NS:
                mine[suffix] = seen.st_ino
                inodes[str(seen.st_ino)] = stamp_of(seen)[1:]
        hosts[host] = mine
    used: set[int] = set()
    for m in hosts.values():
        used.update(m.values())
    for ino, (path, sha, mode) in prev.pending.items():
        if (
            ino in inodes
            or ino in pending
            or not ino.isdigit()
            or int(ino) not in used
            or "/." in path
            or path.startswith("/")
        ):
            continue
        seen = verified_stat(f"{hdir}/{path}", sha, mode)
        if seen is not None and str(seen.st_ino) == ino:
            if seen.st_ctime_ns < at - RACY_NS:
                inodes[ino] = stamp_of(seen)[1:]
            else:
                pending[ino] = [path, sha, mode]  # still too new: next time
    inodes = {k: v for k, v in inodes.items() if k.isdigit() and int(k) in used}
    return (
        json.dumps(
            {
                "format": STAMPS_FORMAT,
                "at": at,
                "hosts": hosts,
                "inodes": inodes,
                "pending": pending,
            },
            separators=(",", ":"),
        )
        + "\n"
    ).encode()
