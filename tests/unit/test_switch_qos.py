"""The switch half of the site's one lossless-RoCE policy (inventories/*/qos.yaml, ``qos:``).

A Huawei CloudEngine leaf (hkstp phase 1, ce9860-200, `vrp`) carries it in flash:/vrpcfg.cfg:
a DiffServ domain mapping the RoCE and CNP DSCPs to their queues, a PFC profile on the RoCE
priority, an ECN drop profile with the policy's thresholds, and on every fabric and
node-facing port the domain, PFC, ECN on the RoCE queue and the CNP queue in PQ. An NVIDIA
Spectrum leaf (hkstp phase 3, sn5600-400, `cumulus`) carries it in Cumulus' QoS files,
qos_features.conf and qos_infra.conf. A changed policy changes both."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hkcompute.inventory.load import bundled_catalog, load_site
from hkcompute.render.pipeline import render_files

ROOT = Path(__file__).resolve().parents[2]
HKSTP = ROOT / "inventories" / "hkstp"
FEATURES = "/etc/cumulus/datapath/qos/qos_features.conf"
INFRA = "/etc/mlx/datapath/qos/qos_infra.conf"
PHB = ["be", "af1", "af2", "af3", "af4", "ef", "cs6", "cs7"]

# Another policy: RoCE on priority 4 / DSCP 34, CNP on 7 / DSCP 56, other ECN figures.
CHANGED = """qos:
  roce: {priority: 4, dscp: 34}
  cnp: {priority: 7, dscp: 56}
  pfc:
    priorities: [4]
  ecn: {min_kb: 200, max_kb: 2000, probability: 50}
"""


def _leaf_files(site, phase: int, model: str) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    leaf = next(d for d in site.devices_upto(phase) if d.role == "leaf" and d.model == model)
    return leaf.name, {f.path: f.content.decode() for f in render_files(site, phase, leaf.name)}


def _load(path: Path):  # type: ignore[no-untyped-def]
    loaded = load_site(path)
    assert loaded.site is not None
    return loaded.site


@pytest.fixture(scope="module")
def bundled():  # type: ignore[no-untyped-def]
    site = _load(HKSTP)
    return site, _leaf_files(site, 1, "ce9860-200"), _leaf_files(site, 3, "sn5600-400")


@pytest.fixture(scope="module")
def changed(tmp_path_factory):  # type: ignore[no-untyped-def]
    copy = tmp_path_factory.mktemp("site") / "hkstp"
    shutil.copytree(HKSTP, copy)
    (copy / "qos.yaml").write_text(CHANGED)
    site = _load(copy)
    assert (site.qos.roce.priority, site.qos.cnp.dscp) == (4, 56)
    return site, _leaf_files(site, 1, "ce9860-200"), _leaf_files(site, 3, "sn5600-400")


def _sections(cfg: str) -> dict[str, str]:
    """A VRP configuration's '#'-separated sections by their first line."""
    return {b.split("\n", 1)[0]: b for b in cfg.split("\n#\n")}


def _keys(text: str) -> dict[str, str]:
    """A Cumulus QoS file's active `key = value` lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key.strip() not in out, key
            out[key.strip()] = value.strip()
    return out


def _ints(value: str) -> list[int]:
    return [int(x) for x in value.strip("[]").split(",") if x]


def _check_vrp(site, leaf: str, files: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    q = site.qos
    cfg = files["/vrpcfg.cfg"]
    sec = _sections(cfg)
    # DSCP -> queue: the RoCE and CNP DSCPs to the PHBs of their priorities (queues 0..7).
    assert sec["diffserv domain roce"].splitlines()[1:] == [
        f" ip-dscp-inbound {q.roce.dscp} phb {PHB[q.roce.priority]} green",
        f" ip-dscp-inbound {q.cnp.dscp} phb {PHB[q.cnp.priority]} green",
    ]
    # PFC on the policy's priorities only (the RoCE priority).
    assert q.pfc.priorities == [q.roce.priority]
    assert sec["dcb pfc roce"] == f"dcb pfc roce\n priority {q.roce.priority}"
    assert len(re.findall(r"^ priority ", cfg, re.M)) == 1
    # ECN from the policy's min to max, in bytes, at its probability.
    assert sec["drop-profile roce"] == (
        "drop-profile roce\n ecn buffer-size low-limit "
        f"{q.ecn.min_kb * 1000} high-limit {q.ecn.max_kb * 1000} "
        f"discard-percentage {q.ecn.probability}"
    )
    # Every fabric port (routed uplinks, Layer 3: DSCP trusted by default) and every node
    # port (Layer 2 access: trust dscp) carries the domain, PFC, ECN and the CNP queue in PQ.
    ports = [b for h, b in sec.items() if re.fullmatch(r"interface 200GE1/0/\d+", h)]
    assert len(ports) > 64
    qos_lines = [
        " trust upstream roce",
        " dcb pfc enable roce mode manual",
        f" qos queue {q.roce.priority} wred roce",
        f" qos queue {q.roce.priority} ecn",
        f" qos pq {q.cnp.priority}",
    ]
    for port in ports:
        lines = port.splitlines()
        assert lines[-len(qos_lines) :] == qos_lines, lines[0]
        assert (" trust dscp" in lines) == (" port link-type access" in lines), lines[0]
    assert cfg.count(" trust dscp\n") == sum(" port link-type access" in p for p in ports) > 0


def _check_cumulus(site, files: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    q = site.qos
    f = _keys(files[FEATURES])
    infra = _keys(files[INFRA])
    # Trust DSCP; RoCE DSCP -> RoCE priority, CNP DSCP -> CNP priority, each DSCP once.
    assert f["traffic.packet_priority_source_set"] == "[dscp]"
    dscp = {sp: _ints(f[f"traffic.cos_{sp}.priority_source.dscp"]) for sp in range(8)}
    assert sorted(d for ds in dscp.values() for d in ds) == list(range(64))
    assert q.roce.dscp in dscp[q.roce.priority]
    assert q.cnp.dscp in dscp[q.cnp.priority]
    # PFC on the RoCE priority only, on every swp port the plan uses.
    assert f["pfc.port_group_list"] == "[roce_pfc]"
    assert _ints(f["pfc.roce_pfc.cos_list"]) == [q.roce.priority]
    assert f["pfc.roce_pfc.port_set"] == "swp1-swp128"
    # ECN: the policy's thresholds in bytes, on the RoCE queue (and the shared one, 0).
    assert q.roce.priority in _ints(f["default_ecn_red_conf.egress_queue_list"])
    assert f["default_ecn_red_conf.ecn_enable"] == "true"
    assert f["default_ecn_red_conf.min_threshold_bytes"] == str(q.ecn.min_kb * 1000)
    assert f["default_ecn_red_conf.max_threshold_bytes"] == str(q.ecn.max_kb * 1000)
    assert f["default_ecn_red_conf.probability"] == str(q.ecn.probability)
    # The RoCE and CNP priorities keep their own queues, the CNP queue strict.
    assert infra[f"cos_egr_queue.cos_{q.roce.priority}.uc"] == str(q.roce.priority)
    assert infra[f"cos_egr_queue.cos_{q.cnp.priority}.uc"] == str(q.cnp.priority)
    assert f[f"default_egress_sched.egr_queue_{q.cnp.priority}.bw_percent"] == "0"
    assert f[f"default_egress_sched.egr_queue_{q.roce.priority}.bw_percent"] == "50"
    # The lossless pool PFC needs (Flow Control Buffers).
    assert infra["flow_control.ingress_service_pool"] == "1"
    assert infra["ingress_service_pool.0.percent"] == "50"


def test_ce_leaf_carries_the_site_policy(bundled) -> None:  # type: ignore[no-untyped-def]
    site, (leaf, files), _ = bundled
    assert (site.qos.roce.priority, site.qos.roce.dscp) == (3, 26)
    _check_vrp(site, leaf, files)
    cfg = files["/vrpcfg.cfg"]
    assert "\n ip-dscp-inbound 26 phb af3 green\n ip-dscp-inbound 48 phb cs6 green\n" in cfg
    assert "\n ecn buffer-size low-limit 150000 high-limit 1500000 discard-percentage 100\n" in cfg


def test_cumulus_leaf_carries_the_site_policy(bundled) -> None:  # type: ignore[no-untyped-def]
    site, _, (_leaf, files) = bundled
    _check_cumulus(site, files)
    f = _keys(files[FEATURES])
    assert f["traffic.cos_3.priority_source.dscp"] == "[24,25,26,27,28,29,30,31]"
    assert f["traffic.cos_6.priority_source.dscp"] == "[48,49,50,51,52,53,54,55]"
    assert f["default_ecn_red_conf.egress_queue_list"] == "[0,3]"


def test_a_changed_policy_is_followed_by_both_switches(bundled, changed) -> None:  # type: ignore[no-untyped-def]
    site, (leaf, vrp), (_c, cumulus) = changed
    _check_vrp(site, leaf, vrp)
    _check_cumulus(site, cumulus)
    cfg = vrp["/vrpcfg.cfg"]
    assert "\n ip-dscp-inbound 34 phb af4 green\n ip-dscp-inbound 56 phb cs7 green\n" in cfg
    assert "\ndcb pfc roce\n priority 4\n" in cfg
    assert "\n qos queue 4 ecn\n qos pq 7\n" in cfg
    assert "low-limit 200000 high-limit 2000000 discard-percentage 50" in cfg
    f = _keys(cumulus[FEATURES])
    assert 34 in _ints(f["traffic.cos_4.priority_source.dscp"])
    assert 26 in _ints(f["traffic.cos_3.priority_source.dscp"])  # DSCP 26 back to its default
    assert f["pfc.roce_pfc.cos_list"] == "[4]"
    # The files differ from the bundled policy's, and only where the policy is.
    assert vrp != bundled[1][1] and cumulus[FEATURES] != bundled[2][1][FEATURES]
    assert cumulus["/etc/network/interfaces"] == bundled[2][1]["/etc/network/interfaces"]


def test_catalogue_applies_cumulus_qos_with_a_switchd_reload() -> None:
    cat = bundled_catalog()
    routed = {f.path: f for f in cat.switch_os["cumulus"].files["routed"]}
    paths = list(routed)
    assert paths.index(INFRA) < paths.index(FEATURES)  # the lossless pool before its PFC
    for path, flag in ((INFRA, "-qi"), (FEATURES, "-qf")):
        spec = routed[path]
        assert spec.apply_with == "/bin/systemctl reload switchd.service"
        assert spec.validate_with == f"cl-consistency-check --datapath-syntax-check {flag} %s"
        assert (spec.mode, spec.owner) == ("0644", "root")
    # The lab twin's FRR-only OS gets none of it.
    assert all("qos" not in f.path for f in cat.switch_os["frr-linux"].files["routed"])
