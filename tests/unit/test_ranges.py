"""Name ranges: padding, lists, products, malformed and oversized expressions."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hkcompute.inventory.ranges import (
    MAX_RANGE,
    RangeError,
    compress,
    count,
    expand,
    expand_hostlist,
    is_range,
)


def test_plain_name_is_itself() -> None:
    assert expand("gpu01") == ["gpu01"]
    assert not is_range("gpu01")


def test_padding_follows_the_start() -> None:
    assert expand("gpu-b[001-003]") == ["gpu-b001", "gpu-b002", "gpu-b003"]
    assert expand("r[8-11]") == ["r8", "r9", "r10", "r11"]
    assert expand("r[08-11]") == ["r08", "r09", "r10", "r11"]


def test_lists_and_spans() -> None:
    assert expand("n[01-02,05,07-08]") == ["n01", "n02", "n05", "n07", "n08"]
    assert count("n[01-02,05,07-08]") == 5


def test_groups_multiply_in_order() -> None:
    assert expand("h[1-2]-r[1-2]x") == ["h1-r1x", "h1-r2x", "h2-r1x", "h2-r2x"]
    assert count("h[1-2]-r[1-3]") == 6


def test_single_item_group() -> None:
    assert expand("sw[7]") == ["sw7"]


@pytest.mark.parametrize("expr", ["gpu[5-1]", "gpu[1-3,9-2]"])
def test_reversed_span_is_an_error(expr: str) -> None:
    with pytest.raises(RangeError, match="backwards") as info:
        expand(expr)
    assert not info.value.limit


@pytest.mark.parametrize("expr", ["gpu[a-b]", "gpu[1-]", "gpu[]", "gpu[1--3]"])
def test_malformed_group(expr: str) -> None:
    with pytest.raises(RangeError, match="not a number"):
        expand(expr)


@pytest.mark.parametrize("expr", ["gpu[1-3", "gpu1-3]", "gpu[[1-3]]"])
def test_unbalanced_brackets(expr: str) -> None:
    with pytest.raises(RangeError):
        expand(expr)


def test_huge_range_is_refused_without_allocating() -> None:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(RangeError, match="limit") as info:
            expand("gpu[1-99999999]")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.limit
    assert time.perf_counter() - start < 0.5
    assert peak < 1_000_000  # bytes: nothing like 10^8 names was built


def test_product_over_the_limit() -> None:
    with pytest.raises(RangeError, match="limit") as info:
        count("a[1-1000]b[1-1000]")
    assert info.value.limit


def test_exactly_the_limit_is_allowed() -> None:
    assert count(f"n[1-{MAX_RANGE}]") == MAX_RANGE
    with pytest.raises(RangeError):
        count(f"n[1-{MAX_RANGE + 1}]")


def test_range_errors_become_findings(
    tmp_path: Path,
    write_site: Callable[[Path, dict[str, str | None]], Path],
    minimal_files: dict[str, str | None],
) -> None:
    from hkcompute.validate import validate

    fac = str(minimal_files["facility.yaml"]).replace('"r[01-03]"', '"r[03-01]"')
    fs = validate(write_site(tmp_path, {**minimal_files, "facility.yaml": fac})).findings
    assert [(f.code, f.location.line) for f in fs if f.code == "HK106"] == [("HK106", 4)]
    fac = str(minimal_files["facility.yaml"]).replace('"r[01-03]"', '"r[1-99999999]"')
    fs = validate(write_site(tmp_path, {**minimal_files, "facility.yaml": fac})).findings
    assert "HK005" in {f.code for f in fs}


def test_host_lists_in_slurms_syntax() -> None:
    assert compress(["a-n01", "a-n02", "a-n04"]) == "a-n[01-02,04]"
    assert compress(["svc", "n9", "n10", "n11"]) == "svc,n9,n[10-11]"
    assert expand_hostlist("a[01-02]b,c") == ["a01b", "a02b", "c"]
    assert expand_hostlist("/dev/nvidia[0-3,5]") == [f"/dev/nvidia{i}" for i in (0, 1, 2, 3, 5)]


_NAMES = st.lists(
    st.builds(
        lambda p, n, w: f"{p}{n:0{w}d}",
        st.sampled_from(["n", "su1-n", "gpu-b"]),
        st.integers(0, 300),
        st.integers(1, 4),
    )
    | st.sampled_from(["svc", "login"]),
    min_size=1,
    max_size=40,
    unique=True,
)


@given(_NAMES)
def test_compress_then_expand_gives_the_same_names(names: list[str]) -> None:
    # One implementation both ways: what render writes, Slurm (and our checks) read back.
    assert sorted(expand_hostlist(compress(names))) == sorted(names)
