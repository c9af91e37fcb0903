"""Merkle trees over the evidence log, hashed as RFC 6962 (Certificate Transparency) has it.

A leaf is one record's hash (its 32 bytes); ``leaf_hash = SHA-256(0x00 || leaf)``, an inner node
is ``SHA-256(0x01 || left || right)``, and a tree of ``n`` leaves splits at the largest power of
two below ``n`` (RFC 6962 §2.1). An inclusion proof shows that a leaf is at an index of a tree
with a given root.

Pure: no database, no I/O. The list functions are the reference definitions; :class:`MerkleStream`
computes the root and any inclusion proofs in one pass over the leaves with memory that grows
with ``log n``, which is how the service reads a log that does not fit in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "MerkleStream",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "verify_inclusion",
]

EMPTY_ROOT = hashlib.sha256(b"").digest()
Range = tuple[int, int]  # leaves [start, end) of a subtree


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``: the hash of one leaf."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an inner node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of ``leaves`` (RFC 6962 ``MTH``); :data:`EMPTY_ROOT` for none."""
    return _mth([leaf_hash(leaf) for leaf in leaves], 0, len(leaves))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaves`` (RFC 6962 ``PATH``), from the
    leaf's sibling up to the root's child. ``IndexError`` outside the tree."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    return [_mth(hashes, start, end) for start, end in _path(index, 0, len(leaves))]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf`` at ``index`` of the tree of ``size`` leaves whose hash is
    ``root`` (RFC 9162 §2.1.3.2, the algorithm RFC 6962 §2.1.1 describes)."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False  # the proof is longer than the path
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


class MerkleStream:
    """The root of a tree fed one leaf at a time, and the inclusion proofs of chosen leaves.

    Keeps one subtree hash per set bit of the leaf count (a binary counter: appending merges
    equal-sized neighbours), plus the subtrees the chosen proofs need, so a log of any length
    streams through in O(n) hashing and O(log n) memory per proof. Proofs need the tree's
    final size up front (the path depends on it).
    """

    def __init__(self, size: int | None = None, prove: Iterable[int] = ()) -> None:
        self.count = 0
        self._stack: list[tuple[int, int, bytes]] = []  # (start, width, hash), widths falling
        self._paths: dict[int, list[Range]] = {}
        for index in prove:
            if size is None or not 0 <= index < size:
                raise IndexError(f"leaf {index} is outside a tree of {size} leaves")
            self._paths[index] = _path(index, 0, size)
        self._size = size
        self._wanted = {r for path in self._paths.values() for r in path if _perfect(r)}
        self._kept: dict[Range, bytes] = {}

    def append(self, leaf: bytes) -> None:
        """Add the next leaf."""
        start, width, digest = self.count, 1, leaf_hash(leaf)
        self._keep(start, width, digest)
        while self._stack and self._stack[-1][1] == width:
            start, _, left = self._stack.pop()
            width, digest = 2 * width, node_hash(left, digest)
            self._keep(start, width, digest)
        self._stack.append((start, width, digest))
        self.count += 1

    def root(self) -> bytes:
        """The hash of the tree of the leaves so far (O(log n))."""
        return self._fold(0)

    def proof(self, index: int) -> list[bytes]:
        """The inclusion proof of leaf ``index`` (one named at construction), once all
        ``size`` leaves have been appended."""
        if self.count != self._size:
            raise ValueError(f"{self.count} of {self._size} leaves appended")
        # A path's subtrees are complete ones (kept while appending) or end at the tree's
        # right edge (folded from the counter).
        return [
            self._kept[span] if _perfect(span) else self._fold(span[0])
            for span in self._paths[index]
        ]

    def _keep(self, start: int, width: int, digest: bytes) -> None:
        if (start, start + width) in self._wanted:
            self._kept[(start, start + width)] = digest

    def _fold(self, start: int) -> bytes:
        """The hash of leaves [start, count), where ``start`` begins one of the subtrees kept."""
        tail = [digest for first, _, digest in self._stack if first >= start]
        if not tail:
            return EMPTY_ROOT
        if self._stack[len(self._stack) - len(tail)][0] != start:
            raise ValueError(f"leaf {start} does not begin a subtree of the tree so far")
        digest = tail[-1]
        for left in reversed(tail[:-1]):
            digest = node_hash(left, digest)
        return digest


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect(span: Range) -> bool:
    """Whether leaves [start, end) form a complete subtree: a power-of-two width, aligned."""
    start, end = span
    width = end - start
    return width & (width - 1) == 0 and start % width == 0


def _mth(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 0:
        return EMPTY_ROOT
    if end - start == 1:
        return hashes[start]
    k = _split(end - start)
    return node_hash(_mth(hashes, start, start + k), _mth(hashes, start + k, end))


def _path(index: int, start: int, end: int) -> list[Range]:
    """The subtrees whose hashes make leaf ``index``'s audit path in [start, end), leaf first."""
    if end - start == 1:
        return []
    k = _split(end - start)
    if index < start + k:
        return [*_path(index, start, start + k), (start + k, end)]
    return [*_path(index, start + k, end), (start, start + k)]
