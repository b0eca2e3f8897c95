"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verifiers. Pure: bytes in, bytes out.

Leaves are hashed as SHA-256(0x00 || data) and interior nodes as SHA-256(0x01 || left || right)
(RFC 9162 section 2.1.1). Functions that build trees take the list of *leaf hashes* (not leaf data),
which is what the audit table stores.

Proof generation follows PATH and SUBPROOF (RFC 9162 2.1.3.1, 2.1.4.1); the verifiers follow the
algorithms of RFC 9162 2.1.3.2 and 2.1.4.2 word for word, with the edge cases of the reference
implementation (transparency-dev/merkle): every hash must be 32 bytes, a consistency proof between
equal sizes is empty, and a consistency proof from the empty tree is meaningless.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from hub.audit._errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() (RFC 9162 2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of a list of leaf hashes, in O(n) hashes and O(log n) memory."""
    if not leaves:
        return EMPTY_ROOT
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    return compact.root()


def subtree_hash(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of leaves[start:end] (end > start)."""
    return root_hash(leaves[start:end])


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) for the tree made of all `leaves` (RFC 9162 2.1.3.1), lowest level first."""
    if not 0 <= index < len(leaves):
        raise ProofError(f"leaf index {index} is not in a tree of size {len(leaves)}")
    return _path(leaves, 0, len(leaves), index)


def _path(leaves: Sequence[bytes], start: int, end: int, index: int) -> list[bytes]:
    n = end - start
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(leaves, start, start + k, index), subtree_hash(leaves, start + k, end)]
    return [*_path(leaves, start + k, end, index - k), subtree_hash(leaves, start, start + k)]


def consistency_proof(leaves: Sequence[bytes], size1: int) -> list[bytes]:
    """PROOF(size1, D[n]) that the first `size1` leaves are a prefix of all `leaves` (RFC 9162 2.1.4.1)."""
    size2 = len(leaves)
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        return []
    return _subproof(leaves, 0, size2, size1, True)


def _subproof(leaves: Sequence[bytes], start: int, end: int, m: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [subtree_hash(leaves, start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, start, start + k, m, complete), subtree_hash(leaves, start + k, end)]
    return [*_subproof(leaves, start + k, end, m - k, False), subtree_hash(leaves, start, start + k)]


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def root_from_inclusion_proof(leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 2.1.3.2 steps 1-4, plus the final `sn == 0` check)."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is not below tree size {tree_size}")
    _check_hash(leaf, "leaf hash")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for position, p in enumerate(proof):
        _check_hash(p, f"proof[{position}]")
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows that `leaf` is at `leaf_index` in the tree of `tree_size`, `root`."""
    _check_hash(root, "root")
    calculated = root_from_inclusion_proof(leaf_index, tree_size, leaf, proof)
    if not hmac.compare_digest(calculated, root):
        raise ProofError("inclusion proof leads to a different root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Raise ProofError unless `proof` shows that tree (size1, root1) is a prefix of tree (size2, root2).

    RFC 9162 2.1.4.2. Requires 0 < size1 <= size2; equal sizes need an empty proof and equal roots.
    """
    _check_hash(root1, "root1")
    _check_hash(root2, "root2")
    for position, c in enumerate(proof):
        _check_hash(c, f"proof[{position}]")
    if size1 <= 0 or size2 < size1:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("sizes are equal but the proof is not empty")
        if not hmac.compare_digest(root1, root2):
            raise ProofError("sizes are equal but the roots differ")
        return
    fr, sr = _consistency_roots(size1, size2, proof, root1)
    if not (hmac.compare_digest(fr, root1) and hmac.compare_digest(sr, root2)):
        raise ProofError("consistency proof does not lead to both roots")


def _consistency_roots(size1: int, size2: int, proof: Sequence[bytes], root1: bytes) -> tuple[bytes, bytes]:
    if not proof:  # step 1
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 7
        raise ProofError("consistency proof is shorter than the path to the root")
    return fr, sr


class CompactRange:
    """The right border of a growing tree: roots of its perfect subtrees, largest first.

    Appending is O(1) amortised and `root()` is O(log n), so the hub keeps the current root of a log of
    any length without reading it back.
    """

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        _check_hash(leaf, "leaf hash")
        self._hashes.append(leaf)
        size = self._size
        while size & 1:  # merge equal-size subtrees, as in a binary counter
            right = self._hashes.pop()
            left = self._hashes.pop()
            self._hashes.append(node_hash(left, right))
            size >>= 1
        self._size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        result = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactRange:
        other = CompactRange()
        other._size = self._size
        other._hashes = list(self._hashes)
        return other
