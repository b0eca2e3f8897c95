"""Where bundles come from: the `Fetcher` interface, its local-directory implementation and a retrying wrapper.

The hub-backed fetcher (HTTPS + TUF metadata) is `edge_agent.fetchers.tuf_fetcher.TufFetcher`.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected

log = logging.getLogger("vigie.agent.fetcher")
MAX_RETRY_DELAY_S = 30.0


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


class RetryingFetcher:
    """Retries a fetch that failed for a transient reason (`fetch_failed`: network, HTTP, local I/O).

    A hub busy serving a whole wave, or a link that drops for a few seconds, must not turn into a failed
    rollout (which the hub answers with a rollback). `not_found` and every trust failure are final at once.
    `wait(seconds)` sleeps and returns True when the agent is stopping (then the last failure is raised).
    """

    def __init__(self, inner: Fetcher, attempts: int, first_delay_s: float, wait: Callable[[float], bool]) -> None:
        self.inner = inner
        self.attempts = attempts
        self.first_delay_s = first_delay_s
        self.wait = wait

    def fetch(self, ref: ModelRef, staging: Path) -> Path:
        delay = self.first_delay_s
        for attempt in range(1, self.attempts + 1):
            try:
                return self.inner.fetch(ref, staging)
            except BundleRejected as exc:
                if exc.reason != "fetch_failed" or attempt == self.attempts or self.wait(delay):
                    raise
                log.warning("bundle download failed; retrying", extra={
                    "model": ref.name, "version": ref.version, "attempt": attempt, "retry_in_s": delay,
                    "detail": exc.detail[:300]})
                delay = min(delay * 2, MAX_RETRY_DELAY_S)
        raise AssertionError("unreachable: the last attempt returns or raises")
