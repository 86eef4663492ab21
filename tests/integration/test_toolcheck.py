"""The real programs accept the reference configurations and reject broken copies of them.

Each kind is skipped, with the reason, when its program is not installed; under CI
(``CI=true``) a missing program is a failure instead, so CI cannot go green by skipping.
Debian packages: bind9-utils dnsmasq-base frr prometheus chrony openssh-server netplan.io
slurm-wlm (slurmctld, slurmd, slurm-client).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hkcompute import lint
from hkcompute.lint import ToolResult, sandbox

pytestmark = pytest.mark.tools

REFERENCE = Path(__file__).parent / "reference" / "hosts"


def need(kind: str) -> None:
    """Skip (or, under CI, fail) when the programs behind ``kind`` are not usable here."""
    reason = lint.available(kind)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{kind}: {reason} (CI=true: install the Debian packages)")
    pytest.skip(f"{kind}: {reason}")


Check = Callable[[Path], ToolResult]


def checker(kind: str) -> Check:
    """The registered checker ``kind`` on one path, as the tree walk of ``--lint`` runs it."""
    return lambda path: lint.check(kind, [path])


# (kind, file or directory inside the reference tree, how to check it)
CASES: list[tuple[str, str, Check]] = [
    ("bind-conf", "svc01/etc/bind/named.conf", checker("bind-conf")),
    ("bind-zone", "svc01/etc/bind/db.lab.hkcompute.internal", checker("bind-zone")),
    ("bind-zone", "svc01/etc/bind/db.10", checker("bind-zone")),
    ("dnsmasq", "svc01/etc/dnsmasq.d/hkcompute.conf", checker("dnsmasq")),
    ("dnsmasq", "svc01/etc/dnsmasq.d", checker("dnsmasq")),
    ("chrony", "svc01/etc/chrony/chrony.conf", checker("chrony")),
    ("prometheus", "svc01/etc/prometheus/prometheus.yml", checker("prometheus")),
    (
        "prometheus-rules",
        "svc01/etc/prometheus/hkcompute-rules.yml",
        checker("prometheus-rules"),
    ),
    ("frr", "leaf01/etc/frr/frr.conf", checker("frr")),
    ("frr-bgpd", "leaf01/etc/frr/frr.conf", checker("frr-bgpd")),
    ("frr-daemons", "leaf01/etc/frr/daemons", checker("frr-daemons")),
    ("netplan", "gpu01/etc/netplan/60-hkcompute.yaml", checker("netplan")),
    ("chrony", "gpu01/etc/chrony/chrony.conf", checker("chrony")),
    ("sshd", "gpu01/etc/ssh/sshd_config", checker("sshd")),
    ("slurm", "gpu01/etc/slurm/slurm.conf", checker("slurm")),
    ("slurm-gres", "gpu01/etc/slurm/gres.conf", checker("slurm-gres")),
    ("slurm-topology", "gpu01/etc/slurm/topology.conf", checker("slurm-topology")),
    ("slurm", "npu01/etc/slurm/slurm.conf", checker("slurm")),
    ("slurm-gres", "npu01/etc/slurm/gres.conf", checker("slurm-gres")),
]


@pytest.mark.parametrize(
    ("kind", "relative", "check"), CASES, ids=[f"{k}:{r}" for k, r, _ in CASES]
)
def test_reference_passes(kind: str, relative: str, check: Check) -> None:
    need(kind)
    result = check(REFERENCE / relative)
    assert result.kind == kind
    assert result.command, result.output
    assert result.ok, f"{' '.join(result.command)}\n{result.output}"


@dataclass(frozen=True)
class Breakage:
    """A copy of one host tree with one file edited: ``old`` becomes ``new``."""

    name: str
    kind: str
    host: str
    file: str
    old: str
    new: str
    expect: str  # what the program says about it (a piece of its output)
    check: Check
    target: str | None = None  # what to check, when not the edited file


BROKEN: list[Breakage] = [
    Breakage(
        "named.conf-missing-semicolon",
        "bind-conf",
        "svc01",
        "etc/bind/named.conf.local",
        'type primary;\n\tfile "/etc/bind/db.10";',
        'type primary\n\tfile "/etc/bind/db.10";',
        "missing ';'",
        checker("bind-conf"),
        "etc/bind/named.conf",
    ),
    Breakage(
        "named.conf-zone-file-missing",
        "bind-conf",
        "svc01",
        "etc/bind/named.conf.local",
        '"/etc/bind/db.10"',
        '"/etc/bind/db.10-absent"',
        "file not found",
        checker("bind-conf"),
        "etc/bind/named.conf",
    ),
    Breakage(
        "zone-cname-and-other-data",
        "bind-zone",
        "svc01",
        "etc/bind/db.lab.hkcompute.internal",
        "ntp\t\tIN\tCNAME\tsvc01\n",
        "ntp\t\tIN\tCNAME\tsvc01\nntp\t\tIN\tA\t10.10.0.3\n",
        "CNAME and other data",
        checker("bind-zone"),
    ),
    Breakage(
        "reverse-zone-bad-ptr-owner",
        "bind-zone",
        "svc01",
        "etc/bind/db.10",
        "2.0.10\t\tIN\tPTR",
        "2.0.10\t\tIN\tPTX",
        "unknown RR type",
        checker("bind-zone"),
    ),
    Breakage(
        "dnsmasq-bad-range",
        "dnsmasq",
        "svc01",
        "etc/dnsmasq.d/hkcompute.conf",
        "10.10.0.100,10.10.0.199",
        "10.10.0.100,10.10.0.299",
        "bad dhcp-range",
        checker("dnsmasq"),
        "etc/dnsmasq.d",
    ),
    Breakage(
        "dnsmasq-bad-mac",
        "dnsmasq",
        "svc01",
        "etc/dnsmasq.d/hkcompute.conf",
        "dhcp-host=3c:ec:ef:00:00:11",
        "dhcp-host=3c:ec:ef:00:00:1g",
        "bad",
        checker("dnsmasq"),
    ),
    Breakage(
        "chrony-unknown-directive",
        "chrony",
        "svc01",
        "etc/chrony/chrony.conf",
        "rtcsync",
        "rtcsink",
        "Invalid directive",
        checker("chrony"),
    ),
    Breakage(
        "prometheus-bad-duration",
        "prometheus",
        "svc01",
        "etc/prometheus/prometheus.yml",
        "scrape_interval: 15s",
        "scrape_interval: 15 seconds",
        "not a valid duration",
        checker("prometheus"),
    ),
    Breakage(
        "prometheus-broken-rule-via-config",
        "prometheus",
        "svc01",
        "etc/prometheus/hkcompute-rules.yml",
        "DCGM_FI_DEV_GPU_TEMP > 85",
        "DCGM_FI_DEV_GPU_TEMP > > 85",
        "parse error",
        checker("prometheus"),
        "etc/prometheus/prometheus.yml",
    ),
    Breakage(
        "prometheus-rule-file-missing",
        "prometheus",
        "svc01",
        "etc/prometheus/prometheus.yml",
        "/etc/prometheus/hkcompute-rules.yml",
        "/etc/prometheus/absent-rules.yml",
        "does not point to an existing file",
        checker("prometheus"),
    ),
    Breakage(
        "rules-bad-promql",
        "prometheus-rules",
        "svc01",
        "etc/prometheus/hkcompute-rules.yml",
        "changes(ifOperStatus[10m]) > 4",
        "changes(ifOperStatus[10m) > 4",
        "parse error",
        checker("prometheus-rules"),
    ),
    Breakage(
        "frr-typo",
        "frr",
        "leaf01",
        "etc/frr/frr.conf",
        " ip address 10.254.0.1/31",
        " ip adress 10.254.0.1/31",
        "Unknown command",
        checker("frr"),
    ),
    Breakage(
        "frr-bad-prefix-length",
        "frr",
        "leaf01",
        "etc/frr/frr.conf",
        "10.254.0.3/31",
        "10.254.0.3/33",
        "Unknown command",
        checker("frr"),
    ),
    Breakage(
        "bgpd-malformed-neighbour",
        "frr-bgpd",
        "leaf01",
        "etc/frr/frr.conf",
        "neighbor 10.254.0.2 peer-group SPINES",
        "neighbor 10.254.0.256 peer-group SPINES",
        "Malformed address",
        checker("frr-bgpd"),
    ),
    Breakage(
        "bgpd-undefined-peer-group",
        "frr-bgpd",
        "leaf01",
        "etc/frr/frr.conf",
        "neighbor 10.254.0.2 peer-group SPINES",
        "neighbor 10.254.0.2 peer-group SPINE",
        "Configure the peer-group first",
        checker("frr-bgpd"),
    ),
    Breakage(
        "frr-daemons-unterminated-quote",
        "frr-daemons",
        "leaf01",
        "etc/frr/daemons",
        'bgpd_options="   -A 127.0.0.1"',
        'bgpd_options="   -A 127.0.0.1',
        "",
        checker("frr-daemons"),
    ),
    Breakage(
        "netplan-bad-address",
        "netplan",
        "gpu01",
        "etc/netplan/60-hkcompute.yaml",
        "addresses: [10.30.0.11/24]",
        "addresses: [10.30.0.311/24]",
        "malformed address",
        checker("netplan"),
    ),
    Breakage(
        "netplan-unknown-key",
        "netplan",
        "gpu01",
        "etc/netplan/60-hkcompute.yaml",
        "      mtu: 9000\n      addresses: [10.30.0.11/24]",
        "      mtu: 9000\n      adresses: [10.30.0.11/24]",
        "unknown key",
        checker("netplan"),
        "etc/netplan",
    ),
    Breakage(
        "sshd-bad-value",
        "sshd",
        "gpu01",
        "etc/ssh/sshd_config",
        "PasswordAuthentication no",
        "PasswordAuthentication maybe",
        "unsupported option",
        checker("sshd"),
    ),
    Breakage(
        "sshd-bad-cipher",
        "sshd",
        "gpu01",
        "etc/ssh/sshd_config",
        "aes128-gcm@openssh.com\n",
        "aes128-gcm@openssh.com,rot13\n",
        "Bad SSH2 cipher spec",
        checker("sshd"),
    ),
    Breakage(
        "slurm-unknown-key",
        "slurm",
        "gpu01",
        "etc/slurm/slurm.conf",
        "SelectType=select/cons_tres",
        "SelectTypo=select/cons_tres",
        "unrecognized key",
        checker("slurm"),
    ),
    Breakage(
        "slurm-partition-unknown-nodes",
        "slurm",
        "gpu01",
        "etc/slurm/slurm.conf",
        "PartitionName=npu Nodes=npu[01-04]",
        "PartitionName=npu Nodes=npx[01-04]",
        "Invalid node names in partition",
        checker("slurm"),
    ),
    Breakage(
        "slurm-gres-type-not-declared",
        "slurm",
        "npu01",
        "etc/slurm/slurm.conf",
        "GresTypes=gpu,npu",
        "GresTypes=gpu",
        "Invalid GRES configured",
        checker("slurm"),
    ),
    Breakage(
        "topology-unknown-child-switch",
        "slurm-topology",
        "gpu01",
        "etc/slurm/topology.conf",
        "Switches=su[01-02]",
        "Switches=su[01-03]",
        "invalid child",
        checker("slurm-topology"),
    ),
    Breakage(
        "topology-unknown-nodes",
        "slurm-topology",
        "gpu01",
        "etc/slurm/topology.conf",
        "Nodes=gpu[01-04]",
        "Nodes=gpx[01-04]",
        "Invalid hostnames in switch configuration",
        checker("slurm-topology"),
    ),
    Breakage(
        "topology-not-read",
        "slurm-topology",
        "gpu01",
        "etc/slurm/slurm.conf",
        "TopologyPlugin=topology/tree",
        "TopologyPlugin=topology/none",
        "did not read topology.conf",
        checker("slurm-topology"),
        "etc/slurm/topology.conf",
    ),
    Breakage(
        "gres-npu-not-in-grestypes",
        "slurm-gres",
        "npu01",
        "etc/slurm/slurm.conf",
        "GresTypes=gpu,npu",
        "GresTypes=gpu",
        "invalid name: npu",
        checker("slurm-gres"),
        "etc/slurm/gres.conf",
    ),
    Breakage(
        "gres-count-mismatch",
        "slurm-gres",
        "gpu01",
        "etc/slurm/slurm.conf",
        "Gres=gpu:h100:8",
        "Gres=gpu:h100:16",
        "count reported lower than configured",
        checker("slurm-gres"),
        "etc/slurm/gres.conf",
    ),
    Breakage(
        "gres-cores-beyond-node",
        "slurm-gres",
        "gpu01",
        "etc/slurm/gres.conf",
        "Cores=56-111",
        "Cores=56-300",
        "Invalid GRES data",
        checker("slurm-gres"),
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_variant_fails(case: Breakage, tmp_path: Path) -> None:
    need(case.kind)
    host = tmp_path / "hosts" / case.host
    shutil.copytree(REFERENCE / case.host, host)
    edited = host / case.file
    text = edited.read_text()
    assert case.old in text, f"the reference {case.file} no longer contains {case.old!r}"
    edited.write_text(text.replace(case.old, case.new, 1))
    result = case.check(host / (case.target or case.file))
    assert result.kind == case.kind
    assert not result.ok, f"{' '.join(result.command)} accepted it:\n{result.output}"
    assert case.expect in result.output, result.output


def test_zone_not_named_in_named_conf_fails(tmp_path: Path) -> None:
    need("bind-zone")
    host = tmp_path / "hosts" / "svc01"
    shutil.copytree(REFERENCE / "svc01", host)
    stray = host / "etc" / "bind" / "db.stray"
    shutil.copyfile(host / "etc" / "bind" / "db.10", stray)
    result = lint.check("bind-zone", [stray])
    assert not result.ok
    assert "no zone statement" in result.output


def test_zones_are_read_from_named_conf() -> None:
    bind = REFERENCE / "svc01" / "etc" / "bind"
    zones = lint.zones_of(bind / "named.conf")
    assert zones == {
        (bind / "db.lab.hkcompute.internal").resolve(): ["lab.hkcompute.internal"],
        (bind / "db.10").resolve(): ["10.in-addr.arpa"],
    }


def test_sshd_effective_settings_are_hardened() -> None:
    need("sshd")
    result = lint.check("sshd", [REFERENCE / "gpu01" / "etc" / "ssh" / "sshd_config"])
    assert result.ok, result.output
    settings = dict(line.split(" ", 1) for line in result.output.splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] in ("without-password", "prohibit-password")
    assert "cbc" not in settings["ciphers"]
    assert all(m.endswith("-etm@openssh.com") for m in settings["macs"].split(","))
    assert "/etc/ssh/ssh_host" not in result.output  # the machine's own keys were not read


def test_slurm_gres_reports_the_devices() -> None:
    need("slurm-gres")
    gpu = lint.check("slurm-gres", [REFERENCE / "gpu01" / "etc" / "slurm" / "gres.conf"])
    npu = lint.check("slurm-gres", [REFERENCE / "npu01" / "etc" / "slurm" / "gres.conf"])
    assert "Name=gpu Type=h100 Count=4" in gpu.output
    assert "File=/dev/nvidia[4-7]" in gpu.output
    assert "Name=npu Type=910b Count=8" in npu.output
    assert "File=/dev/davinci[0-7]" in npu.output


def test_netplan_lists_generated_files() -> None:
    need("netplan")
    result = lint.check("netplan", [REFERENCE / "gpu01" / "etc" / "netplan"])
    assert result.ok, result.output
    assert "/run/systemd/network/10-netplan-rail7.network" in result.output


TREE_EXPECTED = {
    ("bind-conf", "svc01/etc/bind/named.conf"),
    ("bind-zone", "svc01/etc/bind/db.10"),
    ("bind-zone", "svc01/etc/bind/db.lab.hkcompute.internal"),
    ("dnsmasq", "svc01/etc/dnsmasq.d"),
    ("chrony", "svc01/etc/chrony/chrony.conf"),
    ("prometheus", "svc01/etc/prometheus/prometheus.yml"),
    ("prometheus-rules", "svc01/etc/prometheus/hkcompute-rules.yml"),
    ("frr", "leaf01/etc/frr/frr.conf"),
    ("frr-bgpd", "leaf01/etc/frr/frr.conf"),
    ("frr-daemons", "leaf01/etc/frr/daemons"),
    ("chrony", "gpu01/etc/chrony/chrony.conf"),
    ("netplan", "gpu01/etc/netplan"),
    ("sshd", "gpu01/etc/ssh/sshd_config"),
    ("slurm", "gpu01/etc/slurm/slurm.conf"),
    ("slurm-gres", "gpu01/etc/slurm/gres.conf"),
    ("slurm-topology", "gpu01/etc/slurm/topology.conf"),
    ("slurm", "npu01/etc/slurm/slurm.conf"),
    ("slurm-gres", "npu01/etc/slurm/gres.conf"),
    ("slurm-topology", "npu01/etc/slurm/topology.conf"),
}


def test_check_tree_reference_all_ok() -> None:
    missing = {kind: reason for kind in lint.names() if (reason := lint.available(kind))}
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"missing under CI: {missing}")
    if len(missing) == len(lint.names()):
        pytest.skip("none of the programs is installed")
    results = lint.check_tree(REFERENCE, skip_unavailable=True)
    bad = [f"{r.kind} {r.path}\n{r.output}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)
    seen = {(r.kind, Path(r.path).relative_to(REFERENCE.absolute()).as_posix()) for r in results}
    assert seen == {(kind, path) for kind, path in TREE_EXPECTED if kind not in missing}


def test_check_tree_reports_a_broken_file(tmp_path: Path) -> None:
    need("chrony")
    hosts = tmp_path / "hosts"
    shutil.copytree(REFERENCE / "gpu01" / "etc" / "chrony", hosts / "gpu01" / "etc" / "chrony")
    conf = hosts / "gpu01" / "etc" / "chrony" / "chrony.conf"
    conf.write_text(conf.read_text() + "frobnicate yes\n")
    [result] = lint.check_tree(hosts)
    assert (result.kind, result.ok) == ("chrony", False)
    assert "Invalid directive" in result.output


def test_recognise_and_unknown_kind() -> None:
    assert lint.recognise("etc/frr/frr.conf") == ("frr", "frr-bgpd")
    assert lint.recognise("etc/hosts") == ()
    with pytest.raises(ValueError, match="unknown kind"):
        lint.available("sendmail")


def test_missing_program_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "find", lambda binary: None)
    assert lint.available("chrony") == "missing chronyd (Debian package chrony)"
    result = lint.check("chrony", [REFERENCE / "gpu01" / "etc" / "chrony" / "chrony.conf"])
    assert (result.ok, result.command) == (False, [])
    assert result.output.startswith("not checked: missing chronyd")
    assert lint.check_tree(REFERENCE, skip_unavailable=True) == []
