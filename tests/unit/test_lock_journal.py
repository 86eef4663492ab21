"""The deploy lock and the run journal."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from hkcompute.deploy.journal import HostResult, Journal, Run, new_run_id
from hkcompute.deploy.lock import SiteLock, break_stale, is_stale
from hkcompute.errors import LockHeld, UsageError


def test_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with (
        SiteLock(tmp_path, "run-1", "hkcompute deploy lab --phase 1"),
        pytest.raises(LockHeld, match=r"run-1 by .*hkcompute deploy lab --phase 1"),
    ):
        SiteLock(tmp_path, "run-2", "second").acquire()
    # released: a new run may take it
    with SiteLock(tmp_path, "run-3", "third"):
        pass


def _die_holding(state: str) -> None:
    SiteLock(Path(state), "dead-run", "killed deploy").acquire()
    os._exit(0)  # the process dies without releasing: the lock file stays


def test_lock_of_a_dead_process_is_stale_and_breakable(tmp_path: Path) -> None:
    p = multiprocessing.get_context("fork").Process(target=_die_holding, args=(str(tmp_path),))
    p.start()
    p.join()
    assert is_stale(tmp_path / "deploy.lock")
    with pytest.raises(LockHeld, match=r"stale deploy lock.*dead-run.*--break-lock"):
        SiteLock(tmp_path, "next", "next").acquire()
    holder = break_stale(tmp_path)
    assert holder is not None and holder.run_id == "dead-run"
    with SiteLock(tmp_path, "next", "next"):
        pass


def test_live_lock_is_not_broken(tmp_path: Path) -> None:
    with SiteLock(tmp_path, "live", "live"), pytest.raises(LockHeld, match="live process"):
        break_stale(tmp_path)


def test_journal_round_trip_and_resume_selection(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    run = Run(new_run_id(), "lab", 1, "hkcompute deploy lab --phase 1", "h" * 64)
    run.hosts = {
        "a": HostResult("ok", ok=5),
        "b": HostResult("failed", failed=1),
        "c": HostResult("unreachable", unreachable=1),
        "d": HostResult("pending"),
        "e": HostResult("changed", changed=2),
    }
    j.save(run)
    back = j.load(run.run_id)
    assert back.unfinished_hosts() == ["b", "c", "d"]
    assert back.hosts["e"].changed == 2
    assert [r.run_id for r in j.list()] == [run.run_id]
    doc = json.loads((tmp_path / "runs" / run.run_id / "run.json").read_text())
    assert doc["inventory_hash"] == "h" * 64 and doc["user"]


def test_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no run"):
        Journal(tmp_path).load("20990101T000000Z-abcdef")
    with pytest.raises(UsageError):
        Journal(tmp_path).load("../etc")


def test_a_private_lock_name_left_by_a_killed_deploy_is_swept(tmp_path: Path) -> None:
    """A deploy killed between making its private lock file and linking it into place
    leaves that file; the next deploy removes it (its flock died with its process), but
    never a young one, which may belong to a deploy starting right now."""
    import os

    from hkcompute.deploy.lock import SiteLock

    old = tmp_path / ".deploy.lock.99999.20990101T000000.000Z-abcdef"
    old.write_text("{}")
    os.utime(old, (1_000_000, 1_000_000))
    young = tmp_path / ".deploy.lock.99998.20990101T000000.000Z-fedcba"
    young.write_text("{}")
    with SiteLock(tmp_path, "20990101T000001.000Z-123456", "hkcompute deploy t"):
        pass
    assert not old.exists() and young.exists()


def test_run_ids_sort_in_start_order_within_one_second() -> None:
    """Runs started a few milliseconds apart list in the order they started."""
    import time

    from hkcompute.deploy.journal import new_run_id

    ids = []
    for _ in range(20):
        ids.append(new_run_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert all(len(i.split("-")[0]) == len("20990101T000000.000Z") for i in ids)
