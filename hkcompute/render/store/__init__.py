"""The render store: a rendered tree written atomically and incrementally, one immutable
folder per host. Callers use the façade, :mod:`hkcompute.render.tree`.

Layout of an output folder::

    DIR/current -> .gen-a | .gen-b        (one symlink: the only thing a render swaps)
    DIR/hosts -> current/hosts
    DIR/manifest.json -> current/manifest.json
    DIR/.gen-X/manifest.json              (every file: sha256 and mode)
    DIR/.gen-X/keys.json                  (per host: its render key and its folder)
    DIR/.gen-X/stamps.json                (stat stamps of the generation's files)
    DIR/.gen-X/hosts/<host> -> ../../.hosts/<host>@<digest>
    DIR/.hosts/<host>@<digest>/<path on host>

One module per concern:

* ``paths``: the names above, a file's place below the output folder (``hosts/<host><path>``)
  and the checks that keep it there;
* ``manifest``: manifest.json, encoded and decoded (the only module that reads its text);
* ``fs``: small file-system helpers the others share (read, hash, remove, fsync);
* ``stamps``: stat stamps, so that ``--check`` need not read files that did not change;
* ``state``: what the current tree holds (its manifest, keys and stamps), read once;
* ``writer``: the content-addressed host folders;
* ``generations``: the two generations, the atomic swap, clean-up (``write_hosts``);
* ``lock``: one render at a time per output folder;
* ``check``: the drift check behind ``render --check``.

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
