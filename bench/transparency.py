"""Proof size and verification time of the published record's transparency log as it grows
(issue 26): for trees of 1,000 to 100,000 leaves, the inclusion and consistency proofs'
length in hashes, the time to verify one (RFC 9162's algorithms, ``events.audit.merkle``),
and the whole check of ``scripts/verify-record`` (the city's Ed25519 signature in pure
Python, the record against its leaf, the path). Both grow as log n. Making a proof from
the leaf hashes alone is linear; from the tree kept by levels (``merkle.Tree``, as the
records service keeps it) it is logarithmic too. Times are the best of seven runs.

    .venv/bin/python -m bench.transparency [--sizes 1000,10000,100000]

In memory, no database; nothing is asserted.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import math
import random
import time
from functools import partial
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.measuring import timed
from events.audit import merkle
from events.audit.checkpoints import canonical, key_id, raw_public
from events.audit.transparency import PROOF_FORMAT, head_payload, make_leaf

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "verify-record"


def verifier():
    loader = importlib.machinery.SourceFileLoader("verify_record", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def leaf(number: int) -> dict:
    shown = {"record_id": f"record-{number}", "published_on": "2026-03-20", "unit": "市交通运输局",
             "post": "副局长", "decision": {"code": "admonishment", "zh": "诫勉"}}  # fmt: skip
    personal = {"cadre_name": f"李明{number}", "summary": "诫勉谈话"}
    return make_leaf("record", f"record-{number}", shown, personal, b"k" * 32)


def inclusions(size, tree, root, indices, paths) -> None:
    for index, path in zip(indices, paths, strict=True):
        merkle.verify_inclusion(index, size, tree[index], path, root)


def consistencies(size, root, firsts, roots, proofs) -> None:
    for first, first_root, proof in zip(firsts, roots, proofs, strict=True):
        merkle.verify_consistency(first, size, first_root, root, proof)


def cached_paths(levels, size, indices) -> None:
    for index in indices:
        levels.inclusion_path(index, size)


def per_call(work, calls: int, repeats: int = 7) -> float:
    """Microseconds per call of ``work``: the best of ``repeats`` runs of ``calls`` calls (the
    machine is shared; the best run is the one least disturbed)."""
    return min(timed(lambda: [work() for _ in range(calls)]) for _ in range(repeats)) / calls * 1e6


@click.command()
@click.option("--sizes", default="1000,10000,100000")
@click.option("--samples", default=20, help="Leaves (and earlier sizes) proved per tree.")
def main(sizes: str, samples: int) -> None:
    check = verifier()
    city = Ed25519PrivateKey.generate()
    kid = key_id(city.public_key())
    largest = max(int(s) for s in sizes.split(","))
    started = time.monotonic()
    leaves = [leaf(n) for n in range(largest)]
    hashes = [merkle.leaf_hash(canonical(data)) for data in leaves]
    click.echo(f"{largest} leaves hashed in {time.monotonic() - started:.1f} s")
    click.echo(f"{'leaves':>8} {'log2 n':>7} {'incl. hashes':>13} {'cons. hashes':>13} "
               f"{'verify incl. µs':>16} {'verify cons. µs':>16} {'verify-record ms':>17} "
               f"{'make proof ms':>14} {'cached µs':>10}")  # fmt: skip
    rng = random.Random(26)
    for size in (int(s) for s in sizes.split(",")):
        tree = hashes[:size]
        root = merkle.root(tree)
        indices = [rng.randrange(size) for _ in range(samples)]
        firsts = [rng.randrange(1, size) for _ in range(samples)]
        made = time.monotonic()
        paths = [merkle.inclusion_path(i, tree) for i in indices]
        make_ms = (time.monotonic() - made) / samples * 1e3
        levels = merkle.Tree(tree)  # as the records service keeps it
        cached = per_call(partial(cached_paths, levels, size, indices), 5) / samples
        consistency = [merkle.consistency_path(f, tree) for f in firsts]
        roots = [merkle.root(tree[:f]) for f in firsts]
        incl = per_call(partial(inclusions, size, tree, root, indices, paths), 50) / samples
        cons = per_call(partial(consistencies, size, root, firsts, roots, consistency), 50)
        cons /= samples
        head = {"tree_size": size, "root_hash": root.hex(), "signed_at": "2026-12-08T00:00:00Z",
                "key_id": kid}  # fmt: skip
        head["signature"] = city.sign(canonical(head_payload(head))).hex()
        proof = {"format": PROOF_FORMAT, "record": None, "leaf": leaves[indices[0]],
                 "leaf_index": indices[0], "audit_path": [h.hex() for h in paths[0]],
                 "salts": {}, "tree_head": head, "consistency": {},
                 "keys": {kid: raw_public(city.public_key()).hex()}}  # fmt: skip
        proof = json.loads(json.dumps(proof))
        whole = per_call(lambda proof=proof: check.verify(proof, [kid], [], []), 3) / 1e3
        inclusion = sum(map(len, paths)) / samples
        click.echo(f"{size:>8} {math.log2(size):>7.1f} {inclusion:>13.1f} "
                   f"{sum(map(len, consistency)) / samples:>13.1f} {incl:>16.1f} {cons:>16.1f} "
                   f"{whole:>17.1f} {make_ms:>14.1f} {cached:>10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
