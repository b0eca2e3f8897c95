"""Key ceremonies over a `TufRepository` and the key files they create or retire (used by `vigie hub tuf`).

Every operation checks the given offline keys against the role's threshold before it writes anything, and a
new key file only takes its final place once the repository accepted it: a wrong key file changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer  # type: ignore[attr-defined]
from tuf.api.metadata import Metadata, Root, Targets  # type: ignore[attr-defined]

from hub._errors import ConfigError
from hub.distribution.keys import BUNDLES, generate_key_file, load_signer, role_key_files
from hub.distribution.repository import TufRepository


def describe(repo_dir: Path) -> dict[str, Any]:
    """Version, expiry, key ids and threshold of each role, and how many bundles are listed."""
    repo = TufRepository(repo_dir)
    root = repo.load("root", Root).signed
    targets = repo.load("targets", Targets).signed
    roles: dict[str, Any] = {}
    for role in ("root", "targets", "snapshot", "timestamp"):
        signed = root if role == "root" else _signed(repo, role)
        roles[role] = _role(signed, root.roles[role].keyids, root.roles[role].threshold)
    delegated = targets.delegations.roles[BUNDLES] if targets.delegations and targets.delegations.roles else None
    bundles = repo.load(BUNDLES, Targets).signed
    roles[BUNDLES] = _role(bundles, delegated.keyids if delegated else [], delegated.threshold if delegated else 0)
    return {"repo": str(repo_dir), "roles": roles, "targets": len(bundles.targets)}


def _signed(repo: TufRepository, role: str) -> Any:
    md: Metadata[Any] = Metadata.from_bytes((repo.metadata_dir / f"{role}.json").read_bytes())
    return md.signed


def _role(signed: Any, keyids: list[str], threshold: int) -> dict[str, Any]:
    expires: datetime = signed.expires
    return {"version": signed.version, "expires": expires.isoformat(), "keyids": sorted(keyids),
            "threshold": threshold}


def rotate_online(repo: TufRepository, keys_dir: Path, role: str, offline: list[Signer]) -> Path:
    """Replace the single key of online `role` (timestamp, snapshot: `offline` = root keys; bundles: targets
    keys). The new key becomes `<role>.pem`; the old one is returned, kept as `<role>.pem.retired-<time>`."""
    current = keys_dir / f"{role}.pem"
    if role_key_files(keys_dir, role) != [current]:
        raise ConfigError(str(keys_dir), f"rotation handles one {role} key ({role}.pem); found another layout")
    if repo.online is None:
        raise ConfigError(str(keys_dir), "the online keys are needed to re-sign snapshot and timestamp")
    staged = keys_dir / f"{role}.pem.new"
    public = generate_key_file(staged)
    try:
        online = dataclasses.replace(repo.online, **{role: (load_signer(staged),)})
        if role == BUNDLES:
            repo.replace_bundles_keys(online, offline)
        else:
            repo.replace_role_keys(role, [public], offline, online=online)
    except BaseException:
        staged.unlink()
        raise
    retired = keys_dir / f"{role}.pem.retired-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    os.replace(current, retired)
    os.replace(staged, current)
    return retired


def rotate_offline(repo: TufRepository, role: str, root_signers: list[Signer], new_key_out: Path) -> int:
    """Replace the key of `root` or `targets` by a new one written to `new_key_out`; the new root version.

    Root: the new root is signed by the old keys (they vouch) and the new one (possession). Targets: root
    lists the new key, then targets is re-signed with it."""
    public = generate_key_file(new_key_out)
    try:
        new_signer = load_signer(new_key_out)
        if role == "root":
            return repo.replace_role_keys("root", [public], [*root_signers, new_signer])
        version = repo.replace_role_keys("targets", [public], root_signers)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            new_key_out.unlink()
        raise
    repo.resign_targets([new_signer])
    return version
