"""Inclusion and consistency proofs as data: hashes plus what they claim, with their check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fabhub.ledger.merkle import ProofError, verify_consistency, verify_inclusion


def _hashes(values: Any, what: str) -> list[bytes]:
    try:
        return [bytes.fromhex(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ProofError(f"{what} must be a list of hex hashes") from exc


@dataclass(frozen=True)
class InclusionProof:
    """Leaf ``index`` with hash ``leaf`` is in the tree of ``size`` whose root is ``root``."""

    index: int
    size: int
    leaf: bytes
    path: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        """Raise :class:`ProofError` unless the path leads from the leaf to the root."""
        verify_inclusion(self.leaf, self.index, self.size, self.path, self.root)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with hex hashes."""
        return {"index": self.index, "tree_size": self.size, "leaf_hash": self.leaf.hex(),
                "proof": [h.hex() for h in self.path], "root_hash": self.root.hex()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InclusionProof:
        """Parse :meth:`to_dict`'s form."""
        try:
            return cls(int(data["index"]), int(data["tree_size"]),
                       _hashes([data["leaf_hash"]], "leaf_hash")[0],
                       tuple(_hashes(data["proof"], "proof")),
                       _hashes([data["root_hash"]], "root_hash")[0])
        except (KeyError, TypeError) as exc:
            raise ProofError(f"an inclusion proof needs field {exc}") from exc


@dataclass(frozen=True)
class ConsistencyProof:
    """The tree of ``old_size`` (root ``old_root``) is a prefix of the tree of ``new_size``."""

    old_size: int
    new_size: int
    path: tuple[bytes, ...]
    old_root: bytes
    new_root: bytes

    def verify(self) -> None:
        """Raise :class:`ProofError` unless the path links the two roots."""
        verify_consistency(self.old_size, self.new_size, self.path, self.old_root,
                           self.new_root)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with hex hashes."""
        return {"old_size": self.old_size, "new_size": self.new_size,
                "proof": [h.hex() for h in self.path], "old_root": self.old_root.hex(),
                "new_root": self.new_root.hex()}
