"""The fuzz harness in CI: a few seconds of derandomized mutation, and every kept crash input
replayed. The long run is ``scripts/fuzz.py`` (see docs/reliability.md).

Each input runs in a forked child with a time and memory limit (tests/fuzz/harness.py), so a
hang or a blow-up fails the test instead of hanging CI.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fuzz import harness

LAB_FILES = harness.seed(harness.LAB)


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=3))
def test_mutated_lab_never_crashes_hangs_or_blows_up(seed: int, rounds: int) -> None:
    r = random.Random(seed)
    files = LAB_FILES
    for _ in range(rounds):
        files = harness.mutate(r, files)
    out = harness.run_one(files)
    assert not out.bug, (out.kind, out.detail[-3000:])


@pytest.mark.parametrize(
    "mutator",
    [harness.mutate_gentle, harness.mutate_values, harness.mutate_bytes, harness.mutate_yaml],
)
def test_each_mutator_is_survived(mutator: harness.Mutator) -> None:
    r = random.Random(7)
    for _ in range(2):
        out = harness.run_one(mutator(r, LAB_FILES))
        assert not out.bug, (out.kind, out.detail[-3000:])


def test_unmutated_lab_renders() -> None:
    """The harness itself works: the seed goes all the way through render."""
    out = harness.run_one(LAB_FILES)
    assert (out.kind, out.detail) == ("ok", "render")


CASES = harness.corpus_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_no_longer_crashes(case: Path) -> None:
    """Inputs that once crashed, hung or blew up (kept by scripts/fuzz.py --save)."""
    out = harness.run_one(harness.load_case(case), timeout=harness.TIMEOUT_BIG_S)
    assert not out.bug, (case.name, out.kind, out.detail[-3000:])
