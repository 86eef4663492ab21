"""`hkcompute lock`: record what is built (``SITE/hkcompute.lock``), or release a device from it.

``hkcompute lock SITE --phase N`` writes every allocation of phases up to N (the site must
validate, so an earlier lock is honoured: a lock can never be rewritten over a move).
``hkcompute lock SITE --release DEVICE...`` gives up devices' allocations, on purpose and by
name. Both write atomically and print what the lock now holds on stdout (one line).
"""

from __future__ import annotations

from typing import Annotated

import typer

from hkcompute import atomic
from hkcompute.asbuilt.lock import Lock, dump
from hkcompute.cli.common import boundary, check_phase, emit, prepare_out_file, resolve_site
from hkcompute.errors import UsageError
from hkcompute.inventory.load import load_site, lock_path
from hkcompute.inventory.ranges import RangeError, expand
from hkcompute.plan import plan_for
from hkcompute.plan.lock import release, take_lock
from hkcompute.validate import load_valid_site


def _summary(lock: Lock) -> str:
    return (
        f"{len(lock.addresses):,} addresses, {len(lock.asns):,} ASNs, {len(lock.links):,} links"
        + (f", {len(lock.released):,} released" if lock.released else "")
    )


@boundary
def lock_cmd(
    site: Annotated[str, typer.Argument(help="site folder (or name under inventories/)")],
    phase: Annotated[
        int | None, typer.Option(help="lock every allocation of phases up to N (what is built)")
    ] = None,
    release_: Annotated[
        list[str] | None,
        typer.Option(
            "--release",
            help="give up a device's allocations (repeat, or a range such as n[01-04])",
        ),
    ] = None,
) -> None:
    """Write SITE/hkcompute.lock (commit it next to the inventory), or release devices from it.

    Example: hkcompute lock inventories/lab --phase 1
    """
    path = resolve_site(site)
    target = lock_path(path)
    if (phase is None) == (not release_):
        raise UsageError("give --phase N to lock what is built, or --release DEVICE to free one")
    if release_:
        loaded = load_site(path)
        current = loaded.site.lock if loaded.site is not None else None
        if current is None:
            raise UsageError(f"{target} does not exist: nothing is locked to release")
        try:
            names = [n for arg in release_ for n in expand(arg)]
        except RangeError as exc:
            raise UsageError(f"--release: {exc}") from None
        lock, unknown = release(current, names)
        if unknown:
            raise UsageError(f"not in {target}: {', '.join(unknown)}")
        atomic.write_text(prepare_out_file(target), dump(lock))
        emit(f"released {', '.join(sorted(set(names)))}: {target} keeps {_summary(lock)}")
        return
    assert phase is not None
    s, _findings = load_valid_site(path, phase)
    check_phase(s.phase_ids, phase)
    if s.lock is not None and phase < s.lock.phase:
        raise UsageError(
            f"{target} holds phases up to {s.lock.phase}; locking phase {phase} would release "
            f"phases {phase + 1}..{s.lock.phase} (release their devices by name instead)"
        )
    lock = take_lock(s, plan_for(s, phase), s.lock)
    atomic.write_text(prepare_out_file(target), dump(lock))
    emit(f"locked {s.info.name} up to phase {phase}: {_summary(lock)} in {target}")


def register(app: typer.Typer) -> None:
    app.command("lock")(lock_cmd)
