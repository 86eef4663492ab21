"""The ifupdown2 checker: ifupdown2's own parser on Cumulus' /etc/network/interfaces, offline.

ifupdown2 is extracted from Debian's .deb by scripts/setup-debian.sh (never installed: it would
take over the machine's networking). Where it is not there the tests that run it are skipped
with the reason, except under CI (``CI=true`` or ``HKCOMPUTE_REQUIRE_TOOLS=1``), where they
fail: CI must not go green by skipping."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute import lint
from hkcompute.cli.main import app
from hkcompute.inventory.load import load_site
from hkcompute.lint import ifupdown2
from hkcompute.render import renderer as engine
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"
PHASE = 3


def need(*kinds: str) -> None:
    missing = {k: r for k in kinds if (r := lint.available(k)) is not None}
    if not missing:
        return
    reason = "; ".join(f"{k}: {r}" for k, r in sorted(missing.items()))
    if lint.tools_required():
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def leaf() -> tuple[str, bytes]:
    """The first sn5600-400 (Cumulus) leaf of hkstp phase 3, and its rendered interfaces."""
    site = load_site(HKSTP).site
    assert site is not None
    name = next(
        d.name for d in site.devices_upto(PHASE) if d.role == "leaf" and d.model == "sn5600-400"
    )
    (content,) = [
        f.content for f in render_files(site, PHASE, name) if f.path == "/etc/network/interfaces"
    ]
    return name, content


def _place(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "host" / "etc" / "network" / "interfaces"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    return path


def test_the_checker_is_registered_for_the_interfaces_file() -> None:
    assert "ifupdown2" in lint.names()
    assert engine.checkers_for("/etc/network/interfaces") == ("ifupdown2",)
    assert lint.recognise("etc/network/interfaces") == ("ifupdown2",)


def test_without_the_extracted_package_it_is_a_skip_naming_the_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ifupdown2.ENV_DIR, str(tmp_path / "nowhere"))
    assert ifupdown2.home() is None
    assert lint.available("ifupdown2") == "ifupdown2 not found; run scripts/setup-debian.sh"
    res = lint.check("ifupdown2", [_place(tmp_path, b"auto lo\niface lo inet loopback\n")])
    assert res.skipped and not res.ok and res.command == []
    assert "ifupdown2 not found; run scripts/setup-debian.sh" in res.output


def test_its_configuration_checks_keywords_and_keeps_state_in_the_sandbox() -> None:
    # Debian ships addon_syntax_check=0, with which a misspelt keyword passes --syntax-check.
    shipped = "use_daemon=no\naddon_syntax_check=0\nstate_dir=/var/tmp/network/\n"
    conf = ifupdown2._configuration(shipped, Path("/tmp/x/state"))
    assert conf.splitlines() == [
        "use_daemon=no",
        "addon_syntax_check=1",
        "state_dir=/tmp/x/state/",
    ]
    assert "addon_syntax_check=1" in ifupdown2._configuration("", Path("/s"))


def test_the_rendered_cumulus_leaf_passes(tmp_path: Path, leaf: tuple[str, bytes]) -> None:
    need("ifupdown2")
    name, content = leaf
    run_network = Path("/run/network").exists()
    res = lint.check("ifupdown2", [_place(tmp_path, content)])
    assert res.ok, f"{name}:\n{res.output}"
    assert "--syntax-check" in res.command and "--net" in res.command
    # Nothing of the checking machine was touched: /run/network is the namespace's own.
    assert Path("/run/network").exists() == run_network


@pytest.mark.parametrize(
    ("good", "bad", "says"),
    [
        ("bridge-access 100", "bridge-acces 100", "unsupported keyword (bridge-acces)"),
        ("vlan-id 100", "vlan-id 5000", "vlan-id: value of out range"),
        ("bridge-vlan-aware yes", "bridge-vlan-aware maybe", 'invalid value "maybe"'),
    ],
)
def test_a_broken_file_fails_in_ifupdown2s_words(
    tmp_path: Path, leaf: tuple[str, bytes], good: str, bad: str, says: str
) -> None:
    need("ifupdown2")
    _, content = leaf
    text = content.decode()
    assert f"    {good}\n" in text
    path = _place(tmp_path, text.replace(f"    {good}\n", f"    {bad}\n", 1).encode())
    res = lint.check("ifupdown2", [path])
    assert not res.ok and not res.skipped
    assert says in res.output, res.output
    if "keyword" in says:
        # The error names the original file (not the sandbox's copy) and the line.
        line = text.splitlines().index(f"    {good}") + 1
        assert f"{path}: line{line}: iface swp1: unsupported keyword" in res.output


def test_render_lint_runs_ifupdown2_and_frr_on_the_cumulus_leaf(
    tmp_path: Path, leaf: tuple[str, bytes]
) -> None:
    need("ifupdown2", "frr", "frr-bgpd", "frr-daemons")
    name, _ = leaf
    out = tmp_path / "out"
    args = ["render", str(HKSTP), "--phase", str(PHASE), "--out", str(out), "--host", name]
    done = CliRunner().invoke(app, [*args, "--lint"], catch_exceptions=False)
    assert done.exit_code == 0, done.stdout[-3000:] + done.stderr
    assert (out / "hosts" / name / "etc" / "network" / "interfaces").is_file()
    assert "0 failed" in done.stderr
