"""The one Jinja environment: sandboxed, StrictUndefined, no autoescape (configs, not HTML).

Sandboxed because inventory values flow into templates: a value can never call into Python.
StrictUndefined because an empty string where an address should be is a broken config that
deploys silently; a missing value must fail the render, naming the template line and host.
"""

from __future__ import annotations

import ipaddress
import json
import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hkcompute.errors import RenderError
from hkcompute.resources import templates_dir


def _ip(value: str) -> str:
    return str(ipaddress.ip_interface(value).ip)


def _prefixlen(value: str) -> int:
    return ipaddress.ip_interface(value).network.prefixlen


def _netmask(value: str) -> str:
    return str(ipaddress.ip_interface(value).netmask)


def _network(value: str) -> str:
    return str(ipaddress.ip_interface(value).network)


def _to_yaml(value: Any, indent: int = 2) -> str:
    return yaml.safe_dump(
        value, sort_keys=True, default_flow_style=False, indent=indent, width=1000
    ).rstrip("\n")


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _reverse_pointer(value: str) -> str:
    return ipaddress.ip_address(_ip(value)).reverse_pointer


def _hostlist(names: list[str]) -> str:
    """Compress node names into Slurm hostlist form, e.g. su01-n[01-31]."""
    from hkcompute.inventory.ranges import compress

    return compress(names)


@lru_cache(maxsize=4)
def environment(root: str | None = None, site_dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """The environment over ``root`` (the bundled templates when None), with a site's own
    template folders searched first."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader([*site_dirs, root or str(templates_dir())]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        ip=_ip,
        prefixlen=_prefixlen,
        netmask=_netmask,
        network=_network,
        to_yaml=_to_yaml,
        to_json=_to_json,
        reverse_pointer=_reverse_pointer,
        hostlist=_hostlist,
    )
    return env


def template_location(exc: BaseException, root: Path) -> str:
    """'templates/x.j2:LINE' for the deepest frame of a template in the traceback."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
        return f"{_short(exc.filename, root)}:{exc.lineno}"
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2") or "/templates/" in frame.filename:
            where = f"{_short(frame.filename, root)}:{frame.lineno}"
    return where


def _short(filename: str, root: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root.resolve().parent))
    except ValueError:
        return filename


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any], host: str) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"{host}: template {exc.name!r} not found") from None
    except jinja2.TemplateSyntaxError as exc:
        where = template_location(exc, templates_dir())
        raise RenderError(
            f"{host}: syntax error in template: {exc.message}", location=where
        ) from None
    except jinja2.UndefinedError as exc:
        where = template_location(exc, templates_dir())
        raise RenderError(
            f"{host}: {exc.message} (the plan gives no such value)", location=where or name
        ) from None
    except jinja2.exceptions.SecurityError as exc:
        raise RenderError(
            f"{host}: template tried an unsafe operation: {exc}",
            location=template_location(exc, templates_dir()) or name,
        ) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        where = template_location(exc, templates_dir())
        raise RenderError(f"{host}: {type(exc).__name__}: {exc}", location=where or name) from None
