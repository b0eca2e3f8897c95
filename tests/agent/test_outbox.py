"""The durable outbox on real SQLite: order, seq per kind, bounds and strategies, persistence."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from edge_agent._errors import OutboxFull
from edge_agent.outbox import Outbox


def payload(seq: int) -> bytes:
    return f'{{"seq":{seq}}}'.encode()


def test_order_and_seq_per_kind(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", 100, 2**20, "reject_new")
    for kind in ("scores", "events", "scores", "sketch", "scores"):
        box.append(kind, f"t/{kind}", payload)
    entries = box.pending(0, 10)
    assert [(e.kind, e.seq) for e in entries] == [("scores", 0), ("events", 0), ("scores", 1), ("sketch", 0),
                                                   ("scores", 2)]
    assert entries[2].payload == b'{"seq":1}'
    assert box.pending(entries[1].id, 2) == entries[2:4]
    assert box.ack([entries[0].id, entries[2].id, 999]) == 2
    assert [e.seq for e in box.pending(0, 10)] == [0, 0, 2]
    assert box.stats().depth == 3


def test_seq_and_entries_survive_reopen(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", 100, 2**20, "drop_oldest")
    box.append("scores", "t", payload)
    box.append("scores", "t", payload)
    box.ack([box.pending(0, 1)[0].id])
    assert box.reserve_seq("state") == 0
    box.close()
    again = Outbox(tmp_path / "o.sqlite", 100, 2**20, "drop_oldest")
    assert [e.seq for e in again.pending(0, 10)] == [1]
    assert again.append("scores", "t", payload).seq == 2
    assert again.reserve_seq("state") == 1
    assert again.stats().depth == 2


def test_reject_new_counts_and_keeps_the_oldest(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", 3, 2**20, "reject_new")
    for _ in range(3):
        box.append("scores", "t", payload)
    with pytest.raises(OutboxFull):
        box.append("scores", "t", payload)
    assert [e.seq for e in box.pending(0, 10)] == [0, 1, 2]
    assert box.stats().rejected == 1 and box.stats().dropped == 0
    box.ack([box.pending(0, 1)[0].id])
    assert box.append("scores", "t", payload).seq == 3  # a rejected entry does not consume a seq


def test_drop_oldest_by_count_and_by_bytes(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", 3, 2**20, "drop_oldest")
    for _ in range(5):
        box.append("scores", "t", payload)
    assert [e.seq for e in box.pending(0, 10)] == [2, 3, 4]
    assert box.stats().dropped == 2
    small = Outbox(tmp_path / "b.sqlite", 100, 4096, "drop_oldest")
    for _ in range(5):
        small.append("scores", "t", lambda _seq: b"x" * 1500)
    stats = small.stats()
    assert stats.depth == 2 and stats.bytes == 3000 and stats.dropped == 3
    with pytest.raises(OutboxFull):
        small.append("scores", "t", lambda _seq: b"x" * 5000)  # larger than the whole outbox


def _writer(path: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    box = Outbox(Path(path), 1_000_000, 2**30, "reject_new", synchronous="full")
    i = 0
    while True:
        box.append("scores", "t", payload)
        i += 1
        if i == 50:
            ready.set()


def test_kill_9_keeps_every_committed_entry_in_order(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_writer, args=(str(path), ready))
    proc.start()
    assert ready.wait(30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    box = Outbox(path, 1_000_000, 2**30, "reject_new")
    seqs = [e.seq for e in box.pending(0, 10_000_000)]
    assert len(seqs) >= 50 and seqs == list(range(len(seqs)))
    assert box.append("scores", "t", payload).seq == len(seqs)


def test_a_will_seq_sits_between_two_connections_states(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", 10, 2**20, "reject_new")
    will_1 = outbox.reserve_will_seq("state")          # registered at connect
    states_1 = [outbox.reserve_seq("state") for _ in range(3)]
    assert max(states_1) < will_1
    outbox.close()
    reopened = Outbox(tmp_path / "o.sqlite", 10, 2**20, "reject_new")
    will_2 = reopened.reserve_will_seq("state")       # restarted agent connects again
    first_state_2 = reopened.reserve_seq("state")
    assert will_1 < first_state_2 < will_2
