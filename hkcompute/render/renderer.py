"""What each host gets, rendered: the role registry and the render loop.

Files identical on many hosts (slurm.conf, gres.conf, topology.conf) are rendered once and
shared; everything else is rendered per host from ``context.ContextBuilder``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hkcompute import schema as S
from hkcompute.errors import RenderError
from hkcompute.inventory.load import bundled_catalog
from hkcompute.model import Catalog, Device, Site
from hkcompute.plan.records import Plan
from hkcompute.render.context import ContextBuilder
from hkcompute.render.env import environment, render_template
from hkcompute.render.tree import RenderedFile

Progress = Callable[[int, int], None]

# What a device's files are made as (``Renderer.kind``): a node's, a services host's, a
# routing switch's (its OS's ``routed`` files), a subnet manager host's.
NODE, SERVICE, ROUTED, SM = "node", "service", "routed", "sm"

_DICT_ATTRS = frozenset(dir(dict))


class _FastDictSandbox(ImmutableSandboxedEnvironment):
    """The same sandbox, with a shortcut for the one access templates make most: a key of a
    plain dict (``host.name``). The sandbox first tries ``getattr`` and pays for an
    AttributeError on every such access (a fifth of the render time on a full site). A key
    that is not an attribute of ``dict`` resolves exactly as the sandbox would resolve it;
    anything else (methods, other types, missing keys) takes the sandbox's own path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def render_environment(site_dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """The project's environment (``env.environment``) with a site's own template folders
    first, and the dict shortcut above."""
    base = environment(None, site_dirs)
    if type(base) is not ImmutableSandboxedEnvironment:
        return base
    fast = base.overlay()
    fast.__class__ = _FastDictSandbox
    return fast


@dataclass(frozen=True, slots=True)
class FileSpec:
    path: str
    template: str
    mode: int = 0o644
    shared: str | None = None  # key of a context shared by many hosts (rendered once)
    extra: tuple[tuple[str, Any], ...] = ()
    only: tuple[str, ...] = ()  # when set, the template sees these context keys alone
    # The hkcompute.lint checkers that validate the file with the program that reads it
    # (``render --lint``); named here so that the path is declared once, with its template.
    checkers: tuple[str, ...] = ()


COMMON = (
    FileSpec("/etc/hosts", "common/hosts.j2"),
    FileSpec("/etc/ssh/sshd_config", "common/sshd_config.j2", checkers=("sshd",)),
    FileSpec(
        "/etc/netplan/60-hkcompute.yaml", "common/netplan.yaml.j2", 0o600, checkers=("netplan",)
    ),
)
CHRONY_CLIENT = FileSpec(
    "/etc/chrony/chrony.conf", "common/chrony-client.conf.j2", checkers=("chrony",)
)
CHRONY_SERVER = FileSpec(
    "/etc/chrony/chrony.conf", "services/chrony-server.conf.j2", checkers=("chrony",)
)
SLURM = (
    FileSpec("/etc/slurm/slurm.conf", "slurm/slurm.conf.j2", shared="slurm", checkers=("slurm",)),
    FileSpec(
        "/etc/slurm/gres.conf", "slurm/gres.conf.j2", shared="slurm", checkers=("slurm-gres",)
    ),
    FileSpec(
        "/etc/slurm/topology.conf",
        "slurm/topology.conf.j2",
        shared="slurm",
        checkers=("slurm-topology",),
    ),
    FileSpec(
        "/etc/slurm/cgroup.conf",
        "slurm/cgroup.conf.j2",
        shared="slurm",
        checkers=("slurm-cgroup",),
    ),
)
# A DNS server's DNS files see ``site`` and ``dns`` only: what ``deps.Fingerprints.dns``
# hashes. A template that reached for anything else would fail to render, not go stale.
DNS_ONLY = ("site", "dns")
DNS = (
    FileSpec(
        "/etc/bind/named.conf", "services/named.conf.j2", only=DNS_ONLY, checkers=("bind-conf",)
    ),
    FileSpec("/etc/bind/named.conf.options", "services/named.conf.options.j2", only=DNS_ONLY),
    FileSpec("/etc/bind/named.conf.local", "services/named.conf.local.j2", only=DNS_ONLY),
)
# One per zone, made by ``Renderer._zone_spec`` with the zone's file in place of the ``*``.
ZONE = FileSpec("/etc/bind/db.*", "services/db.zone.j2", only=DNS_ONLY, checkers=("bind-zone",))
DNSMASQ = FileSpec(
    "/etc/dnsmasq.d/hkcompute.conf", "services/dnsmasq.conf.j2", checkers=("dnsmasq",)
)
PROMETHEUS = (
    FileSpec(
        "/etc/prometheus/prometheus.yml", "services/prometheus.yml.j2", checkers=("prometheus",)
    ),
    FileSpec(
        "/etc/prometheus/hkcompute-rules.yml",
        "services/hkcompute-rules.yml.j2",
        checkers=("prometheus-rules",),
    ),
)
# Every spec a host can get besides the platforms' own (ZONE's path is a pattern).
SPECS: tuple[FileSpec, ...] = (
    *COMMON,
    CHRONY_CLIENT,
    CHRONY_SERVER,
    *SLURM,
    *DNS,
    ZONE,
    DNSMASQ,
    *PROMETHEUS,
)


def platform_spec(f: S.RenderFile) -> FileSpec:
    """The spec of a file a catalogue entry names (an accelerator's stack, a switch OS's).
    Its template also sees ``file`` (``path``, ``dir``): where the platform puts it, so that
    files of one template can name their neighbours on each platform."""
    where = {"path": f.path, "dir": f.path.rsplit("/", 1)[0] or "/"}
    return FileSpec(
        f.path, f.template, int(f.mode, 8), extra=(("file", where),), checkers=tuple(f.checkers)
    )


def platform_specs(catalog: Catalog) -> tuple[FileSpec, ...]:
    """Every file the catalogue's platforms put on hosts, in catalogue order."""
    out: list[FileSpec] = []
    for acc in catalog.accelerators.values():
        out += (platform_spec(f) for f in acc.files)
    for nic in catalog.nics.values():
        out += (platform_spec(f) for f in nic.files)
    for nos in catalog.switch_os.values():
        for files in nos.files.values():
            out += (platform_spec(f) for f in files)
    for kind in catalog.fabrics.values():
        if kind.fabric_manager is not None:
            out += (platform_spec(f) for f in kind.fabric_manager.files)
    return tuple(out)


def checkers_for(path: str, catalog: Catalog | None = None) -> tuple[str, ...]:
    """The checkers of the file rendered at ``path`` on a host (``/etc/frr/frr.conf``), in
    the order its specs name them: the renderer's own and those of the platforms of
    ``catalog`` (the bundled catalogue when None); () for a file no program checks."""
    out: list[str] = []
    for spec in (*SPECS, *platform_specs(catalog or bundled_catalog())):
        if fnmatch.fnmatchcase(path, spec.path):
            out += [c for c in spec.checkers if c not in out]
    return tuple(out)


class Renderer:
    def __init__(
        self, site: Site, plan: Plan, phase: int | None, env: jinja2.Environment | None = None
    ) -> None:
        self.site = site
        self.phase = phase
        self.b = ContextBuilder(site, plan, phase)
        self.env = env or render_environment(site.template_dirs)
        self._shared: dict[tuple[str, str], bytes] = {}
        # Which switches run a subnet manager is the plan's decision (plan.assign).
        self._sm_hosts = self.b.assignments.subnet_managers
        self._zone_specs: dict[int, tuple[dict[str, Any], FileSpec]] = {}

    def kind(self, d: Device) -> str | None:
        """What a device's files are made as (``deps`` fingerprints each kind after what its
        context reads): a node's, a services host's, a routing switch's, a subnet
        manager's; None when it gets no files."""
        role = d.role
        if role in ("gpu_node", "storage"):
            return NODE
        if role == "service":
            return SERVICE
        if d.name in self.b.routed_switches and self._os_files(d, "routed"):
            return ROUTED
        if d.name in self._sm_hosts and self._sm_files(d):
            return SM
        return None

    def _sm_files(self, d: Device) -> list[FileSpec]:
        """A subnet manager host's files: a fabric-manager appliance's are its fabric kind's
        (``fabric_manager.files``), a switch's its network OS's."""
        if d.role == "fabric_manager":
            kind = self.site.fabric_of(d.cluster)
            fm = kind.fabric_manager if kind is not None else None
            return [platform_spec(f) for f in fm.files] if fm is not None else []
        return self._os_files(d, "subnet_manager")

    def _os_files(self, d: Device, function: S.SwitchFunction) -> list[FileSpec]:
        """The files a switch's network OS gives it for ``function`` (none: an OS whose
        switches are configured by the vendor's own tools, or no OS catalogued)."""
        nos = self.site.catalog.os_of(d.model)
        return [platform_spec(f) for f in nos.files.get(function, ())] if nos else []

    def runs_dns(self, d: Device) -> bool:
        return d in self.b.services.get("dns", ())

    def plan_host(
        self, d: Device, *, dns: bool = True
    ) -> tuple[list[FileSpec], dict[str, Any] | None]:
        """The files a device gets and its context (None when it gets nothing). With
        ``dns`` False, a DNS server's context and files leave out its DNS section (the zones:
        the biggest context of the site), which ``dns_specs`` then gives alone."""
        kind = self.kind(d)
        if kind is None:
            return [], None
        role = d.role
        if role == "gpu_node":
            ctx = self.b.node(d)
            specs = [*COMMON, CHRONY_CLIENT, *SLURM]
            acc, _n, _m = self.site.accelerators_of(d)
            if acc is not None:  # the platform's own stack (catalogue ``files``)
                specs += [platform_spec(f) for f in acc.files]
            # The compute card's own files (its QoS) where the fabric is lossless.
            nic = self.site.catalog.compute_nic(d.model)
            if nic is not None and self.site.qos_of(d.cluster) is not None:
                specs += [platform_spec(f) for f in nic.files]
            return specs, ctx
        if role == "storage":
            return [*COMMON, CHRONY_CLIENT], self.b.node(d)
        if role == "service":
            runs = [s for s, hosts in self.b.services.items() if d in hosts and (dns or s != "dns")]
            ctx = self.b.services_host(d, runs)
            specs = list(COMMON)
            specs.append(CHRONY_SERVER if "ntp" in runs else CHRONY_CLIENT)
            if "dns" in runs:
                specs += self.dns_specs(ctx)
            if "dhcp" in runs:
                specs.append(DNSMASQ)
            if "prometheus" in runs:
                specs += PROMETHEUS
            if "slurmctld" in runs or "login" in runs:
                specs += SLURM
            return specs, ctx
        if kind == ROUTED:
            return self._os_files(d, "routed"), self.b.switch(d)
        return self._sm_files(d), self.b.subnet_manager(d, self._sm_hosts[d.name])

    def dns_specs(self, ctx: dict[str, Any]) -> list[FileSpec]:
        """A DNS server's DNS files (its context has ``dns``)."""
        return [*DNS, *(self._zone_spec(z) for z in ctx["dns"]["zones"])]

    def render_dns(self, d: Device) -> list[RenderedFile]:
        """A DNS server's DNS section alone (``plan_host(d, dns=False)`` leaves it out)."""
        ctx = {"site": self.b.shared_parts["site"], "dns": self.b.dns_context(d)}
        return self.render_host(d, self.dns_specs(ctx), ctx)

    def _zone_spec(self, zone: dict[str, Any]) -> FileSpec:
        """One spec per zone, the same object for every DNS host: its key hashes the zone's
        records once (``pipeline._Keys`` memoises by spec)."""
        got = self._zone_specs.get(id(zone))
        if got is None or got[0] is not zone:
            spec = replace(ZONE, path=f"/etc/bind/{zone['file']}", extra=(("zone", zone),))
            got = (zone, spec)
            self._zone_specs[id(zone)] = got
        return got[1]

    def render_file(self, d: Device, spec: FileSpec, ctx: dict[str, Any]) -> RenderedFile:
        if spec.shared is not None:
            key = (spec.shared, spec.template)
            data = self._shared.get(key)
            if data is None:
                shared_ctx = {"site": ctx["site"], spec.shared: self.b.slurm()}
                data = render_template(self.env, spec.template, shared_ctx, d.name).encode()
                self._shared[key] = data
            return RenderedFile(d.name, spec.path, data, spec.mode)
        if spec.only:
            ctx = {k: ctx[k] for k in spec.only}
        full = dict(ctx, **dict(spec.extra)) if spec.extra else ctx
        if spec.shared is None and spec.template.startswith("slurm/"):
            full = dict(full, slurm=self.b.slurm())
        text = render_template(self.env, spec.template, full, d.name)
        return RenderedFile(d.name, spec.path, text.encode(), spec.mode)

    def devices(self, hosts: str | None = None) -> list[Device]:
        devices = [
            d
            for d in self.site.devices_upto(self.phase)
            if hosts is None or fnmatch.fnmatchcase(d.name, hosts)
        ]
        if hosts is not None and not devices:
            raise RenderError(f"no host matches {hosts!r}")
        return devices

    def render_host(
        self, d: Device, specs: list[FileSpec], ctx: dict[str, Any]
    ) -> list[RenderedFile]:
        return [self.render_file(d, spec, ctx) for spec in specs]

    def render(
        self, hosts: str | None = None, progress: Progress | None = None
    ) -> list[RenderedFile]:
        devices = self.devices(hosts)
        out: list[RenderedFile] = []
        total = len(devices)
        for i, d in enumerate(devices, 1):
            specs, ctx = self.plan_host(d)
            if ctx is not None:
                out.extend(self.render_host(d, specs, ctx))
            if progress is not None and (i % 200 == 0 or i == total):
                progress(i, total)
        return out
