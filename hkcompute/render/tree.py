"""The rendered tree: the render store's public names, for the rest of hkcompute.

Written atomically and incrementally, one immutable folder per host, in two generations
swapped by one symlink; the layout and each concern's module are described in
:mod:`hkcompute.render.store`. Callers import from here, not from the store's modules.
"""

from __future__ import annotations

from hkcompute.render.store.check import CheckResult, check_entries, check_tree
from hkcompute.render.store.generations import write_hosts, write_tree
from hkcompute.render.store.lock import RENDER_LOCK
from hkcompute.render.store.manifest import Hasher, entry_of, manifest_doc
from hkcompute.render.store.paths import (
    CURRENT,
    GEN_PREFIX,
    HOSTS_DIR,
    KEYS,
    MANIFEST,
    SLOTS,
    STAMPS,
    Entry,
    RenderedFile,
    safe_rel,
    sha256,
)
from hkcompute.render.store.stamps import FileStamps
from hkcompute.render.store.state import TreeState, read_manifest, read_site_key, read_state
from hkcompute.render.store.writer import HostOutput, WriteResult

__all__ = [
    "CURRENT",
    "GEN_PREFIX",
    "HOSTS_DIR",
    "KEYS",
    "MANIFEST",
    "RENDER_LOCK",
    "SLOTS",
    "STAMPS",
    "CheckResult",
    "Entry",
    "FileStamps",
    "Hasher",
    "HostOutput",
    "RenderedFile",
    "TreeState",
    "WriteResult",
    "check_entries",
    "check_tree",
    "entry_of",
    "manifest_doc",
    "read_manifest",
    "read_site_key",
    "read_state",
    "safe_rel",
    "sha256",
    "write_hosts",
    "write_tree",
]
