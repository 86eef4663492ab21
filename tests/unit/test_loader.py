"""Loading: positions survive to findings, YAML pitfalls, and hostile input.

Hostile input (empty, binary, huge, alias bombs, deep nesting) must end in InputError (CLI
exit 2) with a clear message, never a traceback or an exhausted machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.errors import InputError
from hkcompute.findings import Severity
from hkcompute.inventory.yamlsrc import MAX_FILE_BYTES
from hkcompute.validate import validate

from .conftest import MINIMAL_FILES, codes, only

WriteSite = Callable[[Path, dict[str, str | None]], Path]


def _with(tmp_path: Path, write_site: WriteSite, **changes: str | None) -> Path:
    files = dict(MINIMAL_FILES)
    for key, text in changes.items():
        files[key.replace("_yaml", ".yaml")] = text
    return write_site(tmp_path, files)


def _exit_2_without_traceback(path: Path, needle: str) -> None:
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    # Rich wraps long messages to the console width: compare with whitespace collapsed
    assert needle in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- positions -------------------------------------------------------------------------------


def test_wrong_value_points_at_file_line_col(tmp_path: Path, write_site: WriteSite) -> None:
    racks = (
        "halls:\n  - {name: h1, feed_mw: 1, cooling: air, pue: 1.3, phase: 1}\n"
        'racks:\n  - {name: "r[01-02]", hall: h1, phase: 1, row: A, x_m: 0, y_m: 0, '
        "power_kw: 45}\n"
        "  - name: r03\n    hall: h1\n    phase: 1\n    row: A\n    x_m: 0\n    y_m: 0\n"
        "    power_kw: -5\n"
    )
    fs = validate(_with(tmp_path, write_site, facility_yaml=racks)).findings
    bad = only(fs, "HK102")
    assert len(bad) == 1
    loc = bad[0].location
    assert Path(loc.path).name == "facility.yaml"
    assert (loc.line, loc.column) == (11, 5)  # the power_kw key of r03
    assert "power_kw" in bad[0].message
    assert str(loc).endswith("facility.yaml:11:5")


def test_duplicate_key(tmp_path: Path, write_site: WriteSite) -> None:
    site = "site:\n  name: mini\n  location: a\n  location: b\n  target: {pflops: 10, year: 2027}\n"
    site += str(MINIMAL_FILES["site.yaml"]).split("networks:", 1)[1].join(["networks:", ""])
    fs = validate(_with(tmp_path, write_site, site_yaml=site)).findings
    dup = only(fs, "HK002")
    assert [(Path(f.location.path).name, f.location.line) for f in dup] == [("site.yaml", 4)]
    assert "first at line 3" in dup[0].message


def test_yaml_syntax_error_has_its_line(tmp_path: Path, write_site: WriteSite) -> None:
    fs = validate(
        _with(
            tmp_path, write_site, tenants_yaml="tenants:\n  - {name: t1, kind: local\n  - oops: [\n"
        )
    ).findings
    syn = only(fs, "HK001")
    assert len(syn) == 1
    assert Path(syn[0].location.path).name == "tenants.yaml"
    assert syn[0].location.line in (3, 4)


def test_unknown_key_did_you_mean(tmp_path: Path, write_site: WriteSite) -> None:
    fac = str(MINIMAL_FILES["facility.yaml"]).replace("power_kw: 45", "powr_kw: 45")
    fs = validate(_with(tmp_path, write_site, facility_yaml=fac)).findings
    unk = only(fs, "HK101")
    assert [(Path(f.location.path).name, f.location.line) for f in unk] == [("facility.yaml", 4)]
    assert unk[0].hint == "did you mean 'power_kw'?"


def test_unknown_top_level_key(tmp_path: Path, write_site: WriteSite) -> None:
    fs = validate(_with(tmp_path, write_site, extra_yaml="rackz: []\n")).findings
    assert only(fs, "HK101")[0].hint == "did you mean 'racks'?"


# --- YAML 1.1 surprises ----------------------------------------------------------------------


def test_octal_looking_number_warns(tmp_path: Path, write_site: WriteSite) -> None:
    site = str(MINIMAL_FILES["site.yaml"]).replace("year: 2027", "year: 02027")
    v = validate(_with(tmp_path, write_site, site_yaml=site))
    warn = only(v.findings, "HK004")
    assert len(warn) == 1 and warn[0].severity is Severity.WARNING
    assert warn[0].location.line == 4


def test_0755_is_flagged(tmp_path: Path, write_site: WriteSite) -> None:
    # a value where 0755 would be a (bad) rack count: flagged, read as decimal 755
    fs = validate(
        _with(
            tmp_path,
            write_site,
            energy_yaml="energy:\n  - {name: pv, kind: solar, phase: 1, kw: 0755}\n",
        )
    ).findings
    assert "HK004" in codes(fs)
    assert "octal 493" in only(fs, "HK004")[0].message


def test_no_stays_a_string(tmp_path: Path, write_site: WriteSite) -> None:
    site = str(MINIMAL_FILES["site.yaml"]).replace("location: test bench", "location: no")
    v = validate(_with(tmp_path, write_site, site_yaml=site))
    assert v.site is not None and v.site.info.location == "no"
    assert v.findings == []


# --- hostile input ---------------------------------------------------------------------------


def test_empty_file(tmp_path: Path, write_site: WriteSite) -> None:
    path = _with(tmp_path, write_site, empty_yaml="\n  \n")
    with pytest.raises(InputError, match="empty file"):
        validate(path)
    _exit_2_without_traceback(path, "empty file")


def test_binary_garbage(tmp_path: Path, write_site: WriteSite) -> None:
    path = _with(tmp_path, write_site)
    (path / "junk.yaml").write_bytes(b"site:\x00\x01\x02\xff\xfe" * 100)
    with pytest.raises(InputError, match="NUL"):
        validate(path)
    _exit_2_without_traceback(path, "binary data")


def test_not_utf8(tmp_path: Path, write_site: WriteSite) -> None:
    path = _with(tmp_path, write_site)
    (path / "latin.yaml").write_bytes(b"energy: [\xe9]\n")
    with pytest.raises(InputError, match="UTF-8"):
        validate(path)


def test_huge_file(tmp_path: Path, write_site: WriteSite) -> None:
    path = _with(tmp_path, write_site)
    with (path / "huge.yaml").open("w") as fh:
        fh.write("energy:\n")
        line = "  - {name: pv, kind: solar, phase: 1, kw: 1}\n"
        fh.write(line * (MAX_FILE_BYTES // len(line) + 10))
    with pytest.raises(InputError, match="MiB"):
        validate(path)
    _exit_2_without_traceback(path, "limit")


def test_billion_laughs(tmp_path: Path, write_site: WriteSite) -> None:
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    text = "x-bomb:\n" + "\n".join("  " + b for b in bomb) + "\n"
    path = _with(tmp_path, write_site, bomb_yaml=text)
    start = time.perf_counter()
    with pytest.raises(InputError, match="alias"):
        validate(path)
    assert time.perf_counter() - start < 20
    _exit_2_without_traceback(path, "alias")


def test_deep_nesting(tmp_path: Path, write_site: WriteSite) -> None:
    path = _with(tmp_path, write_site, deep_yaml="deep: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(InputError, match="nesting deeper"):
        validate(path)
    _exit_2_without_traceback(path, "nesting deeper")


def test_deep_block_mappings(tmp_path: Path, write_site: WriteSite) -> None:
    text = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v\n"
    path = _with(tmp_path, write_site, deep_yaml=text)
    with pytest.raises(InputError, match="nesting deeper"):
        validate(path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        validate(tmp_path / "nope")
    _exit_2_without_traceback(tmp_path / "nope", "no such site")


def test_folder_without_yaml(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no \*\.yaml"):
        validate(tmp_path)


def test_custom_tag_is_a_finding(tmp_path: Path, write_site: WriteSite) -> None:
    fs = validate(
        _with(tmp_path, write_site, x_yaml="energy: !!python/name:os.system ''\n")
    ).findings
    assert "HK001" in codes(fs)


def test_top_level_key_in_two_files(tmp_path: Path, write_site: WriteSite) -> None:
    fs = validate(_with(tmp_path, write_site, more_yaml="tenants: []\n")).findings
    assert "HK003" in codes(fs)
