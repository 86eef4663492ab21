"""Write a rendered tree atomically and incrementally.

Layout of an output folder::

    DIR/current -> .gen-<hash>        (one symlink: the only thing a render swaps)
    DIR/hosts -> current/hosts
    DIR/manifest.json -> current/manifest.json
    DIR/.gen-<hash>/hosts/<host>/<path on host>
    DIR/.gen-<hash>/manifest.json

A render builds a new generation beside the old one, hard-linking every file whose content
did not change (so its inode and mtime survive) and writing only the changed ones, then
renames one symlink over ``current``. A render killed at any moment therefore leaves either
the old tree or the new one, never a mix; leftovers are removed by the next render.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hkcompute.errors import InputError, RenderError

MANIFEST = "manifest.json"
CURRENT = "current"
GEN_PREFIX = ".gen-"


@dataclass(frozen=True, slots=True)
class RenderedFile:
    host: str
    path: str  # absolute path on the host, e.g. /etc/frr/frr.conf
    content: bytes
    mode: int = 0o644

    @property
    def rel(self) -> str:
        return f"hosts/{self.host}{self.path}"


@dataclass
class WriteResult:
    out: Path
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    generation: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_rel(host: str, path: str) -> str:
    """The file's place below the output folder; refuses anything that could escape it."""
    if not host or host in (".", "..") or "/" in host or "\\" in host or "\x00" in host:
        raise RenderError(f"unsafe host name {host!r}")
    p = PurePosixPath(path)
    if not p.is_absolute() or any(part in ("..", ".") for part in p.parts) or "\x00" in path:
        raise RenderError(f"{host}: unsafe file path {path!r} (must be absolute, no '..')")
    return f"hosts/{host}{p}"


def manifest_doc(files: Iterable[RenderedFile], meta: Mapping[str, object]) -> dict[str, object]:
    entries = {}
    for f in files:
        entries[safe_rel(f.host, f.path)] = {"sha256": sha256(f.content), "mode": f"{f.mode:04o}"}
    return {**dict(meta), "files": dict(sorted(entries.items()))}


def _manifest_bytes(doc: Mapping[str, object]) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def read_manifest(out: Path) -> dict[str, object] | None:
    try:
        data = json.loads((out / CURRENT / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output folder {out}: {exc.strerror}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"output folder {out} is not writable")
    for name in ("hosts", MANIFEST, CURRENT):
        p = out / name
        if (p.exists() or p.is_symlink()) and not p.is_symlink():
            raise InputError(f"{p} exists and is not a link made by hkcompute render; "
                             "render into an empty folder or one made by render")


def write_tree(out: Path, files: list[RenderedFile], meta: Mapping[str, object]) -> WriteResult:
    """Make ``out`` hold exactly ``files``; atomic and incremental (see the module doc)."""
    _prepare_out(out)
    doc = manifest_doc(files, meta)
    mbytes = _manifest_bytes(doc)
    gen_name = GEN_PREFIX + sha256(mbytes)[:16]
    result = WriteResult(out, generation=gen_name)
    cur_link = out / CURRENT
    old_gen = None
    if cur_link.is_symlink():
        target = os.readlink(cur_link)
        if target.startswith(GEN_PREFIX) and "/" not in target and (out / target).is_dir():
            old_gen = out / target
    old_files: dict[str, object] = {}
    if old_gen is not None:
        old = read_manifest(out)
        if old is not None and isinstance(old.get("files"), dict):
            old_files = old["files"]  # type: ignore[assignment]
    new_files: dict[str, dict[str, str]] = doc["files"]  # type: ignore[assignment]
    if old_gen is not None and old_gen.name == gen_name:
        result.unchanged = len(files)
        _cleanup(out, keep=gen_name)
        return result

    tmp = out / f"{gen_name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir()
        made_dirs: set[Path] = set()
        # Identical files (slurm.conf on every node) are written once and hard-linked: a
        # full site's tree shrinks from gigabytes to what is really different.
        first_copy: dict[tuple[str, int], Path] = {}
        for f in files:
            rel = safe_rel(f.host, f.path)
            dst = tmp / rel
            parent = dst.parent
            if parent not in made_dirs:
                parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(parent)
            prev = old_files.get(rel)
            entry = new_files[rel]
            if (old_gen is not None and isinstance(prev, dict) and prev == entry
                    and _link_same(old_gen / rel, dst, entry["sha256"])):
                result.unchanged += 1
                first_copy.setdefault((entry["sha256"], f.mode), dst)
                continue
            key = (entry["sha256"], f.mode)
            same = first_copy.get(key)
            if same is not None and _link_same(same, dst, entry["sha256"]):
                result.written.append(rel)
                continue
            with open(dst, "wb") as fh:
                fh.write(f.content)
            os.chmod(dst, f.mode)
            first_copy[key] = dst
            result.written.append(rel)
        result.removed = sorted(set(old_files) - set(new_files))
        with open(tmp / MANIFEST, "wb") as fh:
            fh.write(mbytes)
            fh.flush()
            os.fsync(fh.fileno())
        final = out / gen_name
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _swap_link(out, CURRENT, gen_name)
        for name, target in (("hosts", f"{CURRENT}/hosts"), (MANIFEST, f"{CURRENT}/{MANIFEST}")):
            if not (out / name).is_symlink() or os.readlink(out / name) != target:
                _swap_link(out, name, target)
        _fsync_dir(out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
        raise RenderError(f"writing {out} failed ({exc.strerror or exc}); the previous tree "
                          "is untouched") from exc
    _cleanup(out, keep=gen_name)
    result.written.sort()
    return result


def _link_same(src: Path, dst: Path, digest: str) -> bool:
    """Hard-link an unchanged file into the new generation (keeps its mtime)."""
    try:
        os.link(src, dst)
        return True
    except OSError:
        return False


def _swap_link(out: Path, name: str, target: str) -> None:
    tmp = out / f".{name}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, out / name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cleanup(out: Path, keep: str) -> None:
    """Remove older generations and leftovers of interrupted renders."""
    for p in out.iterdir():
        name = p.name
        if name == keep:
            continue
        if name.startswith(GEN_PREFIX) or (name.startswith(".") and ".tmp-" in name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    p.unlink()


@dataclass
class CheckResult:
    differ: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.differ or self.missing or self.extra)


def check_tree(out: Path, files: list[RenderedFile]) -> CheckResult:
    """Compare the tree on disk with what would be rendered; writes nothing."""
    res = CheckResult()
    hosts = out / "hosts"
    wanted = {safe_rel(f.host, f.path): f for f in files}
    for rel, f in wanted.items():
        p = out / rel
        try:
            data = p.read_bytes()
        except OSError:
            res.missing.append(rel)
            continue
        if data != f.content or (p.stat().st_mode & 0o7777) != f.mode:
            res.differ.append(rel)
    if hosts.is_dir():
        for root, _dirs, names in os.walk(hosts, followlinks=False):
            for n in names:
                full = Path(root) / n
                rel = "hosts/" + str(full.relative_to(hosts)).replace(os.sep, "/")
                if rel not in wanted:
                    res.extra.append(rel)
    res.differ.sort()
    res.missing.sort()
    res.extra.sort()
    return res
