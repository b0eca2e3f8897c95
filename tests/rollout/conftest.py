"""Fixtures for the TUF distribution tests: a fresh repository with one bundle, served over loopback HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from securesystemslib.signer import Signer  # type: ignore[attr-defined]

from hub.distribution import OnlineSigners, TufRepository
from tests.rollout._tuf import RepoServer, online_signers, serve, signer


def _signer() -> Signer:
    return signer()


@dataclass
class RepoSetup:
    repo: TufRepository
    root_signers: list[Signer]
    targets_signers: list[Signer]
    online: OnlineSigners
    bundle: bytes

    def publish(self, tmp: Path, name: str, version: str, content: bytes) -> None:
        path = tmp / f"{name}-{version}.tar"
        path.write_bytes(content)
        self.repo.add_target(path, f"{name}/{version}.tar", {"name": name, "version": version})


@pytest.fixture
def tuf_repo(tmp_path: Path) -> RepoSetup:
    setup = RepoSetup(
        repo=TufRepository.create(
            tmp_path / "repo",
            root_signers=(roots := [_signer()]),
            targets_signers=(targets := [_signer()]),
            online=(online := online_signers()),
        ),
        root_signers=roots,
        targets_signers=targets,
        online=online,
        bundle=os.urandom(300_000),
    )
    setup.publish(tmp_path, "pump", "1.0.0", setup.bundle)
    return setup


@pytest.fixture
def server(tuf_repo: RepoSetup) -> Iterator[RepoServer]:
    with serve(tuf_repo.repo.path) as running:
        yield running
