"""Templates run in Jinja's sandbox: an inventory value can never execute code.

Two layers are proven: (1) inventory values are data, never parsed as templates, so a value
holding Jinja syntax comes out literally; (2) the one Jinja environment is an immutable
sandbox, so even a template (or a filter result) that tried to reach Python internals, mutate
its context or allocate without bound is stopped with a SecurityError / RenderError.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hkcompute.errors import RenderError
from hkcompute.render.env import environment, render_template
from hkcompute.validate import validate

from .conftest import LAB

# Each payload, if it were ever evaluated, would leave a trace we can look for: a number in
# the output, or a file on disk.
EVAL_MARK = "{{ 7777 * 3 }}"  # evaluated: 23331
SENTINEL_NAME = "pwned"


def _payloads(sentinel: Path) -> list[str]:
    return [
        EVAL_MARK,
        "{{ cycler.__init__.__globals__.os.system('touch " + str(sentinel) + "') }}",
        "{% for c in ''.__class__.__mro__[1].__subclasses__() %}{{ c }}{% endfor %}",
        "{{ lipsum.__globals__['os'].popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ config.items() }}{{ request.application.__globals__ }}",
        "${{7*7}}#{7*7}<%= 7*7 %>",
    ]


def test_the_environment_is_an_immutable_sandbox_with_strict_undefined() -> None:
    env = environment()
    assert isinstance(env, ImmutableSandboxedEnvironment)
    assert env.undefined is jinja2.StrictUndefined


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ x.__class__.__base__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ f.__globals__ }}",
        "{{ f.__code__ }}",
        "{{ d.update({'a': 1}) }}",
        "{{ l.append(1) }}",
        "{{ l.pop() }}",
        "{{ d.setdefault('x', 1) }}",
        "{{ d.clear() }}",
        "{{ s.add(1) }}",
        "{{ '{a.__class__}'.format_map(d) }}",
        "{{ '{0.__class__}'.format(x) }}",
    ],
)
def test_templates_cannot_reach_python_internals_or_mutate(source: str) -> None:
    env = environment()
    ctx = {"x": "text", "d": {"a": 0}, "l": [1, 2], "s": {1}, "f": _payloads}
    with pytest.raises(SecurityError):
        env.from_string(source).render(ctx)
    assert ctx == {"x": "text", "d": {"a": 0}, "l": [1, 2], "s": {1}, "f": _payloads}


def test_unbounded_ranges_are_refused() -> None:
    with pytest.raises(OverflowError):
        environment().from_string("{% for i in range(10**9) %}{% endfor %}").render()


def test_a_sandbox_violation_in_a_template_is_a_render_error(tmp_path: Path) -> None:
    """Through the project's render path, a violation is an expected error naming the host
    (exit 1), not a crash and not a silently rendered file."""
    (tmp_path / "t.j2").write_text("{{ v.__class__.__mro__ }}\n")
    env = environment(str(tmp_path))
    with pytest.raises(RenderError, match="h1: template tried an unsafe operation"):
        render_template(env, "t.j2", {"v": "x"}, "h1")


def test_values_holding_template_syntax_come_out_literally(tmp_path: Path) -> None:
    sentinel = tmp_path / SENTINEL_NAME
    env = environment()
    for p in _payloads(sentinel):
        out = env.from_string("value={{ v }} yaml={{ v | to_yaml }} json={{ v | to_json }}")
        text = out.render(v=p)
        assert text.startswith(f"value={p} ")
        assert json.dumps(p, sort_keys=True) in text
    assert not sentinel.exists()


def _hostile_lab(tmp_path: Path, sentinel: Path) -> Path:
    """The lab with Jinja payloads in every free-text value that reaches a template."""
    site = tmp_path / "site"
    site.mkdir()
    payloads = _payloads(sentinel)
    for p in LAB.glob("*.yaml"):
        (site / p.name).write_text(p.read_text())
    text = (site / "site.yaml").read_text()
    extra = (
        f"  timezone: {json.dumps(EVAL_MARK)}\n"
        f"  ntp_upstream: {json.dumps(payloads)}\n"
        f"  admin_users: {json.dumps(payloads[:3])}\n"
    )
    text = text.replace("  description: ", f"  description: {json.dumps(payloads[2])}\n  x_: ")
    text = text.replace("  x_: Digital twin of one RoCE pod, small enough for one machine.\n", "")
    text = text.replace(
        "  location: hkcompute container lab\n", f"  location: {json.dumps(payloads[1])}\n" + extra
    )
    (site / "site.yaml").write_text(text)
    return site


def test_inventory_values_never_execute_in_a_real_render(tmp_path: Path) -> None:
    from hkcompute.render.pipeline import render_site

    sentinel = tmp_path / SENTINEL_NAME
    site_dir = _hostile_lab(tmp_path, sentinel)
    v = validate(site_dir)
    assert v.site is not None and v.ok, [str(f) for f in v.findings][:5]
    assert v.site.info.timezone == EVAL_MARK
    out = tmp_path / "out"
    render_site(v.site, 1, out)
    assert not sentinel.exists()
    texts = [
        (Path(d) / n).read_bytes().decode("utf-8", "replace")
        for d, _dirs, names in os.walk(out / "hosts", followlinks=True)
        for n in names
    ]
    assert texts
    joined = "\n".join(texts)
    assert "23331" not in joined  # 7777 * 3 was never computed
    assert EVAL_MARK in joined  # ... the value came out as written (timezone, NTP servers)
    assert "uid=" not in joined
