"""Load a site: located YAML -> schema -> expanded model, with every finding collected, and
the site's lock (``hkcompute.lock`` beside the inventory: what is built) and GUID map
(``.asbuilt/guids.yaml``: the HCA port GUIDs discovery found) carried on it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from hkcompute import schema as S
from hkcompute.asbuilt import guids as G
from hkcompute.asbuilt.lock import LOCK_NAME, Lock
from hkcompute.asbuilt.lock import parse as parse_lock
from hkcompute.errors import InputError
from hkcompute.findings import Finding
from hkcompute.inventory.expand import build_site
from hkcompute.inventory.parse import parse
from hkcompute.inventory.yamlsrc import Source, load_source
from hkcompute.model import Catalog, Site

CATALOG_RESOURCE = "catalog"  # a folder: one file per kind of part
# A site's own templates, for the platforms its catalogue adds (docs/platforms.md).
SITE_TEMPLATES = "templates"
# A lock lists every allocation of a site: a full site's is tens of MiB, never hundreds.
MAX_LOCK_BYTES = 256 * 1024 * 1024
# A GUID map holds a line per HCA port: a full site's is a few MiB.
MAX_GUIDS_BYTES = 64 * 1024 * 1024


@dataclass
class Loaded:
    site: Site | None
    source: Source
    findings: list[Finding] = field(default_factory=list)


def default_catalog() -> Source:
    """The bundled hardware catalogue (figures with their sources, see the file)."""
    ref = resources.files("hkcompute") / "data" / CATALOG_RESOURCE
    with resources.as_file(ref) as path:
        return load_source(Path(path), base=Path(path).parent.parent.parent)


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The bundled catalogue as a model (the package's own data, valid by its tests)."""
    src = default_catalog()
    try:
        spec = S.Catalog.model_validate(src.data.get("catalog", {}))
    except ValidationError as exc:  # only an edited installation gets here
        raise InputError(f"the bundled catalogue ({src.files[0]}) is not valid: {exc}") from None
    return Catalog(**{kind: dict(getattr(spec, kind)) for kind in S.Catalog.model_fields})


def inventory_hash(src: Source, defaults: Source | None) -> str:
    """A hash of what the site says (not of its formatting), recorded in manifests/journals."""
    h = hashlib.sha256()
    for part in (defaults.data if defaults else {}, src.data):
        h.update(json.dumps(part, sort_keys=True, default=str, separators=(",", ":")).encode())
    return h.hexdigest()


def load_site(path: Path, *, base: Path | None = None, with_defaults: bool = True) -> Loaded:
    """Load, validate the schema and expand. Raises InputError only when nothing can be read."""
    src = load_source(path, base=base)
    defaults = default_catalog() if with_defaults else None
    findings = list(src.findings)
    if defaults is not None:
        findings.extend(defaults.findings)
    if any(f.code == "HK001" for f in findings):
        return Loaded(None, src, findings)  # the rest would only echo the syntax error
    parsed, schema_findings = parse(src, defaults)
    findings.extend(schema_findings)
    site, exp_findings = build_site(parsed, src, defaults, inventory_hash(src, defaults))
    findings.extend(exp_findings)
    if site is not None:
        site = with_lock(site, read_lock(path, base=base))
        site = with_guids(site, read_guids(path, base=base))
        own = path / SITE_TEMPLATES
        if path.is_dir() and own.is_dir():
            site = replace(site, template_dirs=(str(own.resolve()),))
    return Loaded(site, src, findings)


def lock_path(site_path: Path) -> Path:
    """Where a site's lock lives: ``hkcompute.lock`` in its folder; beside a one-file site,
    ``<name>.hkcompute.lock`` (two one-file sites in a folder must not share one). The
    suffix is not .yaml/.yml, so the loader never reads it as inventory (nor hashes it)."""
    if site_path.is_dir():
        return site_path / LOCK_NAME
    return site_path.with_name(f"{site_path.stem}.{LOCK_NAME}")


def read_lock(site_path: Path, *, base: Path | None = None) -> Lock | None:
    """The site's lock, or None when it has none. A lock that cannot be read is an
    ``InputError`` at its file:line: a site must never be planned as if nothing were built."""
    path = lock_path(site_path)
    if not path.exists():
        return None
    shown = _shown(path, base if base is not None else Path.cwd())
    return parse_lock(_read_bounded(path, shown, "lock file", MAX_LOCK_BYTES), shown)


def _read_bounded(path: Path, shown: str, what: str, limit: int) -> str:
    """The UTF-8 text of a file kept beside the inventory (the lock, the GUID map), at most
    ``limit`` bytes; anything else is an ``InputError`` naming ``what`` at ``shown``."""
    try:
        if path.stat().st_size > limit:
            raise InputError(f"{what} is larger than {limit // 1048576} MiB", location=shown)
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text", location=shown) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror or exc}", location=shown) from exc


def with_lock(site: Site, lock: Lock | None) -> Site:
    """``site`` carrying ``lock``, which must be this site's."""
    if lock is not None and lock.site != site.info.name:
        raise InputError(
            f"this is the lock of site {lock.site!r}, not of {site.info.name!r}; "
            "write the site's own with `hkcompute lock`",
            location=lock.path,
        )
    return replace(site, lock=lock)


def read_guids(site_path: Path, *, base: Path | None = None) -> G.GuidMap | None:
    """The site's GUID map (where ``hkcompute cabling verify`` writes it by default), or
    None when discovery has not written one. One that cannot be read is an ``InputError``
    at its file:line: partitions must never be written from a half-read map."""
    path = G.default_path(site_path)
    if not path.exists():
        return None
    shown = _shown(path, base if base is not None else Path.cwd())
    return G.parse(_read_bounded(path, shown, "GUID map", MAX_GUIDS_BYTES), shown)


def with_guids(site: Site, guids: G.GuidMap | None) -> Site:
    """``site`` carrying the GUID map ``guids`` (None: not discovered yet). A map is an input
    of the subnet managers' partitions, so it is folded into the site's inventory hash: the
    render's key and the fingerprint of the hosts built from the whole site are made from
    that hash, and a tree rendered before discovery must not pass for current after it."""
    if guids is None or not site.inventory_hash:
        return replace(site, guids=guids)
    h = hashlib.sha256(f"{site.inventory_hash}\0guids\0".encode())
    h.update(json.dumps(guids.guids, sort_keys=True, separators=(",", ":")).encode())
    return replace(site, guids=guids, inventory_hash=h.hexdigest())


def _shown(path: Path, base: Path) -> str:
    # As the inventory's own files are shown in findings: relative to the base when inside it.
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)
