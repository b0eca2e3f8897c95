"""The agent's retry of bundle downloads over the real TUF fetcher and a real loopback HTTP server.

A hub that cannot be reached for a moment (restarting, or swamped by a whole wave) is retried until the bundle
arrives; a bundle that fails a trust check is refused at once, never fetched again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected
from edge_agent.fetcher import RetryingFetcher
from tests.agent.helpers import recording_wait
from tests.harness import free_port
from tests.rollout._tuf import make_fetcher, serve
from tests.rollout.conftest import RepoSetup

PUMP_1 = ModelRef(name="pump", version="1.0.0")


def test_a_hub_down_at_first_is_retried_until_the_bundle_arrives(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    port = free_port()
    waits: list[float] = []
    with contextlib.ExitStack() as stack:

        def wait(seconds: float) -> bool:  # the hub comes up during the second back-off
            waits.append(seconds)
            if len(waits) == 2:
                stack.enter_context(serve(tuf_repo.repo.path, port))
            return False

        inner = make_fetcher(f"http://127.0.0.1:{port}", tuf_repo.repo.root_bytes(1), tmp_path / "agent")
        fetched = RetryingFetcher(inner, attempts=5, first_delay_s=0.1, wait=wait).fetch(PUMP_1, tmp_path / "staging")
        assert fetched.read_bytes() == tuf_repo.bundle
    assert waits == [0.1, 0.2]


def test_a_hub_that_stays_down_fails_after_the_configured_attempts(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    waits: list[float] = []
    inner = make_fetcher(f"http://127.0.0.1:{free_port()}", tuf_repo.repo.root_bytes(1), tmp_path / "agent")
    retrying = RetryingFetcher(inner, attempts=3, first_delay_s=0.05, wait=recording_wait(waits))
    with pytest.raises(BundleRejected) as info:
        retrying.fetch(PUMP_1, tmp_path / "staging")
    assert info.value.reason == "fetch_failed"
    assert waits == [0.05, 0.1]


def test_a_tampered_bundle_is_refused_at_once_and_not_fetched_again(tuf_repo: RepoSetup, tmp_path: Path) -> None:
    waits: list[float] = []
    with serve(tuf_repo.repo.path) as server:
        digest = tuf_repo.repo.targets()["pump/1.0.0.tar"].hashes["sha256"]
        server.overrides[f"/targets/pump/{digest}.1.0.0.tar"] = b"X" + tuf_repo.bundle[1:]  # same length
        inner = make_fetcher(server.base, tuf_repo.repo.root_bytes(1), tmp_path / "agent")
        retrying = RetryingFetcher(inner, attempts=5, first_delay_s=0.05, wait=recording_wait(waits))
        with pytest.raises(BundleRejected) as info:
            retrying.fetch(PUMP_1, tmp_path / "staging")
        target_requests = [path for path in server.requests if "/targets/" in path]
    assert info.value.reason == "untrusted"
    assert waits == []
    assert len(target_requests) == 1
