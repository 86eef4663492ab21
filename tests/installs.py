"""What the install tests share: a clean export of the checkout, and a user's environment."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export_checkout(dst: Path) -> Path:
    """The project's files as a clean clone has them (tracked, plus new files not ignored)."""
    files = (
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        p = ROOT / rel
        if p.is_file() and not p.is_symlink():
            target = dst / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
            target.chmod(p.stat().st_mode & 0o777)
    return dst


def user_env(bindir: Path) -> dict[str, str]:
    """The environment of a user whose shell found the clean install first on PATH."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bindir.parent)
    return env
