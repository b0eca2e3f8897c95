"""/api/v1/audit: entries (admin), latest checkpoint, proofs and the checkpoint key (reader).

Proofs use the JSON shape of the RFC 6962 test vectors (transparency-dev/merkle): base64 hashes,
`{leafIdx, treeSize, root, leafHash, proof}` and `{size1, size2, root1, root2, proof}`; `vigie audit
verify-proof` checks them offline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from contracts.signing import key_id
from hub.audit._errors import ProofError
from hub.audit.checkpoints import parse_body
from hub.audit.entries import EntryError, b64, parse_entry
from hub.audit.store import AuditLog
from hub.security.deps import require_role
from hub.security.keys import public_pem
from hub.security.roles import Role
from hub.security.service import security_of

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Not authenticated"},
    403: {"description": "Role too low"},
    404: {"description": "No checkpoint yet, or beyond the log"},
    422: {"description": "Invalid parameters"},
}
router = APIRouter(prefix="/api/v1/audit", tags=["audit"], dependencies=[Depends(require_role(Role.READER))],
                   responses=_ERRORS)
MAX_INDEX = 2**62


class EntryOut(BaseModel):
    index: int
    ts_ms: int
    leafHash: str
    canonical: str
    """The exact leaf data, base64."""
    entry: dict[str, Any] | None
    """The decoded entry (null if the stored bytes are not a valid entry: run `vigie audit verify`)."""


class EntriesPage(BaseModel):
    size: int
    entries: list[EntryOut]
    next: int | None


class CheckpointOut(BaseModel):
    checkpoint: dict[str, Any]
    signature: dict[str, Any]


class InclusionProofOut(BaseModel):
    leafIdx: int
    treeSize: int
    root: str
    leafHash: str
    proof: list[str]


class ConsistencyProofOut(BaseModel):
    size1: int
    size2: int
    root1: str
    root2: str
    proof: list[str]


class AuditKeyOut(BaseModel):
    origin: str
    keyid: str
    public_key_pem: str


def _log(request: Request) -> AuditLog:
    security = security_of(request.app)
    if security is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "audit log not started")
    return security.audit


LogDep = Annotated[AuditLog, Depends(_log)]


def _entry(raw: bytes) -> dict[str, Any] | None:
    try:
        return parse_entry(raw).document()
    except EntryError:
        return None


@router.get("/entries", dependencies=[Depends(require_role(Role.ADMIN))])
def entries(
    log: LogDep,
    start: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntriesPage:
    """A page of raw entries from index `start` (admin: they name users, routes and client addresses)."""
    rows = log.entries(start, limit)
    size = log.size()
    out = [EntryOut(index=r.index, ts_ms=r.ts_ms, leafHash=b64(r.leaf_hash), canonical=b64(r.canonical),
                    entry=_entry(r.canonical)) for r in rows]
    following = rows[-1].index + 1 if rows else None
    return EntriesPage(size=size, entries=out, next=following if following is not None and following < size else None)


@router.get("/checkpoint")
def latest_checkpoint(log: LogDep) -> CheckpointOut:
    """The latest signed checkpoint (origin, size, root, timestamp + Ed25519 signature)."""
    signed = log.latest_checkpoint()
    if signed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no checkpoint signed yet")
    return CheckpointOut(checkpoint=signed.body, signature=signed.envelope)


def _default_size(log: AuditLog, size: int | None) -> int:
    if size is not None:
        return size
    signed = log.latest_checkpoint()
    if signed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no checkpoint signed yet: give `size`")
    return parse_body(signed.body).size


@router.get("/proof/inclusion")
def inclusion_proof(
    log: LogDep,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX)],
    size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> InclusionProofOut:
    """Proof that entry `index` is in the tree of `size` entries (default: the latest checkpoint's size)."""
    tree_size = _default_size(log, size)
    _check_size(log, tree_size)
    if index >= tree_size:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"entry {index} is not in a tree of size {tree_size}")
    try:
        return InclusionProofOut(**log.inclusion(index, tree_size))
    except ProofError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("/proof/consistency")
def consistency_proof(
    log: LogDep,
    size1: Annotated[int, Query(ge=1, le=MAX_INDEX)],
    size2: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> ConsistencyProofOut:
    """Proof that the tree of `size1` entries is a prefix of the tree of `size2` (default: latest checkpoint)."""
    second = _default_size(log, size2)
    _check_size(log, second)
    if size1 > second:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no consistency proof from size {size1} down to {second}")
    try:
        return ConsistencyProofOut(**log.consistency(size1, second))
    except ProofError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.get("/key")
def checkpoint_key(request: Request, log: LogDep) -> AuditKeyOut:
    """The public key that signs checkpoints (pin it for `vigie audit verify --pubkey`)."""
    security = security_of(request.app)
    assert security is not None
    public = security.keys.audit.public_key()
    return AuditKeyOut(origin=log.origin, keyid=key_id(public), public_key_pem=public_pem(public).decode())


def _check_size(log: AuditLog, size: int) -> None:
    if size > log.size():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the log has fewer than {size} entries")
