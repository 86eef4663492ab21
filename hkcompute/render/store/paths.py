"""Names in an output folder, and a rendered file's place in it.

A file of a host lives at ``hosts/<host><path on host>`` below the output folder (its
"rel", the manifest's key for it). Only the functions here build or take apart a rel: the
host's part and the path on the host are never cut out by offsets elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from hkcompute.errors import RenderError

MANIFEST = "manifest.json"
KEYS = "keys.json"
STAMPS = "stamps.json"
HOSTS = "hosts"  # a generation's folder of per-host links; the first part of every rel
SLOT_FILES = (HOSTS, MANIFEST, KEYS, STAMPS)  # all a generation's folder holds
CURRENT = "current"
GEN_PREFIX = ".gen-"
SLOTS = (".gen-a", ".gen-b")  # the two generations, used in turn
HOSTS_DIR = ".hosts"
LINK_PREFIX = f"../../{HOSTS_DIR}/"  # a generation's hosts/<host> -> LINK_PREFIX<folder>

_PREFIX = f"{HOSTS}/"

Entry = dict[str, str]  # {"sha256": ..., "mode": "0644"}


@dataclass(frozen=True, slots=True)
class RenderedFile:
    host: str
    path: str  # absolute path on the host, e.g. /etc/frr/frr.conf
    content: bytes
    mode: int = 0o644

    @property
    def rel(self) -> str:
        return host_rel(self.host, self.path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def host_root_rel(host: str) -> str:
    """The rel of a host's folder: ``hosts/<host>``."""
    return _PREFIX + host


def host_rel(host: str, path: str) -> str:
    """The rel of a file at ``path`` (absolute) on ``host``, unchecked (see ``safe_rel``)."""
    return f"{_PREFIX}{host}{path}"


def host_dir_rel(host: str) -> str:
    """``hosts/<host>/``: every rel of the host starts with it, and since host names hold no
    "/", hosts in this order are their rels' order."""
    return f"{_PREFIX}{host}/"


def path_on_host(host: str, rel: str) -> str:
    """The path on ``host`` of its file ``rel`` (``host_rel`` undone)."""
    return rel[len(_PREFIX) + len(host) :]


def split_rel(rel: str) -> tuple[str, str] | None:
    """(host, path on host) of a rel laid out as ``hosts/<host>/<path>``; None otherwise."""
    cut = rel.find("/", len(_PREFIX))
    if cut <= len(_PREFIX) or not rel.startswith(_PREFIX):
        return None
    return rel[len(_PREFIX) : cut], rel[cut:]


def rel_host(rel: str) -> str:
    """The host a rel belongs to. One not laid out as ``hosts/<host>/<path>`` (a tree that
    render did not write) gives its second part, else the whole: it then matches no host,
    and is redone or reported."""
    got = split_rel(rel)
    if got is not None:
        return got[0]
    parts = rel.split("/", 2)
    return parts[1] if len(parts) > 1 else rel


def host_folders(root: str, host: str, rels: Iterable[str]) -> set[str]:
    """``root`` and every folder below it that holds one of the host's files, when ``root``
    is the host's folder."""
    dirs = {root}
    for rel in rels:
        d = path_on_host(host, rel).rsplit("/", 1)[0]
        while d and f"{root}{d}" not in dirs:
            dirs.add(f"{root}{d}")
            d = d.rsplit("/", 1)[0]
    return dirs


def safe_rel(host: str, path: str) -> str:
    """The file's place below the output folder; refuses anything that could escape it."""
    if not host or host in (".", "..") or "/" in host or "\\" in host or "\x00" in host:
        raise RenderError(f"unsafe host name {host!r}")
    if "\x00" in path or not path.startswith("/"):
        raise RenderError(f"{host}: unsafe file path {path!r} (must be absolute, no '..')")
    if "/." in path or "//" in path or path.endswith("/"):
        # the rare path that needs a closer look; the common one is plain
        p = PurePosixPath(path)
        if (
            any(part in ("..", ".") for part in p.parts)
            or not p.is_absolute()
            or str(p) in ("/", "")
        ):
            raise RenderError(f"{host}: unsafe file path {path!r} (must be absolute, no '..')")
        path = str(p)
    return host_rel(host, path)


def own_folder(folders: set[str], host: str, folder: str) -> bool:
    """``folder`` is a host folder render made: one name, inside .hosts, a real folder."""
    if "/" in folder or "\x00" in folder or not folder.startswith(f"{host}@"):
        return False
    return folder in folders
