"""The published record as a transparency log: every publication, withdrawal and honour is
a leaf of an append-only Merkle tree (RFC 9162 hashing, ``events.audit.merkle``); the city
signs tree heads with its checkpoint keys (``events.audit.checkpoints``); witnesses co-sign
a head only once they have checked it extends the last one they co-signed.

Stored beside the checkpoints, outside the logs: ``transparency_leaves`` (one document per
leaf, ``_id`` its index from 0, inserted once and never changed: a second writer racing for
an index loses with a duplicate key and rereads), ``transparency_heads`` (signed tree heads)
and ``transparency_state`` (how far into the accountability log the leaves cover). Each leaf
names the event it was made from (``source``), once: a round that died half-way is redone
without a leaf twice. A leaf's
``data`` is what is hashed, canonical JSON (``canonical``); beside it the document keeps
what only the city may see (``private``: the ids it was made from), never in a proof.

A leaf names what the public is shown in clear, and commits to the personal fields (the
cadre's name, a summary or citation that may name them) by a salted hash. The salt is an
HMAC under the person's own key (``events.identity.personal``): while the key exists, a
proof gives the salt and anyone can confirm the name shown; when the person's data is
erased their key is destroyed, the salt with it, and the leaf — and every proof — stays as
it was while nothing can confirm a guessed name any longer.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from events.audit import merkle
from events.audit.checkpoints import (
    Keys,
    SignedHeads,
    canonical,
    key_id,
    now_iso,
    raw_public,
    trust_chain,
    verify_signature,
)
from events.identity.personal import PersonalKeys, subject_of

LEAVES = "transparency_leaves"
HEADS = "transparency_heads"
STATE = "transparency_state"
PROOF_FORMAT = "youwei-record-proof-v1"
TREE = "transparency-tree"
"""The signed-heads file's entry for the last tree head signed (``SignedHeads``)."""


_CACHE_LOCK = threading.Lock()
"""Serialises the extension of cached trees (green under eventlet)."""


class TreeProblem(Exception):
    """A tree head or leaf that cannot be given, signed or co-signed."""


class Conflict(TreeProblem):
    """Another writer appended the same leaf index first."""


# -- leaves ------------------------------------------------------------------------------


def name_salt(person_key: bytes, leaf_id: str, field: str) -> bytes:
    return hmac.new(person_key, f"youwei-leaf-salt-v1:{leaf_id}:{field}".encode(),
                    hashlib.sha256).digest()  # fmt: skip


def commitment(salt: bytes, value: Any) -> str:
    """The salted hash a leaf keeps of a personal field: SHA-256 of the salt and the value's
    canonical JSON (``{"v": value}``)."""
    return hashlib.sha256(salt + canonical({"v": value})).hexdigest()


def make_leaf(
    kind: str, leaf_id: str, shown: dict[str, Any], personal: dict[str, Any], key: bytes | None
) -> dict[str, Any]:
    """A leaf's data: ``shown`` in clear, each of ``personal`` as a commitment (``None`` for
    a field with no value, or with no key to salt it: the person was erased already)."""
    commitments = {
        field: None
        if value is None or key is None
        else commitment(name_salt(key, leaf_id, field), value)
        for field, value in personal.items()
    }
    return {"kind": kind, "id": leaf_id, "shown": shown, "commitments": commitments}


def leaf_bytes(data: dict[str, Any]) -> bytes:
    return canonical(data)


def head_payload(head: dict[str, Any]) -> dict[str, Any]:
    fields = ("tree_size", "root_hash", "signed_at", "key_id")
    return {"kind": "youwei-tree-head-v1", **{k: head[k] for k in fields}}


def cosign_payload(head: dict[str, Any], witness: str, at: str) -> dict[str, Any]:
    return {"kind": "youwei-tree-head-cosignature-v1", "tree_size": head["tree_size"],
            "root_hash": head["root_hash"], "witness": witness, "at": at}  # fmt: skip


def public_head(head: dict[str, Any]) -> dict[str, Any]:
    """A signed head as the public sees it, with its co-signatures."""
    fields = ("tree_size", "root_hash", "signed_at", "key_id", "signature", "witnesses")
    return {k: head[k] for k in fields if k in head}


class TransparencyLog:
    """The tree's leaves and signed heads in ``database``; ``cache``: the tree as a
    long-running process read it before (``merkle_tree``)."""

    def __init__(self, database: Database, cache: merkle.Tree | None = None) -> None:
        self.database = database
        self.cache = cache
        self.leaves = database[LEAVES]
        self.heads = database[HEADS]
        self.state = database[STATE]

    # appending (one writer at a time wins each index)

    def size(self) -> int:
        last = self.leaves.find_one({}, {"_id": 1}, sort=[("_id", DESCENDING)])
        return 0 if last is None else last["_id"] + 1

    def covered(self, source: str) -> int:
        found = self.state.find_one({"_id": source})
        return 0 if found is None else found["position"]

    def cover(self, source: str, position: int) -> None:
        self.state.update_one({"_id": source}, {"$max": {"position": position}}, upsert=True)

    def append(self, data: dict[str, Any], source: dict[str, Any], private: dict[str, Any]) -> int:
        """Append a leaf at the next index, made from ``source`` (``log``, ``position`` of the
        event, ``n``: which of its leaves); the index of the leaf from ``source`` if there is
        one already (a round that died half-way is redone). ``Conflict`` if another writer
        took the index or the source first."""
        self.leaves.create_index([(f"source.{k}", ASCENDING) for k in ("log", "position", "n")],
                                 unique=True)  # fmt: skip
        found = self.leaves.find_one({f"source.{k}": source[k] for k in ("log", "position", "n")})
        if found is not None:
            return found["_id"]
        index = self.size()
        try:
            self.leaves.insert_one({
                "_id": index, "data": data, "hash": merkle.leaf_hash(leaf_bytes(data)).hex(),
                "source": source, "private": private,
            })  # fmt: skip
        except DuplicateKeyError:
            raise Conflict(f"leaf {index} was appended by another writer") from None
        return index

    def latest_leaf(self, leaf_id: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
        self.leaves.create_index([("data.id", ASCENDING)])
        return self.leaves.find_one({"data.id": leaf_id, "data.kind": {"$in": list(kinds)}},
                                    sort=[("_id", DESCENDING)])  # fmt: skip

    def leaves_where(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.leaves.find(query).sort("_id", ASCENDING))

    def merkle_tree(self) -> merkle.Tree:
        """The tree of the stored leaves: this log's ``cache`` extended with the leaves
        appended since (leaves never change, so a leaf read once is not read again), or,
        without a cache, every leaf read afresh."""
        tree = self.cache if self.cache is not None else merkle.Tree()
        with _CACHE_LOCK if self.cache is not None else contextlib.nullcontext():
            if len(tree) and not self.leaves.find_one(
                {"_id": len(tree) - 1, "hash": tree.levels[0][-1].hex()}
            ):  # not the leaves this cache was read from (another database of that name)
                tree.levels = [[]]
            query = {"_id": {"$gte": len(tree)}}
            for document in self.leaves.find(query, {"hash": 1}).sort("_id", ASCENDING):
                if document["_id"] != len(tree):
                    raise TreeProblem(f"leaf {len(tree)} is missing from the stored leaves")
                tree.append(bytes.fromhex(document["hash"]))
        return tree

    # heads

    def sign_head(
        self, private: Ed25519PrivateKey, signed_heads: SignedHeads | None = None
    ) -> dict[str, Any] | None:
        """Sign the tree as it stands, unless this key signed a head of this size already.
        Refuse (``TreeProblem``) if the leaves no longer extend the last head signed: the
        one remembered in ``signed_heads`` (a file outside the database, as for
        checkpoints), else the latest in the database."""
        kid = Keys(self.database).ensure(private)
        size = self.size()
        if size == 0:
            return None
        with contextlib.ExitStack() as stack:
            remembered = stack.enter_context(signed_heads.locked()) if signed_heads else {}
            signed = self.heads.find_one({"tree_size": size, "key_id": kid})
            last = remembered.get(TREE) or self.latest_head()
            if signed is not None and (last is None or last["tree_size"] <= size):
                remembered[TREE] = {k: signed[k] for k in ("tree_size", "root_hash")}
                return None  # nothing new: the leaves are not read
            tree = self.merkle_tree()
            size = len(tree)
            if last is not None and (
                size < last["tree_size"] or tree.root(last["tree_size"]).hex() != last["root_hash"]
            ):
                raise TreeProblem(f"the leaves no longer extend the head of {last['tree_size']}"
                                  " signed before: refusing to sign")  # fmt: skip
            head = {"tree_size": size, "root_hash": tree.root().hex(),
                    "signed_at": now_iso(), "key_id": kid}  # fmt: skip
            head["signature"] = private.sign(canonical(head_payload(head))).hex()
            remembered[TREE] = {k: head[k] for k in ("tree_size", "root_hash")}
            try:
                self.heads.insert_one({"_id": f"{size}:{kid}", **head, "witnesses": []})
            except DuplicateKeyError:  # another replica signed this size with this key first
                return None
            return head

    def latest_head(self, witnessed: bool = False) -> dict[str, Any] | None:
        query = {"witnesses.0": {"$exists": True}} if witnessed else {}
        return self.heads.find_one(query, {"_id": 0}, sort=[("tree_size", DESCENDING),
                                                            ("signed_at", DESCENDING)])  # fmt: skip

    def public_keys(self) -> dict[str, str]:
        return {k["_id"]: k["public_key"] for k in Keys(self.database).all()}

    # proofs

    def consistency(self, first: int, second: int) -> list[str]:
        tree = self.merkle_tree()
        if not 0 <= first <= second <= len(tree):
            raise TreeProblem(f"no consistency proof from a tree of {first} to one of {second}")
        return [h.hex() for h in tree.consistency_path(first, second)]

    def proof(
        self, leaf_id: str, kinds: tuple[str, ...], shown: dict[str, Any] | None,
        since: tuple[int, ...] = (),
    ) -> dict[str, Any]:  # fmt: skip
        """The proof that the latest leaf of ``leaf_id`` is in the tree under the latest
        signed head: the record as ``shown`` now, the leaf, its audit path, the salts of its
        personal fields while their owner's key exists, and consistency proofs from the
        heads of sizes ``since`` (heads the reader holds) to this one."""
        head = self.latest_head()
        document = self.latest_leaf(leaf_id, kinds)
        if head is None or document is None or document["_id"] >= head["tree_size"]:
            raise TreeProblem(f"{leaf_id} is not yet under a signed tree head")
        tree = self.merkle_tree()
        cadre = (document.get("private") or {}).get("cadre_id")
        key = PersonalKeys(self.database).key(subject_of(cadre)) if cadre else None
        salts = {
            field: None if key is None or value is None else name_salt(key, leaf_id, field).hex()
            for field, value in document["data"]["commitments"].items()
        }
        consistency = {}
        for size in since:
            if not 0 < size <= head["tree_size"]:
                raise TreeProblem(f"since: no tree of {size} leaves before this head")
            consistency[str(size)] = [
                h.hex() for h in tree.consistency_path(size, head["tree_size"])
            ]
        return {
            "format": PROOF_FORMAT,
            "record": shown,
            "leaf": document["data"],
            "leaf_index": document["_id"],
            "audit_path": [
                h.hex() for h in tree.inclusion_path(document["_id"], head["tree_size"])
            ],
            "salts": salts,
            "tree_head": public_head(head),
            "consistency": consistency,
            "keys": self.public_keys(),
        }

    # witnesses

    def cosign(
        self, witness: Ed25519PrivateKey, last: dict[str, Any] | None, trust: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Co-sign the latest head if the city's signature holds (a key trusted from
        ``trust``) and it extends ``last``, the head this witness co-signed before (kept by
        the witness, outside this database). Return the head and the co-signature."""
        head = self.latest_head()
        if head is None:
            raise TreeProblem("no signed tree head to co-sign")
        trusted, _ = trust_chain(Keys(self.database).all(), trust)
        key = trusted.get(head["key_id"])
        if key is None or not verify_signature(key.public_key, head_payload(head),
                                               head["signature"]):  # fmt: skip
            raise TreeProblem(f"the head of {head['tree_size']} is not signed by a trusted "
                              f"key of the city (key {head['key_id']})")  # fmt: skip
        if last is not None:
            try:
                proof = [
                    bytes.fromhex(h) for h in self.consistency(last["tree_size"], head["tree_size"])
                ]
                merkle.verify_consistency(last["tree_size"], head["tree_size"],
                                          bytes.fromhex(last["root_hash"]),
                                          bytes.fromhex(head["root_hash"]), proof)  # fmt: skip
            except (TreeProblem, merkle.ProofError) as error:
                raise TreeProblem(
                    f"refusing to co-sign the head of {head['tree_size']} "
                    f"({head['root_hash']}): it does not extend the head of "
                    f"{last['tree_size']} ({last['root_hash']}) co-signed before: {error}"
                ) from None
        public = witness.public_key()
        wid, at = key_id(public), now_iso()
        signature = witness.sign(canonical(cosign_payload(head, wid, at))).hex()
        cosignature = {"witness": wid, "public_key": raw_public(public).hex(), "at": at,
                       "signature": signature}  # fmt: skip
        self.heads.update_one(
            {"tree_size": head["tree_size"], "key_id": head["key_id"],
             "witnesses.witness": {"$ne": wid}},
            {"$push": {"witnesses": cosignature}},
        )  # fmt: skip
        return head, cosignature
