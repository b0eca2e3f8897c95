"""Opening (or, in development, creating) the hub's TUF repository from settings.

Production: the repository must exist (made offline with the root and targets keys, see
docs/adr/0005-model-distribution.md) and the online keys must be in `keys_dir`. Development with
`auto_init`: the first start creates one with fresh keys and writes the offline keys to
`<keys_dir>/offline/` with a warning, so a demo needs no ceremony.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hub._errors import ConfigError
from hub.distribution.keys import OnlineSigners, generate_key_file, load_signer
from hub.distribution.repository import TufRepository
from hub.distribution.settings import DistributionSettings

log = logging.getLogger("hub.distribution")


def paths(settings: DistributionSettings, data_dir: Path) -> tuple[Path, Path]:
    return settings.repo_dir or data_dir / "tuf", settings.keys_dir or data_dir / "keys" / "tuf"


def open_repository(settings: DistributionSettings, data_dir: Path, production: bool) -> TufRepository:
    repo_dir, keys_dir = paths(settings, data_dir)
    if not (repo_dir / "metadata" / "root.json").is_file():
        if production or not settings.auto_init:
            raise ConfigError(
                "distribution.repo_dir", f"no TUF repository in {repo_dir}: create it with the offline keys first"
            )
        return init_repository(repo_dir, keys_dir, keys_dir / "offline")
    return TufRepository(repo_dir, OnlineSigners.from_dir(keys_dir))


def init_repository(repo_dir: Path, keys_dir: Path, offline_dir: Path) -> TufRepository:
    """Create a repository with new keys: online ones in `keys_dir`, root and targets in `offline_dir`."""
    online = OnlineSigners.generate(keys_dir)
    for role in ("root", "targets"):
        generate_key_file(offline_dir / f"{role}.pem")
    root, targets = (load_signer(offline_dir / f"{role}.pem") for role in ("root", "targets"))
    repo = TufRepository.create(repo_dir, root_signers=[root], targets_signers=[targets], online=online)
    log.warning(
        "created a TUF repository; move the offline keys off this machine",
        extra={"repo": str(repo_dir), "offline_keys": str(offline_dir)},
    )
    return repo
