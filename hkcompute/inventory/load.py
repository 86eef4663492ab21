"""Load a site: located YAML -> schema -> expanded model, with every finding collected."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hkcompute.findings import Finding
from hkcompute.inventory.expand import build_site
from hkcompute.inventory.parse import parse
from hkcompute.inventory.yamlsrc import Source, load_source
from hkcompute.model import Site

CATALOG_RESOURCE = "catalog.yaml"


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
    return Loaded(site, src, findings)
