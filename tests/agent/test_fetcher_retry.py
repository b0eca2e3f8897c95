"""RetryingFetcher's policy as pure logic (a scripted inner fetcher); the real TUF fetcher behind it is
tested in tests/rollout/test_tuf_retry.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.messages import ModelRef
from edge_agent._errors import BundleRejected
from edge_agent.fetcher import MAX_RETRY_DELAY_S, RetryingFetcher
from tests.agent.helpers import recording_wait

REF = ModelRef(name="pump", version="1.0.0")


class Scripted:
    """Raises the given failures in turn, then returns a path."""

    def __init__(self, *failures: BundleRejected) -> None:
        self.failures = list(failures)
        self.calls = 0

    def fetch(self, ref: ModelRef, staging: Path) -> Path:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return staging / "bundle.tar"


def _transient(n: int) -> list[BundleRejected]:
    return [BundleRejected("fetch_failed", f"connection refused #{i}") for i in range(n)]


def test_transient_failures_are_retried_with_doubling_delays(tmp_path: Path) -> None:
    inner, waits = Scripted(*_transient(3)), list[float]()
    result = RetryingFetcher(inner, 5, 0.5, recording_wait(waits)).fetch(REF, tmp_path)
    assert result == tmp_path / "bundle.tar" and inner.calls == 4
    assert waits == [0.5, 1.0, 2.0]


def test_delays_are_capped(tmp_path: Path) -> None:
    inner, waits = Scripted(*_transient(6)), list[float]()
    RetryingFetcher(inner, 7, 10.0, recording_wait(waits)).fetch(REF, tmp_path)
    assert waits == [10.0, 20.0, MAX_RETRY_DELAY_S, MAX_RETRY_DELAY_S, MAX_RETRY_DELAY_S, MAX_RETRY_DELAY_S]


@pytest.mark.parametrize("reason", ["not_found", "untrusted", "signature", "unreadable"])
def test_final_reasons_are_not_retried(tmp_path: Path, reason: str) -> None:
    inner, waits = Scripted(BundleRejected(reason, "no")), list[float]()
    with pytest.raises(BundleRejected) as info:
        RetryingFetcher(inner, 5, 0.5, recording_wait(waits)).fetch(REF, tmp_path)
    assert info.value.reason == reason and inner.calls == 1 and waits == []


def test_the_last_failure_is_raised_when_attempts_run_out(tmp_path: Path) -> None:
    inner = Scripted(*_transient(5))
    with pytest.raises(BundleRejected, match="#2"):
        RetryingFetcher(inner, 3, 0.1, lambda _s: False).fetch(REF, tmp_path)
    assert inner.calls == 3


def test_a_stopping_agent_gives_up_at_once(tmp_path: Path) -> None:
    inner = Scripted(*_transient(5))
    with pytest.raises(BundleRejected, match="#0"):
        RetryingFetcher(inner, 5, 0.1, lambda _s: True).fetch(REF, tmp_path)
    assert inner.calls == 1
