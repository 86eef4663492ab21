"""The Molecule-style sequence on the twin: create, converge, idempotence, verify, destroy
(destroy also after a failure, unless asked to keep the lab for debugging)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hkcompute.deploy.rollout import DeployOptions, DeployResult, deploy
from hkcompute.lab.layout import build_layout
from hkcompute.lab.twin import lab_down, lab_up
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.verify.testinfra_runner import Result


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class SequenceResult:
    steps: list[Step] = field(default_factory=list)
    verify: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def changed_tasks(result: DeployResult) -> list[str]:
    out = []
    for host, t in sorted(result.tally.hosts.items()):
        for task in t.changed_tasks:
            out.append(f"{host}: {task}")
    return out


def run_sequence(
    site: Site,
    phase: int,
    state: Path,
    *,
    keep: bool = False,
    say: Callable[[str], None] | None = None,
    render_dir: Path | None = None,
) -> SequenceResult:
    from hkcompute.verify.command import run_verify

    note = say or (lambda _m: None)
    res = SequenceResult()

    def step(name: str, fn: Callable[[], tuple[bool, str]]) -> bool:
        note(f"== {name}")
        t0 = time.perf_counter()
        try:
            ok, detail = fn()
        except Exception as exc:  # a step's failure is the sequence's result, not a crash
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        res.steps.append(Step(name, ok, time.perf_counter() - t0, detail))
        note(f"   {name}: {'ok' if ok else 'FAILED'} in {res.steps[-1].seconds:.1f}s {detail}")
        return ok

    def create() -> tuple[bool, str]:
        layout = build_layout(site, plan_for(site, phase), phase)
        hosts = lab_up(layout, state, note)
        return True, f"{len(hosts)} containers, {len(layout.networks)} networks"

    def converge() -> tuple[bool, str]:
        r = deploy(
            site,
            state,
            DeployOptions(
                phase=phase, render_dir=render_dir, command="hkcompute lab test (converge)"
            ),
        )
        counts = r.run.counts()
        return r.ok, f"run {r.run.run_id}: {counts}"

    def idempotence() -> tuple[bool, str]:
        r = deploy(
            site,
            state,
            DeployOptions(
                phase=phase, render_dir=render_dir, command="hkcompute lab test (idempotence)"
            ),
        )
        changed = changed_tasks(r)
        if not r.ok:
            return False, f"run {r.run.run_id} failed: {r.run.counts()}"
        if changed:
            return False, "changed on the second run: " + "; ".join(changed[:10])
        return True, f"run {r.run.run_id}: 0 changed"

    def verify() -> tuple[bool, str]:
        results = run_verify(site, phase, state, render_dir)
        res.verify = results
        bad = [r for r in results if not r.ok]
        return not bad, f"{len(results) - len(bad)}/{len(results)} checks passed"

    try:
        if (
            step("create", create)
            and step("converge", converge)
            and step("idempotence", idempotence)
        ):
            step("verify", verify)
    finally:
        if not keep:
            t0 = time.perf_counter()
            n = lab_down(site.info.name, state)
            res.steps.append(
                Step("destroy", True, time.perf_counter() - t0, f"{n} objects removed")
            )
            note(f"   destroy: {n} objects removed")
    return res
