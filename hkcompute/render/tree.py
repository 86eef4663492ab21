"""Write a rendered tree atomically and incrementally, one immutable folder per host.

Layout of an output folder::

    DIR/current -> .gen-a | .gen-b        (one symlink: the only thing a render swaps)
    DIR/hosts -> current/hosts
    DIR/manifest.json -> current/manifest.json
    DIR/.gen-X/manifest.json              (every file: sha256 and mode)
    DIR/.gen-X/keys.json                  (per host: its render key and its folder)
    DIR/.gen-X/hosts/<host> -> ../../.hosts/<host>@<digest>
    DIR/.hosts/<host>@<digest>/<path on host>

A host's folder is named after the digest of its files (paths, hashes, modes) and is never
changed once made: a render makes folders only for hosts whose files changed (under a
temporary name, renamed when complete; files that did not change are hard-linked from the
previous folder, so their inode and mtime survive, and identical files on many hosts share
one inode). There are two generations, used in turn: the render brings the one that is not
current up to date (it holds the tree of the render before last, so only the links of hosts
changed since then are replaced, and its manifest and keys are removed first and written
last), then renames one symlink over ``current``. The current generation and every host
folder it points at are never touched. A render killed at any moment therefore leaves
either the old tree or the new one, never a mix. Host folders neither generation uses any
more, and leftovers of interrupted renders, are removed after the swap (or by the next
render).

A one-rack change thus touches a few host folders and a few links, not every file or link
of the site (a full generation of symlinks per render cost seconds on a busy disk).
``keys.json`` lets the caller skip rendering a host whose inputs (context, templates,
generator) hash to the key recorded with the current tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hkcompute import atomic
from hkcompute.errors import InputError, RenderError
from hkcompute.outpaths import prepare_out_dir

_encode_str = json.encoder.encode_basestring_ascii

MANIFEST = "manifest.json"
KEYS = "keys.json"
STAMPS = "stamps.json"
SLOT_FILES = ("hosts", MANIFEST, KEYS, STAMPS)  # all a generation's folder holds
# A file whose change time is this close to when its stamp was taken is not trusted by
# --check (it could have been changed again within the same tick of the kernel's clock,
# which has 1-10 ms granularity; 250 ms is 25 of the coarsest ticks): it is read, as git
# does with its "racily clean" files.
RACY_NS = 250_000_000
CURRENT = "current"
GEN_PREFIX = ".gen-"
SLOTS = (".gen-a", ".gen-b")  # the two generations, used in turn
HOSTS_DIR = ".hosts"

Entry = dict[str, str]  # {"sha256": ..., "mode": "0644"}


@dataclass(frozen=True, slots=True)
class RenderedFile:
    host: str
    path: str  # absolute path on the host, e.g. /etc/frr/frr.conf
    content: bytes
    mode: int = 0o644

    @property
    def rel(self) -> str:
        return f"hosts/{self.host}{self.path}"


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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_rel(host: str, path: str) -> str:
    """The file's place below the output folder; refuses anything that could escape it."""
    if not host or host in (".", "..") or "/" in host or "\\" in host or "\x00" in host:
        raise RenderError(f"unsafe host name {host!r}")
    if "\x00" in path or not path.startswith("/"):
        raise RenderError(f"{host}: unsafe file path {path!r} (must be absolute, no '..')")
    if "/." in path or "//" in path or path.endswith("/"):
        # the rare path that needs a closer look; the common one is plain
        p = PurePosixPath(path)
        if any(part in ("..", ".") for part in p.parts) or not p.is_absolute() or \
                str(p) in ("/", ""):
            raise RenderError(f"{host}: unsafe file path {path!r} (must be absolute, no '..')")
        path = str(p)
    return f"hosts/{host}{path}"


class Hasher:
    """sha256 of file contents, once per bytes object: a file rendered once and shared by
    thousands of hosts (slurm.conf, topology.conf: megabytes on a full site) is one object,
    hashed once rather than once per host (that was a third of a full render)."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[bytes, str]] = {}

    def __call__(self, data: bytes) -> str:
        if len(data) < 4096:
            return sha256(data)
        got = self._memo.get(id(data))
        if got is not None and got[0] is data:
            return got[1]
        digest = sha256(data)
        self._memo[id(data)] = (data, digest)  # the reference keeps the id unique
        return digest


def entry_of(f: RenderedFile, hasher: Hasher | None = None) -> Entry:
    digest = hasher(f.content) if hasher is not None else sha256(f.content)
    return {"sha256": digest, "mode": f"{f.mode:04o}"}


def manifest_doc(files: Iterable[RenderedFile], meta: Mapping[str, object]) -> dict[str, object]:
    entries = {safe_rel(f.host, f.path): entry_of(f) for f in files}
    return {**dict(meta), "files": dict(sorted(entries.items()))}


def _manifest_bytes(doc: Mapping[str, object], files_text: str | None = None) -> bytes:
    """``json.dumps(doc, indent=1, sort_keys=True) + "\\n"``, byte for byte, but with the
    ``files`` table written directly: with ``indent`` set, ``json`` uses its pure-Python
    encoder, about 3 s for a full site's 62,000 entries. ``files_text``, when given, is that
    table's text already made (``_spliced_files``)."""
    files = doc.get("files")
    if not isinstance(files, dict):
        return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    enc = _encode_str
    parts = []
    for k in sorted(doc):
        if k == "files":
            value = files_text if files_text is not None else _rows_text(sorted(files), files)
            if value is None:
                return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
        else:
            value = json.dumps(doc[k], indent=1, sort_keys=True).replace("\n", "\n ")
        parts.append(f" {enc(k)}: {value}")
    text = "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"
    return (text + "\n").encode()


def _rows(rels: Iterable[str], files: Mapping[str, object]) -> list[str] | None:
    """The manifest's rows for these entries, in this order (None: not render's entries)."""
    enc = _encode_str
    rows = []
    for rel in rels:
        e = files[rel]
        if type(e) is not dict:
            return None
        mode, digest = e.get("mode"), e.get("sha256")
        if len(e) == 2 and type(mode) is str and type(digest) is str:
            # every entry render makes: one format, no inner sort or join
            rows.append(f'  {enc(rel)}: {{\n   "mode": {enc(mode)},\n'
                        f'   "sha256": {enc(digest)}\n  }}')
        elif not all(type(v) is str for v in e.values()):
            return None
        elif e:
            inner = ",\n".join(f"   {enc(f)}: {enc(e[f])}" for f in sorted(e))
            rows.append(f"  {enc(rel)}: {{\n{inner}\n  }}")
        else:
            rows.append(f"  {enc(rel)}: {{}}")
    return rows


def _rows_text(rels: list[str], files: Mapping[str, object]) -> str | None:
    rows = _rows(rels, files)
    return None if rows is None else _table(rows)


def _table(rows: list[str]) -> str:
    """The manifest's files table around its rows (or runs of rows)."""
    return "{\n" + ",\n".join(rows) + "\n }" if rows else "{}"


def _spliced_files(state: TreeState,
                   order: list[tuple[str, Mapping[str, Entry] | None]]) -> str | None:
    """The manifest's files table, with the rows of every host reused from the current tree
    copied as text from its manifest (``state.blocks``: verified to be what render wrote)
    and only the rows of hosts rendered now formatted. None without blocks."""
    blocks = state.blocks
    if blocks is None:
        return None
    out = []
    for host, entries in sorted(order, key=lambda x: f"hosts/{x[0]}/"):
        block = blocks.get(host) if entries is None else None  # reused: as written
        if block is None:
            if not entries:
                continue  # a host with no files
            rows = _rows(sorted(entries), entries)
            if rows is None:
                return None
            block = ",\n".join(rows)
        out.append(block)
    return _table(out)


def _json(path: Path) -> dict[str, object] | None:
    raw = _read(path)
    return _loads(raw) if raw is not None else None


def _loads(raw: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def read_manifest(out: Path) -> dict[str, object] | None:
    return _json(out / CURRENT / MANIFEST)


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
            files = None
            if self.manifest_text is not None:  # one parse of the whole text
                doc = _loads(self.manifest_text.encode("ascii"))
                files = doc.get("files") if doc else None
            self._files = files if isinstance(files, dict) else {}
        return self._files

    @property
    def by_host(self) -> dict[str, dict[str, Entry]]:
        if self._by_host is None:
            self._by_host = _group_by_host(self.files)
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
        if block is None:
            return {}
        got = json.loads("{" + block + "}")
        return got if isinstance(got, dict) else {}

    def host_count(self, host: str) -> int:
        """How many files the host has in the current tree (without parsing them)."""
        if self._by_host is not None or self.blocks is None:
            return len(self.by_host.get(host, ()))
        block = self.blocks.get(host)
        return 0 if block is None else block.count(_ROW) + 1

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
            e = entries.get(f"hosts/{host}{path}")
            if e is None or "/.." in path or not path.startswith("/"):
                return None
            try:
                if os.path.islink(base + path):
                    return None
                with open(base + path, "rb") as fh:
                    data = fh.read()
            except OSError:
                return None
            if sha256(data) != e.get("sha256") or not _is_mode(e.get("mode")):
                return None
            out.append(RenderedFile(host, path, data, int(e["mode"], 8)))
        return out

    def file_stamps(self) -> FileStamps:
        """The stat stamps of the current generation's files (read on first use)."""
        if self._file_stamps is None:
            self._file_stamps = read_stamps(self.gen / STAMPS) if self.gen else FileStamps()
        return self._file_stamps


def _is_mode(mode: object) -> bool:
    return isinstance(mode, str) and len(mode) == 4 and all(c in "01234567" for c in mode)


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
    doc = _json(path)
    if doc is None or doc.get("format") != STAMPS_FORMAT:
        return FileStamps()  # none, or an older layout: --check reads the files once
    hosts, inodes, pending = doc.get("hosts"), doc.get("inodes"), doc.get("pending", {})
    if not isinstance(hosts, dict) or not isinstance(inodes, dict) \
            or not isinstance(pending, dict):
        return FileStamps()
    return FileStamps({h: v for h, v in hosts.items() if isinstance(v, dict)}, inodes,
                      {k: v for k, v in pending.items() if isinstance(v, list) and len(v) == 3
                       and all(isinstance(x, str) for x in v)})


def _verified_stat(path: str, sha: str, mode: str,
                   memo: dict[tuple[int, int, str], str] | None = None) -> os.stat_result | None:
    """The file's ``lstat``, when it is a plain file with this mode whose content hashes to
    ``sha`` (read once, the stat taken before: a change while reading moves its ctime past
    the stat, so the stamp will not vouch for it). ``memo`` keeps each inode's digest for
    the files many hosts share (keyed with its ctime, so a change in between reads again)."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or _mode_of(st) != mode:
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


def _mode_of(st: os.stat_result) -> str:
    """A file's permission bits as the manifest writes them ("0644")."""
    return f"{st.st_mode & 0o7777:04o}"


def _stamp_of(st: os.stat_result) -> Stamp:
    return [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def read_state(out: Path) -> TreeState:
    """The current generation's manifest and keys (empty when there is none or it is not one
    this version wrote: the render then starts afresh)."""
    st = TreeState()
    gen = _current_gen(out)
    if gen is None:
        return st
    st.gen = gen
    st.folders = _real_folders(out / HOSTS_DIR)
    raw = _read(st.gen / MANIFEST)
    keys = _json(st.gen / KEYS)
    hosts = keys.get("hosts") if keys else None
    sk = keys.get("site_key") if keys else None
    st.site_key = sk if isinstance(sk, str) else None
    if (raw is not None and keys and isinstance(hosts, dict)
            and keys.get("manifest") == sha256(raw) and raw.isascii()):
        # byte for byte the manifest render wrote: split by host, parsed as needed
        st.manifest_text = raw.decode("ascii")
        st.blocks = _host_blocks(st.manifest_text, hosts)
    if st.blocks is None:
        man = _loads(raw) if raw is not None else None
        files = man.get("files") if man else None
        st._files = files if isinstance(files, dict) else {}
    if isinstance(hosts, dict):
        for h, v in hosts.items():
            # A folder name that is not one plain "<host>@<digest>" entry of .hosts could make
            # the new generation link (or hard-link from) outside the output folder.
            if (isinstance(v, dict) and isinstance(v.get("dir"), str)
                    and _own_folder(st.folders, h, v["dir"])):
                k = v.get("key")
                st.keys[h] = (k if isinstance(k, str) else None, v["dir"])
                fp = v.get("fp")
                if isinstance(fp, str):
                    st.fps[h] = fp
                dns = v.get("dns")
                if (isinstance(dns, list) and len(dns) == 2 and isinstance(dns[0], str)
                        and isinstance(dns[1], list)
                        and all(isinstance(p, str) for p in dns[1])):
                    st.dns[h] = (dns[0], dns[1])
                stamp = v.get("stamp")
                if isinstance(stamp, int) and not isinstance(stamp, bool):
                    st.stamps[h] = stamp
    return st


def _group_by_host(files: Mapping[str, Entry]) -> dict[str, dict[str, Entry]]:
    by_host: dict[str, dict[str, Entry]] = {}
    cur, bucket = None, {}
    for rel, e in files.items():  # sorted: a host's files are one run
        cut = rel.find("/", 6)
        host = rel[6:cut] if cut > 6 and rel.startswith("hosts/") else _host_of(rel)
        if host != cur:
            cur = host
            bucket = by_host.setdefault(host, {})
        bucket[rel] = e
    return by_host


_ROW = '\n  "hosts/'  # how every row of the manifest's files table but the first starts
_FILES_OPEN = '\n "files": {\n'


def _is_sha256(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def _host_blocks(text: str, hosts: Iterable[str]) -> dict[str, str] | None:
    """Each host's run of rows in a manifest render wrote (``hosts``: those in keys.json),
    as text; None when the text is not laid out as render lays it out (the caller then
    parses the whole manifest). Rows sort by path, so a host's rows are one run and runs
    sort by "hosts/<host>/" (host names hold no "/")."""
    enc = _encode_str
    start = text.find(_FILES_OPEN)
    if start < 0:
        return {} if '\n "files": {}' in text else None
    pos = start + len(_FILES_OPEN) - 1  # at the newline before the first row
    end = text.find("\n }", pos)
    if end < 0:
        return None
    found: list[tuple[str, str, int]] = []  # host, how its rows start, where the first is
    for h in sorted(hosts, key=lambda h: f"hosts/{h}/"):
        row = f"\n  {enc(f'hosts/{h}/')[:-1]}"
        at = text.find(row, pos, end)
        if at < 0:
            continue  # a host with no files
        found.append((h, row, at + 1))
        pos = at + 1
    blocks: dict[str, str] = {}
    for i, (h, row, at) in enumerate(found):
        stop = found[i + 1][2] - 2 if i + 1 < len(found) else end
        if i + 1 < len(found) and text[stop:stop + 2] != ",\n":
            return None
        block = text[at:stop]
        # every row is this host's: nothing in between was left out of keys.json
        if block.count(_ROW) != block.count(row):
            return None
        blocks[h] = block
    first = found[0][2] if found else end
    if first != start + len(_FILES_OPEN):
        return None  # rows before the first host's
    return blocks


def _host_of(rel: str) -> str:
    """The host of a manifest entry that is not "hosts/<host>/<path>" (a tree that render
    did not write): its second part, else the whole; it then matches no host and is redone."""
    parts = rel.split("/", 2)
    return parts[1] if len(parts) > 1 else rel


def _current_gen(out: Path) -> Path | None:
    """The generation ``DIR/current`` names, when it is one render made: a plain folder
    named .gen-*. A generation that is a symlink was not made by render (it could lead
    anywhere): its manifest and keys are not trusted, the render starts afresh."""
    cur = out / CURRENT
    if not cur.is_symlink():
        return None
    target = os.readlink(cur)
    gen = out / target
    if not target.startswith(GEN_PREFIX) or "/" in target or not gen.is_dir() \
            or gen.is_symlink():
        return None
    return gen


def read_site_key(out: Path) -> str | None:
    """The site key the current tree was rendered with (its keys only; no manifest)."""
    gen = _current_gen(out)
    keys = _json(gen / KEYS) if gen is not None else None
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


def _own_folder(folders: set[str], host: str, folder: str) -> bool:
    """``folder`` is a host folder render made: one name, inside .hosts, a real folder."""
    if "/" in folder or "\x00" in folder or not folder.startswith(f"{host}@"):
        return False
    return folder in folders


def _prepare_out(out: Path) -> None:
    prepare_out_dir(out)
    for name in ("hosts", MANIFEST, CURRENT):
        p = out / name
        if (p.exists() or p.is_symlink()) and not p.is_symlink():
            raise InputError(f"{p} exists and is not a link made by hkcompute render; "
                             "render into an empty folder or one made by render")
    hdir = out / HOSTS_DIR
    if hdir.is_symlink():  # host folders are written below it: it must not lead elsewhere
        raise InputError(f"{hdir} is a symlink, not a folder made by hkcompute render; "
                         "remove it and render again")


def _host_digest(entries: Mapping[str, Entry]) -> str:
    h = hashlib.sha256()
    for rel in sorted(entries):
        e = entries[rel]
        h.update(f"{rel}\0{e['sha256']}\0{e['mode']}\n".encode())
    return h.hexdigest()[:16]


def write_tree(out: Path, files: list[RenderedFile], meta: Mapping[str, object]) -> WriteResult:
    """Make ``out`` hold exactly ``files``; atomic and incremental (see the module doc)."""
    by_host: dict[str, list[RenderedFile]] = {}
    for f in files:
        by_host.setdefault(f.host, []).append(f)
    return write_hosts(out, (HostOutput(h, None, fs) for h, fs in by_host.items()), meta)


class _Writer:
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
                return self.by_sha  # found one by one in the manifest's text (``source``)
            for host, (_k, folder) in self.state.keys.items():
                base = f"{self.hdir}/{folder}"
                cut = len(host) + 6  # "hosts/<host>"
                for rel, e in self.state.host_entries(host).items():
                    self.by_sha.setdefault((e["sha256"], e["mode"]), base + rel[cut:])
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
        if (stat.S_ISREG(st.st_mode) and rest == _stamp_of(st)[1:]
                and _mode_of(st) == k[1]):
            return True
        return _verified_stat(path, k[0], k[1]) is not None

    def _lookup(self, k: tuple[str, str]) -> str | None:
        known = self._known()
        if k in known or self.state.blocks is None or self.state.manifest_text is None:
            return known.get(k)
        # Parsing the whole manifest to index it was a fifth of a one-rack render; a render
        # that writes a few hosts looks up a few dozen contents in its text instead.
        text = self.state.manifest_text
        sha, mode = k
        needle = f'"sha256": "{sha}"'
        before = f'"mode": "{mode}",\n   '
        pos = text.find(needle) if _is_sha256(sha) and mode.isdigit() else -1
        found = None
        while pos >= 0 and found is None:
            if text.startswith(before, pos - len(before)):
                row = text.rfind('\n  "', 0, pos) + 4  # past the quote
                rel = text[row:text.find('": {', row)]
                cut = rel.find("/", 6)
                folder = self.state.keys.get(rel[6:cut]) if cut > 6 else None
                if folder is not None and "\\" not in rel:
                    found = f"{self.hdir}/{folder[1]}{rel[cut:]}"
            pos = text.find(needle, pos + 1)
        known[k] = found  # a miss is remembered too
        return found

    def host_folder(self, host: str, files: list[RenderedFile],
                    entries: dict[str, Entry], res: WriteResult) -> str:
        """Make (or find) the host's folder for these files; returns its name."""
        folder = f"{host}@{_host_digest(entries)}"
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
            if _folder_holds(final, entries, len(host) + 6):
                return folder
            _discard(final)
        res.hosts_written += 1
        tmp = self.hdir / (folder + self.tag)
        if tmp.exists():
            shutil.rmtree(tmp)
        cut = len(host) + 6
        # Every folder the files need, made parents first with one mkdir each: tmp is new,
        # so none exists (os.makedirs per file, with its checks, was a sixth of a full render).
        for d in sorted(_folders_of(str(tmp), cut, entries)):  # parents sort first
            os.mkdir(d)
        for f in files:
            rel = safe_rel(f.host, f.path)
            e = entries[rel]
            dst = f"{tmp}{rel[cut:]}"
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
            self.fresh[k] = f"{final}{rel[cut:]}"
        os.rename(tmp, final)
        return folder


def _folder_holds(folder: Path, entries: Mapping[str, Entry], cut: int) -> bool:
    """``folder`` holds exactly these files (content and mode), and no links."""
    found: dict[str, tuple[str, int | None]] = {}
    _walk_files(str(folder), "", found)
    if set(found) != {rel[cut:] for rel in entries}:
        return False
    for rel, e in entries.items():
        path = found[rel[cut:]][0]
        if os.path.islink(path) or _digest(path) != (e["sha256"], e["mode"]):
            return False
    return True


def write_hosts(out: Path, hosts: Iterable[HostOutput], meta: Mapping[str, object],
                state: TreeState | None = None, site_key: str | None = None) -> WriteResult:
    """The writer behind ``write_tree``: hosts arrive one by one (rendered ones are written
    as they come, so a full site never sits in memory). ``state`` is ``read_state(out)``
    when the caller has it already (the hosts it reuses must come from it)."""
    _prepare_out(out)
    with _render_lock(out):
        return _write_hosts(out, hosts, meta, state, site_key)


RENDER_LOCK = ".render.lock"


@contextlib.contextmanager
def _render_lock(out: Path) -> Iterator[None]:
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
            raise RenderError(f"another render is writing {out}; run again when it has "
                              "finished") from None
        yield
    finally:
        os.close(fd)


def _write_hosts(out: Path, hosts: Iterable[HostOutput], meta: Mapping[str, object],
                 state: TreeState | None, site_key: str | None) -> WriteResult:
    if state is None:
        state = read_state(out)
    if state.gen is not None and not state.keys and state.files:
        state = TreeState()  # a tree of an older layout: write everything afresh
    res = WriteResult(out)
    w = _Writer(out, state)
    all_entries: dict[str, Entry] = {}
    keys: dict[str, dict[str, object]] = {}
    made: list[tuple[str, str, Mapping[str, Entry]]] = []  # host, folder, its entries
    order: list[tuple[str, Mapping[str, Entry] | None]] = []  # None: the current tree's
    hasher = Hasher()
    try:
        w.hdir.mkdir(exist_ok=True)
        for ho in hosts:
            entries: Mapping[str, Entry] | None
            if ho.files is None:
                assert ho.folder is not None
                entries = None
                folder = ho.folder
                res.unchanged += state.host_count(ho.host)
                stamp = state.stamps.get(ho.host)
            else:
                entries = {safe_rel(f.host, f.path): entry_of(f, hasher) for f in ho.files}
                folder = w.host_folder(ho.host, ho.files, entries, res)
                stamp = folder_stamp(f"{w.hdir}/{folder}", len(ho.host) + 6, entries)
                made.append((ho.host, folder, entries))
            order.append((ho.host, entries))
            keys[ho.host] = {"key": ho.key, "dir": folder, "stamp": stamp}
            if ho.fp is not None:
                keys[ho.host]["fp"] = ho.fp
            if ho.dns is not None:
                keys[ho.host]["dns"] = [ho.dns[0], ho.dns[1]]
        spliced = _spliced_files(state, order)
        if spliced is None:  # every entry, for _manifest_bytes to sort and format
            for host, entries in order:
                all_entries.update(state.host_entries(host) if entries is None else entries)
        doc = {**dict(meta), "files": all_entries}
        mbytes = _manifest_bytes(doc, spliced)
        kbytes = (json.dumps({"hosts": keys, "site_key": site_key, "manifest": sha256(mbytes)},
                             sort_keys=True, separators=(",", ":")) + "\n").encode()
        res.removed = _removed(state, order)
        cur = state.gen
        if (cur is not None and _read(cur / MANIFEST) == mbytes
                and _read(cur / KEYS) == kbytes):
            res.generation = cur.name
            _cleanup(out, keep=cur.name, folders=set(keys_dirs(keys)) | _dirs(state),
                     other=_other_slot(cur.name))
            res.written.sort()
            return res
        # The slot to update is whichever ``current`` does not name, whatever state says (a
        # state reset for an unreadable tree must not lead to rewriting the live slot).
        live = os.readlink(out / CURRENT) if (out / CURRENT).is_symlink() else None
        gen_name = _other_slot(live)
        res.generation = gen_name
        sbytes = _stamps_bytes(w.hdir, keys, made, state)
        _update_slot(out / gen_name, keys, mbytes, kbytes, sbytes, w.tag)
        _fsync_dir(w.hdir)
        _fsync_dir(out)
        _swap_link(out, CURRENT, gen_name)
        for name, target in (("hosts", f"{CURRENT}/hosts"), (MANIFEST, f"{CURRENT}/{MANIFEST}")):
            if not (out / name).is_symlink() or os.readlink(out / name) != target:
                _swap_link(out, name, target)
        _fsync_dir(out)
    except OSError as exc:
        _cleanup_tmp(out, w.tag)
        raise RenderError(f"writing {out} failed ({exc.strerror or exc}); the previous tree "
                          "is untouched") from exc
    # The generation just left keeps its host folders: it is the next render's starting point.
    _cleanup(out, keep=gen_name, folders=set(keys_dirs(keys)) | _dirs(state),
             other=state.gen.name if state.gen is not None else None)
    other = out / _other_slot(gen_name)
    if not other.exists() and not other.is_symlink():
        _prime_slot(other, keys)
    res.written.sort()
    return res


def _removed(state: TreeState,
             order: list[tuple[str, Mapping[str, Entry] | None]]) -> list[str]:
    """Files of the current tree that the new one does not have: those of hosts gone, and
    those a host rendered now no longer has (hosts reused keep all theirs)."""
    now = dict(order)
    out: list[str] = []
    for host in state.hosts():
        if host not in now:  # gone
            out.extend(state.host_entries(host))
        elif (new := now[host]) is not None:  # rendered now
            out.extend(rel for rel in state.host_entries(host) if rel not in new)
    return sorted(out)


def _other_slot(name: str | None) -> str:
    """The generation a render updates when ``name`` is current (the first when none is)."""
    return SLOTS[1] if name == SLOTS[0] else SLOTS[0]


LINK_PREFIX = f"../../{HOSTS_DIR}/"  # a generation's hosts/<host> -> LINK_PREFIX<folder>


def _prime_slot(slot: Path, keys: Mapping[str, Mapping[str, object]]) -> None:
    """Give the other generation the links just made (no manifest or keys: it is not a
    complete generation and never current as such), so that the next render, typically a
    small change after a first full one, replaces a few links instead of making them all.
    Best effort: whatever a failure leaves is put right by the next render's update."""
    try:
        (slot / "hosts").mkdir(parents=True)
        for host, v in keys.items():
            os.symlink(f"{LINK_PREFIX}{v['dir']}", slot / "hosts" / host)
    except OSError:
        pass


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _dirs(state: TreeState) -> set[str]:
    return {folder for _key, folder in state.keys.values()}


def _stamps_bytes(hdir: Path, keys: Mapping[str, Mapping[str, object]],
                  made: list[tuple[str, str, Mapping[str, Entry]]], state: TreeState) -> bytes:
    """The new generation's file stamps, taken once every link of this render is made (a
    new hard link changes the change time of the file it links to). Files of hosts made now
    hold what render wrote or linked (link sources are verified first, ``_Writer.source``)
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
        cut = len(host) + 6
        for rel, e in entries.items():
            suffix = rel[cut:]
            try:
                st = os.lstat(f"{hdir}/{folder}{suffix}")
            except OSError:
                continue
            ino = str(st.st_ino)
            mine[suffix] = st.st_ino
            if st.st_ctime_ns < at - RACY_NS:
                inodes[ino] = _stamp_of(st)[1:]
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
        cut = len(host) + 6
        mine = dict(old or {})
        for rel, e in state.host_entries(host).items():
            suffix = rel[cut:]
            if suffix in mine:
                continue
            seen = _verified_stat(f"{hdir}/{kv['dir']}{suffix}", e["sha256"], e["mode"],
                                  read)
            if seen is not None and seen.st_ctime_ns < at - RACY_NS:
                mine[suffix] = seen.st_ino
                inodes[str(seen.st_ino)] = _stamp_of(seen)[1:]
        hosts[host] = mine
    used: set[int] = set()
    for m in hosts.values():
        used.update(m.values())
    for ino, (path, sha, mode) in prev.pending.items():
        if ino in inodes or ino in pending or not ino.isdigit() or int(ino) not in used \
                or "/." in path or path.startswith("/"):
            continue
        seen = _verified_stat(f"{hdir}/{path}", sha, mode)
        if seen is not None and str(seen.st_ino) == ino:
            if seen.st_ctime_ns < at - RACY_NS:
                inodes[ino] = _stamp_of(seen)[1:]
            else:
                pending[ino] = [path, sha, mode]  # still too new: next time
    inodes = {k: v for k, v in inodes.items() if k.isdigit() and int(k) in used}
    return (json.dumps({"format": STAMPS_FORMAT, "at": at, "hosts": hosts, "inodes": inodes,
                        "pending": pending}, separators=(",", ":")) + "\n").encode()


def _update_slot(slot: Path, keys: Mapping[str, Mapping[str, object]], mbytes: bytes,
                 kbytes: bytes, sbytes: bytes, tag: str) -> None:
    """Make the generation ``slot`` (not the current one) hold exactly ``keys``' links and
    these manifest and keys. Its manifest and keys go first, so a slot killed midway never
    looks complete; only links that differ are replaced (each by a rename)."""
    if slot.is_symlink() or (slot.exists() and not slot.is_dir()):
        slot.unlink()  # not made by render: never write through it
    hosts = slot / "hosts"
    if hosts.is_symlink() or (hosts.exists() and not hosts.is_dir()):
        hosts.unlink()
    hosts.mkdir(parents=True, exist_ok=True)
    for name in (KEYS, MANIFEST, STAMPS):
        with contextlib.suppress(FileNotFoundError):
            (slot / name).unlink()
    _fsync_dir(slot)
    have: dict[str, str | None] = {}
    with os.scandir(hosts) as it:
        for de in it:
            have[de.name] = os.readlink(de.path) if de.is_symlink() else None
    for host, v in keys.items():
        want = f"{LINK_PREFIX}{v['dir']}"
        if host not in have:
            os.symlink(want, hosts / host)  # nothing there to replace
            continue
        if have.pop(host) == want:
            continue
        tmp = hosts / f".{host}{tag}"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(want, tmp)
        if (hosts / host).is_dir() and not (hosts / host).is_symlink():
            shutil.rmtree(hosts / host)
        os.replace(tmp, hosts / host)
    for name in have:  # hosts that are gone, and anything else that is not ours
        _remove(hosts / name)
    _fsync_dir(hosts)
    for name, data in ((MANIFEST, mbytes), (STAMPS, sbytes), (KEYS, kbytes)):
        atomic.write_bytes(slot / name, data)
    _fsync_dir(slot)


def keys_dirs(keys: Mapping[str, Mapping[str, object]]) -> Iterator[str]:
    for v in keys.values():
        d = v.get("dir")
        if isinstance(d, str) and d:
            yield d


def folder_stamp(root: str, cut: int, rels: Iterable[str]) -> int | None:
    """The latest change time (ctime, ns) of the folders of a host's files: the kernel sets
    a folder's ctime whenever an entry is made, removed or renamed in it, and nobody can set
    it back. Recorded when render makes the host's folder; the same stamp at --check time
    means no file was added to or removed from it since (contents are hashed anyway).
    None when a folder is missing."""
    try:
        return max(os.lstat(d).st_ctime_ns for d in _folders_of(root, cut, rels))
    except OSError:
        return None


def _folders_of(root: str, cut: int, rels: Iterable[str]) -> set[str]:
    """``root`` and every folder below it that holds one of the host's files (``rel[cut:]``
    is a file's path on the host)."""
    dirs = {root}
    for rel in rels:
        d = rel[cut:].rsplit("/", 1)[0]
        while d and f"{root}{d}" not in dirs:
            dirs.add(f"{root}{d}")
            d = d.rsplit("/", 1)[0]
    return dirs


def _swap_link(out: Path, name: str, target: str) -> None:
    tmp = out / f".{name}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, out / name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            p.unlink()


def _cleanup_tmp(out: Path, tag: str) -> None:
    for parent in (out, out / HOSTS_DIR):
        with contextlib.suppress(OSError):
            for p in parent.iterdir():
                if p.name.endswith(tag):
                    _remove(p)


def _cleanup(out: Path, keep: str, folders: set[str], other: str | None = None) -> None:
    """Remove generations other than the kept two (older layouts), host folders neither uses,
    and leftovers of interrupted renders (in the output folder, .hosts and the slots)."""
    for p in out.iterdir():
        name = p.name
        if name in (keep, other) and name in SLOTS:
            continue
        if name.startswith(GEN_PREFIX) or (name.startswith(".") and ".tmp-" in name):
            _remove(p)
    for slot in SLOTS:
        for folder in (out / slot, out / slot / "hosts"):
            if not folder.is_dir() or folder.is_symlink():
                break
            with contextlib.suppress(OSError), os.scandir(folder) as it:
                for de in it:
                    # leftovers of a killed update: a temporary file beside the slot's own
                    # four, a temporary link ".<host>.tmp-<pid>" among the hosts' links
                    stray = (de.name not in SLOT_FILES if folder.name != "hosts"
                             else de.name.startswith(".") and ".tmp-" in de.name)
                    if stray:
                        _remove(Path(de.path))
    hdir = out / HOSTS_DIR
    with contextlib.suppress(OSError), os.scandir(hdir) as it:
        for de in it:
            if de.name not in folders:
                _discard(Path(de.path))


def _discard(p: Path) -> None:
    """Remove a host folder so that a half-removed one never keeps its name: folders are
    reused by name, and rmtree killed midway would leave a folder missing files that the next
    render would take as complete. Renaming it away first is atomic."""
    if p.is_dir() and not p.is_symlink() and not p.name.endswith(_DISCARDED):
        trash = p.with_name(f"{p.name}.tmp-{os.getpid()}{_DISCARDED}")
        try:
            os.rename(p, trash)
            p = trash
        except OSError:
            pass
    _remove(p)


_DISCARDED = "-discarded"


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


def _walk_files(top: str, rel: str, found: dict[str, tuple[str, int | None]]) -> None:
    """Every non-directory below ``top`` (symlinks included, not followed), with its inode."""
    with contextlib.suppress(OSError), os.scandir(top) as it:
        for de in it:
            r = f"{rel}/{de.name}"
            if de.is_dir(follow_symlinks=False):
                _walk_files(de.path, r, found)
            else:
                found[r] = (de.path, de.inode())


def check_entries(out: Path, wanted: Mapping[str, Entry],
                  stamps: Mapping[str, int] | None = None,
                  recorded: Mapping[str, Entry] | None = None,
                  files: FileStamps | None = None) -> CheckResult:
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
    hosts = out / "hosts"
    by_host: dict[str, list[str]] = {}
    for rel in wanted:
        by_host.setdefault(rel.split("/", 2)[1], []).append(rel)
    found: dict[str, tuple[str, int | None]] = {}
    if hosts.is_dir():
        with os.scandir(hosts) as it:
            for de in it:
                r = f"hosts/{de.name}"
                if not de.is_dir():
                    found[r] = (de.path, de.inode())
                    continue
                stamp = stamps.get(de.name) if stamps is not None else None
                rels = by_host.get(de.name)
                if stamp is not None and rels:
                    real = _host_folder_path(out, de.path)
                    if folder_stamp(real, len(r), rels) == stamp:
                        for rel in rels:
                            found[rel] = (real + rel[len(r):], None)
                        continue
                _walk_files(de.path, r, found)
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
            have = _digest(path)
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
    folder = target[len(LINK_PREFIX):]
    if target.startswith(LINK_PREFIX) and folder not in ("", ".", "..") and "/" not in folder:
        return f"{out}/{HOSTS_DIR}/{folder}"
    return os.path.realpath(link)


def _stamped(rel: str, path: str, files: FileStamps,
             recorded: Mapping[str, Entry]) -> tuple[str, str] | None:
    """(sha256, mode) of the file at ``path`` from its stamp and the recorded manifest, or
    None when the stamp does not vouch for it (then it is read)."""
    cut = rel.find("/", 6)  # "hosts/<host>/..."
    stamp = files.stamp(rel[6:cut], rel[cut:])
    rec = recorded.get(rel)
    if stamp is None or rec is None:
        return None
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or _stamp_of(st) != stamp:
        return None
    return rec["sha256"], _mode_of(st)


def _digest(path: str) -> tuple[str, str] | None:
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
    except OSError:
        return None
    return sha256(data), _mode_of(st)
