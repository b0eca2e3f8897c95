"""The audit log in SQL (SQLite and PostgreSQL): tampering with rows, restoring an old database, and the
`vigie audit` commands that catch it."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Engine

from contracts.signing import generate_private_key, save_public_key
from hub.audit import merkle
from hub.audit.entries import AuditEntry, AuditRow, parse_entry
from hub.audit.store import AuditLog
from hub.audit.verify import SourcedCheckpoint, verify_log
from hub.audit.witness import FileWitness
from hub.audit_cli import audit
from hub.db.engine import make_engine
from hub.db.migrate import upgrade

KEY = generate_private_key()
ORIGIN = "sql-test-hub"
VECTORS = Path(__file__).resolve().parents[2].parent / "shared/data/merkle-vectors"


@dataclasses.dataclass
class Log:
    url: str
    engine: Engine
    log: AuditLog
    witness: Path
    pubkey: Path

    def verify(self, *extra: str) -> tuple[int, dict]:
        args = ["verify", "--db", self.url, "--pubkey", str(self.pubkey), "--witness", str(self.witness),
                "--origin", ORIGIN, "--json", *extra]
        result = CliRunner().invoke(audit, args)
        return result.exit_code, json.loads(result.output) if result.output.startswith("{") else {}


def make_log(url: str, tmp_path: Path, entries: int = 30, every: int = 7) -> Log:
    engine = make_engine(url)
    upgrade(engine)
    witness = tmp_path / "witness.jsonl"
    log = AuditLog(engine, origin=ORIGIN, signer=KEY, witnesses=[FileWitness(witness)], every_entries=every)
    for i in range(entries):
        log.append("http.request", f"user{i % 4}", "reader", {"method": "GET", "route": "/api/v1/x", "status": 200})
    log.checkpoint()
    pubkey = tmp_path / "audit.pub"
    save_public_key(KEY.public_key(), pubkey)
    return Log(url, engine, log, witness, pubkey)


@pytest.fixture
def sql_log(sql_url: str, tmp_path: Path) -> Iterator[Log]:
    log = make_log(sql_url, tmp_path)
    yield log
    log.engine.dispose()


def _forged(index: int, prev: bytes) -> AuditRow:
    return AuditRow.of(AuditEntry(index, 1, prev, "user.add", "mallory", "admin", {"user": "eve"}))


def _leaf(engine: Engine, index: int) -> bytes:
    with engine.connect() as c:
        return bytes(c.execute(text("SELECT leaf_hash FROM audit_entries WHERE idx = :i"), {"i": index}).scalar_one())


def _rewrite(engine: Engine, index: int, **changes: object) -> None:
    """Change entry fields and recompute its stored leaf hash and timestamp (a careful attacker)."""
    with engine.begin() as c:
        raw = bytes(c.execute(text("SELECT canonical FROM audit_entries WHERE idx = :i"), {"i": index}).scalar_one())
        row = AuditRow.of(dataclasses.replace(parse_entry(raw), **changes))
        c.execute(text("UPDATE audit_entries SET canonical = :c, leaf_hash = :h, ts_ms = :t WHERE idx = :i"),
                  {"c": row.canonical, "h": row.leaf_hash, "t": row.ts_ms, "i": index})


def _shift(engine: Engine, start: int, delta: int) -> None:
    """Renumber rows >= start by delta (in two steps: the primary key is checked row by row)."""
    with engine.begin() as c:
        c.execute(text("UPDATE audit_entries SET idx = idx + 1000000 WHERE idx >= :s"), {"s": start})
        c.execute(text("UPDATE audit_entries SET idx = idx - 1000000 + :d WHERE idx >= 1000000"), {"d": delta})


def _insert(engine: Engine, row: AuditRow) -> None:
    with engine.begin() as c:
        c.execute(text("INSERT INTO audit_entries (idx, ts_ms, canonical, leaf_hash) VALUES (:i, :t, :c, :h)"),
                  {"i": row.index, "t": row.ts_ms, "c": row.canonical, "h": row.leaf_hash})


def test_an_untouched_log_verifies_from_the_database_and_from_an_export(sql_log: Log, tmp_path: Path) -> None:
    code, report = sql_log.verify("--strict")
    assert code == 0, report
    assert report["size"] == 30 and report["proven_size"] == 30 and report["checkpoints_valid"] >= 10
    out = tmp_path / "audit.jsonl"
    assert CliRunner().invoke(audit, ["export", "--db", sql_log.url, "--out", str(out)]).exit_code == 0
    result = CliRunner().invoke(audit, ["verify", "--export", str(out), "--pubkey", str(sql_log.pubkey),
                                        "--witness", str(sql_log.witness)])
    assert result.exit_code == 0, result.output
    assert "valid: 30 entries" in result.output


def test_edited_row_is_found(sql_log: Log) -> None:
    _rewrite(sql_log.engine, 5, actor="someone-else")
    code, report = sql_log.verify()
    assert (code, report["first_bad_index"]) == (1, 5)


def test_deleted_row_is_found(sql_log: Log) -> None:
    with sql_log.engine.begin() as c:
        c.execute(text("DELETE FROM audit_entries WHERE idx = 9"))
    _shift(sql_log.engine, 10, -1)
    code, report = sql_log.verify()
    assert (code, report["first_bad_index"]) == (1, 9)


def test_reordered_rows_are_found(sql_log: Log) -> None:
    with sql_log.engine.begin() as c:
        c.execute(text("UPDATE audit_entries SET idx = -1 WHERE idx = 3"))
        c.execute(text("UPDATE audit_entries SET idx = 3 WHERE idx = 11"))
        c.execute(text("UPDATE audit_entries SET idx = 11 WHERE idx = -1"))
    code, report = sql_log.verify()
    assert (code, report["first_bad_index"]) == (1, 3)


def test_inserted_row_is_found(sql_log: Log) -> None:
    _shift(sql_log.engine, 12, 1)
    _insert(sql_log.engine, _forged(12, _leaf(sql_log.engine, 11)))
    code, report = sql_log.verify()
    assert (code, report["first_bad_index"]) == (1, 12)


def test_restored_old_database_is_caught_by_the_witness(sql_log: Log) -> None:
    # what a restore of a backup taken at 15 entries looks like: later rows and checkpoints are gone
    with sql_log.engine.begin() as c:
        c.execute(text("DELETE FROM audit_entries WHERE idx >= 15"))
        c.execute(text("DELETE FROM audit_checkpoints WHERE size > 15"))
    code, report = sql_log.verify()
    assert (code, report["first_bad_index"]) == (1, 15)
    assert any("older database" in p for p in report["problems"])
    # without the witness, the old database is consistent with itself: that is why the witness exists
    result = CliRunner().invoke(audit, ["verify", "--db", sql_log.url, "--pubkey", str(sql_log.pubkey)])
    assert result.exit_code == 0, result.output


def test_a_checkpoint_by_an_unknown_key_in_the_witness_is_refused(sql_log: Log, tmp_path: Path) -> None:
    other = tmp_path / "other.pub"
    save_public_key(generate_private_key().public_key(), other)
    result = CliRunner().invoke(audit, ["verify", "--db", sql_log.url, "--pubkey", str(other)])
    assert result.exit_code == 1
    assert "unknown key" in result.output


def test_the_log_continues_after_a_restart_and_across_writers(sql_log: Log) -> None:
    second = AuditLog(sql_log.engine, origin=ORIGIN, signer=KEY, witnesses=[FileWitness(sql_log.witness)],
                      every_entries=1000)
    second.append("user.add", "admin", "admin", {"user": "x"})
    sql_log.log.append("user.add", "admin", "admin", {"user": "y"})  # its compact range catches up
    assert sql_log.log.checkpoint() is not None
    assert second.size() == 32
    code, report = sql_log.verify("--strict")
    assert code == 0, report


def test_proofs_from_the_store_verify_with_the_cli(sql_log: Log, tmp_path: Path) -> None:
    size = sql_log.log.size()
    signed = sql_log.log.latest_checkpoint()
    assert signed is not None
    checkpoint_file = tmp_path / "checkpoint.json"
    checkpoint_file.write_text(json.dumps(signed.to_json()))
    for name, proof in {"inclusion": sql_log.log.inclusion(17, size),
                        "consistency": sql_log.log.consistency(4, size)}.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(proof))
        args = ["verify-proof", str(path), "--checkpoint", str(checkpoint_file), "--pubkey", str(sql_log.pubkey)]
        result = CliRunner().invoke(audit, args)
        assert result.exit_code == 0, result.output
        proof["proof"] = proof["proof"][::-1]
        path.write_text(json.dumps(proof))
        assert CliRunner().invoke(audit, ["verify-proof", str(path)]).exit_code == 1


def test_verify_proof_gives_the_vectors_verdicts() -> None:
    files = sorted(VECTORS.glob("*/*/*.json"))
    assert len(files) == 170
    for path in files:
        want_err = json.loads(path.read_text())["wantErr"]
        result = CliRunner().invoke(audit, ["verify-proof", str(path)])
        assert result.exit_code == (1 if want_err else 0), (path, result.output)


def test_usage_and_input_errors_have_their_exit_codes(tmp_path: Path) -> None:
    pub = tmp_path / "audit.pub"
    save_public_key(KEY.public_key(), pub)
    assert CliRunner().invoke(audit, ["verify", "--pubkey", str(pub)]).exit_code == 2
    missing = ["verify", "--export", str(tmp_path / "none"), "--pubkey", str(pub)]
    assert CliRunner().invoke(audit, missing).exit_code == 3
    bad_key = tmp_path / "bad.pub"
    bad_key.write_text("not a key")
    assert CliRunner().invoke(audit, ["verify", "--export", "x", "--pubkey", str(bad_key)]).exit_code == 3


# -- property: any single tampering of a SQLite row, found at the first affected index ------------------


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audit-base")
    log = make_log(f"sqlite:///{directory / 'base.db'}", directory, entries=16, every=5)
    log.engine.dispose()
    return directory / "base.db"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(["edit", "edit-hash", "ts", "delete", "swap", "insert"]),
       i=st.integers(min_value=0, max_value=15), j=st.integers(min_value=0, max_value=15))
def test_any_single_sql_tampering_is_found_at_its_index(base_db: Path, tmp_path: Path, op: str, i: int,
                                                        j: int) -> None:
    db = tmp_path / f"t-{op}-{i}-{j}.db"
    shutil.copy(base_db, db)
    engine = make_engine(f"sqlite:///{db}")
    expected = i
    with engine.begin() as c:
        if op == "edit":  # bytes changed, stored leaf hash left alone
            c.execute(text("UPDATE audit_entries SET canonical = canonical || X'20' WHERE idx = :i"), {"i": i})
        elif op == "ts":
            c.execute(text("UPDATE audit_entries SET ts_ms = ts_ms + 1 WHERE idx = :i"), {"i": i})
        elif op == "delete":
            c.execute(text("DELETE FROM audit_entries WHERE idx = :i"), {"i": i})
    if op == "edit-hash":
        _rewrite(engine, i, actor="mallory")
    elif op == "swap":
        if i == j:
            j = (i + 1) % 16
        expected = min(i, j)
        with engine.begin() as c:
            c.execute(text("UPDATE audit_entries SET idx = -1 WHERE idx = :i"), {"i": i})
            c.execute(text("UPDATE audit_entries SET idx = :i WHERE idx = :j"), {"i": i, "j": j})
            c.execute(text("UPDATE audit_entries SET idx = :j WHERE idx = -1"), {"j": j})
    elif op == "insert":
        _shift(engine, i, 1)
        _insert(engine, _forged(i, _leaf(engine, i - 1) if i else b""))
    log = AuditLog(engine, origin=ORIGIN)
    report = verify_log(log.iter_rows(), [SourcedCheckpoint("database", cp) for cp in log.checkpoints()],
                        [KEY.public_key()], ORIGIN)
    engine.dispose()
    assert not report.ok, op
    assert report.first_bad_index == expected, (op, i, j, report.problems)
    assert merkle.HASH_SIZE == 32


def test_appends_from_many_threads_verify(sql_log: Log) -> None:
    start = sql_log.log.size()
    threads = [threading.Thread(target=lambda t=t: [sql_log.log.append("t", f"w{t}", "reader", {"i": i})
                                                    for i in range(25)]) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sql_log.log.size() == start + 150
    sql_log.log.checkpoint()
    code, report = sql_log.verify()
    assert code == 0, report
