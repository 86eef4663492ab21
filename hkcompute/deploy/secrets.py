"""Site secrets for Ansible, without ever writing their values.

A secret reaches Ansible as a vault value (``__ansible_vault`` in the JSON inventory) or as
a lookup of an environment variable or file evaluated on the controller at run time. The
plain values are read here only to mask them wherever they could surface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hkcompute.errors import HkError
from hkcompute.inventory.schema import SecretRef


def ansible_value(ref: SecretRef) -> Any:
    if ref.vault is not None:
        return {"__ansible_vault": ref.vault}
    if ref.env is not None:
        return "{{ lookup('ansible.builtin.env', '" + ref.env + "') }}"
    return "{{ lookup('ansible.builtin.file', '" + str(ref.file) + "') }}"


def plain_value(ref: SecretRef, vault_password_file: Path | None) -> str | None:
    """The secret's value, for masking only; None when it cannot be known here."""
    if ref.env is not None:
        return os.environ.get(ref.env)
    if ref.file is not None:
        try:
            return Path(ref.file).read_text(encoding="utf-8").strip()
        except OSError:
            return None
    if ref.vault is not None and vault_password_file is not None:
        try:
            from ansible.constants import DEFAULT_VAULT_ID_MATCH
            from ansible.parsing.vault import VaultLib, VaultSecret
        except ImportError:  # pragma: no cover - ansible-core is a dependency
            return None
        try:
            password = vault_password_file.read_bytes().strip()
            lib = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])
            plain: bytes = lib.decrypt(ref.vault.strip().encode())
            return plain.decode().strip()
        except Exception as exc:  # ansible raises its own error types for a wrong password
            raise HkError(
                f"cannot decrypt a vault secret with {vault_password_file}: {type(exc).__name__}"
            ) from None
    return None


def scrub_files(root: Path, values: list[str], mask: str = "********") -> int:
    """Replace secret values in every file below ``root`` (ansible-runner's artifacts)."""
    secrets = sorted({v for v in values if v and len(v) >= 6}, key=len, reverse=True)
    if not secrets or not root.exists():
        return 0
    changed = 0
    needles = [s.encode() for s in secrets]
    for p in root.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        new = data
        for n in needles:
            if n in new:
                new = new.replace(n, mask.encode())
        if new != data:
            p.write_bytes(new)
            changed += 1
    return changed
