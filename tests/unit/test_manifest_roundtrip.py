"""manifest.json: what ``manifest.encode`` writes, ``manifest.decode`` reads back, for any
host names, paths, modes and hashes; the bytes depend on the content only, and are the
layout ``json.dumps(indent=1, sort_keys=True)`` gives. The manifest's text is also read by
host without parsing (runs of rows copied into the next manifest, contents looked up by
search): those readings must agree with a full parse."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hkcompute.render.store import manifest
from hkcompute.render.store.paths import Entry, safe_rel, split_rel

# Host names and path parts as safe_rel accepts them (no "/", "\", NUL; not "." or ".."),
# with quotes, escapes and non-ASCII included: they are escaped in the manifest's text.
_NAME = st.text(
    st.characters(codec="utf-8", blacklist_characters="/\\\x00"), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))
_HOST = st.one_of(st.text("abc-019", min_size=1, max_size=6), _NAME)  # "a" vs "a-b": order
_PATH = st.lists(_NAME, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
_MODE = st.integers(0, 0o7777).map(lambda m: f"{m:04o}")
_SHA = st.binary(min_size=32, max_size=32).map(bytes.hex)
# A handful of contents, so that many files share one (as across hosts in a real site).
_CONTENT = st.tuples(_SHA, _MODE)
_META = st.fixed_dictionaries(
    {
        "site": st.text(max_size=10),
        "phase": st.one_of(st.none(), st.integers(1, 3)),
        "inventory_hash": _SHA,
        "hosts_pattern": st.one_of(st.none(), st.text(max_size=10)),
        "generator": st.just("hkcompute 0.0"),
    }
)


@st.composite
def _docs(draw: st.DrawFn) -> tuple[dict[str, object], dict[str, dict[str, Entry]]]:
    """A manifest document and its entries by host."""
    contents = draw(st.lists(_CONTENT, min_size=1, max_size=4))
    hosts = draw(st.lists(_HOST, max_size=6, unique=True))
    by_host: dict[str, dict[str, Entry]] = {}
    for h in hosts:
        paths = draw(st.lists(_PATH, max_size=5, unique=True))
        entries = {}
        for p in paths:
            sha, mode = draw(st.sampled_from(contents))
            entries[safe_rel(h, p)] = {"sha256": sha, "mode": mode}
        by_host[h] = entries
    files = {rel: e for entries in by_host.values() for rel, e in entries.items()}
    doc: dict[str, object] = {**draw(_META), "files": dict(sorted(files.items()))}
    return doc, by_host


def _shuffled(doc: dict[str, object], seed: int) -> dict[str, object]:
    """The same document with every mapping's keys in another insertion order."""
    r = random.Random(seed)

    def mix(d: dict[str, object]) -> dict[str, object]:
        keys = list(d)
        r.shuffle(keys)
        return {k: mix(v) if isinstance(v, dict) else v for k, v in ((k, d[k]) for k in keys)}

    return mix(doc)


@settings(max_examples=200, deadline=None)
@given(_docs(), st.integers())
def test_decode_of_encode_is_the_document_and_encode_is_deterministic(
    drawn: tuple[dict[str, object], dict[str, dict[str, Entry]]], seed: int
) -> None:
    doc, _ = drawn
    raw = manifest.encode(doc)
    assert manifest.decode(raw) == doc
    assert manifest.encode(_shuffled(doc, seed)) == raw  # content decides, not dict order
    assert raw == (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


@settings(max_examples=200, deadline=None)
@given(_docs(), st.lists(_HOST, max_size=3), st.randoms(use_true_random=False))
def test_reading_by_host_agrees_with_a_full_parse(
    drawn: tuple[dict[str, object], dict[str, dict[str, Entry]]], idle: list[str], r: random.Random
) -> None:
    """Each host's run of rows holds its entries; the runs copied into a new manifest (some
    hosts re-rendered, some reused) give the bytes of encoding it whole; a content search
    finds every file with that content whose path is not escaped in the text."""
    doc, by_host = drawn
    text = manifest.encode(doc).decode("ascii")
    hosts = [*by_host, *(h for h in idle if h not in by_host)]  # hosts with no files too
    blocks = manifest.host_blocks(text, hosts)
    assert blocks is not None
    assert set(blocks) == {h for h, entries in by_host.items() if entries}
    for h, block in blocks.items():
        assert manifest.block_entries(block) == by_host[h]
        assert manifest.block_count(block) == len(by_host[h])
    order = [(h, None if r.random() < 0.5 else by_host.get(h, {})) for h in hosts]
    r.shuffle(order)
    spliced = manifest.files_table(blocks, order)
    assert spliced is not None
    assert manifest.encode(doc, spliced) == text.encode()
    files = manifest.files_of(manifest.decode(text))
    for sha, mode in {(e["sha256"], e["mode"]) for e in files.values()}:
        want = [
            split_rel(rel)
            for rel, e in files.items()
            if (e["sha256"], e["mode"]) == (sha, mode) and "\\" not in json.dumps(rel)
        ]
        assert list(manifest.rows_holding(text, sha, mode)) == want


def test_a_document_that_is_not_renders_is_left_to_json() -> None:
    """Entries render does not make are still written as ``json.dumps`` lays them out, and
    read back; the by-host reading refuses a text not laid out as render's."""
    doc: dict[str, object] = {
        "files": {"hosts/a/x": {"mode": "0644", "sha256": "ab", "extra": "1"}},
        "site": "s",
    }
    raw = manifest.encode(doc)
    assert raw == (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    assert manifest.decode(raw) == doc
    assert manifest.host_blocks('{\n "files": {\n  "other/x": {}\n }\n}\n', ["a"]) is None
