"""Ship the top-level templates/ and playbooks/ inside the package (hkcompute/data/).

They live at the top of the repository where people edit them; the wheel carries a copy so
that `pip install .` outside the checkout gives a working tool (see hkcompute/resources.py).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("templates", "playbooks")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        root = Path(__file__).parent
        for name in SHIPPED:
            src = root / name
            dst = Path(self.build_lib) / "hkcompute" / "data" / name
            if dst.exists():
                shutil.rmtree(dst)
            if src.is_dir():
                skip = shutil.ignore_patterns("__pycache__", "*.pyc", "molecule")
                shutil.copytree(src, dst, ignore=skip)


setup(cmdclass={"build_py": BuildPyWithData})
