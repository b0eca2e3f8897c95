"""Tamper detection of the offline verifier, on in-memory rows (the SQL stores are tested elsewhere)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.signing import generate_private_key
from hub.audit import merkle
from hub.audit._errors import CheckpointError
from hub.audit.checkpoints import Checkpoint, SignedCheckpoint, sign_checkpoint, verify_checkpoint
from hub.audit.entries import AuditEntry, AuditRow, parse_entry
from hub.audit.verify import SourcedCheckpoint, verify_log

KEY = generate_private_key()
PUB = KEY.public_key()
ORIGIN = "test-hub"
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z in ms


def make_rows(n: int) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = b""
    for i in range(n):
        entry = AuditEntry(i, T0 + 1000 * i, prev, "http.request", f"user{i % 3}", "reader",
                           {"method": "GET", "route": "/api/v1/x", "status": 200})
        rows.append(AuditRow.of(entry))
        prev = rows[-1].leaf_hash
    return rows


def checkpoint(rows: list[AuditRow], size: int, key=KEY, origin: str = ORIGIN) -> SignedCheckpoint:
    root = merkle.root_hash([r.leaf_hash for r in rows[:size]])
    return sign_checkpoint(key, Checkpoint(origin, size, root, T0 + 3_600_000 * size))


def sourced(cps: list[SignedCheckpoint], source: str = "database") -> list[SourcedCheckpoint]:
    return [SourcedCheckpoint(source, cp) for cp in cps]


def rewrite(row: AuditRow, smart: bool, **changes) -> AuditRow:
    """Change entry fields; `smart` also recomputes the stored leaf hash (and timestamp column)."""
    entry = dataclasses.replace(parse_entry(row.canonical), **changes)
    raw = entry.canonical()
    if smart:
        return AuditRow(row.index, entry.ts_ms, raw, merkle.leaf_hash(raw))
    return AuditRow(row.index, row.ts_ms, raw, row.leaf_hash)


@st.composite
def tampered_logs(draw: st.DrawFn) -> tuple[list[AuditRow], list[SignedCheckpoint], int, str]:
    """A log of n entries, checkpoints (always one at n), one tampering and the index it first affects."""
    n = draw(st.integers(min_value=2, max_value=24))
    rows = make_rows(n)
    sizes = sorted({*draw(st.lists(st.integers(min_value=1, max_value=n), max_size=4)), n})
    cps = [checkpoint(rows, s) for s in sizes]
    op = draw(st.sampled_from(["edit", "smart-edit", "ts", "leaf", "flip", "delete", "swap", "insert"]))
    i = draw(st.integers(min_value=0, max_value=n - 1))
    out = list(rows)
    expected = i
    if op in ("edit", "smart-edit"):
        field = draw(st.sampled_from(["actor", "role", "type", "data", "ts_ms"]))
        value = {"actor": "mallory", "role": "admin", "type": "auth.login", "data": {"status": 500},
                 "ts_ms": T0 - 86_400_000}[field]
        out[i] = rewrite(rows[i], op == "smart-edit", **{field: value})
    elif op == "ts":
        out[i] = dataclasses.replace(rows[i], ts_ms=rows[i].ts_ms + 1)
    elif op == "leaf":
        out[i] = dataclasses.replace(rows[i], leaf_hash=merkle.leaf_hash(b"forged"))
    elif op == "flip":
        pos = draw(st.integers(min_value=0, max_value=len(rows[i].canonical) - 1))
        raw = bytearray(rows[i].canonical)
        raw[pos] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        out[i] = dataclasses.replace(rows[i], canonical=bytes(raw))
    elif op == "delete":
        del out[i]
        if draw(st.booleans()):  # renumber the index column to hide the gap
            out[i:] = [dataclasses.replace(r, index=r.index - 1) for r in out[i:]]
    elif op == "swap":
        j = draw(st.integers(min_value=0, max_value=n - 1).filter(lambda j: j != i))
        out[i], out[j] = (dataclasses.replace(rows[j], index=i), dataclasses.replace(rows[i], index=j))
        expected = min(i, j)
    else:  # insert a forged entry before row i, crafted to fit there
        prev = rows[i - 1].leaf_hash if i else b""
        forged = AuditRow.of(AuditEntry(i, rows[i].ts_ms, prev, "user.add", "mallory", "admin", {"user": "eve"}))
        if draw(st.booleans()):  # renumber the rows after it
            out[i:] = [forged] + [dataclasses.replace(r, index=r.index + 1) for r in rows[i:]]
        else:  # duplicate index; the database may return either row first
            pair = [forged, rows[i]] if draw(st.booleans()) else [rows[i], forged]
            out[i : i + 1] = pair
    return out, cps, expected, op


def test_an_untouched_log_verifies() -> None:
    rows = make_rows(20)
    report = verify_log(rows, sourced([checkpoint(rows, s) for s in (5, 8, 20)]), [PUB], ORIGIN)
    assert report.ok, report.problems
    assert (report.size, report.first_bad_index, report.proven_size, report.checkpoints_valid) == (20, None, 20, 3)


def test_unsigned_tail_is_a_warning() -> None:
    rows = make_rows(10)
    report = verify_log(rows, sourced([checkpoint(rows, 7)]), [PUB], ORIGIN)
    assert report.ok
    assert report.proven_size == 7
    assert any("7..9" in w for w in report.warnings)


@settings(max_examples=400, deadline=None)
@given(tampered_logs())
def test_any_single_tampering_is_found_at_the_first_affected_index(case) -> None:
    rows, cps, expected, op = case
    report = verify_log(rows, sourced(cps), [PUB], ORIGIN)
    assert not report.ok, op
    assert report.first_bad_index == expected, (op, report.problems)
    assert report.proven_size <= expected


@pytest.mark.parametrize("i", [1, 5, 9])
def test_edited_prev_link_is_found(i: int) -> None:
    rows = make_rows(10)
    forged = rewrite(rows[i], smart=True, prev=merkle.leaf_hash(b"elsewhere"))
    cps = sourced([checkpoint(rows, s) for s in (3, 10)])
    report = verify_log([*rows[:i], forged, *rows[i + 1 :]], cps, [PUB], ORIGIN)
    # The last row has no successor: without a checkpoint ending right before it, the blame is conservative.
    assert report.first_bad_index == (i if i < 9 else 8)
    with_anchor = cps + sourced([checkpoint(rows, 9)])
    assert verify_log([*rows[:i], forged, *rows[i + 1 :]], with_anchor, [PUB], ORIGIN).first_bad_index == i


def test_restored_old_database_is_caught_by_the_witness() -> None:
    rows = make_rows(12)
    witness = sourced([checkpoint(rows, 6), checkpoint(rows, 12)], "file:witness.jsonl")
    old = rows[:8]  # a backup taken at 8 entries, restored; the database's own checkpoints are old too
    report = verify_log(old, sourced([checkpoint(rows, 6)]) + witness, [PUB], ORIGIN)
    assert not report.ok
    assert report.first_bad_index == 8
    assert any("older database" in p for p in report.problems)


def test_forked_history_against_the_witness() -> None:
    rows = make_rows(12)
    witness = sourced([checkpoint(rows, 10)], "file:witness.jsonl")
    fork = make_rows(8)
    prev = fork[-1].leaf_hash
    for i in range(8, 12):  # a consistent rewrite of entries 8..11
        fork.append(AuditRow.of(AuditEntry(i, T0, prev, "user.add", "mallory", "admin", {})))
        prev = fork[-1].leaf_hash
    report = verify_log(fork, sourced([checkpoint(rows, 4)]) + witness, [PUB], ORIGIN)
    assert not report.ok
    assert report.first_bad_index == 9  # least tampering explaining size 10's mismatch: entry 9
    assert report.proven_size == 4


def test_equivocation_is_flagged() -> None:
    rows = make_rows(6)
    other = [*make_rows(5), rewrite(make_rows(6)[5], smart=True, actor="mallory")]
    cps = sourced([checkpoint(rows, 6)]) + sourced([checkpoint(other, 6)], "mqtt:witness")
    report = verify_log(rows, cps, [PUB], ORIGIN)
    assert not report.ok
    assert len(report.equivocations) == 1
    assert report.equivocations[0].size == 6
    assert any("equivocation" in p for p in report.problems)


@pytest.mark.parametrize("field", ["origin", "size", "root", "timestamp", "schema", "extra"])
def test_a_checkpoint_with_a_changed_field_is_refused(field: str) -> None:
    rows = make_rows(4)
    good = checkpoint(rows, 4)
    body = dict(good.body)
    changed = {"origin": "other", "size": 3, "root": good.body["root"][::-1], "timestamp": "2030-01-01T00:00:00.000Z",
               "schema": "vigie.audit.checkpoint/2", "extra": 1}[field]
    body[field] = changed
    bad = SignedCheckpoint(body=body, envelope=good.envelope)
    with pytest.raises(CheckpointError):
        verify_checkpoint(bad, [PUB])
    report = verify_log(rows, sourced([bad]), [PUB], ORIGIN)
    assert not report.ok
    assert "refused" in report.problems[0]


def test_a_checkpoint_by_an_unknown_key_is_refused() -> None:
    rows = make_rows(4)
    foreign = checkpoint(rows, 4, key=generate_private_key())
    with pytest.raises(CheckpointError, match="unknown key"):
        verify_checkpoint(foreign, [PUB])
    assert not verify_log(rows, sourced([foreign]), [PUB], ORIGIN).ok


def test_a_checkpoint_of_another_origin_is_refused() -> None:
    rows = make_rows(4)
    with pytest.raises(CheckpointError, match="origin"):
        verify_checkpoint(checkpoint(rows, 4, origin="elsewhere"), [PUB], ORIGIN)


def test_rotated_keys_verify_old_checkpoints() -> None:
    rows = make_rows(4)
    old_key, new_key = generate_private_key(), generate_private_key()
    cps = sourced([checkpoint(rows, 2, key=old_key), checkpoint(rows, 4, key=new_key)])
    assert verify_log(rows, cps, [old_key.public_key(), new_key.public_key()], ORIGIN).ok
    assert not verify_log(rows, cps, [new_key.public_key()], ORIGIN).ok
