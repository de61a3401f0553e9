"""RFC 6962 reference vectors: roots for sizes 0-8, inclusion and consistency proofs."""

from __future__ import annotations

from fabhub.ledger import merkle


def _leaves(vectors: dict) -> list[bytes]:
    return [merkle.leaf_hash(bytes.fromhex(e)) for e in vectors["entries_hex"]]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition (independent of the store's code)."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = merkle.split_point(len(leaves))
    return merkle.node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


def _range_hash(leaves: list[bytes], start: int, end: int) -> bytes:
    return _reference_mth(leaves[start:end])


def test_roots_for_sizes_0_to_8(vectors: dict) -> None:
    entries = [bytes.fromhex(e) for e in vectors["entries_hex"]]
    roots = vectors["roots_hex_by_size"]
    assert set(roots) == {str(n) for n in range(9)}
    for size, root in roots.items():
        assert merkle.root_of(entries[: int(size)]).hex() == root
        assert _reference_mth(_leaves(vectors)[: int(size)]).hex() == root


def test_inclusion_proofs(vectors: dict) -> None:
    leaves, roots = _leaves(vectors), vectors["roots_hex_by_size"]
    assert vectors["inclusion"]
    for case in vectors["inclusion"]:
        index, size = case["leaf_index"], case["tree_size"]
        built = [_range_hash(leaves, a, b).hex() for a, b in merkle.inclusion_ranges(index, size)]
        assert built == case["proof"], case
        merkle.verify_inclusion(leaves[index], index, size,
                                [bytes.fromhex(h) for h in case["proof"]],
                                bytes.fromhex(roots[str(size)]))


def test_consistency_proofs(vectors: dict) -> None:
    leaves, roots = _leaves(vectors), vectors["roots_hex_by_size"]
    assert vectors["consistency"]
    for case in vectors["consistency"]:
        old, new = case["first"], case["second"]
        built = [_range_hash(leaves, a, b).hex() for a, b in merkle.consistency_ranges(old, new)]
        assert built == case["proof"], case
        merkle.verify_consistency(old, new, [bytes.fromhex(h) for h in case["proof"]],
                                  bytes.fromhex(roots[str(old)]), bytes.fromhex(roots[str(new)]))
