"""Prometheus: ``promtool check config`` on ``prometheus.yml``, ``promtool check rules`` on
each rule file."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from hkcompute.lint import sandbox
from hkcompute.lint.base import Program, Tool, ToolResult, content_key, register, result, tree_files

__all__ = ["PromtoolConfig", "PromtoolRules"]


def _prometheus_paths(doc: Any) -> set[str]:
    """Every file reference in a Prometheus configuration (rule files, SD files, secrets)."""
    found: set[str] = set()

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, str))

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("rule_files", "scrape_config_files") or (
                    isinstance(key, str) and key.endswith("_file")
                ):
                    found.update(strings(value))
                elif key == "file_sd_configs" and isinstance(value, list):
                    for sd in value:
                        if isinstance(sd, dict):
                            found.update(strings(sd.get("files")))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return found


@register
class PromtoolConfig(Tool):
    """``promtool check config`` on a re-rooted copy of ``prometheus.yml``.

    promtool also loads the rule files (and checks the other files) the configuration
    names, and those are absolute ``/etc/prometheus/...`` paths. The copy, in a temporary
    directory beside symbolic links to every other file of the host's config directory (so
    relative references still resolve), has each absolute file reference rewritten into the
    host tree; nothing else in the text changes, so YAML quirks (duplicate keys) are still
    caught by promtool itself. A referenced file missing from the tree is an error.
    """

    name = "prometheus"
    programs = (Program("promtool", "prometheus"),)

    def key(self, files: Sequence[Path], host_root: Path) -> str:
        # Referenced files may be anywhere in the host tree.
        return content_key(host_root, files, tree_files(host_root))

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        config = files[0]
        root = host_root
        text = config.read_text(encoding="utf-8", errors="surrogateescape")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            doc = None  # promtool will say what is wrong with it
        absolute = sorted(
            (p for p in _prometheus_paths(doc) if p.startswith("/")), key=len, reverse=True
        )
        if absolute:
            pattern = re.compile("|".join(re.escape(p) for p in absolute))
            text = pattern.sub(lambda m: sandbox.reroot(m.group(0), root), text)
        with tempfile.TemporaryDirectory(prefix="hk-prom-") as tmp:
            work = Path(tmp)
            for entry in config.parent.iterdir():
                if entry.name != config.name:
                    (work / entry.name).symlink_to(entry.resolve())
            copy = work / config.name
            copy.write_text(text, errors="surrogateescape")
            cmd = [sandbox.program("promtool"), "check", "config", str(copy)]
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, config, cmd, rc, sandbox.unmask(out, {str(copy): str(config)}))


@register
class PromtoolRules(Tool):
    """``promtool check rules FILE``: YAML shape, PromQL of every expression, templates."""

    name = "prometheus-rules"
    programs = (Program("promtool", "prometheus"),)

    def check(self, files: Sequence[Path], host_root: Path, timeout: float) -> ToolResult:
        rules = files[0]
        cmd = [sandbox.program("promtool"), "check", "rules", str(rules)]
        with tempfile.TemporaryDirectory(prefix="hk-rules-") as tmp:
            rc, out = sandbox.run(cmd, timeout=timeout, environ=sandbox.env(tmp), cwd=tmp)
        return result(self.name, rules, cmd, rc, out)
