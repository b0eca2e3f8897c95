"""Offline verification of a whole audit log against its signed checkpoints and witnesses. Pure.

What is checked, position by position (rows sorted by index):

1. the row's index is its position (no gap, duplicate or move);
2. its bytes are a canonical entry whose own `index` is that position;
3. the stored leaf hash is SHA-256(0x00 || bytes) and the stored timestamp is the entry's;
4. its `prev` is the leaf hash of the row before.

Then every checkpoint (from the database and from each witness): its signature by a trusted key and origin,
its size (a checkpoint larger than the log means rows were deleted or an old database was restored), and its
root against the root recomputed from the rows. Two valid checkpoints of one size with different roots are an
equivocation. Consistency between checkpoints follows from all of them matching prefixes of the same leaves.

`first_bad_index` is the first entry that cannot be vouched for, assuming the least tampering that explains
the evidence: an edited row whose leaf hash was recomputed is located by the broken `prev` link of the row
after it; the last row of the log, which has no successor, is located by the checkpoint that covers it.
`proven_size` is the conservative bound: the longest prefix covered by a valid checkpoint and clean rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.audit import merkle
from hub.audit._errors import CheckpointError
from hub.audit.checkpoints import Checkpoint, Equivocation, SignedCheckpoint, find_equivocations, verify_checkpoint
from hub.audit.entries import AuditRow, EntryError, parse_entry


@dataclass(frozen=True, slots=True)
class SourcedCheckpoint:
    source: str
    """Where it came from: "database", "file:/var/lib/vigie/witness.jsonl", "mqtt:..."."""
    signed: SignedCheckpoint


@dataclass
class VerifyReport:
    size: int = 0
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checkpoints_valid: int = 0
    proven_size: int = 0
    equivocations: list[Equivocation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def blame(self, index: int, reason: str) -> None:
        self.problems.append(f"entry {index}: {reason}")
        if self.first_bad_index is None or index < self.first_bad_index:
            self.first_bad_index = index


class _RowScanner:
    """Checks 1-4 row by row; remembers the leaf hashes and the first bad index."""

    def __init__(self, report: VerifyReport, anchors: dict[int, bytes]) -> None:
        self.report = report
        self.anchors = anchors  # size -> root of valid checkpoints
        self.leaves: list[bytes] = []
        self.row_bad: int | None = None
        self._pending_link: int | None = None  # position whose `prev` did not match

    def feed(self, row: AuditRow) -> None:
        p = len(self.leaves)
        leaf = merkle.leaf_hash(row.canonical)
        self.leaves.append(leaf)
        if self.row_bad is not None:
            return
        reason, index = self._check(p, row, leaf)
        link_ok = reason is not None or self._link_ok(p, row)
        if self._pending_link is not None:
            # Link p-1 was broken. If link p is broken too, row p-1 itself changed (its hash moved);
            # otherwise row p-2 changed and p-1 merely still points at its old hash.
            q = self._pending_link
            self._fail(q if not link_ok else q - 1, f"prev hash does not match entry {q - 1}")
            return
        if reason is not None:
            self._fail(index, reason)
        elif not link_ok:
            self._pending_link = p

    def finish(self) -> None:
        """The last row has no successor to tell whether it or the row before it changed.

        A valid checkpoint of size q (covering rows before q only) settles it; otherwise blame the earlier row.
        """
        if self.row_bad is None and self._pending_link is not None:
            q = self._pending_link
            anchor = self.anchors.get(q)
            if anchor is not None and merkle.root_hash(self.leaves[:q]) == anchor:
                self._fail(q, f"prev hash does not match entry {q - 1}, which a checkpoint vouches for")
            else:
                self._fail(q - 1, f"entry {q} does not chain to it (or entry {q} itself was altered)")

    def _fail(self, index: int, reason: str) -> None:
        self.row_bad = index
        self.report.blame(index, reason)

    def _link_ok(self, p: int, row: AuditRow) -> bool:
        try:
            entry = parse_entry(row.canonical)
        except EntryError:
            return False
        return entry.prev == (self.leaves[p - 1] if p else b"")

    @staticmethod
    def _check(p: int, row: AuditRow, leaf: bytes) -> tuple[str | None, int]:
        if row.index != p:
            return f"stored at position {p} with index {row.index} (gap, duplicate or move)", min(p, row.index)
        try:
            entry = parse_entry(row.canonical)
        except EntryError as exc:
            return f"not a canonical entry ({exc})", p
        if entry.index != p:
            return f"entry says it is index {entry.index}", min(p, entry.index)
        if row.leaf_hash != leaf:
            return "stored leaf hash is not the hash of the stored bytes", p
        if row.ts_ms != entry.ts_ms:
            return "stored timestamp differs from the entry's", p
        return None, p


def verify_log(
    rows: Iterable[AuditRow],
    checkpoints: Sequence[SourcedCheckpoint],
    trusted: Sequence[Ed25519PublicKey],
    origin: str | None = None,
) -> VerifyReport:
    """Verify rows (sorted by index) against signed checkpoints from any number of sources."""
    report = VerifyReport()
    valid = _valid_checkpoints(checkpoints, trusted, origin, report)
    scanner = _RowScanner(report, {cp.size: cp.root for _, cp in valid})
    for row in rows:
        scanner.feed(row)
    scanner.finish()
    report.size = len(scanner.leaves)
    if not valid and report.size:
        report.warnings.append("no valid checkpoint: nothing vouches for the log")
    report.equivocations = find_equivocations(cp for _, cp in valid)
    report.problems.extend(str(e) for e in report.equivocations)
    _check_roots(valid, scanner, report)
    return report


def _valid_checkpoints(
    checkpoints: Sequence[SourcedCheckpoint],
    trusted: Sequence[Ed25519PublicKey],
    origin: str | None,
    report: VerifyReport,
) -> list[tuple[str, Checkpoint]]:
    valid: list[tuple[str, Checkpoint]] = []
    for number, sourced in enumerate(checkpoints):
        try:
            valid.append((sourced.source, verify_checkpoint(sourced.signed, trusted, origin)))
        except CheckpointError as exc:
            report.problems.append(f"checkpoint #{number} from {sourced.source} refused: {exc}")
    report.checkpoints_valid = len(valid)
    return valid


def _check_roots(valid: list[tuple[str, Checkpoint]], scanner: _RowScanner, report: VerifyReport) -> None:
    """Compare each checkpoint's root with the root of the same prefix, in one pass over the leaves."""
    n = len(scanner.leaves)
    compact = merkle.CompactRange()
    matching: list[int] = []
    for source, cp in sorted(valid, key=lambda item: item[1].size):
        if cp.size > n:
            report.blame(n, f"missing: {source} has a checkpoint of size {cp.size} but the log has {n} entries "
                            "(rows deleted or an older database restored)")
            continue
        while compact.size < cp.size:
            compact.append(scanner.leaves[compact.size])
        if compact.root() == cp.root:
            matching.append(cp.size)
            continue
        bad = cp.size - 1 if scanner.row_bad is None or scanner.row_bad >= cp.size else scanner.row_bad
        report.blame(bad, f"the log's first {cp.size} entries do not match the checkpoint from {source}")
    first_bad = report.first_bad_index
    report.proven_size = max((s for s in matching if first_bad is None or s <= first_bad), default=0)
    if report.ok and report.proven_size < n:
        report.warnings.append(f"entries {report.proven_size}..{n - 1} are not covered by a checkpoint yet")
