"""Where bundles come from: the `Fetcher` interface and its local-directory implementation.

A hub-backed fetcher (HTTPS + TUF metadata) will implement the same interface.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected


class Fetcher(Protocol):
    def fetch(self, ref: ModelRef, staging: Path) -> Path:
        """Place the bundle of `ref` (a directory or a .tar) under `staging` and return its path.

        Raises BundleRejected("not_found" | "fetch_failed", ...). The result is NOT trusted yet: the caller
        verifies it before use.
        """
        ...


class LocalDirFetcher:
    """Bundles under `<root>/<name>/<version>/` (a directory) or `<root>/<name>/<version>.tar`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def fetch(self, ref: ModelRef, staging: Path) -> Path:
        directory = self.root / ref.name / ref.version
        archive = self.root / ref.name / f"{ref.version}.tar"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            if directory.is_dir():
                target = staging / ref.version
                shutil.copytree(directory, target, symlinks=True)
                return target
            if archive.is_file():
                target = staging / archive.name
                shutil.copyfile(archive, target)
                return target
        except OSError as exc:
            raise BundleRejected("fetch_failed", f"{ref.name} {ref.version}: {exc}") from None
        raise BundleRejected("not_found", f"no bundle {ref.name} {ref.version} under {self.root}")
