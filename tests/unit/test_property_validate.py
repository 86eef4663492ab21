"""Property: whatever the lab inventory is mutated into, validation reports, never crashes.

``hkcompute.validate.validate`` may raise InputError (unreadable input) and nothing else;
the CLI exits 0, 1 or 2 (3 would be an internal error). Derandomized so CI is repeatable,
and bounded to a few seconds.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hkcompute.cli.main import app
from hkcompute.errors import InputError
from hkcompute.validate import validate

from .conftest import LAB

Path_ = tuple[str | int, ...]

# The lab's files as plain data: one document per file name.
LAB_DATA: dict[str, Any] = {
    p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(LAB.glob("*.yaml"))
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**63, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "no",
            "on",
            "0755",
            "r[1-99999999]",
            "r[9-1]",
            "x" * 200,
            "é中文🚀",
            "lab-r01",
            "lab-su1-n01",
            "H100-SXM",
            "2026-13-45",
            "hku-lab",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, here: Path_ = ()) -> list[Path_]:
    out: list[Path_] = [here] if here else []
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*here, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*here, i)))
    return out


def _parent(doc: Any, path: Path_) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _mutate(doc: Any, path: Path_, op: str, value: Any) -> None:
    parent = _parent(doc, path)
    key = path[-1]
    if op == "replace":
        parent[key] = value
    elif op == "delete":
        del parent[key]
    elif op == "duplicate" and isinstance(parent, list) and isinstance(key, int):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif op == "add" and isinstance(parent, dict):
        parent[str(value)[:12] or "k"] = copy.deepcopy(parent[key])
    elif op == "wrap":
        parent[key] = [parent[key]]
    else:
        parent[key] = value


@st.composite
def mutated_sites(draw: st.DrawFn) -> dict[str, Any]:
    site = copy.deepcopy(LAB_DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        name = draw(st.sampled_from(sorted(site)))
        paths = _paths(site[name])
        if not paths:
            continue
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "add", "wrap"]))
        _mutate(site[name], path, op, draw(values))
    return site


def _write(root: Path, site: dict[str, Any]) -> None:
    for name, doc in site.items():
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        (root / name).write_text(text, encoding="utf-8")


@settings(
    max_examples=70,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated_sites())
def test_validate_never_crashes(site: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write(root, site)
        with contextlib.suppress(InputError):  # the one error validate() may raise
            validate(root)
        result = CliRunner().invoke(
            app,
            ["validate", str(root), "--format", "json"],
            env={"HKCOMPUTE_LOG_DIR": str(root / "logs")},
        )
        assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
