"""`pip install .` outside the checkout gives a working tool: the wheel carries the
templates, playbooks, lab recipes and the hardware catalogue."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_templates_playbooks_and_recipes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    # Build from a clean export of the tracked files, as pip would from an sdist.
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files"], capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        p = ROOT / rel
        if p.is_file():
            dst = src / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(p.read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("hkcompute-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("hkcompute/data/catalog.yaml",
                   "hkcompute/data/templates/switch/frr.conf.j2",
                   "hkcompute/data/templates/slurm/slurm.conf.j2",
                   "hkcompute/data/playbooks/site.yml",
                   "hkcompute/data/playbooks/roles/common/tasks/main.yml",
                   "hkcompute/lab/recipes/base.toml",
                   "hkcompute/py.typed"):
        assert needed in names, f"{needed} missing from the wheel"
