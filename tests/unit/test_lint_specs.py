"""The render engine's file specs and the lint registry agree (``render --lint``)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from hkcompute import lint
from hkcompute.inventory.load import bundled_catalog, load_site
from hkcompute.render import renderer as engine
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("site", ["lab", "hkstp"])
def test_every_rendered_file_has_a_spec_in_specs(site: str) -> None:
    # checkers_for looks paths up in SPECS and the platforms' files: a spec missing from
    # both would go unchecked.
    s = load_site(ROOT / "inventories" / site).site
    assert s is not None
    paths = {f.path for f in render_files(s, 1)}
    specs = (*engine.SPECS, *engine.platform_specs(s.catalog))
    known = {p for p in paths if any(fnmatch.fnmatchcase(p, spec.path) for spec in specs)}
    assert paths - known == set()


def test_every_named_checker_is_registered_and_every_registered_one_named() -> None:
    specs = (*engine.SPECS, *engine.platform_specs(bundled_catalog()))
    named = {c for spec in specs for c in spec.checkers}
    assert named == set(lint.names())


def test_checkers_of_a_path() -> None:
    assert engine.checkers_for("/etc/frr/frr.conf") == ("frr", "frr-bgpd")
    assert engine.checkers_for("/etc/bind/db.10.in-addr.arpa") == ("bind-zone",)
    assert engine.checkers_for("/etc/chrony/chrony.conf") == ("chrony",)
    assert engine.checkers_for("/etc/hosts") == ()
    assert lint.recognise("etc/slurm/gres.conf") == ("slurm-gres",)


def test_an_unknown_checker_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown kind 'sendmail'; known: bind-conf"):
        lint.check("sendmail", [Path("/etc/mail/sendmail.cf")])
