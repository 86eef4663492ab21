"""The two generations and the atomic swap: ``write_hosts`` makes the changed hosts'
folders, brings the generation that is not current up to date (links, manifest, keys,
stamps), renames one symlink over ``current``, then removes what neither generation uses."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from hkcompute import atomic
from hkcompute.errors import InputError, RenderError
from hkcompute.outpaths import prepare_out_dir
from hkcompute.render.store import fs, manifest
from hkcompute.render.store.lock import render_lock
from hkcompute.render.store.manifest import Hasher, entry_of
from hkcompute.render.store.paths import (
    CURRENT,
    GEN_PREFIX,
    HOSTS,
    HOSTS_DIR,
    KEYS,
    LINK_PREFIX,
    MANIFEST,
    SLOT_FILES,
    SLOTS,
    STAMPS,
    Entry,
    RenderedFile,
    safe_rel,
    sha256,
)
from hkcompute.render.store.stamps import folder_stamp, stamps_bytes
from hkcompute.render.store.state import TreeState, read_state
from hkcompute.render.store.writer import HostOutput, Writer, WriteResult


def write_tree(out: Path, files: list[RenderedFile], meta: Mapping[str, object]) -> WriteResult:
    """Make ``out`` hold exactly ``files``; atomic and incremental (see the package doc)."""
    by_host: dict[str, list[RenderedFile]] = {}
    for f in files:
        by_host.setdefault(f.host, []).append(f)
    return write_hosts(out, (HostOutput(h, None, hfiles) for h, hfiles in by_host.items()), meta)


def write_hosts(
    out: Path,
    hosts: Iterable[HostOutput],
    meta: Mapping[str, object],
    state: TreeState | None = None,
    site_key: str | None = None,
) -> WriteResult:
    """The writer behind ``write_tree``: hosts arrive one by one (rendered ones are written
    as they come, so a full site never sits in memory). ``state`` is ``read_state(out)``
    when the caller has it already (the hosts it reuses must come from it)."""
    _prepare_out(out)
    with render_lock(out):
        return _write_hosts(out, hosts, meta, state, site_key)


def _prepare_out(out: Path) -> None:
    prepare_out_dir(out)
    for name in (HOSTS, MANIFEST, CURRENT):
        p = out / name
        if (p.exists() or p.is_symlink()) and not p.is_symlink():
            raise InputError(
                f"{p} exists and is not a link made by hkcompute render; "
                "render into an empty folder or one made by render"
            )
    hdir = out / HOSTS_DIR
    if hdir.is_symlink():  # host folders are written below it: it must not lead elsewhere
        raise InputError(
            f"{hdir} is a symlink, not a folder made by hkcompute render; "
            "remove it and render again"
        )


def _write_hosts(
    out: Path,
    hosts: Iterable[HostOutput],
    meta: Mapping[str, object],
    state: TreeState | None,
    site_key: str | None,
) -> WriteResult:
    if state is None:
        state = read_state(out)
    if state.gen is not None and not state.keys and state.files:
        state = TreeState()  # a tree of an older layout: write everything afresh
    res = WriteResult(out)
    w = Writer(out, state)
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
                stamp = folder_stamp(f"{w.hdir}/{folder}", ho.host, entries)
                made.append((ho.host, folder, entries))
            order.append((ho.host, entries))
            keys[ho.host] = {"key": ho.key, "dir": folder, "stamp": stamp}
            if ho.fp is not None:
                keys[ho.host]["fp"] = ho.fp
            if ho.dns is not None:
                keys[ho.host]["dns"] = [ho.dns[0], ho.dns[1]]
        spliced = manifest.files_table(state.blocks, order)
        if spliced is None:  # every entry, for manifest.encode to sort and format
            for host, entries in order:
                all_entries.update(state.host_entries(host) if entries is None else entries)
        mbytes = manifest.encode({**dict(meta), "files": all_entries}, spliced)
        kbytes = (
            json.dumps(
                {"hosts": keys, "site_key": site_key, "manifest": sha256(mbytes)},
                sort_keys=True,
                separators=(",", ":"),
            )
            + "\n"
        ).encode()
        res.removed = _removed(state, order)
        cur = state.gen
        if cur is not None and fs.read(cur / MANIFEST) == mbytes and fs.read(cur / KEYS) == kbytes:
            res.generation = cur.name
            _cleanup(
                out,
                keep=cur.name,
                folders=set(keys_dirs(keys)) | state.dirs(),
                other=_other_slot(cur.name),
            )
            res.written.sort()
            return res
        # The slot to update is whichever ``current`` does not name, whatever state says (a
        # state reset for an unreadable tree must not lead to rewriting the live slot).
        live = os.readlink(out / CURRENT) if (out / CURRENT).is_symlink() else None
        gen_name = _other_slot(live)
        res.generation = gen_name
        sbytes = stamps_bytes(w.hdir, keys, made, state)
        _update_slot(out / gen_name, keys, mbytes, kbytes, sbytes, w.tag)
        fs.fsync_dir(w.hdir)
        fs.fsync_dir(out)
        swap_link(out, CURRENT, gen_name)
        for name, target in ((HOSTS, f"{CURRENT}/{HOSTS}"), (MANIFEST, f"{CURRENT}/{MANIFEST}")):
            if not (out / name).is_symlink() or os.readlink(out / name) != target:
                swap_link(out, name, target)
        fs.fsync_dir(out)
    except OSError as exc:
        _cleanup_tmp(out, w.tag)
        raise RenderError(
            f"writing {out} failed ({exc.strerror or exc}); the previous tree is untouched"
        ) from exc
    # The generation just left keeps its host folders: it is the next render's starting point.
    _cleanup(
        out,
        keep=gen_name,
        folders=set(keys_dirs(keys)) | state.dirs(),
        other=state.gen.name if state.gen is not None else None,
    )
    other = out / _other_slot(gen_name)
    if not other.exists() and not other.is_symlink():
        _prime_slot(other, keys)
    res.written.sort()
    return res


def _removed(state: TreeState, order: list[tuple[str, Mapping[str, Entry] | None]]) -> list[str]:
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


def keys_dirs(keys: Mapping[str, Mapping[str, object]]) -> Iterator[str]:
    for v in keys.values():
        d = v.get("dir")
        if isinstance(d, str) and d:
            yield d


def _other_slot(name: str | None) -> str:
    """The generation a render updates when ``name`` is current (the first when none is)."""
    return SLOTS[1] if name == SLOTS[0] else SLOTS[0]


def _update_slot(
    slot: Path,
    keys: Mapping[str, Mapping[str, object]],
    mbytes: bytes,
    kbytes: bytes,
    sbytes: bytes,
    tag: str,
) -> None:
    """Make the generation ``slot`` (not the current one) hold exactly ``keys``' links and
    these manifest and keys. Its manifest and keys go first, so a slot killed midway never
    looks complete; only links that differ are replaced (each by a rename)."""
    if slot.is_symlink() or (slot.exists() and not slot.is_dir()):
        slot.unlink()  # not made by render: never write through it
    hosts = slot / HOSTS
    if hosts.is_symlink() or (hosts.exists() and not hosts.is_dir()):
        hosts.unlink()
    hosts.mkdir(parents=True, exist_ok=True)
    for name in (KEYS, MANIFEST, STAMPS):
        with contextlib.suppress(FileNotFoundError):
            (slot / name).unlink()
    fs.fsync_dir(slot)
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
        fs.remove(hosts / name)
    fs.fsync_dir(hosts)
    for name, data in ((MANIFEST, mbytes), (STAMPS, sbytes), (KEYS, kbytes)):
        atomic.write_bytes(slot / name, data)
    fs.fsync_dir(slot)


def swap_link(out: Path, name: str, target: str) -> None:
    """Point ``out/name`` at ``target`` in one rename: the swap that makes a tree current."""
    tmp = out / f".{name}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, out / name)


def _prime_slot(slot: Path, keys: Mapping[str, Mapping[str, object]]) -> None:
    """Give the other generation the links just made (no manifest or keys: it is not a
    complete generation and never current as such), so that the next render, typically a
    small change after a first full one, replaces a few links instead of making them all.
    Best effort: whatever a failure leaves is put right by the next render's update."""
    try:
        (slot / HOSTS).mkdir(parents=True)
        for host, v in keys.items():
            os.symlink(f"{LINK_PREFIX}{v['dir']}", slot / HOSTS / host)
    except OSError:
        pass


def _cleanup_tmp(out: Path, tag: str) -> None:
    for parent in (out, out / HOSTS_DIR):
        with contextlib.suppress(OSError):
            for p in parent.iterdir():
                if p.name.endswith(tag):
                    fs.remove(p)


def _cleanup(out: Path, keep: str, folders: set[str], other: str | None = None) -> None:
    """Remove generations other than the kept two (older layouts), host folders neither uses,
    and leftovers of interrupted renders (in the output folder, .hosts and the slots)."""
    for p in out.iterdir():
        name = p.name
        if name in (keep, other) and name in SLOTS:
            continue
        if name.startswith(GEN_PREFIX) or (name.startswith(".") and ".tmp-" in name):
            fs.remove(p)
    for slot in SLOTS:
        for folder in (out / slot, out / slot / HOSTS):
            if not folder.is_dir() or folder.is_symlink():
                break
            with contextlib.suppress(OSError), os.scandir(folder) as it:
                for de in it:
                    # leftovers of a killed update: a temporary file beside the slot's own
                    # four, a temporary link ".<host>.tmp-<pid>" among the hosts' links
                    stray = (
                        de.name not in SLOT_FILES
                        if folder.name != HOSTS
                        else de.name.startswith(".") and ".tmp-" in de.name
                    )
                    if stray:
                        fs.remove(Path(de.path))
    hdir = out / HOSTS_DIR
    with contextlib.suppress(OSError), os.scandir(hdir) as it:
        for de in it:
            if de.name not in folders:
                fs.discard(Path(de.path))
