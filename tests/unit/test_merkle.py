"""Merkle trees as RFC 6962 hashes them: the Certificate Transparency reference vectors,
hand-computed small trees, and every leaf of trees of 1 to 33 leaves (inclusion proofs verify;
a changed element, index, size or root does not), with the streaming tree agreeing with the
reference definitions."""

from __future__ import annotations

import hashlib
import random

import pytest

from mailbox.evidence.merkle import (
    EMPTY_ROOT,
    MerkleStream,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_inclusion,
)

# The leaves and roots of certificate-transparency's merkle_tree_test (also used by Trillian).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]


def H(data: bytes) -> bytes:  # the RFC's name for SHA-256
    return hashlib.sha256(data).digest()


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed * 1000 + n)
    return [rng.randbytes(32) for _ in range(n)]


def _flip(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x01]) + value[1:]


def test_roots_match_the_certificate_transparency_vectors() -> None:
    assert root([]) == EMPTY_ROOT == H(b"")
    for n in range(1, 9):
        assert root(CT_LEAVES[:n]).hex() == CT_ROOTS[n - 1], n


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(index, CT_LEAVES[:size])

    assert [p.hex()[:8] for p in proof] == path
    assert verify_inclusion(CT_LEAVES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size - 1]))


def test_small_trees_by_hand() -> None:
    a, b, c = b"record-a", b"record-b", b"record-c"
    la, lb, lc = H(b"\x00" + a), H(b"\x00" + b), H(b"\x00" + c)
    ab = H(b"\x01" + la + lb)

    assert leaf_hash(a) == la and node_hash(la, lb) == ab
    assert root([a]) == la
    assert root([a, b]) == ab
    # Three leaves split 2 + 1: the odd leaf is promoted, never duplicated.
    assert root([a, b, c]) == H(b"\x01" + ab + lc)
    assert inclusion_proof(2, [a, b, c]) == [ab]
    assert inclusion_proof(0, [a, b, c]) == [lb, lc]


def test_every_leaf_of_trees_of_1_to_33_leaves_proves_its_inclusion() -> None:
    for size in range(1, 34):
        leaves = _leaves(size)
        top = root(leaves)
        for index in range(size):
            proof = inclusion_proof(index, leaves)
            assert verify_inclusion(leaves[index], index, size, proof, top), (size, index)
            assert not verify_inclusion(_flip(leaves[index]), index, size, proof, top)
            assert not verify_inclusion(leaves[index], index, size, proof, _flip(top))
            if index + 1 < size:
                assert not verify_inclusion(leaves[index], index + 1, size, proof, top)
            assert not verify_inclusion(leaves[index], index, size, [*proof, top], top)
            for at in range(len(proof)):
                changed = [*proof[:at], _flip(proof[at]), *proof[at + 1 :]]
                assert not verify_inclusion(leaves[index], index, size, changed, top)
            if proof:
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], top)


def test_the_streaming_tree_agrees_with_the_reference() -> None:
    for size in range(1, 34):
        leaves = _leaves(size, seed=2)
        stream = MerkleStream(size, prove=range(size))
        for count, leaf in enumerate(leaves, start=1):
            stream.append(leaf)
            assert stream.root() == root(leaves[:count])
        for index in range(size):
            assert stream.proof(index) == inclusion_proof(index, leaves), (size, index)


def test_proofs_outside_the_tree_are_refused() -> None:
    leaves = _leaves(3)
    with pytest.raises(IndexError):
        inclusion_proof(3, leaves)
    with pytest.raises(IndexError):
        MerkleStream(3, prove=[3])
    assert not verify_inclusion(leaves[0], 3, 3, [], root(leaves))
    stream = MerkleStream(3, prove=[0])
    stream.append(leaves[0])
    with pytest.raises(ValueError, match="1 of 3 leaves"):
        stream.proof(0)
