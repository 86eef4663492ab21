"""manifest.json: every file of a tree, with its sha256 and mode. Encoded and decoded here
only; no other module reads or searches its text.

The layout is ``json.dumps(doc, indent=1, sort_keys=True) + "\\n"`` (ASCII, keys sorted),
byte for byte: ``encode`` gives exactly that, and ``decode`` is ``json.loads``. Two things
are built on that layout, both here:

* The files table is written row by row (``_row``), the format ``json.dumps`` gives an
  entry render makes ({"mode": str, "sha256": str}), strings escaped by the ``json``
  module's own encoder. With ``indent`` set, ``json.dumps`` runs its pure-Python encoder:
  0.22 s of CPU for a full site's 62,754 entries against 0.04 s here (a full render is about
  11 s of CPU). Any other document, or entry, is left to ``json.dumps`` itself.
* A manifest render wrote (its digest is in keys.json) is read by host, without parsing:
  ``host_blocks`` finds each host's run of rows in its text, a reused host's run is copied
  into the next manifest as it is (``files_table``), and a content is looked up by
  searching the text (``rows_holding``). A one-rack render needs a dozen hosts' entries,
  and parsing all 62,000 was a fifth of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping

from hkcompute.render.store.paths import (
    HOSTS,
    Entry,
    RenderedFile,
    host_dir_rel,
    rel_host,
    safe_rel,
    sha256,
    split_rel,
)

_enc = json.encoder.encode_basestring_ascii  # the json module's own (C) string encoder

# How rows of the files table look in the text (the layout above): every row but the first
# starts with _ROW; the table opens with _FILES_OPEN, or is _FILES_EMPTY.
_ROW = f'\n  "{HOSTS}/'
_FILES_OPEN = '\n "files": {\n'
_FILES_EMPTY = '\n "files": {}'


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


def is_mode(mode: object) -> bool:
    """``mode`` is a mode as an entry records it ("0644")."""
    return isinstance(mode, str) and len(mode) == 4 and all(c in "01234567" for c in mode)


def manifest_doc(files: Iterable[RenderedFile], meta: Mapping[str, object]) -> dict[str, object]:
    entries = {safe_rel(f.host, f.path): entry_of(f) for f in files}
    return {**dict(meta), "files": dict(sorted(entries.items()))}


# --- encoding ----------------------------------------------------------------------------------


def _dumps(doc: Mapping[str, object]) -> bytes:
    """The layout itself, from ``json``: for documents that are not render's own."""
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def encode(doc: Mapping[str, object], files_text: str | None = None) -> bytes:
    """``doc`` as manifest.json: ``json.dumps(doc, indent=1, sort_keys=True) + "\\n"``, byte
    for byte. ``files_text``, when given, is its files table already made
    (``files_table``)."""
    files = doc.get("files")
    if not isinstance(files, dict):
        return _dumps(doc)
    if files_text is None:
        files_text = _rows_table(files)
        if files_text is None:
            return _dumps(doc)
    parts = []
    for k in sorted(doc):
        if k == "files":
            value = files_text
        else:  # the meta: a few small values, at one level deeper than json.dumps puts them
            value = json.dumps(doc[k], indent=1, sort_keys=True).replace("\n", "\n ")
        parts.append(f" {_enc(k)}: {value}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode()


def _row(rel: str, e: object) -> str | None:
    """The entry's row in the files table, as ``json.dumps`` lays it out; None for an entry
    that is not one render makes (the whole document is then left to ``json.dumps``)."""
    if type(e) is not dict or len(e) != 2:
        return None
    mode, digest = e.get("mode"), e.get("sha256")
    if type(mode) is not str or type(digest) is not str:
        return None
    return f'  {_enc(rel)}: {{\n   "mode": {_enc(mode)},\n   "sha256": {_enc(digest)}\n  }}'


def _rows(rels: Iterable[str], files: Mapping[str, object]) -> list[str] | None:
    """The rows of these entries, in this order (None: not render's entries)."""
    rows = []
    for rel in rels:
        row = _row(rel, files[rel])
        if row is None:
            return None
        rows.append(row)
    return rows


def _rows_table(files: Mapping[str, object]) -> str | None:
    """The files table of these entries (None: not render's). Its own function so that the
    rows, as big as the table, are freed before the whole text is joined and encoded."""
    rows = _rows(sorted(files), files)
    return None if rows is None else _table(rows)


def _table(rows: list[str]) -> str:
    """The files table around its rows (or runs of rows)."""
    return "{\n" + ",\n".join(rows) + "\n }" if rows else "{}"


def files_table(
    blocks: Mapping[str, str] | None, order: Iterable[tuple[str, Mapping[str, Entry] | None]]
) -> str | None:
    """The files table of hosts in ``order`` (host, its entries; None for a host reused from
    the current tree): a reused host's rows are copied as text from the current manifest
    (``blocks``, from ``host_blocks``), only the rows of hosts rendered now are formatted.
    None without blocks, or for entries that are not render's."""
    if blocks is None:
        return None
    out = []
    for host, entries in sorted(order, key=lambda x: host_dir_rel(x[0])):
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


# --- decoding ----------------------------------------------------------------------------------


def decode(raw: bytes | str) -> dict[str, object] | None:
    """A JSON object (manifest, keys or stamps); None when it is not one."""
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def files_of(doc: Mapping[str, object] | None) -> dict[str, Entry]:
    """A decoded manifest's files table (empty when it has none)."""
    files = doc.get("files") if doc else None
    return files if isinstance(files, dict) else {}


def group_by_host(files: Mapping[str, Entry]) -> dict[str, dict[str, Entry]]:
    """A manifest's entries by host (sorted: a host's files are one run)."""
    by_host: dict[str, dict[str, Entry]] = {}
    cur, bucket = None, {}
    for rel, e in files.items():
        host = rel_host(rel)
        if host != cur:
            cur = host
            bucket = by_host.setdefault(host, {})
        bucket[rel] = e
    return by_host


def host_blocks(text: str, hosts: Iterable[str]) -> dict[str, str] | None:
    """Each host's run of rows in a manifest render wrote (``hosts``: those in keys.json),
    as text; None when the text is not laid out as render lays it out (the caller then
    parses the whole manifest). Rows sort by path, so a host's rows are one run and runs
    sort by "hosts/<host>/" (host names hold no "/")."""
    start = text.find(_FILES_OPEN)
    if start < 0:
        return {} if _FILES_EMPTY in text else None
    pos = start + len(_FILES_OPEN) - 1  # at the newline before the first row
    end = text.find("\n }", pos)
    if end < 0:
        return None
    found: list[tuple[str, str, int]] = []  # host, how its rows start, where the first is
    for h in sorted(hosts, key=host_dir_rel):
        row = f"\n  {_enc(host_dir_rel(h))[:-1]}"
        at = text.find(row, pos, end)
        if at < 0:
            continue  # a host with no files
        found.append((h, row, at + 1))
        pos = at + 1
    blocks: dict[str, str] = {}
    for i, (h, row, at) in enumerate(found):
        stop = found[i + 1][2] - 2 if i + 1 < len(found) else end
        if i + 1 < len(found) and text[stop : stop + 2] != ",\n":
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


def block_entries(block: str) -> dict[str, Entry]:
    """A host's entries, from its run of rows (``host_blocks``)."""
    got = json.loads("{" + block + "}")
    return got if isinstance(got, dict) else {}


def block_count(block: str) -> int:
    """How many entries a host's run of rows holds (without parsing it)."""
    return block.count(_ROW) + 1


def _is_sha256(s: str) -> bool:
    return len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def rows_holding(text: str, sha: str, mode: str) -> Iterator[tuple[str, str]]:
    """(host, path on host) of each row of a manifest render wrote whose entry is this
    content and mode, in the manifest's order: found by searching its text, for a render
    that looks up a few dozen contents (indexing them all means parsing it all). Rows whose
    path is escaped in the text are left out."""
    if not (_is_sha256(sha) and mode.isdigit()):
        return
    needle = f'"sha256": "{sha}"'
    before = f'"mode": "{mode}",\n   '
    pos = text.find(needle)
    while pos >= 0:
        if text.startswith(before, pos - len(before)):
            row = text.rfind('\n  "', 0, pos) + 4  # past the quote
            rel = text[row : text.find('": {', row)]
            got = split_rel(rel)
            if got is not None and "\\" not in rel:
                yield got
        pos = text.find(needle, pos + 1)
