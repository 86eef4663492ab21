"""Deploy overhead: hkcompute deploy against plain ansible-playbook, same playbooks, hosts,
inventory and settings, on the container lab; and how the controller scales with hosts.

    python bench/bench_deploy.py --hosts 4 8 16 --repeat 2

For each size it writes a lab site with that many GPU nodes (one RoCE unit with two leaves
and two spines), brings the twin up, converges once, then times steady-state (idempotent)
runs alternating between the two ways. It prints wall time, the ratio, and controller CPU
seconds (this process's children) per host. The optional --setting flags switch one Ansible
setting off to measure what it buys (pipelining, fact caching, ControlPersist).
Prints figures; asserts nothing. Needs a Docker engine; removes its labs at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    files["catalog.yaml"] = files["catalog.yaml"].replace("rack_units: 2\n    lab-ascend",
                                                          "rack_units: 1\n    lab-ascend")
    files["site.yaml"] = files["site.yaml"].replace("  name: lab\n", f"  name: bench{n}\n")
    return files


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--setting", action="append", default=[],
                    help="ANSIBLE_X=value to override, e.g. ANSIBLE_PIPELINING=False")
    args = ap.parse_args()

    from hkcompute.deploy.ansible_inventory import build_inventory, write_inventory
    from hkcompute.deploy.run import DeployOptions, ansible_env, connections_file, deploy
    from hkcompute.inventory.load import load_site
    from hkcompute.lab.layout import build_layout
    from hkcompute.lab.twin import lab_down, lab_up
    from hkcompute.plan import plan_for
    from hkcompute.render.run import render_site
    from hkcompute.resources import playbooks_dir

    extra = dict(s.split("=", 1) for s in args.setting)
    print(f"machine: {os.cpu_count()} cores; settings overridden: {extra or 'none'}")
    print(f"{'hosts':>5} {'hkcompute s':>12} {'ansible s':>10} {'ratio':>6} "
          f"{'cpu s/host':>10} {'wall s/host':>11}")
    import json

    for n in args.hosts:
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
            deploy(site, state, opts)  # converge once; then steady state is measured
            render_site(site, 1, tree)
            conn = json.loads(connections_file(state).read_text())
            inv = build_inventory(site, plan_for(site, 1), 1, tree, conn)
            script = write_inventory(inv, work / "plain")
            env = dict(os.environ, **ansible_env(state, opts, (state / "known_hosts").resolve()))
            hosts = len(inv["_meta"]["hostvars"])
            ours, theirs, cpu = [], [], []
            for _ in range(args.repeat):
                c0, t0 = cpu_children(), time.perf_counter()
                r = deploy(site, state, opts)
                ours.append(time.perf_counter() - t0)
                cpu.append(cpu_children() - c0)
                assert r.ok, r.run.counts()
                t0 = time.perf_counter()
                subprocess.run(["ansible-playbook", "-i", str(script),
                                str(playbooks_dir() / "site.yml")], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                theirs.append(time.perf_counter() - t0)
            o, t = min(ours), min(theirs)
            print(f"{hosts:>5} {o:>12.1f} {t:>10.1f} {o / t:>6.2f} {min(cpu) / hosts:>10.2f} "
                  f"{o / hosts:>11.2f}", flush=True)
        finally:
            lab_down(site.info.name, state)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
