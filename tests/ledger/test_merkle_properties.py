"""Every inclusion and consistency proof for every tree size up to 200 verifies, and every
altered proof (a flipped byte, a missing, extra or swapped hash, a wrong size) fails, unless
the altered claim is itself true with that very proof (from the empty tree to size n and
from n to n both have the empty proof).

Proofs are built by the RFC 9162 recursive definitions written out here, independent of
the range arithmetic the store uses, and compared with it. A "wrong size" is checked the
way a verifier meets it: against the root that a checkpoint of that size would carry.
"""

from __future__ import annotations

import random
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fabhub.ledger import merkle

MAX = 200
LEAVES = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(MAX + 1)]


@cache
def mth(start: int, end: int) -> bytes:
    if end - start == 0:
        return merkle.EMPTY_ROOT
    if end - start == 1:
        return LEAVES[start]
    k = merkle.split_point(end - start)
    return merkle.node_hash(mth(start, start + k), mth(start + k, end))


def path(m: int, start: int, end: int) -> list[bytes]:
    """RFC 9162 PATH(m, D[start:end]), m relative to start."""
    n = end - start
    if n == 1:
        return []
    k = merkle.split_point(n)
    if m < k:
        return [*path(m, start, start + k), mth(start + k, end)]
    return [*path(m - k, start + k, end), mth(start, start + k)]


def subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if complete else [mth(start, end)]
    k = merkle.split_point(n)
    if m <= k:
        return [*subproof(m, start, start + k, complete), mth(start + k, end)]
    return [*subproof(m - k, start + k, end, False), mth(start, start + k)]


def consistency(old: int, new: int) -> list[bytes]:
    """RFC 9162 PROOF(old, D[new]); empty from the empty tree."""
    return subproof(old, 0, new, True) if old else []


def alterations(proof: list[bytes], rng: random.Random) -> list[tuple[str, list[bytes]]]:
    """Damaged copies of ``proof``: flipped byte, missing, extra and swapped hashes."""
    out = [("extra", [*proof, rng.randbytes(32)]),
           ("extra-front", [rng.randbytes(32), *proof])]
    if proof:
        j = rng.randrange(len(proof))
        flipped = bytearray(proof[j])
        flipped[rng.randrange(32)] ^= 1 << rng.randrange(8)
        out.append(("flip", [*proof[:j], bytes(flipped), *proof[j + 1:]]))
        out.append(("missing", proof[:j] + proof[j + 1:]))
        out.append(("duplicate", [*proof[:j + 1], proof[j], *proof[j + 1:]]))
    if len(proof) >= 2:
        a, b = rng.sample(range(len(proof)), 2)
        swapped = list(proof)
        swapped[a], swapped[b] = swapped[b], swapped[a]
        out.append(("swap", swapped))
    return out


def fails(check, *args) -> bool:
    try:
        check(*args)
    except merkle.ProofError:
        return True
    return False


@pytest.mark.parametrize("block", range(4))
def test_every_inclusion_proof_verifies_and_every_alteration_fails(block: int) -> None:
    rng = random.Random(block)
    for size in range(1 + block, MAX + 1, 4):
        root = mth(0, size)
        for index in range(size):
            proof = path(index, 0, size)
            assert [mth(a, b) for a, b in merkle.inclusion_ranges(index, size)] == proof
            merkle.verify_inclusion(LEAVES[index], index, size, proof, root)
            for what, bad in alterations(proof, rng):
                assert fails(merkle.verify_inclusion, LEAVES[index], index, size, bad, root), \
                    (what, index, size)
            for wrong in (size - 1, size + 1):
                if index < wrong:
                    assert fails(merkle.verify_inclusion, LEAVES[index], index, wrong, proof,
                                 mth(0, wrong)), ("size", index, size, wrong)
            other = (index + 1) % size
            if other != index:
                assert fails(merkle.verify_inclusion, LEAVES[index], other, size, proof, root)


@pytest.mark.parametrize("block", range(4))
def test_every_consistency_proof_verifies_and_every_alteration_fails(block: int) -> None:
    rng = random.Random(100 + block)
    for new in range(1 + block, MAX + 1, 4):
        new_root = mth(0, new)
        for old in range(0, new + 1):
            proof = consistency(old, new)
            assert [mth(a, b) for a, b in merkle.consistency_ranges(old, new)] == proof
            old_root = mth(0, old)
            merkle.verify_consistency(old, new, proof, old_root, new_root)
            for what, bad in alterations(proof, rng):
                assert fails(merkle.verify_consistency, old, new, bad, old_root, new_root), \
                    (what, old, new)
            for wrong in (old - 1, old + 1):
                # (skip a claim that the very same proof proves truly, e.g. 0->n vs n->n)
                if 0 <= wrong <= new and consistency(wrong, new) != proof:
                    assert fails(merkle.verify_consistency, wrong, new, proof, mth(0, wrong),
                                 new_root), ("old size", old, new, wrong)
            for wrong in (new - 1, new + 1):
                if old <= wrong <= MAX and consistency(old, wrong) != proof:
                    assert fails(merkle.verify_consistency, old, wrong, proof, old_root,
                                 mth(0, wrong)), ("new size", old, new, wrong)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MAX), st.data())
def test_random_damage_to_a_proof_is_caught(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    proof = path(index, 0, size)
    if not proof:
        return
    j = data.draw(st.integers(0, len(proof) - 1))
    byte = data.draw(st.integers(0, 31))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(proof[j])
    damaged[byte] ^= 1 << bit
    bad = [*proof[:j], bytes(damaged), *proof[j + 1:]]
    assert fails(merkle.verify_inclusion, LEAVES[index], index, size, bad, mth(0, size))
    wrong_leaf = bytearray(LEAVES[index])
    wrong_leaf[byte] ^= 1 << bit
    assert fails(merkle.verify_inclusion, bytes(wrong_leaf), index, size, proof, mth(0, size))


def test_bad_requests_are_clear_errors() -> None:
    with pytest.raises(merkle.ProofError, match="not in a tree of size 3"):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(merkle.ProofError, match="from size 5 to size 4"):
        merkle.consistency_ranges(5, 4)
    with pytest.raises(merkle.ProofError, match="32-byte hash"):
        merkle.verify_inclusion(b"short", 0, 1, [], merkle.EMPTY_ROOT)


def test_tree_builder_reports_every_perfect_node() -> None:
    builder = merkle.TreeBuilder()
    made = {}
    for leaf in LEAVES[:37]:
        made.update(builder.push(leaf))
    for (level, index), digest in made.items():
        assert digest == mth(index << level, (index + 1) << level)
    assert builder.root() == mth(0, 37)
    frontier = [made[node] for node in merkle.perfect_nodes(0, 37)]
    resumed = merkle.TreeBuilder.resume(37, frontier)
    resumed.push(LEAVES[37])
    assert resumed.root() == mth(0, 38)
