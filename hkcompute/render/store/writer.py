"""Content-addressed host folders: ``.hosts/<host>@<digest of its files>``, made complete
under a temporary name and renamed, never changed afterwards. Files whose content the
current tree (or this render) already has on disk are hard-linked, not written."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute.render.store import fs
from hkcompute.render.store.paths import (
    HOSTS_DIR,
    Entry,
    RenderedFile,
    host_folders,
    path_on_host,
    safe_rel,
)
from hkcompute.render.store.stamps import stamp_of, verified_stat
from hkcompute.render.store.state import TreeState


@dataclass
class HostOutput:
    """One host's files for the writer: rendered now (``files``) or known unchanged from the
    current tree (``files`` None: its entries are the current tree's, in ``folder``)."""

    host: str
    key: str | None
    files: list[RenderedFile] | None = None
    folder: str | None = None  # its folder in .hosts, when files is None
    fp: str | None = None  # the fingerprint of its context's inputs (``deps``)
    dns: tuple[str, list[str]] | None = None  # its DNS section: fingerprint, paths on host


@dataclass
class WriteResult:
    out: Path
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    generation: str = ""
    hosts_written: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def host_digest(entries: Mapping[str, Entry]) -> str:
    h = hashlib.sha256()
    for rel in sorted(entries):
        e = entries[rel]
        h.update(f"{rel}\0{e['sha256']}\0{e['mode']}\n".encode())
    return h.hexdigest()[:16]


class Writer:
    def __init__(self, out: Path, state: TreeState) -> None:
        self.out = out
        self.hdir = out / HOSTS_DIR
        self.state = state
        self.tag = f".tmp-{os.getpid()}"
        # (sha, mode) -> where that content is on disk: in the current tree (verified before
        # use, ``_vouched``), and written by this render (``fresh``)
        self.by_sha: dict[tuple[str, str], str | None] | None = None
        self.fresh: dict[tuple[str, str], str] = {}
        self._checked: dict[str, bool] = {}

    def _known(self) -> dict[tuple[str, str], str | None]:
        """Where each content of the current tree already is on disk (for hard links)."""
        if self.by_sha is None:
            self.by_sha = {}
            if self.state.blocks is not None:
                return self.by_sha  # found one by one in the manifest's text (``_lookup``)
            for host, (_k, folder) in self.state.keys.items():
                base = f"{self.hdir}/{folder}"
                for rel, e in self.state.host_entries(host).items():
                    self.by_sha.setdefault((e["sha256"], e["mode"]), base + path_on_host(host, rel))
        return self.by_sha

    def source(self, k: tuple[str, str]) -> str | None:
        """A file on disk with this content and mode, to hard-link: one made by this render,
        else one of the current tree that still holds it (a file edited by hand in the tree
        must not be linked into the new one under the recorded digest)."""
        got = self.fresh.get(k)
        if got is not None:
            return got
        path = self._lookup(k)
        if path is None:
            return None
        ok = self._checked.get(path)
        if ok is None:
            ok = self._checked[path] = self._vouched(path, k)
        return path if ok else None

    def _vouched(self, path: str, k: tuple[str, str]) -> bool:
        """The file at ``path`` holds content ``k``: its stamp says so, or reading it does."""
        try:
            st = os.lstat(path)
        except OSError:
            return False
        rest = self.state.file_stamps().inodes.get(str(st.st_ino))
        if stat.S_ISREG(st.st_mode) and rest == stamp_of(st)[1:] and fs.mode_of(st) == k[1]:
            return True
        return verified_stat(path, k[0], k[1]) is not None

    def _lookup(self, k: tuple[str, str]) -> str | None:
        known = self._known()
        if k in known or self.state.blocks is None:
            # without the text, ``_known`` indexed every content: a miss is final, and not
            # remembered (a full render would keep one per content it writes)
            return known.get(k)
        # Parsing the whole manifest to index it was a fifth of a one-rack render; a render
        # that writes a few hosts looks up a few dozen contents in its text instead.
        found = None
        for host, path in self.state.rows_holding(*k):
            got = self.state.keys.get(host)
            if got is not None:
                found = f"{self.hdir}/{got[1]}{path}"
                break
        known[k] = found  # a miss is remembered too
        return found

    def host_folder(
        self, host: str, files: list[RenderedFile], entries: dict[str, Entry], res: WriteResult
    ) -> str:
        """Make (or find) the host's folder for these files; returns its name."""
        folder = f"{host}@{host_digest(entries)}"
        final = self.hdir / folder
        old = self.state.host_entries(host)
        for rel, e in entries.items():
            if old.get(rel) == e:
                res.unchanged += 1
            else:
                res.written.append(rel)
        if final.is_symlink():  # not made by render: never reuse what it leads to
            final.unlink()
        elif final.is_dir():
            # Kept for the other generation, or left by someone: reused only if it holds
            # exactly these files (a few, for a changed host), else made afresh.
            if _folder_holds(final, host, entries):
                return folder
            fs.discard(final)
        res.hosts_written += 1
        tmp = self.hdir / (folder + self.tag)
        if tmp.exists():
            shutil.rmtree(tmp)
        # Every folder the files need, made parents first with one mkdir each: tmp is new,
        # so none exists (os.makedirs per file, with its checks, was a sixth of a full render).
        for d in sorted(host_folders(str(tmp), host, entries)):  # parents sort first
            os.mkdir(d)
        for f in files:
            rel = safe_rel(f.host, f.path)
            e = entries[rel]
            on_host = path_on_host(host, rel)
            dst = f"{tmp}{on_host}"
            k = (e["sha256"], e["mode"])
            src = self.source(k)
            if src is not None:
                try:
                    os.link(src, dst)
                    continue
                except OSError:
                    pass
            with open(dst, "wb") as fh:
                fh.write(f.content)
            os.chmod(dst, f.mode)
            self.fresh[k] = f"{final}{on_host}"
        os.rename(tmp, final)
        return folder


def _folder_holds(folder: Path, host: str, entries: Mapping[str, Entry]) -> bool:
    """``folder`` (the host's) holds exactly these files (content and mode), and no links."""
    found: dict[str, tuple[str, int | None]] = {}
    fs.walk_files(str(folder), "", found)
    if set(found) != {path_on_host(host, rel) for rel in entries}:
        return False
    for rel, e in entries.items():
        path = found[path_on_host(host, rel)][0]
        if os.path.islink(path) or fs.file_digest(path) != (e["sha256"], e["mode"]):
            return False
    return True
