"""Lab images built locally with mmdebstrap, and the systemd containers that run them.

No registry is reachable, so images are made from Debian packages: ``mmdebstrap`` (using the
machine's own apt sources) writes a root file system as a tar, and the engine imports it (about
45 s for the base image on 2 cores). A recipe that ``extends`` another is derived from the
parent's image with ``docker build`` and apt inside the build (about 10 s for the switch image),
falling back to a whole mmdebstrap build if that fails. A recipe (``recipes/<name>.toml`` plus
the files it names) decides the tag: ``hkcompute/<name>:`` followed by 12 hex digits of its
hash, so an image is rebuilt only when its recipe changes (Debian updates alone do not rebuild
it; ``force=True`` does).

The image has no SSH host keys; ``hkcompute-ssh-keygen.service`` makes them at first boot, and
:func:`host_public_keys` reads them back for a known_hosts file. Containers run systemd as PID 1,
unprivileged (privileged containers fail on the project's machines): ``--tmpfs /run
--tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from docker import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from hkcompute.lab.docker_engine import LAB_LABEL, SITE_LABEL, LabError, lab_labels

log = logging.getLogger(__name__)

BASE = "base"
SWITCH = "switch"
REPOSITORY_PREFIX = "hkcompute/"
RECIPE_LABEL = "hkcompute.recipe"
RECIPE_HASH_LABEL = "hkcompute.recipe-hash"
BUILD_METHOD_LABEL = "hkcompute.build"
"""``mmdebstrap`` (whole root file system) or ``derived`` (``docker build`` from the parent)."""
SWITCH_CAPS: tuple[str, ...] = ("NET_ADMIN", "SYS_ADMIN")
"""Capabilities FRR's zebra and bgpd need in an unprivileged container."""
SYSTEMD_CMD: tuple[str, ...] = ("/lib/systemd/systemd",)
BOOTED_STATES = frozenset({"running", "degraded"})
KEYGEN_UNIT = "hkcompute-ssh-keygen.service"
ALIAS_TAG = "lab"
"""Stable tag every lab image also carries (``hkcompute/<recipe>:lab``): Molecule's platforms
name the image by it, since the hash tag changes with the recipe."""

# Bump when the way an image is built changes (hooks, dpkg options, import changes), so that the
# tags change and old images are not reused.
_BUILD_STEPS_VERSION = 1
_DPKG_OPTIONS: tuple[str, ...] = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
_IMAGE_CHANGES: tuple[str, ...] = (
    # STOPSIGNAL is refused by `docker import` (20.10): start_container sets it instead.
    "ENV container=docker",
    'CMD ["/lib/systemd/systemd"]',
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOCK_PATH = Path(tempfile.gettempdir()) / "hkcompute-lab-images.lock"
_APT_SOURCES = Path("/etc/apt")


@dataclass(frozen=True)
class RecipeFile:
    """A file put into the image: its absolute path there, content and mode."""

    path: str
    content: bytes
    mode: int


@dataclass(frozen=True)
class Recipe:
    """What goes into a lab image; its :meth:`digest` names the image."""

    name: str
    suite: str
    variant: str
    packages: tuple[str, ...]
    files: tuple[RecipeFile, ...] = ()
    enable: tuple[str, ...] = ()
    parent: Recipe | None = None
    """The recipe this one ``extends``: its image is the starting point of a derived build."""

    def digest(self) -> str:
        """12 hex digits of SHA-256 over everything that changes the image."""
        doc = {
            "build_steps": _BUILD_STEPS_VERSION,
            "dpkg_options": list(_DPKG_OPTIONS),
            "changes": list(_IMAGE_CHANGES),
            "suite": self.suite,
            "variant": self.variant,
            "packages": sorted(set(self.packages)),
            "enable": sorted(set(self.enable)),
            "files": [
                [f.path, f.mode, hashlib.sha256(f.content).hexdigest()]
                for f in sorted(self.files, key=lambda f: f.path)
            ],
        }
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def repository(self) -> str:
        """``hkcompute/<name>``."""
        return f"{REPOSITORY_PREFIX}{self.name}"

    @property
    def tag(self) -> str:
        """``hkcompute/<name>:<digest>``: the image reference."""
        return f"{self.repository}:{self.digest()}"


@dataclass
class LabContainer:
    """A started lab container whose systemd has finished booting."""

    name: str
    id: str
    image: str
    ssh_port: int | None
    """Host port on 127.0.0.1 that reaches the container's port 22, when published."""
    state: str
    """What ``systemctl is-system-running`` said: ``running`` or ``degraded``."""
    container: Any = field(repr=False)
    """The docker SDK's ``Container``."""


# --------------------------------------------------------------------------- recipes


def _recipes_dir() -> Traversable:
    return resources.files("hkcompute.lab").joinpath("recipes")


def recipe_names() -> list[str]:
    """Names of the bundled recipes (``base``, ``switch``, ...)."""
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _recipes_dir().iterdir()
        if entry.name.endswith(".toml")
    )


def load_recipe(name: str) -> Recipe:
    """Read the bundled recipe ``name``, following ``extends`` (packages, files, units add up)."""
    return _load_recipe(name, ())


def _load_recipe(name: str, seen: tuple[str, ...]) -> Recipe:
    if name in seen:
        raise LabError(f"recipe {name!r} extends itself: {' -> '.join((*seen, name))}")
    source = _recipes_dir().joinpath(f"{name}.toml")
    if not source.is_file():
        raise LabError(f"no lab image recipe named {name!r} (known: {', '.join(recipe_names())})")
    try:
        doc = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"recipe {name}.toml: {exc}") from exc
    parent = _load_recipe(str(doc["extends"]), (*seen, name)) if "extends" in doc else None
    packages = [*(parent.packages if parent else ()), *map(str, doc.get("packages", []))]
    enable = [*(parent.enable if parent else ()), *map(str, doc.get("enable", []))]
    files: dict[str, RecipeFile] = {f.path: f for f in (parent.files if parent else ())}
    if "files" in doc:
        for item in _read_tree(_recipes_dir().joinpath(str(doc["files"])), "/"):
            files[item.path] = item
    suite = str(doc.get("suite", parent.suite if parent else ""))
    variant = str(doc.get("variant", parent.variant if parent else "apt"))
    if not suite:
        raise LabError(f"recipe {name}.toml names no suite")
    return Recipe(
        name=name,
        suite=suite,
        variant=variant,
        packages=tuple(dict.fromkeys(packages)),
        files=tuple(sorted(files.values(), key=lambda f: f.path)),
        enable=tuple(dict.fromkeys(enable)),
        parent=parent,
    )


def _read_tree(root: Traversable, prefix: str) -> Iterator[RecipeFile]:
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        path = f"{prefix.rstrip('/')}/{entry.name}"
        if entry.is_dir():
            yield from _read_tree(entry, path)
        else:
            executable = isinstance(entry, Path) and bool(entry.stat().st_mode & 0o111)
            yield RecipeFile(
                path=path, content=entry.read_bytes(), mode=0o755 if executable else 0o644
            )


# --------------------------------------------------------------------------- images


def image_exists(client: DockerClient, tag: str) -> bool:
    """Whether the engine has an image ``tag``."""
    try:
        client.images.get(tag)
    except ImageNotFound:
        return False
    return True


def ensure_image(
    client: DockerClient,
    recipe: str | Recipe = BASE,
    *,
    force: bool = False,
    sources: Sequence[str] | None = None,
) -> str:
    """Return the tag of ``recipe``'s image, building it first if the engine lacks it.

    ``sources`` are apt source files or lines for mmdebstrap; by default the machine's own
    (:func:`host_apt_sources`). A lock file keeps two processes from building the same image.
    """
    resolved = load_recipe(recipe) if isinstance(recipe, str) else recipe
    tag = resolved.tag
    if not force and image_exists(client, tag):
        log.debug("image %s is present", tag)
        tag_alias(client, resolved)
        return tag
    if resolved.parent is not None:
        ensure_image(client, resolved.parent, sources=sources)
    with _build_lock():
        if force or not image_exists(client, tag):
            build_image(client, resolved, sources=sources)
    tag_alias(client, resolved)
    return tag


def alias_of(recipe: Recipe) -> str:
    """``hkcompute/<name>:lab``: the stable name of ``recipe``'s current image."""
    return f"{recipe.repository}:{ALIAS_TAG}"


def tag_alias(client: DockerClient, recipe: Recipe) -> str:
    """Point ``hkcompute/<name>:lab`` at ``recipe``'s image (idempotent); return the alias."""
    alias = alias_of(recipe)
    try:
        image = client.images.get(recipe.tag)
        if alias not in (image.tags or []) and not image.tag(recipe.repository, ALIAS_TAG):
            raise LabError(f"could not tag {recipe.tag} as {alias}")
    except DockerException as exc:
        raise LabError(f"could not tag {recipe.tag} as {alias}: {exc}") from exc
    return alias


def ensure_lab_images(client: DockerClient) -> dict[str, str]:
    """Make sure the base and switch images exist; map recipe name to tag."""
    return {name: ensure_image(client, name) for name in (BASE, SWITCH)}


def host_apt_sources(suite: str) -> list[str]:
    """The machine's apt source files that name ``suite`` (mmdebstrap copies them in).

    Empty when none does: mmdebstrap then uses its own default mirror for the suite.
    """
    candidates = [_APT_SOURCES / "sources.list"]
    listing = _APT_SOURCES / "sources.list.d"
    if listing.is_dir():
        candidates += sorted(
            p for p in listing.iterdir() if p.suffix in (".list", ".sources") and p.is_file()
        )
    found: list[str] = []
    for path in candidates:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        words = {w for line in lines if not line.lstrip().startswith("#") for w in line.split()}
        if suite in words:
            found.append(str(path))
    return found


def build_image(
    client: DockerClient,
    recipe: Recipe,
    *,
    sources: Sequence[str] | None = None,
    derive: bool = True,
) -> str:
    """Build ``recipe``'s image as ``recipe.tag``; return the tag.

    A recipe that extends another whose image is present is derived from it (``docker build``
    installing only the extra packages, with apt inside the build: about 15 s instead of a
    full mmdebstrap run); if that fails, or ``derive`` is false, mmdebstrap builds it whole.
    """
    parent = recipe.parent
    if derive and parent is not None and image_exists(client, parent.tag):
        try:
            return _build_derived(client, recipe, parent)
        except LabError as exc:
            log.warning(
                "deriving %s from %s failed (%s); building it whole", recipe.tag, parent.tag, exc
            )
    return _build_with_mmdebstrap(client, recipe, sources=sources)


def _image_labels(recipe: Recipe, method: str) -> dict[str, str]:
    return lab_labels(
        extra={
            RECIPE_LABEL: recipe.name,
            RECIPE_HASH_LABEL: recipe.digest(),
            BUILD_METHOD_LABEL: method,
        }
    )


def _build_derived(client: DockerClient, recipe: Recipe, parent: Recipe) -> str:
    """``FROM`` the parent's image: add the recipe's new files, packages and units."""
    tag = recipe.tag
    began = time.monotonic()
    packages = [p for p in recipe.packages if p not in parent.packages]
    units = [u for u in recipe.enable if u not in parent.enable]
    files = [f for f in recipe.files if f not in parent.files]
    steps = [
        "set -eu",
        # No service may start inside the build.
        "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d",
        "chmod 0755 /usr/sbin/policy-rc.d",
        "export DEBIAN_FRONTEND=noninteractive",
    ]
    if packages:
        steps += [
            "apt-get update -q",
            "apt-get install -y -q --no-install-recommends " + " ".join(packages),
            "apt-get clean",
            "rm -rf /var/lib/apt/lists/*",
        ]
    if units:
        steps.append("systemctl enable " + " ".join(units))
    steps += ["rm -f /usr/sbin/policy-rc.d", "rm -f /etc/ssh/ssh_host_*"]
    dockerfile = [f"FROM {parent.tag}"]
    if files:
        dockerfile.append("ADD overlay.tar /")
    dockerfile.append("RUN " + " && ".join(steps))
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "Dockerfile", ("\n".join(dockerfile) + "\n").encode(), 0o644)
        if files:
            overlay = io.BytesIO()
            with tarfile.open(fileobj=overlay, mode="w", format=tarfile.PAX_FORMAT) as inner:
                for item in files:
                    _add_bytes(inner, item.path.lstrip("/"), item.content, item.mode)
            _add_bytes(tar, "overlay.tar", overlay.getvalue(), 0o644)
    context.seek(0)
    log.info("building %s from %s: %s", tag, parent.tag, " | ".join(dockerfile))
    output: list[str] = []
    try:
        for chunk in client.api.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            labels=_image_labels(recipe, "derived"),
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        ):
            if "stream" in chunk:
                output.append(_ANSI.sub("", str(chunk["stream"])))
            if "error" in chunk:
                tail = "".join(output).splitlines()[-10:]
                raise LabError(_ANSI.sub("", str(chunk["error"])) + "\n" + "\n".join(tail))
    except (DockerException, OSError) as exc:
        raise LabError(f"docker build of {tag} failed: {exc}") from exc
    if not image_exists(client, tag):
        raise LabError(f"docker build did not produce {tag}")
    log.info("built %s in %.1f s (derived from %s)", tag, time.monotonic() - began, parent.tag)
    return tag


def _build_with_mmdebstrap(
    client: DockerClient, recipe: Recipe, *, sources: Sequence[str] | None = None
) -> str:
    """The whole root file system by mmdebstrap, then ``docker import``."""
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise LabError("mmdebstrap is not installed (run: bash scripts/setup-debian.sh)")
    tag = recipe.tag
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"hkcompute-image-{recipe.name}-") as tmp:
        work = Path(tmp)
        overlay = work / "overlay.tar"
        _write_overlay(recipe.files, overlay)
        rootfs = work / "rootfs.tar"
        build_log = work / "mmdebstrap.log"
        argv = _mmdebstrap_argv(
            mmdebstrap,
            recipe,
            overlay,
            rootfs,
            host_apt_sources(recipe.suite) if sources is None else list(sources),
        )
        log.info("building %s: %s", tag, " ".join(argv))
        with build_log.open("wb") as out:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        if proc.returncode != 0:
            tail = build_log.read_text(errors="replace").splitlines()[-15:]
            raise LabError(
                f"mmdebstrap failed for image {tag} (exit {proc.returncode}):\n" + "\n".join(tail)
            )
        built = time.monotonic()
        labels = _image_labels(recipe, "mmdebstrap")
        changes = [*_IMAGE_CHANGES, *(f"LABEL {k}={v}" for k, v in sorted(labels.items()))]
        try:
            client.api.import_image_from_file(
                str(rootfs), repository=recipe.repository, tag=recipe.digest(), changes=changes
            )
        except (DockerException, OSError) as exc:
            raise LabError(f"docker import of {tag} failed: {exc}") from exc
    if not image_exists(client, tag):
        raise LabError(f"docker import did not produce {tag}")
    log.info(
        "built %s in %.1f s (mmdebstrap %.1f s, import %.1f s)",
        tag,
        time.monotonic() - began,
        built - began,
        time.monotonic() - built,
    )
    return tag


def _mmdebstrap_argv(
    mmdebstrap: str, recipe: Recipe, overlay: Path, rootfs: Path, sources: Sequence[str]
) -> list[str]:
    argv = [mmdebstrap, f"--variant={recipe.variant}", "--include=" + ",".join(recipe.packages)]
    argv += [f"--dpkgopt={opt}" for opt in _DPKG_OPTIONS]
    if recipe.files:
        argv.append(f"--customize-hook=tar-in {overlay} /")
    if recipe.enable:
        argv.append('--customize-hook=chroot "$1" systemctl enable ' + " ".join(recipe.enable))
    # No host keys in the image: each container makes its own at first boot.
    argv.append('--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*')
    argv += [recipe.suite, str(rootfs), *sources]
    return argv


def _write_overlay(files: Sequence[RecipeFile], dest: Path) -> None:
    """A tar of the recipe's files, owned by root, with fixed times (reproducible)."""
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for item in files:
            _add_bytes(tar, item.path.lstrip("/"), item.content, item.mode)


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = mode
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    tar.addfile(info, io.BytesIO(content))


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    with _LOCK_PATH.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- containers


def _cgroup_v2() -> bool:
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def create_network(
    client: DockerClient,
    name: str,
    *,
    site: str,
    subnet: str | None = None,
    gateway: str | None = None,
    internal: bool = False,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """Create a bridge network labelled for the lab and ``site``; return the SDK's Network.

    An ``internal`` network has no way out and cannot publish ports: give each container a
    non-internal first network when its SSH port is to be published.
    """
    ipam = None
    if subnet is not None:
        from docker.types import IPAMConfig, IPAMPool

        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)])
    try:
        return client.networks.create(
            name,
            driver="bridge",
            internal=internal,
            ipam=ipam,
            labels=lab_labels(site, labels),
            check_duplicate=True,
        )
    except APIError as exc:
        raise LabError(f"cannot create network {name}: {exc.explanation or exc}") from exc


LLDP_FWD_BIT = 1 << 14
"""``group_fwd_mask`` bit of 01:80:c2:00:00:0e, the LLDP address: a Linux bridge drops
link-local frames unless told to forward them, and the lab's link networks stand for cables."""
_SYS_NET = Path("/sys/class/net")


def bridge_of(network: Any) -> str:
    """The host's bridge device of a bridge network (``br-`` and 12 hex digits of its id,
    unless the network names its own)."""
    opts = network.attrs.get("Options") or {}
    return str(opts.get("com.docker.network.bridge.name") or f"br-{network.id[:12]}")


def forward_lldp(network: Any, sys_net: Path = _SYS_NET) -> str:
    """Let the network's bridge forward LLDP frames, so lldpd in the containers on it sees
    its neighbour as over a cable. Needs root on the engine's host (the lab's engine is
    local); raises LabError with the reason otherwise."""
    mask = sys_net / bridge_of(network) / "bridge" / "group_fwd_mask"
    try:
        current = int(mask.read_text().strip(), 0)
        if not current & LLDP_FWD_BIT:
            mask.write_text(f"{current | LLDP_FWD_BIT}\n")
    except (OSError, ValueError) as exc:
        raise LabError(f"cannot let LLDP through {mask}: {exc}") from exc
    return str(mask)


def start_container(
    client: DockerClient,
    *,
    name: str,
    image: str,
    site: str,
    labels: Mapping[str, str] | None = None,
    hostname: str | None = None,
    publish_ssh: bool = True,
    ssh_port: int | None = None,
    networks: Sequence[str] = (),
    ipv4: Mapping[str, str] | None = None,
    cap_add: Sequence[str] = (),
    sysctls: Mapping[str, str] | None = None,
    dns: Sequence[str] = (),
    boot_timeout: float = 60.0,
) -> LabContainer:
    """Start an unprivileged systemd container and wait until systemd has booted.

    Port 22 is published on 127.0.0.1 (on ``ssh_port``, or a free port when ``None``) if
    ``publish_ssh``. ``networks`` are joined in order (the first at creation; the engine's
    default bridge when empty); ``ipv4`` maps a network name to a fixed address on it.
    Switches want ``cap_add=SWITCH_CAPS``. The container is removed again if it fails to boot.
    """
    if not image_exists(client, image):
        raise LabError(f"image {image} is missing (build it with ensure_image)")
    ipv4 = dict(ipv4 or {})
    cgroup_mode = "rw" if _cgroup_v2() else "ro"
    kwargs: dict[str, Any] = {
        "name": name,
        "hostname": hostname or name,
        "command": list(SYSTEMD_CMD),
        "labels": lab_labels(site, labels),
        "detach": True,
        "tmpfs": {"/run": "", "/run/lock": ""},
        "volumes": {"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": cgroup_mode}},
        "cap_add": list(cap_add) or None,
        "sysctls": dict(sysctls) if sysctls else None,
        "stop_signal": "SIGRTMIN+3",
        # The lab's own DNS servers: a name outside the site must never be looked up beyond
        # the machine (the site's BIND answers authoritatively and does not recurse).
        "dns": list(dns) or None,
    }
    if cgroup_mode == "rw":
        # cgroup v2 (not the project's machines, not verified there): systemd needs to write.
        kwargs["cgroupns"] = "host"
    if publish_ssh:
        kwargs["ports"] = {"22/tcp": ("127.0.0.1", ssh_port)}
    if networks:
        first = networks[0]
        kwargs["network"] = first
        if first in ipv4:
            kwargs["networking_config"] = {
                first: client.api.create_endpoint_config(ipv4_address=ipv4[first])
            }
    try:
        container = client.containers.create(image, **kwargs)
    except APIError as exc:
        raise LabError(f"cannot create container {name}: {exc.explanation or exc}") from exc
    try:
        for net in networks[1:]:
            client.networks.get(net).connect(container, ipv4_address=ipv4.get(net))
        container.start()
        state = wait_for_systemd(container, timeout=boot_timeout)
        container.reload()
    except (LabError, DockerException) as exc:
        with contextlib.suppress(DockerException):
            container.remove(force=True, v=True)
        if isinstance(exc, LabError):
            raise
        raise LabError(f"cannot start container {name}: {exc}") from exc
    port: int | None = None
    if publish_ssh:
        bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get("22/tcp")
        port = int(bindings[0]["HostPort"]) if bindings else None
    log.info("container %s (%s) booted: %s, ssh port %s", name, image, state, port)
    return LabContainer(
        name=name, id=container.id, image=image, ssh_port=port, state=state, container=container
    )


def exec_text(container: Any, argv: Sequence[str]) -> tuple[int, str]:
    """Run ``argv`` in the container; return its exit code and output (stdout and stderr)."""
    result = container.exec_run(list(argv), stdout=True, stderr=True)
    output = result.output.decode("utf-8", errors="replace") if result.output else ""
    return int(result.exit_code if result.exit_code is not None else -1), output


def wait_for_systemd(container: Any, timeout: float = 60.0) -> str:
    """Wait until systemd in the container reports ``running`` or ``degraded``; return which.

    A ``degraded`` boot is accepted (some units cannot run in a container); the failed units
    are logged. Raises :class:`LabError` if the container stops or the time runs out.
    """
    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            logs = container.logs(tail=20).decode("utf-8", errors="replace")
            raise LabError(f"container {container.name} is {container.status}:\n{logs}")
        if container.status == "running":
            _, out = exec_text(container, ["systemctl", "is-system-running"])
            said = out.strip().splitlines()[-1] if out.strip() else ""
            if said in BOOTED_STATES:
                if said == "degraded":
                    _, failed = exec_text(container, ["systemctl", "--failed", "--no-legend"])
                    log.warning("%s booted degraded: %s", container.name, failed.strip())
                return said
        time.sleep(0.2)
    raise LabError(
        f"systemd in {container.name} did not finish booting in {timeout:.0f} s "
        f"(last state: {said or 'no answer'})"
    )


def host_public_keys(container: Any, timeout: float = 30.0) -> dict[str, str]:
    """The container's SSH host public keys, as ``{key type: "type base64"}``.

    Waits for the first-boot key generation; the comment field is dropped.
    """
    deadline = time.monotonic() + timeout
    while True:
        code, state = exec_text(container, ["systemctl", "is-active", KEYGEN_UNIT])
        if code == 0 and state.strip() == "active":
            code, out = exec_text(container, ["sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"])
            keys: dict[str, str] = {}
            for line in out.splitlines():
                parts = line.split()
                if code == 0 and len(parts) >= 2:
                    keys[parts[0]] = f"{parts[0]} {parts[1]}"
            if keys:
                return keys
        if time.monotonic() > deadline:
            raise LabError(f"no SSH host keys in {container.name} after {timeout:.0f} s")
        time.sleep(0.2)


def known_hosts_lines(host: str, port: int, keys: Mapping[str, str]) -> list[str]:
    """known_hosts lines for ``keys`` at ``host:port`` (``[host]:port`` unless port 22)."""
    where = host if port == 22 else f"[{host}]:{port}"
    return [f"{where} {keys[kind]}" for kind in sorted(keys)]


def install_authorized_key(container: Any, public_key: str, user: str = "root") -> None:
    """Add ``public_key`` (one OpenSSH line) to ``user``'s authorized_keys in the container."""
    key = public_key.strip()
    if not key or "\n" in key or len(key.split()) < 2:
        raise LabError("expected one OpenSSH public key line, like 'ssh-ed25519 AAAA... comment'")
    code, entry = exec_text(container, ["getent", "passwd", user])
    fields = entry.strip().split(":")
    if code != 0 or len(fields) < 7:
        raise LabError(f"no user {user!r} in {container.name}")
    uid, gid, home = int(fields[2]), int(fields[3]), fields[5]
    code, existing = exec_text(container, ["cat", f"{home}/.ssh/authorized_keys"])
    lines = existing.splitlines() if code == 0 else []
    if key in (line.strip() for line in lines):
        return
    content = ("\n".join([*lines, key]) + "\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        folder = tarfile.TarInfo(".ssh")
        folder.type = tarfile.DIRTYPE
        folder.mode = 0o700
        folder.uid, folder.gid = uid, gid
        folder.mtime = int(time.time())
        tar.addfile(folder)
        info = tarfile.TarInfo(".ssh/authorized_keys")
        info.size = len(content)
        info.mode = 0o600
        info.uid, info.gid = uid, gid
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(content))
    if not container.put_archive(home, buf.getvalue()):
        raise LabError(f"could not write {home}/.ssh/authorized_keys in {container.name}")


def remove_lab_objects(
    client: DockerClient, *, site: str | None = None, images: bool = False
) -> int:
    """Remove the lab's containers and networks (of ``site`` only, if given); return the count.

    With ``images``, the lab's images go too (they are shared by all sites: normally kept).
    """
    filters = [f"{LAB_LABEL}=1"] + ([f"{SITE_LABEL}={site}"] if site is not None else [])
    removed = 0
    # ignore_removed: a container that goes away between the list and its inspect (another
    # clean-up, a killed run's auto-removal) is already what we want, not an error.
    for container in client.containers.list(
        all=True, filters={"label": filters}, ignore_removed=True
    ):
        with contextlib.suppress(NotFound):
            container.remove(force=True, v=True)
            removed += 1
    for network in client.networks.list(filters={"label": filters}):
        with contextlib.suppress(NotFound):
            network.remove()
            removed += 1
    if images:
        for image in client.images.list(filters={"label": f"{LAB_LABEL}=1"}):
            with contextlib.suppress(NotFound):
                client.images.remove(image.id, force=True)
                removed += 1
    if removed:
        log.info("removed %d lab objects (site %s)", removed, site or "any")
    return removed
