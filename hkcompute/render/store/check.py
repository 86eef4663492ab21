"""The drift check behind ``render --check``: the tree on disk against what would be
rendered; writes nothing."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute.render.store import fs
from hkcompute.render.store.manifest import entry_of
from hkcompute.render.store.paths import (
    HOSTS,
    HOSTS_DIR,
    LINK_PREFIX,
    Entry,
    RenderedFile,
    host_root_rel,
    path_on_host,
    rel_host,
    safe_rel,
    split_rel,
)
from hkcompute.render.store.stamps import FileStamps, folder_stamp, stamp_of


@dataclass
class CheckResult:
    differ: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.differ or self.missing or self.extra)


def check_tree(out: Path, files: list[RenderedFile]) -> CheckResult:
    """Compare the tree on disk with what would be rendered; writes nothing."""
    return check_entries(out, {safe_rel(f.host, f.path): entry_of(f) for f in files})


def check_entries(
    out: Path,
    wanted: Mapping[str, Entry],
    stamps: Mapping[str, int] | None = None,
    recorded: Mapping[str, Entry] | None = None,
    files: FileStamps | None = None,
) -> CheckResult:
    """Compare the tree on disk with the wanted entries (rel -> sha256, mode).

    Every distinct inode is read and hashed once: files hard-linked across hosts are checked
    once, and a file edited by hand is always found, whatever its mtime says. Extra and
    missing files are found by listing the host's folders, except for a host whose wanted
    files are those its folder was made with and whose ``folder_stamp`` is still the one
    recorded then (``stamps``): no entry of its folders changed since, so it holds exactly
    those files. (The one blind spot: an entry made or removed in the same tick of the
    kernel's clock, 4 ms or less, as render made that folder, while render runs.)

    With ``recorded`` (the current generation's manifest) and ``files`` (its stamps), a file
    whose ``lstat`` is still its stamp is known to hold the recorded content without being
    read: its change time, which nobody can set back, has not moved since render had
    finished with it, and files changed within RACY_NS of the stamps are never trusted.
    """
    res = CheckResult()
    hosts = out / HOSTS
    by_host: dict[str, list[str]] = {}
    for rel in wanted:
        by_host.setdefault(rel_host(rel), []).append(rel)
    found: dict[str, tuple[str, int | None]] = {}
    if hosts.is_dir():
        with os.scandir(hosts) as it:
            for de in it:
                r = host_root_rel(de.name)
                if not de.is_dir():
                    found[r] = (de.path, de.inode())
                    continue
                stamp = stamps.get(de.name) if stamps is not None else None
                rels = by_host.get(de.name)
                if stamp is not None and rels:
                    real = _host_folder_path(out, de.path)
                    if folder_stamp(real, de.name, rels) == stamp:
                        for rel in rels:
                            found[rel] = (real + path_on_host(de.name, rel), None)
                        continue
                fs.walk_files(de.path, r, found)
    digest_of: dict[int, tuple[str, str] | None] = {}
    for rel, e in wanted.items():
        got = found.get(rel)
        if got is None:
            res.missing.append(rel)
            continue
        path, ino = got
        if files is not None and recorded is not None:
            known = _stamped(rel, path, files, recorded)
            if known is not None:
                if known != (e["sha256"], e["mode"]):
                    res.differ.append(rel)
                continue
        if ino is None:
            try:
                ino = os.lstat(path).st_ino
            except OSError:
                res.missing.append(rel)
                continue
        have = digest_of.get(ino, ())
        if have == ():
            have = fs.file_digest(path)
            digest_of[ino] = have
        if have is None:
            res.missing.append(rel)
        elif have != (e["sha256"], e["mode"]):
            res.differ.append(rel)
    res.extra = [rel for rel in found if rel not in wanted]
    res.differ.sort()
    res.missing.sort()
    res.extra.sort()
    return res


def _host_folder_path(out: Path, link: str) -> str:
    """Where ``DIR/hosts/<host>`` leads: read from the generation's link when it is the
    plain one render makes (``../../.hosts/<folder>``), which is one readlink instead of
    ``realpath``'s lstat of every component (a third of a --check)."""
    try:
        target = os.readlink(link)
    except OSError:
        return os.path.realpath(link)
    folder = target[len(LINK_PREFIX) :]
    if target.startswith(LINK_PREFIX) and folder not in ("", ".", "..") and "/" not in folder:
        return f"{out}/{HOSTS_DIR}/{folder}"
    return os.path.realpath(link)


def _stamped(
    rel: str, path: str, files: FileStamps, recorded: Mapping[str, Entry]
) -> tuple[str, str] | None:
    """(sha256, mode) of the file at ``path`` from its stamp and the recorded manifest, or
    None when the stamp does not vouch for it (then it is read)."""
    where = split_rel(rel)
    stamp = files.stamp(*where) if where is not None else None
    rec = recorded.get(rel)
    if stamp is None or rec is None:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or stamp_of(st) != stamp:
        return None
    return rec["sha256"], fs.mode_of(st)
