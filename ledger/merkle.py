"""Merkle tree hashing, proofs and their verification exactly as RFC 9162 (Certificate Transparency v2), section 2.1.

Leaf hash: SHA-256(0x00 || entry); node hash: SHA-256(0x01 || left || right); the tree of n > 1 leaves splits at
k, the largest power of two smaller than n. Proofs are built from the hashes of *complete aligned subtrees* (node
(level, index) covers leaves [index * 2**level, (index + 1) * 2**level)), which is what the log stores, so a proof at
any size costs O(log^2 n) lookups of stored nodes and no pass over the leaves. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]  # (level, index): the complete subtree of 2**level leaves starting at index * 2**level
NodeSource = Callable[[NodeKey], bytes]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(start: int, end: int, node: NodeSource) -> bytes:
    """MTH of leaves [start, end), from the hashes of complete aligned subtrees."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return node((size.bit_length() - 1, start // size))
    k = _split(size)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def inclusion_path(index: int, size: int, node: NodeSource) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 2.1.3.1, leaf to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _path(index, 0, size, node)


def _path(index: int, start: int, end: int, node: NodeSource) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(index, start, start + k, node), subtree_hash(start + k, end, node)]
    return [*_path(index - k, start + k, end, node), subtree_hash(start, start + k, node)]


def consistency_path(first: int, second: int, node: NodeSource) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 2.1.4.1."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    return _subproof(first, 0, second, True, node)


def _subproof(m: int, start: int, end: int, whole: bool, node: NodeSource) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [subtree_hash(start, end, node)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, whole, node), subtree_hash(start + k, end, node)]
    return [*_subproof(m - k, start + k, end, False, node), subtree_hash(start, start + k, node)]


def root(size: int, node: NodeSource) -> bytes:
    return subtree_hash(0, size, node)


def needed_nodes(build: Callable[[NodeSource], object]) -> set[NodeKey]:
    """The node keys `build` reads: run it once on placeholders so a store can fetch them all in one query."""
    keys: set[NodeKey] = set()

    def record(key: NodeKey) -> bytes:
        keys.add(key)
        return bytes(HASH_SIZE)

    build(record)
    return keys


def completed_nodes(
    size: int, new_leaf: bytes, frontier: Sequence[bytes]
) -> tuple[list[tuple[NodeKey, bytes]], list[bytes]]:
    """Append leaf number `size` (0-based) to a tree whose right edge is `frontier`.

    The frontier holds the roots of the complete subtrees that make up the tree, largest first (one per set bit of
    `size`). Returns the nodes this append completes (level 0 first) and the new frontier.
    """
    nodes: list[tuple[NodeKey, bytes]] = [((0, size), new_leaf)]
    stack = list(frontier)
    current, level, index = new_leaf, 0, size
    while index & 1:  # each trailing 1 bit of the index closes a subtree with its left sibling
        current = node_hash(stack.pop(), current)
        level, index = level + 1, index >> 1
        nodes.append(((level, index), current))
    stack.append(current)
    return nodes, stack


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The root of the tree whose right edge is `frontier` (largest subtree first)."""
    if not frontier:
        return EMPTY_ROOT
    current = frontier[-1]
    for left in reversed(frontier[:-1]):
        current = node_hash(left, current)
    return current


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root_hash: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size or len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if not 0 < first <= second or any(len(p) != HASH_SIZE for p in path):
        return False
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
