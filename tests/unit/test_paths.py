"""Paths: a host or file name from the inventory can never make render write outside its
output folder, whatever is already in that folder (``../``, absolute paths, symlinks left
by someone else: ``DIR/current`` pointing outside, a ``DIR/.gen-x`` symlink, ...).

Every test keeps a "victim" folder beside the output folder and proves it byte-for-byte
unchanged afterwards; tests that render also prove the new tree is exactly its manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from hkcompute.errors import InputError, RenderError
from hkcompute.render import tree
from hkcompute.render.store import manifest
from hkcompute.render.tree import RenderedFile, safe_rel, write_tree
from hkcompute.validate import validate

from .conftest import LAB

META = {"site": "t", "phase": 1}


def snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root`` (links by target, files by hash), not following links."""
    out: dict[str, str] = {}
    for dirpath, dirs, names in os.walk(root, followlinks=False):
        for n in dirs + names:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A folder outside the output folder that no render may touch."""
    v = tmp_path / "victim"
    (v / "hosts" / "h1" / "etc").mkdir(parents=True)
    (v / "hosts" / "h1" / "etc" / "a.conf").write_text("victim a\n")
    (v / "manifest.json").write_text(
        json.dumps(
            {"files": {"hosts/h1/etc/a.conf": {"sha256": tree.sha256(b"a1\n"), "mode": "0644"}}}
        )
    )
    (v / "secret.txt").write_text("do not touch\n")
    return v


def files(version: int = 1) -> list[RenderedFile]:
    return [
        RenderedFile("h1", "/etc/a.conf", f"a{version}\n".encode()),
        RenderedFile("h1", "/etc/b.conf", b"b\n"),
        RenderedFile("h2", "/etc/a.conf", f"a{version}\n".encode()),
    ]


def tree_view(out: Path) -> dict[str, str]:
    """The tree as a reader sees it through ``DIR/current``: manifest and files by hash."""
    view = {"manifest": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()}
    for dirpath, _dirs, names in os.walk(out / "hosts", followlinks=True):
        for n in names:
            p = Path(dirpath) / n
            view[str(p.relative_to(out))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return view


def assert_inside(out: Path) -> None:
    """Every symlink below ``out`` resolves inside ``out``."""
    root = out.resolve()
    for dirpath, dirs, names in os.walk(out, followlinks=False):
        for n in dirs + names:
            p = Path(dirpath) / n
            if p.is_symlink():
                assert p.resolve().is_relative_to(root), f"{p} -> {os.readlink(p)}"


def assert_tree_is_its_manifest(out: Path) -> None:
    """``DIR/current`` is a generation render made, the files reachable through it are
    exactly its manifest's (by hash), and nothing in the folder leads outside it."""
    cur = out / "current"
    assert cur.is_symlink() and os.readlink(cur).startswith(".gen-")
    gen = out / os.readlink(cur)
    assert gen.is_dir() and not gen.is_symlink()
    assert_inside(out)
    doc = json.loads((gen / "manifest.json").read_text())
    found = {}
    for dirpath, _dirs, names in os.walk(gen / "hosts", followlinks=True):
        for n in names:
            p = Path(dirpath) / n
            assert p.resolve().is_relative_to(out.resolve()), p
            found["hosts/" + str(p.relative_to(gen / "hosts"))] = hashlib.sha256(
                p.read_bytes()
            ).hexdigest()
    assert found == {k: v["sha256"] for k, v in doc["files"].items()}


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["", ".", "..", "../x", "a/b", "/abs", "a\\b", "a\x00b"])
def test_unsafe_host_names_are_refused(host: str) -> None:
    with pytest.raises(RenderError, match="unsafe host"):
        safe_rel(host, "/etc/x")


@pytest.mark.parametrize(
    "path", ["etc/x", "", "../etc/x", "/etc/../../x", "/etc/x/..", "/etc/x\x00y", "x", "/", "/.."]
)
def test_unsafe_file_paths_are_refused(path: str) -> None:
    with pytest.raises(RenderError, match="unsafe file path"):
        safe_rel("h1", path)


def test_safe_paths_stay_below_hosts() -> None:
    assert safe_rel("h1", "/etc/frr/frr.conf") == "hosts/h1/etc/frr/frr.conf"
    # Normalised, still inside: '.' parts and doubled slashes change nothing.
    assert safe_rel("h1", "/etc//x") == "hosts/h1/etc/x"
    assert safe_rel("h1", "/./etc/x") in ("hosts/h1/etc/x", "hosts/h1/./etc/x")


@pytest.mark.parametrize(
    "bad",
    [
        RenderedFile("..", "/x", b"x"),
        RenderedFile("h1", "/../../victim/secret.txt", b"x"),
        RenderedFile("h1", "relative/x", b"x"),
    ],
)
def test_a_bad_name_writes_nothing_anywhere(
    tmp_path: Path, victim: Path, bad: RenderedFile
) -> None:
    out = tmp_path / "out"
    write_tree(out, files(1), META)
    before_tree, before_victim = tree_view(out), snapshot(victim)
    with pytest.raises(RenderError):
        write_tree(out, [*files(2), bad], META)
    assert snapshot(victim) == before_victim
    assert tree_view(out) == before_tree  # the previous tree is untouched too
    assert_tree_is_its_manifest(out)


@pytest.mark.parametrize("name", ["../evil", "/abs", "a/b", "..", "lab-stor1/../../x"])
def test_inventory_host_names_with_path_parts_are_refused_by_validation(
    tmp_path: Path, write_site: object, name: str
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    for p in LAB.glob("*.yaml"):
        text = p.read_text()
        if p.name == "fabric.yaml":
            text = text.replace("{name: lab-stor1,", f"{{name: {json.dumps(name)},")
        (site / p.name).write_text(text)
    v = validate(site)
    assert not v.ok
    assert any(f.code == "HK102" and "devices" in f.message for f in v.findings)


# --- symlinks already in the output folder -----------------------------------------------


def test_current_pointing_outside_is_replaced_not_followed(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "current")  # absolute, outside
    os.symlink("current/hosts", out / "hosts")
    before = snapshot(victim)
    write_tree(out, files(1), META)
    assert snapshot(victim) == before
    assert_tree_is_its_manifest(out)


def test_current_pointing_up_and_out_is_replaced(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.symlink("../victim", out / "current")
    before = snapshot(victim)
    write_tree(out, files(1), META)
    write_tree(out, files(2), META)
    assert snapshot(victim) == before
    assert_tree_is_its_manifest(out)


def test_a_gen_symlink_pointing_elsewhere_is_neither_followed_nor_trusted(
    tmp_path: Path, victim: Path
) -> None:
    """``DIR/.gen-x -> victim`` with ``DIR/current -> .gen-x``: the victim's manifest claims
    the file the new render wants, so a render that trusted it would hard-link the victim's
    different bytes into the new tree (and clean-up must not delete through the link)."""
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / ".gen-x")
    os.symlink(".gen-x", out / "current")
    before = snapshot(victim)
    write_tree(out, files(1), META)
    assert snapshot(victim) == before
    assert not (out / ".gen-x").exists()  # the foreign link was removed, not followed
    assert_tree_is_its_manifest(out)


def test_a_symlink_inside_the_old_tree_is_not_written_through(tmp_path: Path, victim: Path) -> None:
    """Someone swapped a folder of the live tree for a link outside: the next render must
    not write through it. (Content edited inside the output folder is what `render --check`
    reports; render does not promise to repair a tampered tree, only to stay inside.)"""
    out = tmp_path / "out"
    write_tree(out, files(1), META)
    etc = (out / "hosts" / "h1" / "etc").resolve()
    assert etc.is_relative_to(out.resolve())
    shutil.rmtree(etc)
    os.symlink(victim / "hosts" / "h1" / "etc", etc)
    before = snapshot(victim)
    write_tree(out, files(2), META)
    write_tree(out, files(1), META)
    assert snapshot(victim) == before
    assert_inside(out)


def test_a_hosts_store_symlink_is_refused(tmp_path: Path, victim: Path) -> None:
    """Host folders are written below ``DIR/.hosts``: a link there would send them outside."""
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / ".hosts")
    before = snapshot(victim)
    with pytest.raises(InputError, match="symlink"):
        write_tree(out, files(1), META)
    assert snapshot(victim) == before


def test_a_host_folder_symlink_is_not_reused(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(1), META)
    real = (out / "hosts" / "h1").resolve()
    name = real.name
    # The next render of files(2) wants a new folder for h1: plant a link under its name.
    write_tree(out, files(2), META)
    new_name = (out / "hosts" / "h1").resolve().name
    write_tree(out, files(1), META)
    write_tree(out, files(3), META)  # neither generation uses files(2)'s folder now
    store = real.parent
    assert not (store / new_name).exists()
    os.symlink(victim / "hosts" / "h1", store / new_name)
    before = snapshot(victim)
    write_tree(out, files(2), META)
    assert snapshot(victim) == before
    assert_tree_is_its_manifest(out)
    assert name != new_name


def test_keys_naming_a_folder_outside_are_not_trusted(tmp_path: Path, victim: Path) -> None:
    """The current generation's keys.json says where each host's folder is; a forged one
    pointing outside must not become a link in the next generation."""
    from hkcompute.render.tree import read_state

    out = tmp_path / "out"
    write_tree(out, files(1), META)
    gen = out / os.readlink(out / "current")
    keys_file = gen / "keys.json"
    if not keys_file.exists():
        pytest.skip("this tree layout has no keys.json")
    doc = json.loads(keys_file.read_text())
    for v in doc["hosts"].values():
        v["dir"] = "../../victim/hosts/h1"
    keys_file.write_text(json.dumps(doc))
    st = read_state(out)
    for _key, folder in st.keys.values():
        assert "/" not in folder
    before = snapshot(victim)
    write_tree(out, files(1), META)
    assert snapshot(victim) == before
    assert_tree_is_its_manifest(out)


def test_the_new_generation_name_taken_by_a_symlink_is_refused(
    tmp_path: Path, victim: Path
) -> None:
    out = tmp_path / "out"
    write_tree(out, files(1), META)
    doc = tree.manifest_doc(files(2), META)
    name = tree.GEN_PREFIX + tree.sha256(manifest.encode(doc))[:16]
    os.symlink(victim, out / name)
    before = snapshot(victim)
    try:
        write_tree(out, files(2), META)
    except RenderError:
        pass  # refusing is fine; writing into the victim is not
    else:
        assert_tree_is_its_manifest(out)
    assert snapshot(victim) == before


@pytest.mark.parametrize("name", ["hosts", "manifest.json"])
def test_top_level_links_pointing_outside_are_replaced(
    tmp_path: Path, victim: Path, name: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim / ("hosts" if name == "hosts" else "manifest.json"), out / name)
    before = snapshot(victim)
    write_tree(out, files(1), META)
    assert snapshot(victim) == before
    assert os.readlink(out / name) == f"current/{name}"
    assert_tree_is_its_manifest(out)


def test_leftover_temporary_links_are_removed_not_followed(tmp_path: Path, victim: Path) -> None:
    out = tmp_path / "out"
    write_tree(out, files(1), META)
    os.symlink(victim, out / ".gen-0123456789abcdef.tmp-99999")
    os.symlink(victim / "secret.txt", out / ".current.tmp-99999")
    before = snapshot(victim)
    write_tree(out, files(2), META)
    assert snapshot(victim) == before
    assert not (out / ".gen-0123456789abcdef.tmp-99999").is_symlink()
    assert not (out / ".current.tmp-99999").is_symlink()


@pytest.mark.parametrize("name", ["hosts", "manifest.json", "current"])
def test_real_files_where_links_belong_are_refused(tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / name).mkdir() if name != "manifest.json" else (out / name).write_text("{}")
    with pytest.raises(InputError, match="not a link made by hkcompute"):
        write_tree(out, files(1), META)


def test_lab_render_stays_inside_and_matches_its_manifest(tmp_path: Path, victim: Path) -> None:
    from hkcompute.render.pipeline import render_site

    v = validate(LAB)
    assert v.site is not None
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / ".gen-x")
    os.symlink(".gen-x", out / "current")
    before = snapshot(victim)
    render_site(v.site, 1, out)
    render_site(v.site, 1, out)
    assert snapshot(victim) == before
    assert_tree_is_its_manifest(out)
    for rel in json.loads((out / "manifest.json").read_text())["files"]:
        assert rel.startswith("hosts/") and ".." not in rel.split("/")
        real = (out / rel).resolve()
        assert real.is_relative_to(out.resolve())
