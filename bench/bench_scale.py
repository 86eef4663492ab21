"""Scale benchmark: synthetic sites from 1x to twice the full 40,000-PFLOPS size.

    python bench/bench_scale.py [--sizes 4,16,64,166,332] [--no-limit] [--markdown FILE]

For each size (in scalable units; 166 is the bundled site's size) a fresh process generates
the site with ``bench/synth.py`` and times: load (YAML with positions, schema), expand,
validate (every check, the plan included), plan (built again, alone), render (full, into
an empty folder), render after a one-rack change (new MACs for the nodes of one rack: the
same site with that change, rendered over the first tree; then back and forth four times
more, the median), render --check with nothing
changed; its peak RSS; the device, link and file counts. Then, as the limit: the same files
rendered by plain Jinja (no sandbox) from contexts computed beforehand, and the time to just
write the same bytes into a new folder (one open/write per file, no hard links).

The render figures are the library calls (``render_site``) without load and validate, which
are reported apart (the CLI runs them first). Wall-clock and CPU seconds are both printed:
on a shared machine CPU seconds are the steadier figure. Prints figures only, asserts
nothing; never run as a test.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SIZES = (4, 16, 64, 166, 332)
LABELS = {4: "1x", 16: "4x", 64: "16x", 166: "full", 332: "2x full"}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 / (1024 if sys.platform == "darwin" else 1)


def one(units: int, work: Path, limit: bool) -> dict[str, Any]:
    """Measure one size in this process (the parent starts one process per size)."""
    import synth

    from hkcompute.checks import run_checks
    from hkcompute.inventory.expand import build_site
    from hkcompute.inventory.load import default_catalog, inventory_hash
    from hkcompute.inventory.parse import parse
    from hkcompute.inventory.yamlsrc import load_source
    from hkcompute.plan import build_plan, plan_for
    from hkcompute.render.pipeline import render_site

    site_dir = synth.write_site(units, work / "site")
    rc_dir = synth.write_site(units, work / "site-rc", rack_change=True)
    r: dict[str, Any] = {"units": units}

    def load(path: Path) -> Any:
        src = load_source(path)
        defaults = default_catalog()
        parsed, _findings = parse(src, defaults)
        return src, defaults, parsed

    def expand(loaded: Any) -> Any:
        src, defaults, parsed = loaded
        site, _f = build_site(parsed, src, defaults, inventory_hash(src, defaults))
        assert site is not None
        return site

    loaded, r["load_s"], r["load_cpu"] = _timed(lambda: load(site_dir))
    site, r["expand_s"], r["expand_cpu"] = _timed(lambda: expand(loaded))
    findings, r["validate_s"], r["validate_cpu"] = _timed(lambda: run_checks(site, None))
    r["errors"] = sum(1 for f in findings if f.severity == "error")
    plan, r["plan_s"], r["plan_cpu"] = _timed(lambda: build_plan(site, None))
    r["devices"] = len(site.devices)
    r["links"] = len(plan.links)
    r["addresses"] = len(plan.addresses)
    out = work / "out"
    full, r["render_s"], r["render_cpu"] = _timed(lambda: render_site(site, None, out))
    r["files"] = full.nfiles
    r["hosts"] = full.hosts
    chk, r["check_s"], r["check_cpu"] = _timed(lambda: render_site(site, None, out, check=True))
    r["check_ok"] = chk.check.ok
    # the one-rack change: a new site (loaded and validated apart), rendered over the tree
    site_rc = expand(load(rc_dir))
    run_checks(site_rc, None)
    inc, r["incremental_s"], r["incremental_cpu"] = _timed(lambda: render_site(site_rc, None, out))
    r["incremental_hosts"] = inc.rendered_hosts
    r["incremental_written"] = len(inc.write.written)
    chk2, r["check_changed_s"], _c = _timed(lambda: render_site(site_rc, None, out, check=True))
    r["check_after_ok"] = chk2.check.ok
    # The same change back and forth four more times (the first one above also catches up
    # on the full render's racily-new stamps): the median, steadier on a shared machine.
    again = []
    for which in (site, site_rc, site, site_rc):
        t0 = time.perf_counter()
        render_site(which, None, out)
        again.append(time.perf_counter() - t0)
    again.sort()
    r["incremental_again_s"] = (again[1] + again[2]) / 2
    r["peak_rss_mb"] = peak_rss_mb()
    if limit:
        r.update(_limit(site, plan_for(site, None), work))
    return r


def _limit(site: Any, plan: Any, work: Path) -> dict[str, float]:
    """Plain Jinja on contexts computed beforehand, and the bare writes of the same bytes."""
    import jinja2

    from hkcompute.render.env import environment
    from hkcompute.render.renderer import Renderer
    from hkcompute.resources import templates_dir

    r = Renderer(site, plan, None)
    jobs = []
    for d in site.devices_upto(None):
        specs, ctx = r.plan_host(d)
        if ctx is None:
            continue
        for s in specs:
            full = dict(ctx, **dict(s.extra)) if s.extra else ctx
            if s.template.startswith("slurm/"):
                full = dict(full, slurm=r.b.slurm())
            jobs.append((d.name, s, full))
    sandboxed = environment()
    plain = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    plain.filters.update(sandboxed.filters)

    def render_all() -> list[tuple[str, str, bytes]]:
        shared: dict[str, bytes] = {}
        out = []
        for host, s, ctx in jobs:
            if s.shared is not None:
                data = shared.get(s.template)
                if data is None:
                    data = plain.get_template(s.template).render(ctx).encode()
                    shared[s.template] = data
            else:
                data = plain.get_template(s.template).render(ctx).encode()
            out.append((host, s.path, data))
        return out

    files, t_jinja, c_jinja = _timed(render_all)
    dest = work / "bytes"

    def write_all() -> None:
        made: set[str] = set()
        for host, path, data in files:
            p = f"{dest}/{host}{path}"
            parent = p.rsplit("/", 1)[0]
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            with open(p, "wb") as fh:
                fh.write(data)

    _n, t_write, c_write = _timed(write_all)
    return {
        "plain_jinja_s": t_jinja,
        "plain_jinja_cpu": c_jinja,
        "write_bytes_s": t_write,
        "write_bytes_cpu": c_write,
        "bytes_mb": sum(len(f[2]) for f in files) / 1e6,
    }


def exponent(a: dict[str, Any], b: dict[str, Any], key: str) -> float | None:
    if a[key] <= 0 or b[key] <= 0 or a["devices"] == b["devices"]:
        return None
    return math.log(b[key] / a[key]) / math.log(b["devices"] / a["devices"])


ROWS = (
    ("load", "load_s"),
    ("expand", "expand_s"),
    ("validate", "validate_s"),
    ("plan", "plan_s"),
    ("render full", "render_s"),
    ("render 1-rack", "incremental_s"),
    ("render --check", "check_s"),
)


def table(results: list[dict[str, Any]]) -> str:
    head = ["", *(f"{LABELS.get(r['units'], r['units'])} ({r['units']} SU)" for r in results)]
    rows = [head]
    for label, key in (("devices", "devices"), ("links", "links"), ("files", "files")):
        rows.append([label, *(f"{r[key]:,}" for r in results)])
    for label, key in ROWS:
        cpu = key.replace("_s", "_cpu")
        rows.append([f"{label} s (cpu)", *(f"{r[key]:.2f} ({r[cpu]:.2f})" for r in results)])
    rows.append(
        [
            "render 1-rack again s (median of 4)",
            *(f"{r['incremental_again_s']:.2f}" for r in results),
        ]
    )
    rows.append(["hosts re-rendered", *(f"{r['incremental_hosts']:,}" for r in results)])
    rows.append(["peak RSS MB", *(f"{r['peak_rss_mb']:.0f}" for r in results)])
    if all("plain_jinja_s" in r for r in results):
        rows.append(["plain Jinja s", *(f"{r['plain_jinja_s']:.2f}" for r in results)])
        rows.append(["write bytes s", *(f"{r['write_bytes_s']:.2f}" for r in results)])
        rows.append(
            [
                "render / plain Jinja",
                *(f"{r['render_s'] / r['plain_jinja_s']:.2f}x" for r in results),
            ]
        )
        rows.append(
            [
                "render / write bytes",
                *(f"{r['render_s'] / r['write_bytes_s']:.2f}x" for r in results),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if len(results) > 1:
        lines.append("")
        lines.append("Growth exponent t ~ devices^k between successive sizes (1 = linear):")
        for label, key in ROWS:
            cpu = key.replace("_s", "_cpu")
            ks = [exponent(a, b, cpu) for a, b in itertools.pairwise(results)]
            lines.append(
                f"  {label:15s} " + "  ".join("  -  " if k is None else f"{k:5.2f}" for k in ks)
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="scalable units per size, comma-separated",
    )
    ap.add_argument("--no-limit", action="store_true", help="skip plain Jinja and bare writes")
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one, args.work, not args.no_limit)))
        return 0
    results = []
    for units in (int(x) for x in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"hk-bench-{units}-"))
        try:
            cmd = [sys.executable, __file__, "--one", str(units), "--work", str(work)]
            if args.no_limit:
                cmd.append("--no-limit")
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append(r)
        print(
            f"{LABELS.get(units, units)}: {r['devices']:,} devices, full render "
            f"{r['render_s']:.1f} s, one-rack {r['incremental_s']:.2f} s, "
            f"check {r['check_s']:.2f} s, errors {r['errors']}",
            file=sys.stderr,
        )
    text = table(results)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
