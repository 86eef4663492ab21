"""The lab's engine, images and systemd containers, for real (``-m lab``).

The tests at the top need no engine: they check the recipe hashing and how a missing engine is
reported. The rest build the base and switch images (once per session, cached by tag), boot
containers and log in to them over SSH with host key checking on.
"""

from __future__ import annotations

import io
import re
import socket
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest

from hkcompute.lab import docker_engine as engine
from hkcompute.lab import images
from hkcompute.lab.docker_engine import LAB_LABEL, SITE_LABEL, EngineUnavailable, LabError
from hkcompute.lab.images import (
    SWITCH_CAPS,
    exec_text,
    host_public_keys,
    install_authorized_key,
    known_hosts_lines,
    load_recipe,
)

TAG_RE = re.compile(r"^hkcompute/(base|switch):[0-9a-f]{12}$")


# --------------------------------------------------------------------------- no engine needed


def test_recipes_resolve_and_hash_stably() -> None:
    base, switch = load_recipe("base"), load_recipe("switch")
    assert TAG_RE.match(base.tag) and TAG_RE.match(switch.tag)
    assert base.digest() == load_recipe("base").digest()
    assert base.digest() != switch.digest()
    assert {"frr", "frr-pythontools"} <= set(switch.packages)
    assert set(base.packages) < set(switch.packages)
    assert images.KEYGEN_UNIT in switch.enable
    paths = {f.path for f in switch.files}
    assert f"/etc/systemd/system/{images.KEYGEN_UNIT}" in paths


def test_recipe_hash_follows_packages_and_files() -> None:
    base = load_recipe("base")
    more = images.Recipe(**{**base.__dict__, "packages": (*base.packages, "curl")})
    reordered = images.Recipe(**{**base.__dict__, "packages": tuple(reversed(base.packages))})
    edited = images.Recipe(
        **{**base.__dict__, "files": (images.RecipeFile("/etc/x", b"x", 0o644), *base.files)}
    )
    assert more.digest() != base.digest()
    assert edited.digest() != base.digest()
    assert reordered.digest() == base.digest()


def test_unknown_recipe_is_a_lab_error() -> None:
    with pytest.raises(LabError, match="no lab image recipe named 'nope'"):
        load_recipe("nope")


def test_missing_engine_is_reported_not_started(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    assert not engine.engine_answers(timeout=2)
    with pytest.raises(EngineUnavailable, match="none answers"):
        engine.connect(timeout=2)
    with pytest.raises(EngineUnavailable, match="not starting a local dockerd"):
        engine.ensure_engine(timeout=5)


def test_lab_labels() -> None:
    assert engine.lab_labels() == {LAB_LABEL: "1"}
    assert engine.lab_labels("hk1", {"role": "leaf"}) == {
        LAB_LABEL: "1",
        SITE_LABEL: "hk1",
        "role": "leaf",
    }


# --------------------------------------------------------------------------- with the engine


def _ssh_client(known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    return client


def _connect(client: paramiko.SSHClient, port: int, private_key: str) -> None:
    client.connect(
        "127.0.0.1",
        port=port,
        username="root",
        pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(private_key)),
        allow_agent=False,
        look_for_keys=False,
        timeout=15,
        banner_timeout=15,
        auth_timeout=15,
    )


@pytest.mark.lab
def test_images_are_tagged_by_recipe_and_labelled(
    docker_client: Any, lab_images: dict[str, str]
) -> None:
    assert set(lab_images) == {"base", "switch"}
    for name, tag in lab_images.items():
        assert TAG_RE.match(tag)
        assert tag == load_recipe(name).tag
        labels = docker_client.images.get(tag).labels
        assert labels[LAB_LABEL] == "1"
        assert labels[images.RECIPE_LABEL] == name
        assert labels[images.BUILD_METHOD_LABEL] in ("mmdebstrap", "derived")
    # Present now: asking again does not rebuild.
    began = time.monotonic()
    assert images.ensure_image(docker_client, "base") == lab_images["base"]
    assert time.monotonic() - began < 5


@pytest.mark.lab
def test_image_has_no_ssh_host_keys(docker_client: Any, lab_images: dict[str, str]) -> None:
    listing = docker_client.containers.run(
        lab_images["base"],
        ["sh", "-c", "ls /etc/ssh"],
        remove=True,
        labels=engine.lab_labels(),
    ).decode()
    assert "sshd_config" in listing
    assert "ssh_host_" not in listing


@pytest.mark.lab
def test_base_container_boots_systemd_and_sshd(lab_container: Any) -> None:
    node = lab_container("boot")
    assert node.state in images.BOOTED_STATES
    code, out = exec_text(node.container, ["systemctl", "is-active", "ssh.service"])
    assert (code, out.strip()) == (0, "active")
    _, out = exec_text(node.container, ["ss", "-Hltn", "sport = :22"])
    assert ":22" in out
    assert node.ssh_port is not None
    with socket.create_connection(("127.0.0.1", node.ssh_port), timeout=10) as conn:
        assert conn.recv(64).startswith(b"SSH-2.0-OpenSSH")
    labels = node.container.labels
    assert labels[LAB_LABEL] == "1" and labels[SITE_LABEL].startswith("pytest-")


@pytest.mark.lab
def test_host_keys_are_made_per_container(lab_container: Any) -> None:
    one, two = lab_container("keys-a"), lab_container("keys-b")
    keys_one, keys_two = host_public_keys(one.container), host_public_keys(two.container)
    assert "ssh-ed25519" in keys_one and "ssh-ed25519" in keys_two
    assert set(keys_one.values()).isdisjoint(keys_two.values())


@pytest.mark.lab
def test_root_logs_in_by_key_with_host_key_checking(
    lab_container: Any, ssh_key: Any, tmp_path: Path
) -> None:
    node = lab_container("ssh")
    install_authorized_key(node.container, ssh_key.public_line)
    install_authorized_key(node.container, ssh_key.public_line)  # a second time: no duplicate
    _, authorized = exec_text(node.container, ["cat", "/root/.ssh/authorized_keys"])
    assert authorized.count(ssh_key.public_line) == 1
    known = tmp_path / "known_hosts"
    lines = known_hosts_lines("127.0.0.1", node.ssh_port, host_public_keys(node.container))
    known.write_text("\n".join(lines) + "\n")
    client = _ssh_client(known)
    try:
        _connect(client, node.ssh_port, ssh_key.private_openssh)
        _, stdout, _ = client.exec_command("id -u; hostname; systemctl is-system-running")
        out = stdout.read().decode().split()
    finally:
        client.close()
    assert out[0] == "0"
    assert out[1] == node.container.attrs["Config"]["Hostname"]
    assert out[2] in images.BOOTED_STATES


@pytest.mark.lab
def test_wrong_or_unknown_host_key_is_rejected(
    lab_container: Any, ssh_key: Any, tmp_path: Path
) -> None:
    node, other = lab_container("hk-real"), lab_container("hk-other")
    install_authorized_key(node.container, ssh_key.public_line)
    wrong = tmp_path / "wrong_known_hosts"
    lines = known_hosts_lines("127.0.0.1", node.ssh_port, host_public_keys(other.container))
    wrong.write_text("\n".join(lines) + "\n")
    client = _ssh_client(wrong)
    with pytest.raises(paramiko.BadHostKeyException):
        _connect(client, node.ssh_port, ssh_key.private_openssh)
    client.close()
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    client = _ssh_client(empty)
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        _connect(client, node.ssh_port, ssh_key.private_openssh)
    client.close()


@pytest.mark.lab
def test_switch_runs_frr(lab_container: Any) -> None:
    switch = lab_container("leaf", image="switch", cap_add=SWITCH_CAPS, publish_ssh=False)
    deadline = time.monotonic() + 30
    code, out = -1, ""
    while time.monotonic() < deadline:
        code, out = exec_text(switch.container, ["vtysh", "-c", "show version"])
        if code == 0:
            break
        time.sleep(0.3)
    assert code == 0, out
    assert "FRRouting" in out
    code, state = exec_text(switch.container, ["systemctl", "is-active", "frr.service"])
    assert state.strip() == "active"


@pytest.mark.lab
def test_networks_fixed_addresses_and_cleanup_by_label(
    docker_client: Any, lab_site: str, lab_container: Any
) -> None:
    net = images.create_network(
        docker_client, f"{lab_site}-fabric", site=lab_site, subnet="10.199.7.0/24"
    )
    a = lab_container("net-a", networks=["bridge", net.name], ipv4={net.name: "10.199.7.11"})
    b = lab_container(
        "net-b", networks=[net.name], ipv4={net.name: "10.199.7.12"}, publish_ssh=False
    )
    code, out = exec_text(a.container, ["ping", "-c", "1", "-W", "5", "10.199.7.12"])
    assert code == 0, out
    assert a.ssh_port is not None and b.ssh_port is None
    # Cleanup by label removes this site's containers and networks, and nothing else.
    assert images.remove_lab_objects(docker_client, site=lab_site) >= 3
    left = docker_client.containers.list(all=True, filters={"label": f"{SITE_LABEL}={lab_site}"})
    assert left == []
    assert docker_client.networks.list(filters={"label": f"{SITE_LABEL}={lab_site}"}) == []


@pytest.mark.lab
def test_start_failure_leaves_nothing_behind(docker_client: Any, lab_site: str) -> None:
    with pytest.raises(LabError, match="missing"):
        images.start_container(
            docker_client, name=f"{lab_site}-ghost", image="hkcompute/none:0", site=lab_site
        )
    with pytest.raises(LabError):
        images.start_container(
            docker_client,
            name=f"{lab_site}-nonet",
            image=load_recipe("base").tag,
            site=lab_site,
            networks=["bridge", "hkcompute-no-such-network"],
        )
    assert docker_client.containers.list(all=True, filters={"name": f"{lab_site}-nonet"}) == []
