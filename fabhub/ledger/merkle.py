"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and their checks.

leaf = SHA-256(0x00 || entry), interior node = SHA-256(0x01 || left || right), and
the empty tree's hash is SHA-256 of nothing. A *perfect node* ``(level, index)`` is
the root of the complete subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``;
every hash a proof needs is a fold of O(log n) perfect nodes, which is what the
store keeps. Proof shapes are given as leaf ranges ``(start, end)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


class ProofError(ValueError):
    """A proof does not verify, or was asked for sizes that do not exist."""


def leaf_hash(entry: bytes) -> bytes:
    """The RFC 9162 hash of a leaf holding ``entry``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[Node]:
    """The perfect nodes whose fold is the hash of leaves ``[start, end)``, left to right.

    Valid for the ranges RFC 9162 trees are made of (``start`` aligned to the size of
    the subtree it begins); the largest first, as the tree splits them.
    """
    nodes: list[Node] = []
    while start < end:
        width = end - start
        level = width.bit_length() - 1
        if width != 1 << level:
            level = split_point(width).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-node hashes (left to right) into the hash of their whole range."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the inclusion proof of leaf ``index`` in a tree of ``size``.

    RFC 9162 section 2.1.3.1, in proof order (from the leaf upwards).
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    path: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose hashes prove that the tree of ``old_size`` is a prefix of ``new_size``.

    RFC 9162 section 2.1.4.1, in proof order; empty when either size is 0 or both are equal.
    """
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    path: list[Range] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        path.append((start, end))
    path.reverse()
    return path


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be a {HASH_SIZE}-byte hash")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` yields for ``leaf`` at ``index`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of size {size}")
    _check_hash(leaf, "the leaf hash")
    fn, sn, result = index, size - 1, leaf
    for p in proof:
        _check_hash(p, "every proof element")
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(p, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes],
                     root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``leaf`` at ``index`` under ``root``."""
    _check_hash(root, "the root")
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise ProofError(f"the inclusion proof for leaf {index} does not lead to the root "
                         f"of the tree of size {size}")


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes],
                       old_root: bytes, new_root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows the old tree is a prefix of the new.

    RFC 9162 section 2.1.4.2; equal sizes need an empty proof and equal roots, and
    the empty tree is a prefix of every tree.
    """
    _check_hash(old_root, "the old root")
    _check_hash(new_root, "the new root")
    if not 0 <= old_size <= new_size:
        raise ProofError(f"size {old_size} cannot be a prefix of size {new_size}")
    if old_size in (0, new_size):
        if proof:
            raise ProofError("this consistency proof must be empty")
        expected = EMPTY_ROOT if old_size == 0 else new_root
        if old_root != expected:
            raise ProofError("the old root does not match")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    for p in proof:
        _check_hash(p, "every proof element")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"the consistency proof from size {old_size} to {new_size} "
                         "does not match the two roots")


class TreeBuilder:
    """Builds a tree leaf by leaf in O(log n) memory, reporting each perfect node it completes."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # perfect-node hashes of the size's binary decomposition

    @classmethod
    def resume(cls, size: int, frontier: Sequence[bytes]) -> TreeBuilder:
        """Continue a tree of ``size`` leaves from the hashes of ``perfect_nodes(0, size)``."""
        if len(frontier) != size.bit_count():
            raise ProofError(f"a tree of size {size} has {size.bit_count()} frontier nodes")
        builder = cls()
        builder.size = size
        builder._stack = list(frontier)
        return builder

    def push(self, leaf: bytes) -> list[tuple[Node, bytes]]:
        """Add a leaf hash; return the perfect nodes ``((level, index), hash)`` it completes."""
        index, level, current = self.size, 0, leaf
        made = [((0, index), leaf)]
        while index & 1:
            current = node_hash(self._stack.pop(), current)
            index >>= 1
            level += 1
            made.append(((level, index), current))
        self._stack.append(current)
        self.size += 1
        return made

    def root(self) -> bytes:
        """The root hash of the leaves pushed so far."""
        return fold(self._stack)


def root_of(entries: Iterable[bytes]) -> bytes:
    """The root hash of a tree whose leaves hold ``entries`` (raw entry bytes)."""
    builder = TreeBuilder()
    for entry in entries:
        builder.push(leaf_hash(entry))
    return builder.root()
