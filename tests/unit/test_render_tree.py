"""The rendered tree: deterministic, incremental (mtimes kept), atomic, safe paths, --check."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from hkcompute.errors import InputError, RenderError
from hkcompute.render import tree as tree_mod
from hkcompute.render.store import fs as fs_mod
from hkcompute.render.store import manifest as manifest_mod
from hkcompute.render.store import stamps as stamps_mod
from hkcompute.render.tree import RenderedFile, check_tree, read_manifest, write_tree

META = {"site": "t", "inventory_hash": "abc"}


def files(b_content: bytes = b"b\n") -> list[RenderedFile]:
    return [
        RenderedFile("h1", "/etc/a.conf", b"a\n"),
        RenderedFile("h2", "/etc/frr/frr.conf", b_content, 0o640),
    ]


def test_tree_mirrors_host_filesystem_with_manifest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)
    assert (out / "hosts/h1/etc/a.conf").read_bytes() == b"a\n"
    assert (out / "hosts/h2/etc/frr/frr.conf").stat().st_mode & 0o777 == 0o640
    manifest = read_manifest(out)
    assert manifest is not None
    assert manifest["inventory_hash"] == "abc"
    assert set(manifest["files"]) == {"hosts/h1/etc/a.conf", "hosts/h2/etc/frr/frr.conf"}


def test_same_input_gives_byte_identical_trees(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_tree(a, files(), META)
    write_tree(b, files(), META)
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()


def test_incremental_render_keeps_mtime_of_unchanged_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)
    a = out / "hosts/h1/etc/a.conf"
    os.utime(a, (1_000_000, 1_000_000))
    res = write_tree(out, files(b"changed\n"), META)
    assert res.written == ["hosts/h2/etc/frr/frr.conf"]
    assert res.unchanged == 1
    assert a.stat().st_mtime == 1_000_000
    assert (out / "hosts/h2/etc/frr/frr.conf").read_bytes() == b"changed\n"


def test_nothing_changed_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)
    res = write_tree(out, files(), META)
    assert not res.changed and res.unchanged == 2


def test_removed_files_disappear_and_old_generations_are_cleaned(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)
    res = write_tree(out, files()[:1], META)
    assert res.removed == ["hosts/h2/etc/frr/frr.conf"]
    assert not (out / "hosts/h2").exists()
    write_tree(out, [RenderedFile("h1", "/etc/a.conf", b"again\n")], META)
    gens = sorted(p.name for p in out.iterdir() if p.name.startswith(".gen-"))
    assert gens == [".gen-a", ".gen-b"]  # the two generations used in turn, no more
    # host folders: the live generation's and the one before (h1 twice); h2's is gone
    assert sorted(p.name.split("@")[0] for p in (out / ".hosts").iterdir()) == ["h1", "h1"]


@pytest.mark.parametrize(
    "host,path",
    [
        ("..", "/etc/x"),
        ("a/b", "/etc/x"),
        ("h", "etc/relative"),
        ("h", "/etc/../../x"),
    ],
)
def test_paths_cannot_escape_the_output_folder(tmp_path: Path, host: str, path: str) -> None:
    with pytest.raises(RenderError):
        write_tree(tmp_path / "out", [RenderedFile(host, path, b"x")], META)
    assert not any((tmp_path / "out").glob("hosts/**/x"))


def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "hosts").mkdir(parents=True)
    with pytest.raises(InputError):
        write_tree(out, files(), META)


def test_check_lists_changed_missing_and_extra_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)
    assert check_tree(out, files()).ok
    res = check_tree(out, [*files(b"new\n")[:2], RenderedFile("h3", "/etc/n", b"n")])
    assert res.differ == ["hosts/h2/etc/frr/frr.conf"]
    assert res.missing == ["hosts/h3/etc/n"]
    res = check_tree(out, files()[:1])
    assert res.extra == ["hosts/h2/etc/frr/frr.conf"]


def test_interrupted_render_leaves_previous_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_tree(out, files(), META)

    def boom(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("hkcompute.render.store.generations.swap_link", boom)
    with pytest.raises(RenderError, match="previous tree is untouched"):
        write_tree(out, files(b"new\n"), META)
    monkeypatch.undo()
    assert (out / "hosts/h2/etc/frr/frr.conf").read_bytes() == b"b\n"
    assert check_tree(out, files()).ok


def _check_now(out: Path, want: list[RenderedFile]) -> tree_mod.CheckResult:
    """check as ``render --check`` does it: with the current generation's manifest and
    stamps."""
    st = tree_mod.read_state(out)
    wanted = {tree_mod.safe_rel(f.host, f.path): tree_mod.entry_of(f) for f in want}
    return tree_mod.check_entries(out, wanted, st.stamps, st.files, st.file_stamps())


def test_check_trusts_stamps_and_reads_nothing_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stamps_mod, "RACY_NS", 0)  # no file is "racily" new in this test
    out = tmp_path / "out"
    write_tree(out, files(), META)
    reads: list[str] = []
    real = fs_mod.file_digest
    monkeypatch.setattr(fs_mod, "file_digest", lambda p: reads.append(p) or real(p))
    assert _check_now(out, files()).ok
    assert reads == []
    # A different wanted content is still told apart without reading the file.
    assert _check_now(out, files(b"other\n")).differ == ["hosts/h2/etc/frr/frr.conf"]


@pytest.mark.parametrize("how", ["same size, mtime put back", "replaced by rename"])
def test_check_finds_a_hand_edit_whatever_the_mtime_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(stamps_mod, "RACY_NS", 0)
    out = tmp_path / "out"
    write_tree(out, files(), META)
    target = out / "hosts/h2/etc/frr/frr.conf"
    st = target.stat()
    if how == "replaced by rename":
        new = target.with_name("new")
        new.write_bytes(b"x\n")
        os.chmod(new, 0o640)
        os.replace(new, target)
    else:
        target.write_bytes(b"x\n")  # same length as b"b\n"
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    res = _check_now(out, files())
    assert res.differ == ["hosts/h2/etc/frr/frr.conf"]


def test_files_written_just_before_the_stamps_are_read_by_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Racily new files carry no stamp: --check reads them."""
    out = tmp_path / "out"
    write_tree(out, files(), META)  # RACY_NS as shipped: everything is seconds old at most
    fs = tree_mod.read_state(out).file_stamps()
    assert not fs.inodes  # no stamp vouches for them...
    assert len(fs.pending) == 2  # ...until a later render has read them
    reads: list[str] = []
    real = fs_mod.file_digest
    monkeypatch.setattr(fs_mod, "file_digest", lambda p: reads.append(p) or real(p))
    assert _check_now(out, files()).ok
    assert len(reads) == 2


def test_stamps_follow_files_linked_into_a_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard link made by a later render changes the change time of the file it links to;
    the unchanged host's stamp must follow, or check would read it (slow, not wrong)."""
    monkeypatch.setattr(stamps_mod, "RACY_NS", 0)
    out = tmp_path / "out"
    shared = RenderedFile("h1", "/etc/shared", b"same on both\n")
    write_tree(out, [shared, RenderedFile("h2", "/etc/own", b"1\n")], META)
    later = [
        shared,
        RenderedFile("h2", "/etc/own", b"2\n"),
        RenderedFile("h2", "/etc/shared", b"same on both\n"),
    ]
    write_tree(out, later, META)
    assert (out / "hosts/h1/etc/shared").stat().st_nlink >= 2
    reads: list[str] = []
    real = fs_mod.file_digest
    monkeypatch.setattr(fs_mod, "file_digest", lambda p: reads.append(p) or real(p))
    assert _check_now(out, later).ok
    assert reads == []


def test_a_small_change_replaces_only_its_links(tmp_path: Path) -> None:
    """The first render fills both generations; the next one, for a one-host change,
    replaces that host's link in the other generation and leaves the rest in place."""
    out = tmp_path / "out"
    write_tree(out, files(), META)
    assert os.readlink(out / "current") == ".gen-a"
    before = {h: os.lstat(out / ".gen-b/hosts" / h).st_ino for h in ("h1", "h2")}
    write_tree(out, files(b"changed\n"), META)
    assert os.readlink(out / "current") == ".gen-b"
    after = {h: os.lstat(out / ".gen-b/hosts" / h).st_ino for h in ("h1", "h2")}
    assert after["h1"] == before["h1"] and after["h2"] != before["h2"]
    assert (out / "hosts/h2/etc/frr/frr.conf").read_bytes() == b"changed\n"
    assert check_tree(out, files(b"changed\n")).ok


def test_a_second_render_into_the_same_folder_is_refused_while_one_writes(tmp_path: Path) -> None:
    """Two renders at once would both update the spare generation: the second is refused
    with a message, and the tree is left as the first one made it."""
    import fcntl

    out = tmp_path / "out"
    write_tree(out, files(), META)
    fd = os.open(out / tree_mod.RENDER_LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a render in progress holds it
        with pytest.raises(RenderError, match="another render is writing"):
            write_tree(out, files(b"changed\n"), META)
    finally:
        os.close(fd)
    assert check_tree(out, files()).ok
    write_tree(out, files(b"changed\n"), META)  # and once it is gone, rendering works
    assert check_tree(out, files(b"changed\n")).ok


@pytest.mark.parametrize(
    "doc",
    [
        {
            "site": "x",
            "phase": 1,
            "files": {
                "hosts/a/etc/x": {"sha256": "ab", "mode": "0644"},
                'hosts/a/\u00e9"': {"mode": "0600", "sha256": "cd"},
            },
        },
        {
            "files": {
                "b": {},
                "a": {"z": "1", "a": "2"},
                "c": {"mode": "1", "sha256": "2", "x": "3"},
            },
            "m": [1, {"b": 2}],
        },
        {"files": {"a": {"mode": 1, "sha256": "x"}}},
        {"files": {"a": {"mode": "1", "sha256": None}}},
        {"files": {"a": ["x"]}},
        {"files": {}},
        {"files": []},
    ],
)
def test_manifest_bytes_are_json_dumps_byte_for_byte(doc: dict[str, object]) -> None:
    """The manifest writer's fast path (every entry render makes) and its fall-backs give
    what ``json.dumps(indent=1, sort_keys=True)`` gives."""
    want = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    assert manifest_mod.encode(doc) == want.encode()


def test_a_file_edited_in_the_tree_is_not_linked_into_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new folder hard-links content the current tree already has, but only from a file
    that still holds it: a hand edit is neither spread to another host nor hidden from
    --check by the new stamps."""
    monkeypatch.setattr(stamps_mod, "RACY_NS", 0)
    out = tmp_path / "out"
    shared = RenderedFile("h1", "/etc/shared", b"same on both\n")
    write_tree(out, [shared, RenderedFile("h2", "/etc/own", b"1\n")], META)
    edited = out / "hosts/h1/etc/shared"
    edited.write_bytes(b"edited by hand\n")  # in place: the same inode
    # h2 first: its new file would be linked to h1's, still in the current tree
    later = [
        RenderedFile("h2", "/etc/own", b"2\n"),
        RenderedFile("h2", "/etc/shared", b"same on both\n"),
        shared,
    ]
    write_tree(out, later, META)
    assert (out / "hosts/h2/etc/shared").read_bytes() == b"same on both\n"
    assert (out / "hosts/h1/etc/shared").read_bytes() == b"same on both\n"  # made afresh
    assert _check_now(out, later).ok


def test_a_racy_file_edited_before_the_next_render_is_never_vouched_for(tmp_path: Path) -> None:
    """Files too new to stamp are stamped by a later render only once it has read them and
    found the recorded content: one edited in between stays unstamped, and --check finds
    it."""
    out = tmp_path / "out"
    write_tree(out, files(), META)  # RACY_NS as shipped: both files are pending
    (out / "hosts/h1/etc/a.conf").write_bytes(b"A\n")  # same size, edited
    time.sleep(stamps_mod.RACY_NS / 1e9 + 0.05)
    h1_folder = tree_mod.read_state(out).keys["h1"][1]
    tree_mod.write_hosts(
        out,
        [  # h1 taken from the current tree, as render does
            tree_mod.HostOutput("h1", None, folder=h1_folder),
            tree_mod.HostOutput("h2", None, [files(b"changed\n")[1]]),
        ],
        META,
    )
    fs = tree_mod.read_state(out).file_stamps()
    assert fs.stamp("h1", "/etc/a.conf") is None
    assert _check_now(out, files(b"changed\n")).differ == ["hosts/h1/etc/a.conf"]


def test_a_tree_without_stamps_is_stamped_only_after_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree written by an older version (stamps of another layout): the next render stamps
    its reused hosts' files only once it has read them, so an edit made before is found."""
    monkeypatch.setattr(stamps_mod, "RACY_NS", 0)
    out = tmp_path / "out"
    write_tree(out, files(), META)
    (out / "current" / "stamps.json").resolve().write_text('{"format": 1}\n')
    (out / "hosts/h1/etc/a.conf").write_bytes(b"A\n")  # same size, edited
    h1_folder = tree_mod.read_state(out).keys["h1"][1]
    tree_mod.write_hosts(
        out,
        [
            tree_mod.HostOutput("h1", None, folder=h1_folder),
            tree_mod.HostOutput("h2", None, [files(b"changed\n")[1]]),
        ],
        META,
    )
    assert tree_mod.read_state(out).file_stamps().stamp("h1", "/etc/a.conf") is None
    assert _check_now(out, files(b"changed\n")).differ == ["hosts/h1/etc/a.conf"]
