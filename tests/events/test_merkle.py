"""The Merkle tree of the published record (``events.audit.merkle``) against the published
RFC 6962/9162 test vectors of transparency-dev/merkle (testonly/constants.go,
proof/verify_test.go): roots of every tree of the eight leaves, inclusion and consistency
proofs, and each corrupted proof refused."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

import pytest

from events.audit.merkle import (
    ProofError,
    Tree,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.plain

h = bytes.fromhex
LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [h(x) for x in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
HASHES = [leaf_hash(data) for data in LEAVES]
# (leaf number from 1, tree size, path)
INCLUSION = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_the_root_of_every_tree_of_the_vectors() -> None:
    assert [root(HASHES[:n]) for n in range(9)] == ROOTS


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_inclusion_proofs_are_the_published_ones_and_verify(leaf, size, path) -> None:
    path = [h(p) for p in path]
    assert inclusion_path(leaf - 1, HASHES[:size]) == path
    verify_inclusion(leaf - 1, size, HASHES[leaf - 1], path, ROOTS[size])


@pytest.mark.parametrize(("leaf", "size", "path"), INCLUSION)
def test_a_corrupted_inclusion_proof_is_refused(leaf, size, path) -> None:
    path, index, head = [h(p) for p in path], leaf - 1, ROOTS[size]
    wrong = [
        (index - 1, size, HASHES[index], path, head),
        (index + 1, size, HASHES[index], path, head),
        (index ^ 2, size, HASHES[index], path, head),
        (index, size * 2, HASHES[index], path, head),
        (index, size // 2, HASHES[index], path, head),
        (index, size, b"WrongLeaf", path, head),
        (index, size, HASHES[index], path, ROOTS[0]),
        (index, size, HASHES[index], path, SOME_HASH),
        (index, size, HASHES[index], [*path, b""], head),
        (index, size, HASHES[index], [*path, head], head),
        (index, size, HASHES[index], [b"", *path], head),
        (index, size, HASHES[index], [head, *path], head),
        (index, size, HASHES[index], path[:-1], head),
        (index, size, HASHES[index], [path[0], SOME_HASH, *path[1:]], head),
    ]
    for i in range(len(path)):
        flipped = [*path]
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        wrong.append((index, size, HASHES[index], flipped, head))
    for probe in wrong:
        if probe[0] < 0:
            continue
        with pytest.raises(ProofError):
            verify_inclusion(*probe)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_are_the_published_ones_and_verify(first, second, path) -> None:
    path = [h(p) for p in path]
    assert consistency_path(first, HASHES[:second]) == path
    verify_consistency(first, second, ROOTS[first], ROOTS[second], path)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_a_corrupted_consistency_proof_is_refused(first, second, path) -> None:
    path, r1, r2 = [h(p) for p in path], ROOTS[first], ROOTS[second]
    wrong = [
        (first - 1, second, r1, r2, path),
        (first + 1, second, r1, r2, path),
        (first ^ 2, second, r1, r2, path),
        (first, second * 2, r1, r2, path),
        (first, second // 2, r1, r2, path),
        (first, second, b"WrongRoot", r2, path),
        (first, second, r1, b"WrongRoot", path),
        (first, second, r2, r1, path),
        (first, second, r1, r2, []),
        (first, second, r1, r2, [*path, b""]),
        (first, second, r1, r2, [*path, r1]),
        (first, second, r1, r2, [*path, r2]),
        (first, second, r1, r2, [b"", *path]),
        (first, second, r1, r2, [r1, *path]),
        (first, second, r1, r2, [r2, *path]),
        (first, second, r1, r2, [path[0], *path]),
        (first, second, r1, r2, path[:-1]),
    ]
    for i in range(len(path)):
        flipped = [*path]
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        wrong.append((first, second, r1, r2, flipped))
    for probe in wrong:
        with pytest.raises(ProofError):
            verify_consistency(*probe)


def test_every_proof_of_a_larger_tree_round_trips() -> None:
    hashes = [leaf_hash(str(i).encode()) for i in range(37)]
    for size in range(1, 38):
        head = root(hashes[:size])
        for index in range(size):
            verify_inclusion(index, size, hashes[index], inclusion_path(index, hashes[:size]), head)
        for first in range(size + 1):
            proof = consistency_path(first, hashes[:size])
            verify_consistency(first, size, root(hashes[:first]), head, proof)


def standalone_verifier():
    """scripts/verify-record, which carries its own copy of the two verifications."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "verify-record"
    loader = importlib.machinery.SourceFileLoader("verify_record", str(script))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def test_verify_records_own_copy_agrees_on_the_vectors_and_refuses_corruptions() -> None:
    check = standalone_verifier()
    for leaf, size, path in INCLUSION:
        path = [h(p) for p in path]
        assert check.root_from_inclusion(leaf - 1, size, HASHES[leaf - 1], path) == ROOTS[size]
        assert check.root_from_inclusion(leaf - 1, size, HASHES[leaf - 1], path[:-1]) is None
        assert check.root_from_inclusion(leaf - 1, size * 2, HASHES[leaf - 1], path) is None
    for first, second, path in CONSISTENCY:
        path = [h(p) for p in path]
        assert check.consistent(first, second, ROOTS[first], ROOTS[second], path)
        assert not check.consistent(first, second, ROOTS[second], ROOTS[first], path)
        assert not check.consistent(first, second, ROOTS[first], ROOTS[second], path[:-1])
        assert not check.consistent(first, second, ROOTS[first], ROOTS[second], [])


def test_a_tree_kept_by_levels_gives_the_same_heads_and_proofs() -> None:
    hashes = [leaf_hash(str(i).encode()) for i in range(70)]
    tree = Tree()
    for size in range(1, 71):
        tree.append(hashes[size - 1])
        assert tree.root() == root(hashes[:size])
        for index in range(size):
            assert tree.inclusion_path(index, size) == inclusion_path(index, hashes[:size])
        for first in range(size + 1):
            assert tree.consistency_path(first, size) == consistency_path(first, hashes[:size])
    assert [tree.root(n) for n in range(9)] == [root(hashes[:n]) for n in range(9)]
    assert Tree(HASHES).root() == ROOTS[8]
