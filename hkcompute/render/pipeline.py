"""Render a site's phase into an output folder (library entry point for CLI and deploy).

Incremental by inputs, not only by output: every host gets a render key, the hash of what
its files are made from (its context, its file list, the shared Slurm context when it gets
Slurm files, the templates, the Jinja filters and the generator's version). The key is
recorded with the tree (``keys.json`` of the generation); a host whose key is unchanged is
not rendered again, its files and folder are taken from the current tree. A key covers
everything a template can see, so a stale reuse needs a change the key does not cover: a
change of the Python code that renders, without a version change, outside ``render/``.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from hkcompute import __version__
from hkcompute.inventory import ranges
from hkcompute.model import Site
from hkcompute.plan import plan_for
from hkcompute.render import env, renderer, slurm
from hkcompute.render.deps import Fingerprints
from hkcompute.render.renderer import FileSpec, Progress, Renderer
from hkcompute.render.tree import (
    HOSTS_DIR,
    CheckResult,
    Entry,
    Hasher,
    HostOutput,
    RenderedFile,
    TreeState,
    WriteResult,
    check_entries,
    entry_of,
    read_state,
    safe_rel,
    write_hosts,
)
from hkcompute.resources import templates_dir


@dataclass
class RenderOutcome:
    nfiles: int
    hosts: int
    rendered_hosts: int = 0
    write: WriteResult | None = None
    check: CheckResult | None = None


def render_files(
    site: Site, phase: int | None, hosts: str | None = None, progress: Progress | None = None
) -> list[RenderedFile]:
    plan = plan_for(site, phase)
    return Renderer(site, plan, phase).render(hosts, progress)


def meta(site: Site, phase: int | None, hosts: str | None) -> dict[str, object]:
    return {
        "site": site.info.name,
        "phase": phase,
        "inventory_hash": site.inventory_hash,
        "hosts_pattern": hosts,
        "generator": f"hkcompute {__version__}",
    }


def template_roots(site: Site) -> tuple[str, ...]:
    """Where a site's templates are looked up: its own folders, then the bundled ones."""
    return (*site.template_dirs, str(templates_dir()))


@lru_cache(maxsize=4)
def _package_digest(roots: tuple[str, ...]) -> str:
    """Every source file of hkcompute and every template: a render's code, all of it."""
    h = hashlib.sha256(f"{__version__} {sys.version} jinja2 {jinja2.__version__}\n".encode())
    pkg = Path(renderer.__file__ or "").resolve().parent.parent
    for base in (pkg, *map(Path, roots)):
        _hash_folder(h, base)
    return h.hexdigest()


def _hash_folder(h: Any, base: Path) -> None:
    """Feed ``h`` every file below ``base`` (name and bytes, in a fixed order), compiled
    Python left out."""
    for p in sorted(base.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            h.update(f"\0{p.relative_to(base).as_posix()}\0".encode())
            h.update(p.read_bytes())


def site_key(site: Site, phase: int | None, hosts: str | None) -> str:
    """The key of everything a render reads: the inventory (its hash covers the catalogue
    too), the phase, the host pattern, the code and the templates. A tree recorded with the
    same key is what a render would make now (the render is deterministic)."""
    # A site built without an inventory hash (not by the loader) cannot vouch for its
    # inputs: its key never matches, so a tree is never taken as current on its word.
    inputs = site.inventory_hash or f"unhashed {secrets.token_hex(16)}"
    return hashlib.sha256(
        json.dumps([inputs, phase, hosts, _package_digest(template_roots(site))]).encode()
    ).hexdigest()


@lru_cache(maxsize=4)
def _templates_read_inventory_hash(roots: tuple[str, ...]) -> bool:
    """Whether a template this renderer may use reads the inventory's hash: any template of
    the roots but the report's (which file a host gets is catalogue data, so every template
    is a candidate)."""
    for root in map(Path, roots):
        for path in root.rglob("*.j2"):
            if path.relative_to(root).parts[0] == "report":
                continue
            if "inventory_hash" in path.read_text(errors="replace"):
                return True
    return False


@lru_cache(maxsize=4)
def _code_digest(roots: tuple[str, ...]) -> bytes:
    """The templates and the code that turns a context into bytes."""
    h = hashlib.sha256(f"hkcompute {__version__} jinja2 {jinja2.__version__}\n".encode())
    for mod in (renderer, env, ranges, slurm):
        assert mod.__file__ is not None
        h.update(Path(mod.__file__).read_bytes())
    for root in roots:
        _hash_folder(h, Path(root))
    return h.digest()


def _default(o: object) -> str:
    return f"<{type(o).__qualname__} {o!r}>"


def _dump(value: object) -> bytes:
    """Bytes that tell values apart, types included; dict order is kept (a template may
    iterate a dict in order). ``marshal`` version 2 has no back-references and no interning
    flag, so equal values give equal bytes in any process; it is 5-10x faster than JSON.
    Values it cannot take go to JSON, with a repr for what JSON cannot take either (a repr
    that differs from run to run only costs a render)."""
    try:
        return b"m" + marshal.dumps(value, 2)  # type: ignore[arg-type]
    except ValueError:
        return b"j" + json.dumps(value, default=_default, separators=(",", ":")).encode()


class _Keys:
    """Render keys. What is the same for many hosts (a file spec, the shared context parts,
    the Slurm context) is hashed once and its digest fed to each key: a key then costs the
    host's own context only (hashing every host's whole context was a third of a one-rack
    render)."""

    def __init__(self, r: Renderer) -> None:
        self.r = r
        roots = template_roots(r.site)
        self.roots = roots
        self.code = _code_digest(roots)
        self.with_hash = _templates_read_inventory_hash(roots)
        self._slurm: bytes | None = None
        self._specs: dict[int, tuple[FileSpec, bytes]] = {}
        self._parts: dict[int, tuple[object, bytes]] = {}
        for name, part in r.b.shared_parts.items():
            value: object = part
            if name == "site" and not self.with_hash:
                # No template reads it: leaving it out keeps a one-rack change from changing
                # every host's key (the hash of the inventory changes with any edit).
                value = {k: v for k, v in part.items() if k != "inventory_hash"}
            self._parts[id(part)] = (
                part,
                name.encode() + b"=" + hashlib.sha256(_dump(value)).digest(),
            )

    def common(self) -> list[bytes]:
        """What every host's fingerprint starts from (``deps``): the code that builds
        contexts and renders them, and the context parts every host shares."""
        return [
            self.code,
            _package_digest(self.roots).encode(),
            self.slurm(),
            *(d for _p, d in self._parts.values()),
        ]

    def slurm(self) -> bytes:
        if self._slurm is None:
            self._slurm = hashlib.sha256(_dump(self.r.b.slurm())).digest()
        return self._slurm

    def _spec(self, s: FileSpec) -> bytes:
        got = self._specs.get(id(s))
        if got is not None and got[0] is s:  # the reference keeps the id unique
            return got[1]
        data = _dump(
            [s.path, s.template, s.mode, s.shared, [list(x) for x in s.extra], list(s.only)]
        )
        if s.shared is not None or s.template.startswith("slurm/"):
            data += self.slurm()
        digest = hashlib.sha256(data).digest()
        self._specs[id(s)] = (s, digest)
        return digest

    def key(self, specs: list[FileSpec], ctx: dict[str, Any], extra: str | None = None) -> str:
        h = hashlib.sha256(self.code)
        if extra is not None:
            h.update(extra.encode())
        for s in specs:
            h.update(self._spec(s))
        h.update(b"\0")
        own: dict[str, Any] = {}
        for k, v in ctx.items():
            part = self._parts.get(id(v))
            if part is not None and part[0] is v:
                h.update(part[1])
            else:
                own[k] = v
        h.update(b"\0")
        h.update(_dump(own))
        return h.hexdigest()


def host_outputs(
    site: Site,
    phase: int | None,
    state: TreeState,
    *,
    hosts: str | None = None,
    progress: Progress | None = None,
    need_folder: Path | None = None,
    counts: dict[str, int] | None = None,
) -> Iterator[HostOutput]:
    """Each host's files: rendered, or taken from ``state`` when its key is unchanged (and,
    with ``need_folder``, its folder is still there)."""
    r = Renderer(site, plan_for(site, phase), phase)
    keys = _Keys(r)
    fps = Fingerprints(r.b, r.kind, keys.common())
    devices = r.devices(hosts)
    total = len(devices)
    c = counts if counts is not None else {}
    c.setdefault("rendered", 0)
    for i, d in enumerate(devices, 1):
        if progress is not None and (i % 200 == 0 or i == total):
            progress(i, total)
        fp = fps.of(d)
        if fp is None:
            continue  # no files
        prev = state.keys.get(d.name)
        usable = (
            prev is not None
            and state.host_count(d.name) > 0
            and (need_folder is None or prev[1] in state.folders)
        )
        if usable and prev is not None and prev[0] is not None and state.fps.get(d.name) == fp:
            # the same inputs as the current tree's: its files, without building its context
            yield HostOutput(d.name, prev[0], None, prev[1], fp, state.dns.get(d.name))
            continue
        # A DNS server's DNS section (the zones: the biggest context of the site) has a key
        # of its own, its inputs' fingerprint: a change elsewhere on the host (a MAC in its
        # DHCP file) re-renders the rest and takes the zones from the current tree.
        dns = fps.dns(d) if r.runs_dns(d) else None
        specs, ctx = r.plan_host(d, dns=dns is None)
        assert ctx is not None
        key = keys.key(specs, ctx, dns)
        if usable and prev is not None and prev[0] == key:
            yield HostOutput(d.name, key, None, prev[1], fp, state.dns.get(d.name))
            continue
        c["rendered"] += 1
        files = r.render_host(d, specs, ctx)
        section = None
        if dns is not None:
            old = state.dns.get(d.name)
            got = state.read_files(d.name, old[1]) if old is not None and old[0] == dns else None
            if got is None:
                got = r.render_dns(d)
            files += got
            section = (dns, sorted(f.path for f in got))
        yield HostOutput(d.name, key, files, fp=fp, dns=section)


def render_site(
    site: Site,
    phase: int | None,
    out: Path,
    *,
    hosts: str | None = None,
    check: bool = False,
    progress: Progress | None = None,
) -> RenderOutcome:
    state = read_state(out)
    counts: dict[str, int] = {}
    sk = site_key(site, phase, hosts)
    counted_files = {h: n for h in state.hosts() if (n := state.host_count(h))}
    nfiles = sum(counted_files.values())
    if state.gen is not None and state.site_key == sk and nfiles:
        # Same inputs as the render that made the current tree: its manifest is what a
        # render would give. --check still verifies every file on disk against it.
        if check:
            return RenderOutcome(
                nfiles,
                len(counted_files),
                0,
                check=check_entries(
                    out, state.files, state.stamps, state.files, state.file_stamps()
                ),
            )
        return RenderOutcome(
            nfiles,
            len(counted_files),
            0,
            write=WriteResult(out, unchanged=nfiles, generation=state.gen.name),
        )
    if check:
        state.parse_all()  # every host's entries are wanted: one parse, not 7,000
        wanted: dict[str, Entry] = {}
        stamps: dict[str, int] = {}
        hasher = Hasher()
        nhosts = 0
        for ho in host_outputs(site, phase, state, hosts=hosts, progress=progress, counts=counts):
            nhosts += 1
            if ho.files is None:
                wanted.update(state.host_entries(ho.host))
                if ho.host in state.stamps:
                    stamps[ho.host] = state.stamps[ho.host]
            else:
                wanted.update((safe_rel(f.host, f.path), entry_of(f, hasher)) for f in ho.files)
        return RenderOutcome(
            len(wanted),
            nhosts,
            counts["rendered"],
            check=check_entries(out, wanted, stamps, state.files, state.file_stamps()),
        )
    stats = {"files": 0, "hosts": 0}

    def counted() -> Iterator[HostOutput]:
        for ho in host_outputs(
            site,
            phase,
            state,
            hosts=hosts,
            progress=progress,
            need_folder=out / HOSTS_DIR,
            counts=counts,
        ):
            stats["hosts"] += 1
            stats["files"] += len(ho.files) if ho.files is not None else state.host_count(ho.host)
            yield ho

    w = write_hosts(out, counted(), meta(site, phase, hosts), state, sk)
    return RenderOutcome(stats["files"], stats["hosts"], counts["rendered"], write=w)
