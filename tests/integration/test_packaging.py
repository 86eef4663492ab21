"""`pip install .` outside the checkout gives a working tool: the wheel carries the
templates, playbooks, lab recipes and the hardware catalogue."""

from __future__ import annotations

import zipfile
from pathlib import Path


def test_wheel_ships_templates_playbooks_and_recipes(built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for needed in (
        "hkcompute/data/catalog/optics.yaml",
        "hkcompute/data/templates/switch/frr/frr.conf.j2",
        "hkcompute/data/templates/slurm/slurm.conf.j2",
        "hkcompute/data/playbooks/site.yml",
        "hkcompute/data/playbooks/roles/common/tasks/main.yml",
        "hkcompute/lab/recipes/base.toml",
        "hkcompute/py.typed",
    ):
        assert needed in names, f"{needed} missing from the wheel"
