"""A Merkle tree with the hashing and proofs of RFC 9162 §2.1 (Certificate Transparency
v2), over leaf hashes held in order: the tree head (MTH), inclusion proofs (PATH) and
consistency proofs (PROOF), and their verification (§2.1.3.2, §2.1.4.2).

A leaf hashes as ``SHA-256(0x00 || data)``, an inner node as ``SHA-256(0x01 || left ||
right)``, the empty tree as ``SHA-256()``. Tested against the published vectors of
transparency-dev/merkle (tests/events/test_merkle.py). ``scripts/verify-record`` carries its
own copy of the two verifications, so that it needs nothing of youwei's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


class ProofError(Exception):
    """A proof that does not lead to the tree head it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the leaf hashes ``leaves``."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:  # pairing left to right gives MTH's left-balanced shape
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]): the audit path of leaf ``index`` in the tree of ``leaves``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_path(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_path(index - k, leaves[k:]), root(leaves[:k])]


def consistency_path(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(first, D[n]): that the tree of ``leaves[:first]`` is a prefix of this one."""
    if not 0 <= first <= len(leaves):
        raise ValueError(f"a tree of {first} is not a prefix of one of {len(leaves)}")
    if first in (0, len(leaves)):
        return []
    return _subproof(first, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The tree head an inclusion proof leads to (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the audit path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the audit path is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], head: bytes):
    if root_from_inclusion(index, size, leaf, path) != head:
        raise ProofError(f"leaf {index} is not in the tree of {size} with this head")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]
) -> None:
    """That the tree of ``first`` leaves is a prefix of the one of ``second`` (RFC 9162
    §2.1.4.2); raise ``ProofError`` if not."""
    if not 0 <= first <= second:
        raise ProofError(f"a tree of {second} cannot extend one of {first}: it is smaller")
    if first == second:
        if path or first_root != second_root:
            raise ProofError(f"two trees of {first} leaves with different heads")
        return
    if first == 0:
        if path:
            raise ProofError("an empty tree needs no consistency proof")
        return
    if not path:
        raise ProofError("an empty consistency proof")
    path = list(path)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError(f"the tree of {second} does not extend the tree of {first} as held")


class Tree:
    """The same tree kept by levels as leaves are appended: ``levels[l][k]`` is the hash of
    the complete subtree of leaves ``k·2^l`` to ``(k+1)·2^l − 1``, stored once it is
    complete and never changed. A head or a proof then takes O(log n) stored hashes and
    O(log n) new ones, however many leaves there are."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(node_hash(*self.levels[level][-2:]))
            level += 1

    def hash(self, start: int, end: int) -> bytes:
        """MTH of the leaves ``start`` to ``end − 1`` (``start`` aligned as MTH splits)."""
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.hash(0, len(self) if size is None else size)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size]), as ``inclusion_path`` gives it."""
        if not 0 <= index < size <= len(self):
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self.hash(start + k, end))
                end = start + k
            else:
                path.append(self.hash(start, start + k))
                start += k
        return path[::-1]

    def consistency_path(self, first: int, size: int) -> list[bytes]:
        """PROOF(first, D[size]), as ``consistency_path`` gives it."""
        if not 0 <= first <= size <= len(self):
            raise ValueError(f"a tree of {first} is not a prefix of one of {size}")
        if first in (0, size):
            return []
        path: list[bytes] = []
        start, end, m, whole = 0, size, first, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                path.append(self.hash(start + k, end))
                end = start + k
            else:
                path.append(self.hash(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            path.append(self.hash(start, end))
        return path[::-1]
