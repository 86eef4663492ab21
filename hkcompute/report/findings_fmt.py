"""Findings as text (``path:line:col: CODE message``), JSON, and GitHub annotations."""

from __future__ import annotations

import json

from hkcompute.findings import Finding, count_by_severity


def as_text(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{f.location}: {f.code} {f.severity}: {f.message}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
    return "\n".join(lines)


def as_json(site: str, files: list[str], findings: list[Finding]) -> str:
    counts = count_by_severity(findings)
    doc = {
        "site": site,
        "files": files,
        "ok": counts["error"] == 0,
        "summary": {
            "errors": counts["error"],
            "warnings": counts["warning"],
            "infos": counts["info"],
        },
        "findings": [f.to_dict() for f in findings],
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def as_github(findings: list[Finding]) -> str:
    """GitHub Actions workflow commands: ``::error file=..,line=..,col=..,title=..::msg``."""
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = []
    for f in findings:
        props = [f"file={_escape_prop(f.location.path)}"]
        if f.location.line:
            props.append(f"line={f.location.line}")
            props.append(f"col={f.location.column or 1}")
        props.append(f"title={_escape_prop(f.code)}")
        msg = f.message + (f" (hint: {f.hint})" if f.hint else "")
        lines.append(f"::{level[str(f.severity)]} {','.join(props)}::{_escape_data(msg)}")
    return "\n".join(lines)
