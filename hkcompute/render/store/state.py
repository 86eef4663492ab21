"""What the current tree of an output folder holds: its generation, keys, manifest and
stamps, read once by a render and used host by host."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute.render.store import fs, manifest
from hkcompute.render.store.paths import (
    CURRENT,
    GEN_PREFIX,
    HOSTS_DIR,
    KEYS,
    MANIFEST,
    STAMPS,
    Entry,
    RenderedFile,
    host_rel,
    own_folder,
    sha256,
)
from hkcompute.render.store.stamps import FileStamps, read_stamps


@dataclass
class TreeState:
    """What the current tree of an output folder holds, by host."""

    gen: Path | None = None
    keys: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # host -> key, dir
    site_key: str | None = None  # the key of all the inputs of the render that made it
    stamps: dict[str, int] = field(default_factory=dict)  # host -> folder_stamp when made
    fps: dict[str, str] = field(default_factory=dict)  # host -> its inputs' fingerprint
    # The manifest as render wrote it (verified by the digest in keys.json), and each host's
    # run of rows in it: the manifest is then parsed host by host, as needed (a one-rack
    # render needs a dozen hosts' entries, and parsing all 62,000 was a fifth of it).
    manifest_text: str | None = None
    blocks: dict[str, str] | None = None
    _files: dict[str, Entry] | None = None
    _by_host: dict[str, dict[str, Entry]] | None = None
    dns: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # host -> DNS section
    folders: set[str] = field(default_factory=set)  # real folders in .hosts, by name
    _file_stamps: FileStamps | None = None

    @property
    def files(self) -> dict[str, Entry]:
        """rel -> entry, every file of the current tree."""
        if self._files is None:
            doc = (
                manifest.decode(self.manifest_text) if self.manifest_text is not None else None
            )  # one parse of the whole text
            self._files = manifest.files_of(doc)
        return self._files

    @property
    def by_host(self) -> dict[str, dict[str, Entry]]:
        if self._by_host is None:
            self._by_host = manifest.group_by_host(self.files)
        return self._by_host

    def parse_all(self) -> None:
        """Parse every host's entries now, in one pass (for callers that want them all)."""
        _ = self.by_host

    def hosts(self) -> Iterable[str]:
        return self.blocks.keys() if self.blocks is not None else self.by_host.keys()

    def host_entries(self, host: str) -> dict[str, Entry]:
        if self._by_host is not None or self.blocks is None:
            return self.by_host.get(host, {})
        block = self.blocks.get(host)
        return {} if block is None else manifest.block_entries(block)

    def host_count(self, host: str) -> int:
        """How many files the host has in the current tree (without parsing them)."""
        if self._by_host is not None or self.blocks is None:
            return len(self.by_host.get(host, ()))
        block = self.blocks.get(host)
        return 0 if block is None else manifest.block_count(block)

    def rows_holding(self, sha: str, mode: str) -> Iterable[tuple[str, str]]:
        """(host, path on host) of the current tree's files with this content and mode, in
        the manifest's order, found in its text; none when the text is not render's."""
        if self.blocks is None or self.manifest_text is None:
            return ()
        return manifest.rows_holding(self.manifest_text, sha, mode)

    def read_files(self, host: str, paths: Iterable[str]) -> list[RenderedFile] | None:
        """The host's files at these paths, read back from its folder in the current tree;
        None unless every one is there and still holds what the manifest says (a hand edit
        is never carried into a new tree)."""
        got = self.keys.get(host)
        if got is None or self.gen is None:
            return None
        entries = self.host_entries(host)
        base = f"{self.gen.parent / HOSTS_DIR}/{got[1]}"
        out = []
        for path in paths:
            e = entries.get(host_rel(host, path))
            if e is None or "/.." in path or not path.startswith("/"):
                return None
            try:
                if os.path.islink(base + path):
                    return None
                with open(base + path, "rb") as fh:
                    data = fh.read()
            except OSError:
                return None
            if sha256(data) != e.get("sha256") or not manifest.is_mode(e.get("mode")):
                return None
            out.append(RenderedFile(host, path, data, int(e["mode"], 8)))
        return out

    def file_stamps(self) -> FileStamps:
        """The stat stamps of the current generation's files (read on first use)."""
        if self._file_stamps is None:
            self._file_stamps = read_stamps(self.gen / STAMPS) if self.gen else FileStamps()
        return self._file_stamps

    def dirs(self) -> set[str]:
        """The host folders the current tree uses."""
        return {folder for _key, folder in self.keys.values()}


def read_manifest(out: Path) -> dict[str, object] | None:
    raw = fs.read(out / CURRENT / MANIFEST)
    return manifest.decode(raw) if raw is not None else None


def read_state(out: Path) -> TreeState:
    """The current generation's manifest and keys (empty when there is none or it is not one
    this version wrote: the render then starts afresh)."""
    st = TreeState()
    gen = current_gen(out)
    if gen is None:
        return st
    st.gen = gen
    st.folders = _real_folders(out / HOSTS_DIR)
    raw = fs.read(st.gen / MANIFEST)
    keys = fs.read_json(st.gen / KEYS)
    hosts = keys.get("hosts") if keys else None
    sk = keys.get("site_key") if keys else None
    st.site_key = sk if isinstance(sk, str) else None
    if (
        raw is not None
        and keys
        and isinstance(hosts, dict)
        and keys.get("manifest") == sha256(raw)
        and raw.isascii()
    ):
        # byte for byte the manifest render wrote: split by host, parsed as needed
        st.manifest_text = raw.decode("ascii")
        st.blocks = manifest.host_blocks(st.manifest_text, hosts)
    if st.blocks is None:
        st._files = manifest.files_of(manifest.decode(raw) if raw is not None else None)
    if isinstance(hosts, dict):
        for h, v in hosts.items():
            # A folder name that is not one plain "<host>@<digest>" entry of .hosts could make
            # the new generation link (or hard-link from) outside the output folder.
            if (
                isinstance(v, dict)
                and isinstance(v.get("dir"), str)
                and own_folder(st.folders, h, v["dir"])
            ):
                k = v.get("key")
                st.keys[h] = (k if isinstance(k, str) else None, v["dir"])
                fp = v.get("fp")
                if isinstance(fp, str):
                    st.fps[h] = fp
                dns = v.get("dns")
                if (
                    isinstance(dns, list)
                    and len(dns) == 2
                    and isinstance(dns[0], str)
                    and isinstance(dns[1], list)
                    and all(isinstance(p, str) for p in dns[1])
                ):
                    st.dns[h] = (dns[0], dns[1])
                stamp = v.get("stamp")
                if isinstance(stamp, int) and not isinstance(stamp, bool):
                    st.stamps[h] = stamp
    return st


def current_gen(out: Path) -> Path | None:
    """The generation ``DIR/current`` names, when it is one render made: a plain folder
    named .gen-*. A generation that is a symlink was not made by render (it could lead
    anywhere): its manifest and keys are not trusted, the render starts afresh."""
    cur = out / CURRENT
    if not cur.is_symlink():
        return None
    target = os.readlink(cur)
    gen = out / target
    if not target.startswith(GEN_PREFIX) or "/" in target or not gen.is_dir() or gen.is_symlink():
        return None
    return gen


def read_site_key(out: Path) -> str | None:
    """The site key the current tree was rendered with (its keys only; no manifest)."""
    gen = current_gen(out)
    keys = fs.read_json(gen / KEYS) if gen is not None else None
    sk = keys.get("site_key") if keys else None
    return sk if isinstance(sk, str) else None


def _real_folders(hdir: Path) -> set[str]:
    """The names of the real folders (not symlinks) in .hosts: one listing, not a stat per
    host (7,000 stats were a tenth of a one-rack render)."""
    if hdir.is_symlink():
        return set()
    with contextlib.suppress(OSError), os.scandir(hdir) as it:
        return {de.name for de in it if de.is_dir(follow_symlinks=False)}
    return set()
