"""`vigie audit ...`: export the audit log and verify it, or a single proof, offline.

Exit codes: 0 valid, 1 invalid (the first bad entry is named), 2 usage, 3 unreadable key or input file,
4 database unreachable.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

EXIT_INVALID, EXIT_USAGE, EXIT_CONFIG, EXIT_RUNTIME = 1, 2, 3, 4
EXPORT_FORMAT = "vigie.audit.export/1"


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group()
def audit() -> None:
    """Export and verify the signed audit log (an RFC 6962 transparency log) offline."""


# -- sources -----------------------------------------------------------------------------------------


def _open_db(url: str) -> Any:
    from hub.audit.store import AuditLog
    from hub.db.engine import make_engine

    return AuditLog(make_engine(url), origin="")


def _db_source(url: str) -> tuple[Iterable[Any], list[Any], int]:
    from sqlalchemy.exc import SQLAlchemyError

    from hub.audit._errors import CheckpointError

    log = _open_db(url)
    try:
        size = log.size()
        checkpoints = log.checkpoints()
    except SQLAlchemyError as exc:
        _fail(EXIT_RUNTIME, f"cannot read the audit tables: {type(exc).__name__}: {str(exc)[:200]}")
    except CheckpointError as exc:
        _fail(EXIT_INVALID, f"a checkpoint stored in the database is unreadable: {exc}")
    return log.iter_rows(), checkpoints, size


def _export_lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        _fail(EXIT_CONFIG, f"cannot read {path}: {exc.strerror}")
    with handle:
        first = True
        for number, line in enumerate(handle, start=1):
            try:
                doc = json.loads(line)
            except ValueError:
                _fail(EXIT_INVALID, f"{path}:{number}: not JSON")
            if first:
                if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
                    _fail(EXIT_INVALID, f"{path}: not a {EXPORT_FORMAT} file")
                first = False
                continue
            yield doc


def _export_source(path: Path) -> tuple[Iterable[Any], list[Any], int]:
    from hub.audit._errors import AuditError
    from hub.audit.checkpoints import SignedCheckpoint
    from hub.audit.entries import AuditRow

    rows: list[Any] = []
    checkpoints: list[Any] = []
    for doc in _export_lines(path):
        try:
            if doc.get("kind") == "entry":
                rows.append(AuditRow.from_json(doc.get("entry")))
            elif doc.get("kind") == "checkpoint":
                checkpoints.append(SignedCheckpoint.from_json(doc.get("signed")))
        except AuditError as exc:
            _fail(EXIT_INVALID, f"{path}: {exc}")
    rows.sort(key=lambda r: r.index)
    return rows, checkpoints, len(rows)


def _load_pubkeys(paths: Iterable[Path]) -> list[Any]:
    from hub._errors import ConfigError
    from hub.security.keys import load_public_keys

    try:
        return load_public_keys(paths, "--pubkey")
    except ConfigError as exc:
        _fail(EXIT_CONFIG, str(exc))


# -- commands ----------------------------------------------------------------------------------------


@audit.command()
@click.option("--db", "db_url", help="SQLAlchemy URL of the hub database (sqlite:///..., postgresql://...).")
@click.option("--export", "export_file", type=click.Path(path_type=Path, dir_okay=False),
              help="An export made by `vigie audit export` (instead of --db).")
@click.option("--pubkey", "pubkeys", type=click.Path(path_type=Path, dir_okay=False), multiple=True, required=True,
              help="Checkpoint public key (PEM); repeat for rotated keys.")
@click.option("--witness", "witnesses", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="Witness file(s) of checkpoints (the hub's security.witness_file).")
@click.option("--origin", default=None, help="Expected log origin (security.audit_origin).")
@click.option("--strict", is_flag=True, help="Also fail if the newest entries are not covered by a checkpoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(db_url: str | None, export_file: Path | None, pubkeys: tuple[Path, ...], witnesses: tuple[Path, ...],
           origin: str | None, strict: bool, as_json: bool) -> None:
    """Recompute the Merkle tree, check every checkpoint (signature, origin, root) and every witness.

    Exit 1 names the first bad entry: an edit, deletion, insertion or reordering of rows, a database
    restored from an old backup (the witness has a bigger checkpoint), or an equivocation.
    """
    from hub.audit._errors import WitnessError
    from hub.audit.verify import SourcedCheckpoint, verify_log
    from hub.audit.witness import FileWitness

    if (db_url is None) == (export_file is None):
        _fail(EXIT_USAGE, "give exactly one of --db URL or --export FILE")
    trusted = _load_pubkeys(pubkeys)
    if db_url is not None:
        rows, stored, size = _db_source(db_url)
        source = "database"
    else:
        assert export_file is not None
        rows, stored, size = _export_source(export_file)
        source = f"export:{export_file}"
    checkpoints = [SourcedCheckpoint(source, cp) for cp in stored]
    for path in witnesses:
        try:
            checkpoints += [SourcedCheckpoint(f"witness:{path}", cp) for cp in FileWitness(path).read()]
        except WitnessError as exc:
            _fail(EXIT_CONFIG, str(exc))
    if not as_json and size > 10_000:
        with click.progressbar(rows, length=size, label="verifying", file=sys.stderr) as bar:
            report = verify_log(bar, checkpoints, trusted, origin)
    else:
        report = verify_log(rows, checkpoints, trusted, origin)
    failed = not report.ok or (strict and report.proven_size < report.size)
    _print_report(report, as_json, strict)
    sys.exit(EXIT_INVALID if failed else 0)


def _print_report(report: Any, as_json: bool, strict: bool) -> None:
    from hub.audit.entries import b64

    if as_json:
        click.echo(json.dumps({
            "ok": report.ok, "size": report.size, "first_bad_index": report.first_bad_index,
            "proven_size": report.proven_size, "checkpoints_valid": report.checkpoints_valid,
            "problems": report.problems, "warnings": report.warnings,
            "equivocations": [{"origin": e.origin, "size": e.size, "roots": [b64(r) for r in e.roots]}
                              for e in report.equivocations],
        }, indent=2))
        return
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.ok and not (strict and report.proven_size < report.size):
        click.echo(f"valid: {report.size} entries, {report.checkpoints_valid} checkpoints, "
                   f"{report.proven_size} entries covered by a signed checkpoint")
    else:
        bad = report.first_bad_index
        click.echo(f"INVALID: first bad entry {bad}" if bad is not None else "INVALID: see the problems above")


@audit.command()
@click.option("--db", "db_url", required=True, help="SQLAlchemy URL of the hub database.")
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="JSON-lines file to write (entries and checkpoints).")
def export(db_url: str, out_file: Path) -> None:
    """Write every entry and checkpoint to a file that `vigie audit verify --export` checks offline."""
    from sqlalchemy.exc import SQLAlchemyError

    rows, checkpoints, size = _db_source(db_url)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps({"format": EXPORT_FORMAT, "size": size}) + "\n")
            with click.progressbar(rows, length=size, label="exporting", file=sys.stderr) as bar:
                for row in bar:
                    handle.write(json.dumps({"kind": "entry", "entry": row.to_json()}) + "\n")
            for cp in checkpoints:
                handle.write(json.dumps({"kind": "checkpoint", "signed": cp.to_json()}) + "\n")
        tmp.replace(out_file)
    except OSError as exc:
        _fail(EXIT_RUNTIME, f"cannot write {out_file}: {exc.strerror}")
    except SQLAlchemyError as exc:
        _fail(EXIT_RUNTIME, f"cannot read the audit tables: {type(exc).__name__}")
    click.echo(f"exported {size} entries and {len(checkpoints)} checkpoints to {out_file}")


@audit.command("verify-proof")
@click.argument("proof_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--checkpoint", "checkpoint_file", type=click.Path(path_type=Path, dir_okay=False),
              help="A signed checkpoint (JSON) whose root the proof must reach (needs --pubkey).")
@click.option("--pubkey", "pubkeys", type=click.Path(path_type=Path, dir_okay=False), multiple=True,
              help="Checkpoint public key (PEM) for --checkpoint.")
def verify_proof(proof_file: Path, checkpoint_file: Path | None, pubkeys: tuple[Path, ...]) -> None:
    """Check an inclusion proof {leafIdx, treeSize, root, leafHash, proof} or a consistency proof
    {size1, size2, root1, root2, proof} (base64 hashes, as served by /api/v1/audit/proof/...). Exit 0 valid, 1 not."""
    doc = _read_json(proof_file)
    try:
        kind, root_size, root = _check_proof(doc)
    except (KeyError, TypeError, ValueError) as exc:
        _fail(EXIT_INVALID, f"{proof_file}: malformed proof ({type(exc).__name__}: {exc})")
    if checkpoint_file is not None:
        _check_against_checkpoint(checkpoint_file, pubkeys, root_size, root)
    click.echo(f"valid {kind} proof")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        _fail(EXIT_CONFIG, f"cannot read {path}: {exc.strerror}")
    except ValueError:
        _fail(EXIT_INVALID, f"{path}: not JSON")


def _hash(value: Any) -> bytes:
    import base64
    import binascii

    if not isinstance(value, str):
        raise TypeError("hashes are base64 strings")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


def _natural(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("sizes and indexes are integers")
    return value


def _check_proof(doc: Any) -> tuple[str, int, bytes]:
    """Verify; return (kind, size of the tree whose root the proof reaches, that root)."""
    from hub.audit import merkle
    from hub.audit._errors import ProofError

    if not isinstance(doc, dict):
        raise TypeError("a proof is a JSON object")
    proof = [_hash(p) for p in (doc.get("proof") or [])]
    try:
        if "leafIdx" in doc:
            size, root = _natural(doc["treeSize"]), _hash(doc["root"])
            merkle.verify_inclusion(_natural(doc["leafIdx"]), size, _hash(doc["leafHash"]), proof, root)
            return "inclusion", size, root
        size2, root2 = _natural(doc["size2"]), _hash(doc["root2"])
        merkle.verify_consistency(_natural(doc["size1"]), size2, proof, _hash(doc["root1"]), root2)
        return "consistency", size2, root2
    except ProofError as exc:
        _fail(EXIT_INVALID, f"invalid proof: {exc}")


def _check_against_checkpoint(path: Path, pubkeys: tuple[Path, ...], size: int, root: bytes) -> None:
    from hub.audit._errors import CheckpointError
    from hub.audit.checkpoints import SignedCheckpoint, verify_checkpoint

    if not pubkeys:
        _fail(EXIT_USAGE, "--checkpoint needs --pubkey")
    try:
        checkpoint = verify_checkpoint(SignedCheckpoint.from_json(_read_json(path)), _load_pubkeys(pubkeys))
    except CheckpointError as exc:
        _fail(EXIT_INVALID, f"checkpoint refused: {exc}")
    if checkpoint.size != size or checkpoint.root != root:
        _fail(EXIT_INVALID, f"the proof's tree (size {size}) is not the checkpoint's (size {checkpoint.size})")
