"""Crash safety: SIGKILL render and deploy at random points, many times.

* Render: after every kill, the tree reachable through ``DIR/current`` is exactly one of the
  two trees being alternated (each file's hash matches exactly one of the two manifests, and
  the file set is that manifest's), never a mix. Kills land at random times and, to cover
  every step of the writer, at the N-th filesystem operation of the writer.
* Deploy: after every kill (with a fake, slow ansible-runner feeding events), every journal
  is readable, a lock left behind is recognised as stale (and refused until broken), and the
  next run breaks it and resumes exactly the hosts the journal left unfinished.

Children are forked from this warm process (no imports per kill), so a hundred kills take
about a minute.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import pkgutil
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hkcompute.deploy import rollout as deploy_run
from hkcompute.deploy.journal import DONE, Journal
from hkcompute.deploy.lock import LOCK_NAME, SiteLock, is_stale, read_holder
from hkcompute.deploy.rollout import DeployOptions, deploy
from hkcompute.errors import HkError, LockHeld
from hkcompute.model import Site
from hkcompute.render import store
from hkcompute.render import tree as tree_mod
from hkcompute.render.pipeline import render_site
from hkcompute.validate import validate

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "inventories" / "lab"
RENDER_KILLS = int(os.environ.get("HK_CRASH_RENDER_KILLS", "40"))
STEP_KILLS = int(os.environ.get("HK_CRASH_STEP_KILLS", "40"))
DEPLOY_KILLS = int(os.environ.get("HK_CRASH_DEPLOY_KILLS", "12"))


# --- helpers -----------------------------------------------------------------------------------

# The render store's modules: each calls ``os`` and ``shutil`` by its own module name.
STORE_MODULES = [
    importlib.import_module(f"{store.__name__}.{m.name}")
    for m in pkgutil.iter_modules(store.__path__)
]


def _stand_in(name: str, value: object) -> None:
    """Replace ``name`` (os, shutil) in every module of the render store, as it was in the
    tree writer when it was one module: a kill then lands before any of the writer's
    file-system steps."""
    for mod in STORE_MODULES:
        if hasattr(mod, name):
            setattr(mod, name, value)


def _site(tmp: Path, name: str, change: bool) -> Site:
    """The lab, or the lab with values that change most rendered files (domain, NTP)."""
    d = tmp / name
    d.mkdir()
    for p in LAB.glob("*.yaml"):
        text = p.read_text()
        if change and p.name == "site.yaml":
            text = text.replace(
                "domain: lab.hkcompute.internal",
                "domain: lab2.hkcompute.internal\n  ntp_upstream: [ntp.example]",
            )
        (d / p.name).write_text(text)
    v = validate(d)
    assert v.site is not None and v.ok, [str(f) for f in v.findings][:5]
    return v.site


def _files(out: Path) -> dict[str, str]:
    """rel -> sha256 of every file reachable through DIR/current (following host links)."""
    found: dict[str, str] = {}
    base = out / "current" / "hosts"
    for dirpath, _dirs, names in os.walk(base, followlinks=True):
        for n in names:
            p = Path(dirpath) / n
            found["hosts/" + str(p.relative_to(base))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def _manifest(out: Path) -> dict[str, str]:
    doc = json.loads((out / "current" / "manifest.json").read_text())
    return {k: v["sha256"] for k, v in doc["files"].items()}


def _fork(child: Callable[[], object]) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            child()
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def _kill_after(pid: int, delay: float) -> bool:
    """SIGKILL ``pid`` after ``delay`` s unless it finished; True if it was killed."""
    t_end = time.monotonic() + delay
    while time.monotonic() < t_end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
            return False
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):  # it finished just before the signal
        assert os.WEXITSTATUS(status) == 0, status
        return False
    return True


class _KillingOs:
    """Stands in for ``os`` inside the tree writer: the N-th filesystem operation kills the
    process first, so a kill lands before every single step of a render, in turn."""

    OPS = frozenset(
        {
            "rename",
            "replace",
            "link",
            "symlink",
            "makedirs",
            "mkdir",
            "chmod",
            "fsync",
            "unlink",
            "open",
            "write",
            "remove",
            "rmdir",
        }
    )

    def __init__(self, real: Any, kill_at: int) -> None:
        self._real = real
        self.kill_at = kill_at
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)
        if name not in self.OPS or not callable(attr):
            return attr

        def op(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return attr(*args, **kwargs)

        return op


# --- render ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_sites(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Site, Site, dict[str, str], dict[str, str]]:
    tmp = tmp_path_factory.mktemp("sites")
    a, b = _site(tmp, "a", False), _site(tmp, "b", True)
    ma: dict[str, str] = {}
    mb: dict[str, str] = {}
    for site, m, name in ((a, ma, "ra"), (b, mb, "rb")):
        render_site(site, 1, tmp / name)
        m.update(_manifest(tmp / name))
        assert _files(tmp / name) == m
    differ = {k for k in ma.keys() & mb.keys() if ma[k] != mb[k]}
    assert len(differ) > 10  # the two trees really differ in many files
    return a, b, ma, mb


def _assert_old_or_new(out: Path, ma: dict[str, str], mb: dict[str, str]) -> str:
    """The tree is exactly A or exactly B (or absent before the first complete render)."""
    if not (out / "current").is_symlink():
        assert not (out / "hosts").exists() or not any((out / "hosts").iterdir())
        return "none"
    man = _manifest(out)
    files = _files(out)
    assert files == man, "the tree and its own manifest disagree"
    matches = [name for name, m in (("a", ma), ("b", mb)) if m == man]
    assert len(matches) == 1, "the manifest is neither the old nor the new tree"
    return matches[0]


def test_render_killed_at_random_times_leaves_old_or_new(
    tmp_path: Path, two_sites: tuple[Site, Site, dict[str, str], dict[str, str]]
) -> None:
    a, b, ma, mb = two_sites
    out = tmp_path / "out"
    r = random.Random(1234)
    t0 = time.monotonic()
    render_site(a, 1, out)
    took = time.monotonic() - t0
    seen: dict[str, int] = {}
    killed = 0
    for i in range(RENDER_KILLS):
        site = b if i % 2 == 0 else a
        pid = _fork(functools.partial(render_site, site, 1, out))
        killed += _kill_after(pid, r.uniform(0, took * 1.5))
        state = _assert_old_or_new(out, ma, mb)
        seen[state] = seen.get(state, 0) + 1
    assert killed >= RENDER_KILLS // 3, killed  # most runs really were killed mid-way
    # After all that, a normal render converges and cleans up the leftovers.
    render_site(b, 1, out)
    assert _assert_old_or_new(out, ma, mb) == "b"
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]


def test_render_killed_before_each_writer_step_leaves_old_or_new(
    tmp_path: Path, two_sites: tuple[Site, Site, dict[str, str], dict[str, str]]
) -> None:
    a, b, ma, mb = two_sites
    out = tmp_path / "out"
    render_site(a, 1, out)
    # Count the writer's filesystem operations for one A -> B render once both generations
    # exist, as in the loop below (in a child, so the stand-in never leaks into this process).
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        for warm in (a, b, a):
            render_site(warm, 1, tmp_path / "count")
        counter = _KillingOs(os, kill_at=-1)
        _stand_in("os", counter)
        render_site(b, 1, tmp_path / "count")
        os.write(wfd, str(counter.calls).encode())
        os._exit(0)
    os.close(wfd)
    total = int(os.read(rfd, 64) or b"0")
    os.close(rfd)
    os.waitpid(pid, 0)
    assert total > 10, total
    r = random.Random(99)
    steps = sorted({r.randint(1, total) for _ in range(STEP_KILLS)})
    kills = 0
    for i, step in enumerate(steps):
        site = b if i % 2 == 0 else a

        def child(site: Site = site, step: int = step) -> None:
            _stand_in("os", _KillingOs(os, step))
            render_site(site, 1, out)

        pid = _fork(child)
        _, status = os.waitpid(pid, 0)
        kills += os.WIFSIGNALED(status)
        _assert_old_or_new(out, ma, mb)
    assert kills >= len(steps) // 3, (kills, len(steps))
    render_site(a, 1, out)
    assert _assert_old_or_new(out, ma, mb) == "a"


class _KillingShutil:
    """Stands in for ``shutil`` inside the tree writer: ``rmtree`` of a host folder removes
    one file of it, then the process is killed (a clean-up interrupted midway)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def rmtree(self, path: Any, *args: Any, **kwargs: Any) -> None:
        if f"/{tree_mod.HOSTS_DIR}/" not in str(path):  # only a host folder's removal
            self._real.rmtree(path, *args, **kwargs)
            return
        for dirpath, _dirs, names in os.walk(path):
            if names:
                os.unlink(os.path.join(dirpath, names[0]))
                os.kill(os.getpid(), signal.SIGKILL)
        self._real.rmtree(path, *args, **kwargs)


def test_render_killed_inside_cleanup_never_reuses_a_half_removed_folder(
    tmp_path: Path, two_sites: tuple[Site, Site, dict[str, str], dict[str, str]]
) -> None:
    """Killed while removing folders neither generation uses any more, then A again: A's
    folders must not be taken back half removed (found by the random kills: files missing
    from the tree). A and B fill the two generations; a render of one host of A then leaves
    A's other folders to the clean-up."""
    import shutil

    a, b, ma, mb = two_sites
    out = tmp_path / "out"
    render_site(a, 1, out)
    render_site(b, 1, out)
    one = sorted({rel.split("/")[1] for rel in ma})[0]

    def child() -> None:
        _stand_in("shutil", _KillingShutil(shutil))
        render_site(a, 1, out, hosts=one)

    pid = _fork(child)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the clean-up was not reached"
    man = _manifest(out)
    assert _files(out) == man and {rel.split("/")[1] for rel in man} == {one}
    render_site(a, 1, out)
    assert _assert_old_or_new(out, ma, mb) == "a"


# --- deploy ------------------------------------------------------------------------------------


class _FakeResult:
    def __init__(self, status: str, rc: int) -> None:
        self.status = status
        self.rc = rc


def _fake_runner(
    seconds_per_host: float, record: dict[str, Any] | None = None
) -> Callable[..., _FakeResult]:
    """A stand-in for ansible_runner.run: one ok event per host, slowly, then the recap."""

    def run(**kwargs: Any) -> _FakeResult:
        hosts = kwargs["limit"].split(",")
        if record is not None:
            record["limit"] = hosts
        handler = kwargs["event_handler"]
        handler({"event": "playbook_on_play_start", "event_data": {"play": "fake"}})
        for h in hosts:
            time.sleep(seconds_per_host)
            handler(
                {
                    "event": "runner_on_ok",
                    "event_data": {"host": h, "task": "t", "res": {"changed": True}},
                }
            )
        handler(
            {
                "event": "playbook_on_stats",
                "event_data": {"ok": dict.fromkeys(hosts, 1), "changed": dict.fromkeys(hosts, 1)},
            }
        )
        return _FakeResult("successful", 0)

    return run


def test_deploy_killed_at_random_points_stays_resumable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ansible_runner

    v = validate(LAB)
    assert v.site is not None
    site = v.site
    state = tmp_path / "state"
    tree = tmp_path / "tree"
    monkeypatch.setattr(deploy_run, "render_site", render_site)
    r = random.Random(4321)
    per_host = 0.35  # ~3.5 s for the lab's hosts: journal saves happen along the way
    outcomes: dict[str, int] = {}
    for _ in range(DEPLOY_KILLS):
        monkeypatch.setattr(ansible_runner, "run", _fake_runner(per_host))
        opts = DeployOptions(phase=1, render_dir=tree, command="crash test")
        before = {r.run_id for r in Journal(state).list()}
        pid = _fork(functools.partial(deploy, site, state, opts))
        was_killed = _kill_after(pid, r.uniform(0.0, 4.5))
        outcomes["killed" if was_killed else "finished"] = (
            outcomes.get("killed" if was_killed else "finished", 0) + 1
        )

        # The journal stays readable: every run.json parses.
        journal = Journal(state)
        runs = journal.list()
        for d in (state / "runs").iterdir() if (state / "runs").is_dir() else []:
            if (d / "run.json").exists():
                json.loads((d / "run.json").read_text())
                assert journal.load(d.name).run_id == d.name
        # The lock, if left, is recognised as stale, named, and refuses a plain run.
        lock = state / LOCK_NAME
        if lock.exists():
            outcomes["stale lock"] = outcomes.get("stale lock", 0) + 1
            assert is_stale(lock)
            holder = read_holder(lock)
            with pytest.raises(LockHeld, match="stale") as info:
                SiteLock(state, "probe", "probe").acquire()
            if holder is not None:
                assert holder.run_id in str(info.value)
        # The tree a killed deploy was rendering is the old one or the new one.
        if (tree / "current").is_symlink():
            assert _files(tree) == _manifest(tree)

        # The next run breaks the stale lock and resumes what the last run left unfinished.
        # (Run ids sort by second only, so the killed run is found as the new one.)
        new = [x for x in runs if x.run_id not in before]
        assert len(new) <= 1, new
        last = new[0] if new else None
        record: dict[str, Any] = {}
        monkeypatch.setattr(ansible_runner, "run", _fake_runner(0.0, record))
        resume = last.run_id if last is not None and last.unfinished_hosts() else None
        opts = DeployOptions(
            phase=1, render_dir=tree, command="resume", break_lock=True, resume=resume
        )
        try:
            res = deploy(site, state, opts)
        except HkError as exc:  # pragma: no cover - reported with the context
            raise AssertionError(f"the run after a kill failed: {exc}") from exc
        assert res.ok, res.run
        assert not lock.exists()
        if resume is not None and last is not None:
            assert sorted(record["limit"]) == last.unfinished_hosts()
            assert res.run.resumed_from == last.run_id
            outcomes["resumed"] = outcomes.get("resumed", 0) + 1
            if any(x.status in DONE for x in last.hosts.values()):
                outcomes["resumed part"] = outcomes.get("resumed part", 0) + 1
    assert outcomes.get("killed", 0) >= DEPLOY_KILLS // 2, outcomes
    # The seeded delays hit every case: a stale lock, a resume, a resume of part of a run.
    assert outcomes.get("stale lock", 0) and outcomes.get("resumed part", 0), outcomes
    print(f"deploy kills: {outcomes}", file=sys.stderr)
