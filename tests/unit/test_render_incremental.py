"""An incremental render is exactly a full render: for a range of single changes to the lab
inventory, rendering over the previous tree gives the same files and manifest as rendering
the changed site into an empty folder, and rendering the original again gives the original
back. This is what render keys (reuse of unchanged hosts) and the two generations must
never break."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hkcompute.inventory.load import load_site
from hkcompute.model import Site
from hkcompute.render.pipeline import render_site

LAB = Path(__file__).resolve().parents[2] / "inventories" / "lab"

# (name, file, old text, new text): each one change a user could make.
CHANGES = [
    (
        "one node's MAC",
        "fabric.yaml",
        '  - {name: "lab-su1-n[03-04]", model: lab-ascend}\n',
        '  - {name: "lab-su1-n[03-04]", model: lab-ascend}\n'
        '  - {name: lab-su1-n01, mac: "02:00:00:00:00:99"}\n',
    ),
    (
        "the time zone",
        "site.yaml",
        "  domain: lab.hkcompute.internal\n",
        "  domain: lab.hkcompute.internal\n  timezone: Europe/London\n",
    ),
    (
        "the admin users",
        "site.yaml",
        "  domain: lab.hkcompute.internal\n",
        "  domain: lab.hkcompute.internal\n  admin_users: [root, ops]\n",
    ),
    (
        "the domain",
        "site.yaml",
        "  domain: lab.hkcompute.internal\n",
        "  domain: lab2.hkcompute.internal\n",
    ),
    (
        "the compute pool",
        "fabric.yaml",
        "compute: {cidr: 10.102.0.0/22}",
        "compute: {cidr: 10.112.0.0/22}",
    ),
    ("the leaf ASN range", "fabric.yaml", "leaf: {first: 4200000001", "leaf: {first: 4200000101"),
    (
        "the storage node's position",
        "fabric.yaml",
        "rack: lab-r01, u: 30,",
        "rack: lab-r01, u: 31,",
    ),
    (
        "a node's vendor",
        "fabric.yaml",
        '  - {name: "lab-su1-n[03-04]", model: lab-ascend}\n',
        '  - {name: "lab-su1-n04", model: lab-ascend}\n',
    ),
]


def _site(folder: Path) -> Site:
    loaded = load_site(folder)
    assert loaded.site is not None, [f.message for f in loaded.findings]
    return loaded.site


def _tree(out: Path) -> tuple[dict[str, object], dict[str, bytes]]:
    manifest = json.loads((out / "manifest.json").read_text())
    files = {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted((out / "hosts").rglob("*"))
        if p.is_file()
    }
    return manifest["files"], files


@pytest.mark.parametrize("name,file,old,new", CHANGES, ids=[c[0] for c in CHANGES])
def test_incremental_render_equals_a_full_render(
    tmp_path: Path, name: str, file: str, old: str, new: str
) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(LAB, changed)
    text = (changed / file).read_text()
    assert old in text, f"{file} no longer has {old!r}: update this test"
    (changed / file).write_text(text.replace(old, new, 1))
    base, site = _site(LAB), _site(changed)

    out, fresh, again = tmp_path / "out", tmp_path / "fresh", tmp_path / "again"
    render_site(base, 1, out)
    original = _tree(out)
    inc = render_site(site, 1, out)  # over the tree of the base site
    render_site(site, 1, fresh)  # into an empty folder
    assert _tree(out) == _tree(fresh)
    # byte for byte, though most of it is spliced from the previous manifest
    assert (out / "manifest.json").read_bytes() == (fresh / "manifest.json").read_bytes()
    if name == "one node's MAC":  # a local change re-renders few hosts
        assert 0 < inc.rendered_hosts < inc.hosts
    render_site(base, 1, out)  # and back, through the other generation
    assert _tree(out) == original
    render_site(base, 1, again)
    assert _tree(again) == original
    assert render_site(base, 1, out, check=True).check.ok  # type: ignore[union-attr]


def test_a_manifest_edited_by_hand_is_not_spliced_into_the_next(tmp_path: Path) -> None:
    """Unchanged hosts' manifest rows are copied from the current manifest only when it is
    byte for byte the one render wrote (its digest is in keys.json): one edited by hand, the
    same JSON laid out a little differently, would otherwise carry its layout into the next
    manifest, which would then differ from a full render's."""
    changed = tmp_path / "changed"
    shutil.copytree(LAB, changed)
    old, new = CHANGES[0][2], CHANGES[0][3]
    (changed / "fabric.yaml").write_text((changed / "fabric.yaml").read_text().replace(old, new))
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    render_site(_site(LAB), 1, out)
    manifest = out / "current" / "manifest.json"
    real = manifest.resolve()
    text = real.read_text()  # the same JSON, one space more in the first host's first row
    assert '   "mode": ' in text
    real.write_text(text.replace('   "mode": ', '   "mode":  ', 1))
    render_site(_site(changed), 1, out)
    render_site(_site(changed), 1, fresh)
    assert (out / "manifest.json").read_bytes() == (fresh / "manifest.json").read_bytes()
