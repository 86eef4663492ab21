"""Deploy overhead: hkcompute deploy against plain ansible-playbook, same playbooks, hosts,
inventory and settings, on the container lab; and how the controller scales with hosts.

    python bench/bench_deploy.py --hosts 4 8 16 --repeat 2

For each size it writes a lab site with that many GPU nodes (one RoCE unit with two leaves
and two spines), brings the twin up, converges once, then times steady-state (idempotent)
runs alternating between the two ways. It prints wall time, the ratio, and controller CPU
seconds (this process's children) per host. The optional --setting flags switch one Ansible
setting off to measure what it buys (pipelining, fact caching, ControlPersist).

    python bench/bench_deploy.py --hosts 8 --compare --repeat 2

measures the Ansible settings one at a time instead: on one lab, plain ansible-playbook with
the shipped settings and with each variant (fact caching, gather_subset, pipelining,
ControlPersist, forks, strategy: one change each from what ships), round-robin so drift
hits every variant alike, and prints each one's wall and controller CPU against the
shipped settings. SSH control sockets are removed before every timed run, so no run
inherits a warm connection from the one before.
Prints figures; asserts nothing. Needs a Docker engine; removes its labs at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def site_files(n: int) -> dict[str, str]:
    src = ROOT / "inventories" / "lab"
    files = {p.name: p.read_text() for p in src.glob("*.yaml")}
    fabric = files["fabric.yaml"]
    fabric = fabric.replace("node_slots: 4", f"node_slots: {n}")
    fabric = fabric.replace("nodes_per_rack: 4", f"nodes_per_rack: {n}")
    fabric = fabric.replace("nodes: 4, tenant", f"nodes: {n}, tenant")
    fabric = fabric.replace('  - {name: "lab-su1-n[03-04]", model: lab-ascend}\n', "")
    files["fabric.yaml"] = fabric
    files["facility.yaml"] = files["facility.yaml"].replace("power_kw: 45", "power_kw: 100")
    files["catalog.yaml"] = files["catalog.yaml"].replace(
        "rack_units: 2\n    lab-ascend", "rack_units: 1\n    lab-ascend"
    )
    files["site.yaml"] = files["site.yaml"].replace("  name: lab\n", f"  name: bench{n}\n")
    return files


# name -> (environment overrides, playbook edit). Each changes exactly one thing from what
# hkcompute ships (ansible_env and site.yml); "{state}" is the lab's state folder.
GATHER = "  gather_facts: true\n"
VARIANTS: dict[str, tuple[dict[str, str], tuple[str, str]]] = {
    "shipped": ({}, ("", "")),
    "fact cache (smart, jsonfile)": (
        {
            "ANSIBLE_GATHERING": "smart",
            "ANSIBLE_CACHE_PLUGIN": "jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": "{state}/facts",
            "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "7200",
        },
        ("", ""),
    ),
    "gather_subset min, virtual": ({}, (GATHER, GATHER + "  gather_subset: [min, virtual]\n")),
    "no pipelining": ({"ANSIBLE_PIPELINING": "False"}, ("", "")),
    "no ControlPersist": ({"ANSIBLE_SSH_ARGS": "CONTROL_OFF"}, ("", "")),
    "forks 5": ({"ANSIBLE_FORKS": "5"}, ("", "")),
    "forks 25": ({"ANSIBLE_FORKS": "25"}, ("", "")),
    "strategy free": ({"ANSIBLE_STRATEGY": "free"}, ("", "")),
}


def variant_env(base: dict[str, str], overrides: dict[str, str], state: Path) -> dict[str, str]:
    env = dict(base)
    for key, value in overrides.items():
        value = value.replace("{state}", str(state))
        if value == "CONTROL_OFF":
            # Keep host-key checking exactly as shipped; drop only the control master.
            opts = [o.strip() for o in base[key].split("-o ") if o.strip()]
            value = " ".join(f"-o {o}" for o in opts if not o.startswith("Control"))
        env[key] = value
    return env


def drop_control_sockets(state: Path) -> None:
    for sock in (state / "ansible" / "cp").glob("*"):
        subprocess.run(
            ["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "x"],
            capture_output=True,
            check=False,
        )
        sock.unlink(missing_ok=True)


@dataclass
class Bench:
    site: Any
    state: Path
    work: Path
    opts: Any
    script: Path  # the same inventory, as a script for plain ansible-playbook
    env: dict[str, str]  # the same Ansible settings hkcompute uses
    hosts: int


@contextlib.contextmanager
def bench_lab(n: int, extra: dict[str, str]) -> Iterator[Bench]:
    """A lab site with ``n`` GPU nodes, its twin up and converged once (so the fact cache is
    filled and every later run is steady state); removed on the way out."""
    import json

    from hkcompute.deploy.ansible_inventory import build_inventory, write_inventory
    from hkcompute.deploy.rollout import DeployOptions, ansible_env, connections_file, deploy
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_down, lab_up
    from hkcompute.plan import plan_for
    from hkcompute.render.pipeline import render_site

    work = Path(tempfile.mkdtemp(prefix=f"hk-bench-{n}-"))
    site_dir = work / "site"
    site_dir.mkdir()
    for name, text in site_files(n).items():
        (site_dir / name).write_text(text)
    loaded = load_site(site_dir)
    assert loaded.site is not None, [f.message for f in loaded.findings]
    site = loaded.site
    state, tree = work / "state", work / "build"
    lab_down("lab")
    try:
        lab_up(build_layout(site, plan_for(site, 1), 1, max_hosts=64), state)
        opts = DeployOptions(phase=1, render_dir=tree, command="bench", extra_env=extra)
        r = deploy(site, state, opts)
        assert r.ok, r.run.counts()
        render_site(site, 1, tree)
        conn = json.loads(connections_file(state).read_text())
        inv = build_inventory(site, plan_for(site, 1), 1, tree, conn)
        yield Bench(
            site,
            state,
            work,
            opts,
            write_inventory(inv, work / "plain"),
            dict(os.environ, **ansible_env(state, opts, (state / "known_hosts").resolve())),
            len(inv["_meta"]["hostvars"]),
        )
    finally:
        lab_down(site.info.name, state)
        shutil.rmtree(work, ignore_errors=True)


def compare(n: int, repeat: int) -> None:
    """One lab, every variant, round-robin; plain ansible-playbook so only Ansible counts."""
    from hkcompute.resources import playbooks_dir

    with bench_lab(n, {}) as lab:
        state, work, script, base, hosts = lab.state, lab.work, lab.script, lab.env, lab.hosts
        wall: dict[str, list[float]] = {k: [] for k in VARIANTS}
        cpu: dict[str, list[float]] = {k: [] for k in VARIANTS}
        for rnd in range(repeat):
            for name, (overrides, (old, new)) in VARIANTS.items():
                drop_control_sockets(state)
                env = variant_env(base, overrides, state)
                book = playbooks_dir() / "site.yml"
                if old:  # roles come from ANSIBLE_ROLES_PATH, so a copy elsewhere works
                    text = book.read_text()
                    assert old in text, f"site.yml no longer has {old!r}"
                    book = work / "site-variant.yml"
                    book.write_text(text.replace(old, new))
                c0, t0 = cpu_children(), time.perf_counter()
                subprocess.run(
                    ["ansible-playbook", "-i", str(script), str(book)],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(cpu_children() - c0)
                print(f"  round {rnd + 1} {name}: {wall[name][-1]:.1f} s", flush=True)
        ref_w, ref_c = min(wall["shipped"]), min(cpu["shipped"])
        print(f"\n{hosts} hosts, best of {repeat}, plain ansible-playbook, steady state")
        print("| variant | wall s | vs shipped | controller CPU s | vs shipped |")
        print("|---|---:|---:|---:|---:|")
        for name in VARIANTS:
            w, c = min(wall[name]), min(cpu[name])
            print(
                f"| {name} | {w:.1f} | {(w / ref_w - 1) * 100:+.0f}% | {c:.1f} | "
                f"{(c / ref_c - 1) * 100:+.0f}% |",
                flush=True,
            )


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument(
        "--setting",
        action="append",
        default=[],
        help="ANSIBLE_X=value to override, e.g. ANSIBLE_PIPELINING=False",
    )
    ap.add_argument(
        "--compare",
        action="store_true",
        help="measure each Ansible setting against the shipped ones, one lab",
    )
    args = ap.parse_args()
    if args.compare:
        for n in args.hosts:
            compare(n, args.repeat)
        return

    from hkcompute.deploy.rollout import deploy
    from hkcompute.resources import playbooks_dir

    extra = dict(s.split("=", 1) for s in args.setting)
    print(f"machine: {os.cpu_count()} cores; settings overridden: {extra or 'none'}")
    print(
        f"{'hosts':>5} {'hkcompute s':>12} {'ansible s':>10} {'ratio':>6} "
        f"{'cpu s/host':>10} {'wall s/host':>11}"
    )
    for n in args.hosts:
        with bench_lab(n, extra) as lab:
            site, state, opts, script, env, hosts = (
                lab.site,
                lab.state,
                lab.opts,
                lab.script,
                lab.env,
                lab.hosts,
            )
            ours, theirs, cpu = [], [], []
            for _ in range(args.repeat):
                c0, t0 = cpu_children(), time.perf_counter()
                r = deploy(site, state, opts)
                ours.append(time.perf_counter() - t0)
                cpu.append(cpu_children() - c0)
                assert r.ok, r.run.counts()
                t0 = time.perf_counter()
                subprocess.run(
                    ["ansible-playbook", "-i", str(script), str(playbooks_dir() / "site.yml")],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                theirs.append(time.perf_counter() - t0)
            o, t = min(ours), min(theirs)
            print(
                f"{hosts:>5} {o:>12.1f} {t:>10.1f} {o / t:>6.2f} {min(cpu) / hosts:>10.2f} "
                f"{o / hosts:>11.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
