"""The Merkle module against the transparency-dev vectors, the RFC 6962 reference tree and itself."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.audit import merkle
from hub.audit._errors import ProofError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared/data/merkle-vectors"

# The leaves of the reference tree of RFC 6962 / transparency-dev (testdata of the vectors).
REFERENCE_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
REFERENCE_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _vector_files(kind: str) -> list[Path]:
    files = sorted((VECTORS / kind).glob("*/*.json"))
    assert files, f"no {kind} vectors under {VECTORS}"
    return files


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


@pytest.mark.parametrize("path", _vector_files("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors_give_the_expected_verdict(path: Path) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), proof, _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("path", _vector_files("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors_give_the_expected_verdict(path: Path) -> None:
    v = _load(path)
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_vector_counts_cover_both_verdicts() -> None:
    verdicts = [_load(p)["wantErr"] for kind in ("inclusion", "consistency") for p in _vector_files(kind)]
    assert len(verdicts) == 170
    assert verdicts.count(False) >= 10


def test_roots_of_the_reference_tree() -> None:
    hashes = [merkle.leaf_hash(d) for d in REFERENCE_LEAVES]
    assert merkle.root_hash([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    for size, root in REFERENCE_ROOTS.items():
        assert merkle.root_hash(hashes[:size]).hex() == root


def _happy(kind: str) -> list[Path]:
    """Happy paths built on the reference tree (the single-entry ones use another leaf)."""
    return [p for p in _vector_files(kind) if not _load(p)["wantErr"] and p.parent.name != "single-entry"]


@pytest.mark.parametrize("path", _happy("inclusion"), ids=lambda p: p.parent.name)
def test_generated_inclusion_proofs_match_the_happy_vectors(path: Path) -> None:
    v = _load(path)
    hashes = [merkle.leaf_hash(d) for d in REFERENCE_LEAVES][: v["treeSize"]]
    got = merkle.inclusion_proof(hashes, v["leafIdx"])
    assert [base64.b64encode(p).decode() for p in got] == (v["proof"] or [])
    assert merkle.root_hash(hashes) == _b64(v["root"])


@pytest.mark.parametrize("path", _happy("consistency"), ids=lambda p: p.parent.name)
def test_generated_consistency_proofs_match_the_happy_vectors(path: Path) -> None:
    v = _load(path)
    hashes = [merkle.leaf_hash(d) for d in REFERENCE_LEAVES][: v["size2"]]
    got = merkle.consistency_proof(hashes, v["size1"])
    assert [base64.b64encode(p).decode() for p in got] == (v["proof"] or [])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_generated_proof_verifies_and_no_other_does(size: int, data: st.DataObject) -> None:
    hashes = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    root = merkle.root_hash(hashes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = merkle.inclusion_proof(hashes, index)
    merkle.verify_inclusion(index, size, hashes[index], proof, root)
    if size > 1:
        with pytest.raises(ProofError):
            merkle.verify_inclusion((index + 1) % size, size, hashes[index], proof, root)
    size1 = data.draw(st.integers(min_value=1, max_value=size))
    root1 = merkle.root_hash(hashes[:size1])
    cproof = merkle.consistency_proof(hashes, size1)
    merkle.verify_consistency(size1, size, cproof, root1, root)
    if size1 < size:
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size, cproof, merkle.root_hash([*hashes[:size1 - 1], root]), root)
        bad = [bytes(32), *cproof[1:]]
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size, bad, root1, root)


def test_compact_range_matches_the_full_root_at_every_size() -> None:
    compact = merkle.CompactRange()
    hashes: list[bytes] = []
    for i in range(130):
        leaf = merkle.leaf_hash(str(i).encode())
        hashes.append(leaf)
        compact.append(leaf)
        assert compact.size == i + 1
        assert compact.root() == merkle.root_hash(hashes)


def test_malformed_inputs_are_proof_errors() -> None:
    leaf = merkle.leaf_hash(b"x")
    with pytest.raises(ProofError):
        merkle.inclusion_proof([leaf], 1)
    with pytest.raises(ProofError):
        merkle.consistency_proof([leaf], 0)
    with pytest.raises(ProofError):
        merkle.verify_consistency(0, 1, [], leaf, leaf)
    with pytest.raises(ProofError):
        merkle.verify_consistency(2, 1, [], leaf, leaf)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(0, 1, leaf[:31], [], leaf)
