"""Two deploys at once against one site: exactly one runs; the other is refused with the
holder named (its run id, user@host and pid).

The deploys are real ``hkcompute.deploy.rollout.deploy`` calls in two forked processes, started
together at a barrier; ansible-runner is replaced by a fake that takes a while, so the two
really overlap. The CLI test checks the refusal a user sees (exit 1, the holder named).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hkcompute.deploy.lock import LOCK_NAME, SiteLock, read_holder
from hkcompute.deploy.rollout import DeployOptions, deploy
from hkcompute.errors import LockHeld
from hkcompute.validate import validate

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab"


class _Result:
    status = "successful"
    rc = 0


def _slow_runner(**kwargs: Any) -> _Result:
    """Stands in for ansible_runner.run: a run that lasts long enough to overlap."""
    time.sleep(2.0)
    hosts = kwargs["limit"].split(",")
    kwargs["event_handler"](
        {"event": "playbook_on_stats", "event_data": {"ok": dict.fromkeys(hosts, 1), "changed": {}}}
    )
    return _Result()


def _one_deploy(state: str, tree: str, barrier: Any, results: Any, name: str) -> None:
    import ansible_runner

    ansible_runner.run = _slow_runner  # only in this child
    v = validate(LAB)
    assert v.site is not None
    barrier.wait()
    try:
        res = deploy(
            v.site,
            Path(state),
            DeployOptions(phase=1, render_dir=Path(tree), command=f"deploy {name}"),
        )
        results.put((name, "ran", res.run.run_id, os.getpid(), res.run.status))
    except LockHeld as exc:
        results.put((name, "refused", str(exc), os.getpid(), ""))
    except BaseException as exc:  # reported to the parent rather than lost in the child
        results.put((name, "error", f"{type(exc).__name__}: {exc}", os.getpid(), ""))


@pytest.mark.parametrize("attempt", range(3))
def test_two_deploys_at_once_exactly_one_runs(tmp_path: Path, attempt: int) -> None:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    state, tree = str(tmp_path / "state"), str(tmp_path / "tree")
    procs = [
        ctx.Process(target=_one_deploy, args=(state, tree, barrier, results, n))
        for n in ("first", "second")
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    kinds = sorted(g[1] for g in got)
    assert kinds == ["ran", "refused"], got
    ran = next(g for g in got if g[1] == "ran")
    refused = next(g for g in got if g[1] == "refused")
    assert ran[4] == "ok", ran
    message = refused[2]
    # The holder is named: its run id, its pid, who and where, and what it runs.
    assert "another deploy of this site is running" in message, message
    assert ran[2] in message and f"pid {ran[3]}" in message, (message, ran)
    assert f"deploy {ran[0]}" in message
    assert "@" in message
    # The refused one wrote nothing: one journal, no lock left behind.
    runs = sorted(p.name for p in (tmp_path / "state" / "runs").iterdir())
    assert runs == [ran[2]]
    assert not (tmp_path / "state" / LOCK_NAME).exists()


def _race(state: str, barrier: Any, results: Any, i: int) -> None:
    lock = SiteLock(Path(state), f"run-{i}", f"racer {i}")
    barrier.wait()
    try:
        lock.acquire()
    except LockHeld as exc:
        results.put((i, "refused", str(exc)))
        return
    results.put((i, "won", ""))
    time.sleep(0.3)  # hold it while the others look
    lock.release()


RACE_ROUNDS = int(os.environ.get("HK_LOCK_RACE_ROUNDS", "25"))


def test_racing_for_the_lock_always_names_the_live_holder(tmp_path: Path) -> None:
    """Many processes grab the lock at the same instant, many times: one wins, every other
    is told a deploy is running and by whom; never "an unreadable lock file" (read before
    the holder wrote it) nor "stale" (seen before the holder's flock), which a lock created
    in place and then written and flocked used to say."""
    ctx = mp.get_context("fork")
    for rnd in range(RACE_ROUNDS):
        state = tmp_path / f"s{rnd}"
        barrier = ctx.Barrier(4)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_race, args=(str(state), barrier, results, i)) for i in range(4)
        ]
        for p in procs:
            p.start()
        got = [results.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(10)
        winners = [g for g in got if g[1] == "won"]
        assert len(winners) == 1, got
        for _i, kind, message in got:
            if kind == "refused":
                assert message.startswith(
                    f"another deploy of this site is running: run run-{winners[0][0]} by "
                ), (rnd, message)
        assert not (state / LOCK_NAME).exists()
        assert not [p.name for p in state.iterdir()], "a temporary lock file was left"


def _hold_lock(state: str, ready: Any, release: Any) -> None:
    with SiteLock(Path(state), "20990101T000000Z-abcdef", "hkcompute deploy lab --phase 1"):
        ready.set()
        release.wait(60)


def test_the_cli_refuses_with_the_holder_named(tmp_path: Path) -> None:
    from hkcompute.cli.main import app

    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    state = tmp_path / "state"
    holder = ctx.Process(target=_hold_lock, args=(str(state), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        info = read_holder(state / LOCK_NAME)
        assert info is not None and info.pid == holder.pid
        r = CliRunner().invoke(
            app,
            [
                "deploy",
                str(LAB),
                "--phase",
                "1",
                "--state-dir",
                str(state),
                "--render-dir",
                str(tmp_path / "tree"),
            ],
            env={"HKCOMPUTE_LOG_DIR": str(tmp_path / "logs")},
        )
        assert r.exit_code == 1, r.output
        assert "another deploy of this site is running" in r.stderr
        assert "20990101T000000Z-abcdef" in r.stderr and f"pid {holder.pid}" in r.stderr
        assert not (tmp_path / "tree").exists()  # refused before rendering anything
        assert not (tmp_path / "logs").exists()  # an expected error, not a crash
    finally:
        release.set()
        holder.join(30)
    assert not (state / LOCK_NAME).exists()
    # And once the holder is gone, the lock file is gone with it: the next run may start.
    assert holder.exitcode == 0
