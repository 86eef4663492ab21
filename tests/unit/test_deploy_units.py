"""Deploy building blocks: inventory export, event tallies, secret masking, host patterns."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hkcompute.deploy.ansible_inventory import build_inventory, write_inventory
from hkcompute.deploy.events import MASK, Masker, Tally
from hkcompute.deploy.hostmatch import select
from hkcompute.deploy.rollout import _percent
from hkcompute.deploy.secrets import scrub_files
from hkcompute.errors import UsageError
from hkcompute.inventory.load import load_site
from hkcompute.plan import plan_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab_inventory():  # type: ignore[no-untyped-def]
    site = load_site(ROOT / "inventories" / "lab").site
    assert site is not None
    return build_inventory(site, plan_for(site, 1), 1, Path("/srv/render"))


def test_inventory_groups_and_small_hostvars(lab_inventory) -> None:  # type: ignore[no-untyped-def]
    inv = lab_inventory
    hv = inv["_meta"]["hostvars"]
    assert set(inv["gpu_node"]["hosts"]) == {f"lab-su1-n0{i}" for i in range(1, 5)}
    assert inv["vendor_nvidia"]["hosts"] == ["lab-su1-n01", "lab-su1-n02"]
    assert inv["vendor_huawei"]["hosts"] == ["lab-su1-n03", "lab-su1-n04"]
    for group in (
        "phase_1",
        "hall_lab_hall",
        "rack_lab_r03",
        "unit_lab_su1",
        "cluster_lab",
        "tenant_hku_lab",
        "leaf",
        "spine",
        "service",
        "storage",
        "fabric",
    ):
        assert inv[group]["hosts"], group
    assert hv["lab-su1-n01"]["hk_tree"] == "/srv/render/hosts/lab-su1-n01"
    assert hv["lab-svc1"]["hk_slurm_role"] == "controller"
    assert "dns" in hv["lab-svc1"]["hk_services"]
    assert all(len(json.dumps(v)) < 600 for v in hv.values()), "per-host vars must stay small"
    # A switch's files and services are its network OS's catalogue entry (frr-linux here).
    leaf = next(v for h, v in hv.items() if h in inv["leaf"]["hosts"])
    conf = {f["path"]: f for f in leaf["hk_os_files"]}
    assert set(conf) == {"/etc/frr/frr.conf", "/etc/frr/daemons"}
    assert conf["/etc/frr/frr.conf"]["validate"] == "/usr/bin/vtysh --dryrun -f %s"
    assert (conf["/etc/frr/daemons"]["owner"], conf["/etc/frr/daemons"]["mode"]) == ("frr", "0640")
    assert leaf["hk_os_services"] == ["frr"]
    assert "hk_os_files" not in hv["lab-su1-n01"]
    # A node's stack is its platform's, once per platform (group vars of accel_<model>).
    stack = inv["accel_Ascend_910B"]["vars"]["hk_accel"]
    assert stack["pci_vendor"] == "0x19e5" and stack["packages"] == []
    assert [f["path"] for f in stack["files"]] == [
        "/etc/hccn.conf",
        "/etc/systemd/system/hkcompute-npu-policy.service",
    ]
    assert inv["accel_H100_SXM"]["vars"]["hk_accel"]["packages"] == [
        "nvidia-driver",
        "nvidia-fabricmanager",
        "datacenter-gpu-manager",
    ]


@pytest.mark.skipif(shutil.which("ansible-inventory") is None, reason="ansible-core missing")
def test_ansible_inventory_reads_it_the_same(lab_inventory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # --export keeps group vars on their groups (the platforms' hk_accel), as written.
    script = write_inventory(lab_inventory, tmp_path)
    out = subprocess.run(
        ["ansible-inventory", "-i", str(script), "--list", "--export"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    theirs = json.loads(out.stdout)
    theirs["_meta"].pop("profile", None)
    assert theirs == lab_inventory


def _ev(kind: str, **data: object) -> dict[str, object]:
    return {"event": kind, "event_data": data}


def test_tally_counts_per_host_and_takes_the_recap() -> None:
    t = Tally()
    t.feed(_ev("playbook_on_play_start", play="common"))
    t.feed(_ev("playbook_on_task_start", task="Configure chrony"))
    t.feed(_ev("runner_on_ok", host="a", task="Configure chrony", res={"changed": True}))
    t.feed(_ev("runner_on_ok", host="b", task="Configure chrony", res={"changed": False}))
    t.feed(_ev("runner_on_unreachable", host="c", res={"msg": "ssh: connect refused\nmore"}))
    t.feed(_ev("runner_on_failed", host="d", res={"msg": "boom"}, ignore_errors=True))
    assert t.hosts["a"].status == "changed" and t.hosts["a"].changed_tasks == ["Configure chrony"]
    assert t.hosts["b"].status == "ok"
    assert t.hosts["c"].status == "unreachable" and t.hosts["c"].message == "ssh: connect refused"
    assert t.hosts["d"].status == "ok"
    t.feed(
        _ev(
            "playbook_on_stats",
            ok={"a": 5, "b": 5},
            changed={"a": 2},
            failures={},
            dark={"c": 1},
            skipped={"b": 1},
        )
    )
    assert (t.hosts["a"].ok, t.hosts["a"].changed) == (3, 2)
    assert t.totals()["unreachable"] == 1


def test_masker_removes_secrets_everywhere_in_an_event() -> None:
    m = Masker(["s3cr3t-value", "x"])  # too-short values are not masked (would hit words)
    ev = {"event_data": {"res": {"cmd": ["echo", "s3cr3t-value"], "stdout": "a s3cr3t-value b"}}}
    m.scrub(ev)
    assert "s3cr3t-value" not in json.dumps(ev)
    assert ev["event_data"]["res"]["stdout"] == f"a {MASK} b"


def test_scrub_files_rewrites_artifacts(tmp_path: Path) -> None:
    (tmp_path / "job_events").mkdir()
    (tmp_path / "job_events" / "1.json").write_text('{"x": "the munge-key-123456"}')
    (tmp_path / "stdout").write_text("nothing here")
    assert scrub_files(tmp_path, ["munge-key-123456"]) == 1
    assert "munge-key" not in (tmp_path / "job_events" / "1.json").read_text()


def test_host_patterns(lab_inventory) -> None:  # type: ignore[no-untyped-def]
    inv = lab_inventory
    assert select(inv, "leaf") == ["lab-su1-leaf1", "lab-su1-leaf2"]
    assert select(inv, "lab-su1-n0*:!vendor_huawei") == ["lab-su1-n01", "lab-su1-n02"]
    assert select(inv, "gpu_node,&rack_lab_r03") == [f"lab-su1-n0{i}" for i in range(1, 5)]
    assert select(inv, "nothing") == []
    assert len(select(inv, None)) == len(inv["_meta"]["hostvars"])


@pytest.mark.parametrize(
    "value,ok",
    [
        ("4", True),
        ("25%", True),
        ("100%", True),
        ("0", False),
        ("0%", False),
        ("150%", False),
        ("x", False),
        ("-1", False),
    ],
)
def test_batch_and_max_fail_values(value: str, ok: bool) -> None:
    if ok:
        assert _percent(value, "--batch") == value
    else:
        with pytest.raises(UsageError):
            _percent(value, "--batch")


def test_diffs_are_collected_as_unified_diffs() -> None:
    t = Tally()
    t.feed(
        _ev(
            "runner_on_ok",
            host="a",
            task="Configure chrony",
            res={
                "changed": True,
                "diff": [
                    {
                        "before": "server old\n",
                        "after": "server new\n",
                        "before_header": "/etc/chrony/chrony.conf",
                        "after_header": "rendered",
                    }
                ],
            },
        )
    )
    t.feed(_ev("runner_on_ok", host="b", task="x", res={"changed": False, "diff": []}))
    assert len(t.diffs) == 1
    host, task, text = t.diffs[0]
    assert (host, task) == ("a", "Configure chrony")
    assert "-server old" in text and "+server new" in text
