"""RFC 9162 hashing and proofs: published Certificate Transparency vectors, and an independent straightforward
implementation of the RFC's definitions compared by hypothesis."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle

CT_ENTRIES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = {
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}
CT_CONSISTENCY = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}


# ---- an independent, deliberately naive implementation of the RFC's recursive definitions over a list of leaves


def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [ref_mth(leaves)]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


class Store:
    """What the log keeps: the nodes of complete aligned subtrees, built by appending through the frontier."""

    def __init__(self, entries: list[bytes]) -> None:
        self.nodes: dict[merkle.NodeKey, bytes] = {}
        self.frontier: list[bytes] = []
        for i, entry in enumerate(entries):
            completed, self.frontier = merkle.completed_nodes(i, merkle.leaf_hash(entry), self.frontier)
            self.nodes.update(completed)

    def node(self, key: merkle.NodeKey) -> bytes:
        return self.nodes[key]


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(v) for v in values]


def test_ct_roots():
    for size in range(len(CT_ENTRIES) + 1):
        store = Store(CT_ENTRIES[:size])
        assert merkle.root(size, store.node).hex() == CT_ROOTS[size]
        assert merkle.frontier_root(store.frontier).hex() == CT_ROOTS[size]


def test_ct_proofs():
    store = Store(CT_ENTRIES)
    roots = unhex(CT_ROOTS)
    for (index, size), expected in CT_INCLUSION.items():
        path = merkle.inclusion_path(index, size, store.node)
        assert [p.hex() for p in path] == expected
        assert merkle.verify_inclusion(merkle.leaf_hash(CT_ENTRIES[index]), index, size, path, roots[size])
    for (first, second), expected in CT_CONSISTENCY.items():
        path = merkle.consistency_path(first, second, store.node)
        assert [p.hex() for p in path] == expected
        assert merkle.verify_consistency(first, second, roots[first], roots[second], path)


entries = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=200)
@given(entries=entries, data=st.data())
def test_against_the_naive_definitions(entries: list[bytes], data: st.DataObject):
    leaves = [merkle.leaf_hash(e) for e in entries]
    store = Store(entries)
    size = data.draw(st.integers(1, len(entries)))
    index = data.draw(st.integers(0, size - 1))
    first = data.draw(st.integers(1, size))
    root = ref_mth(leaves[:size])
    assert merkle.root(size, store.node) == root
    path = merkle.inclusion_path(index, size, store.node)
    assert path == ref_path(index, leaves[:size])
    assert merkle.verify_inclusion(leaves[index], index, size, path, root)
    proof = merkle.consistency_path(first, size, store.node)
    assert proof == ref_subproof(first, leaves[:size], True)
    assert merkle.verify_consistency(first, size, ref_mth(leaves[:first]), root, proof)


@settings(max_examples=200)
@given(entries=entries, data=st.data())
def test_forged_proofs_fail(entries: list[bytes], data: st.DataObject):
    leaves = [merkle.leaf_hash(e) for e in entries]
    store = Store(entries)
    size = len(entries)
    index = data.draw(st.integers(0, size - 1))
    root = ref_mth(leaves)
    path = merkle.inclusion_path(index, size, store.node)
    other = data.draw(st.integers(0, size - 1))
    if leaves[other] != leaves[index]:
        assert not merkle.verify_inclusion(leaves[other], index, size, path, root)
    if path:
        position = data.draw(st.integers(0, len(path) - 1))
        forged = list(path)
        forged[position] = bytes(b ^ 1 for b in forged[position][:1]) + forged[position][1:]
        assert not merkle.verify_inclusion(leaves[index], index, size, forged, root)
        assert not merkle.verify_inclusion(leaves[index], index, size, path[:-1], root)
    assert not merkle.verify_inclusion(leaves[index], index, size, [*path, bytes(32)], root)
    first = data.draw(st.integers(1, size))
    proof = merkle.consistency_path(first, size, store.node)
    first_root = ref_mth(leaves[:first])
    wrong_root = hashlib.sha256(first_root).digest()
    assert not merkle.verify_consistency(first, size, wrong_root, root, proof)
    if proof:
        assert not merkle.verify_consistency(first, size, first_root, root, proof[:-1])
        assert not merkle.verify_consistency(first, size, first_root, wrong_root, proof)


def test_needed_nodes_are_few():
    keys = merkle.needed_nodes(lambda node: merkle.inclusion_path(123_456, 1_000_000, node))
    assert len(keys) <= 2 * 20 * 20
    assert all(level >= 0 and index >= 0 for level, index in keys)
