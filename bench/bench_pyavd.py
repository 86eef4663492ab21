"""hkcompute against Arista's pyavd, per switch, on the same leaf-spine fabric.

    python bench/bench_pyavd.py [SITE] [--cluster NAME] [--avd-python PY] [--repeat K]

Takes one RoCE cluster of a site (default: the bundled site's ``ascend-a``, a two-tier
leaf-spine fabric: 32 leaves with 64 uplinks each, 4 to each of 16 spines), and:

- hkcompute: renders those switches' files (``/etc/frr/frr.conf`` and ``daemons``) from the
  site's plan: the per-host context and templates, as ``hkcompute render`` does;
- pyavd: from ``eos_designs`` inputs generated for the same switches (same names, same
  uplinks and parallel links, eBGP underlay, no overlay), runs ``get_avd_facts`` for the
  fabric, then ``get_device_structured_config`` and ``get_device_config`` (the EOS CLI text)
  for every switch.

pyavd runs in the interpreter given by ``--avd-python`` (a virtual environment with
``pip install pyavd``; default: this one), as its dependencies pin their own versions.
Prints per-device times and the ratio. Figures only; never run as a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# --- the pyavd side (runs in the pyavd interpreter: only the standard library and pyavd) ---
AVD_CODE = r"""
import json, sys, time
spec = json.loads(sys.stdin.read())
t0 = time.perf_counter()
import pyavd
t_import = time.perf_counter() - t0
spines, leaves, par = spec["spines"], spec["leaves"], spec["parallel"]
common = {
    "fabric_name": "BENCH",
    "underlay_routing_protocol": "ebgp",
    "overlay_routing_protocol": "none",
    "bgp_as": None,
    "max_uplink_switches": len(spines),
    "max_parallel_uplinks": par,
    "spine": {"defaults": {"platform": "7800R3", "loopback_ipv4_pool": "10.255.0.0/22",
                           "bgp_as": "4200100000"},
              "nodes": [{"name": s, "id": i + 1, "mgmt_ip": f"192.168.0.{i + 1}/24"}
                        for i, s in enumerate(spines)]},
    "l3leaf": {"defaults": {
        "platform": "7050X3", "loopback_ipv4_pool": "10.254.0.0/22",
        "vtep_loopback_ipv4_pool": "10.253.0.0/22", "uplink_ipv4_pool": "10.32.0.0/14",
        "uplink_switches": [s for s in spines for _ in range(par)],
        "uplink_interfaces": [f"Ethernet{k + 1}" for k in range(len(spines) * par)],
        "mlag": False, "bgp_as": "4200000000"},
        "node_groups": [{"group": f"LEAF{j + 1}", "bgp_as": str(4200000000 + j), "nodes": [{
            "name": leaf, "id": j + 1, "mgmt_ip": f"192.168.1.{j + 1}/24",
            "uplink_switch_interfaces": [f"Ethernet{j * par + p + 1}"
                                         for _s in spines for p in range(par)]}]}
            for j, leaf in enumerate(leaves)]},
}
inputs = {}
for s in spines:
    inputs[s] = dict(common, type="spine")
for leaf in leaves:
    inputs[leaf] = dict(common, type="l3leaf")
t0 = time.perf_counter()
facts = pyavd.get_avd_facts(inputs)
t_facts = time.perf_counter() - t0
t_struct = 0.0
t_cli = 0.0
lines = 0
for host in inputs:
    t = time.perf_counter()
    sc = pyavd.get_device_structured_config(host, inputs[host], facts)
    t_struct += time.perf_counter() - t
    t = time.perf_counter()
    cli = pyavd.get_device_config(sc)
    t_cli += time.perf_counter() - t
    lines += cli.count("\n")
print(json.dumps({"version": getattr(pyavd, "__version__", "?"), "import_s": t_import,
                  "facts_s": t_facts, "structured_s": t_struct, "cli_s": t_cli,
                  "devices": len(inputs), "lines": lines}))
"""


def run_pyavd(py: str, spines: list[str], leaves: list[str], parallel: int) -> dict[str, Any]:
    spec = json.dumps({"spines": spines, "leaves": leaves, "parallel": parallel})
    proc = subprocess.run(
        [py, "-c", AVD_CODE], input=spec, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return {"error": f"pyavd failed in {py} (exit {proc.returncode}):\n{tail}"}
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", nargs="?", default=str(HERE.parent / "inventories" / "hkstp"))
    ap.add_argument("--cluster", default="ascend-a")
    ap.add_argument("--avd-python", default=sys.executable)
    ap.add_argument("--repeat", type=int, default=3, help="hkcompute: best of K")
    args = ap.parse_args(argv)

    from hkcompute.inventory.load import load_site
    from hkcompute.plan import plan_for
    from hkcompute.render.renderer import Renderer

    site = load_site(Path(args.site)).site
    assert site is not None
    t0 = time.perf_counter()
    plan = plan_for(site, None)
    t_plan = time.perf_counter() - t0
    switches = [
        d
        for d in site.devices_upto(None)
        if d.cluster == args.cluster and d.role in ("leaf", "spine", "core")
    ]
    spines = [d.name for d in switches if d.role == "spine"]
    leaves = [d.name for d in switches if d.role == "leaf"]
    if not spines or not leaves or any(d.role == "core" for d in switches):
        print(f"{args.cluster}: need a two-tier cluster (leaves and spines, no core)")
        return 2
    uplinks = [
        lk
        for lk in plan.links
        if (lk.a == leaves[0] and lk.b in spines) or (lk.b == leaves[0] and lk.a in spines)
    ]
    parallel = max(1, len(uplinks) // len(spines))

    best = float("inf")
    nbytes = 0
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        r = Renderer(site, plan, None)  # the plan index, built once per render
        files = []
        for d in switches:
            specs, ctx = r.plan_host(d)
            assert ctx is not None
            files.extend(r.render_host(d, specs, ctx))
        best = min(best, time.perf_counter() - t0)
        nbytes = sum(len(f.content) for f in files)
    n = len(switches)
    plan_share = t_plan * n / max(1, len(site.devices))
    hk_ms = best / n * 1000
    print(
        f"fabric          {args.cluster}: {len(leaves)} leaves x {len(uplinks)} uplinks "
        f"({parallel} to each of {len(spines)} spines), {n} switches"
    )
    print(
        f"hkcompute       {hk_ms:8.2f} ms per switch (context and templates; "
        f"{nbytes / n / 1024:.1f} KiB of files each)"
    )
    print(
        f"  + plan share  {(best + plan_share) / n * 1000:8.2f} ms per switch (the site's plan"
        f" {t_plan:.2f} s, prorated by device)"
    )
    avd = run_pyavd(args.avd_python, spines, leaves, parallel)
    if "error" in avd:
        print(avd["error"])
        return 1
    per_struct = (avd["facts_s"] + avd["structured_s"]) / avd["devices"] * 1000
    per_all = per_struct + avd["cli_s"] / avd["devices"] * 1000
    print(
        f"pyavd {avd['version']:9s} {per_all:8.2f} ms per switch (facts "
        f"{avd['facts_s']:.2f} s, structured config {avd['structured_s']:.2f} s, EOS CLI "
        f"{avd['cli_s']:.2f} s; {avd['lines'] / avd['devices']:.0f} lines each)"
    )
    print(f"  structured    {per_struct:8.2f} ms per switch (without the CLI text)")
    print(
        f"ratio           {per_all / hk_ms:8.1f}x (pyavd / hkcompute), "
        f"{per_all / ((best + plan_share) / n * 1000):.1f}x with the plan share; "
        f"{per_struct / hk_ms:.1f}x against structured config alone"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
