"""The records service's leaves of the published record's transparency log
(``events.audit.transparency``): what each publication, withdrawal, revocation on appeal and
honour of the accountability log made public, appended in that log's order once the public
projection has applied it, then a head signed.

A record's leaf shows its public fields in clear (``files.public_record``) and commits to
the cadre's name and the published summary; an honour's to the name and the citation. A
record withdrawn, or revoked on appeal, gets a leaf saying so; a decision changed on appeal
gets a new leaf of its record as now shown. Only the position reached in the accountability
log is remembered (``transparency_state``), so the leaves follow that log exactly once each.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nameko.extensions import DependencyProvider

from events.audit import merkle
from events.audit.checkpoints import SignedHeads, SigningKeyError, load_private_key
from events.audit.transparency import TREE, Conflict, TransparencyLog, TreeProblem, make_leaf
from events.identity.personal import PersonalKeys, subject_of
from events.log.datastore import datastore_from_config
from events.readmodels.projections import Projector
from events.runtime.metrics import CHECKPOINT_REFUSALS
from schemas.events import LOGS
from services.records import files
from services.records.projections import PublicRecords, honour_id, public_record_id

log = logging.getLogger(__name__)
_TREES: dict[str, merkle.Tree] = {}
"""The tree of each database as this process read it: a proof reads only what is new. A leaf
rewritten in the database after it was read is not read again: this process goes on signing
the tree it read, and the rewritten leaf's proof no longer verifies for anyone."""

SOURCE = "accountability"
RECORD_KINDS = ("record", "record_withdrawn")
HONOUR_KINDS = ("honour", "honour_withdrawn")
PERSONAL = {"record": ("cadre_name", "summary"), "honour": ("cadre_name", "citation")}


def shown_record(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record's public fields, split into what a leaf shows and what it commits to."""
    return _split(files.public_record(document), "record")


def shown_honour(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return _split(files.honour(document), "honour")


def _split(public: dict[str, Any], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    personal = {k: public[k] for k in PERSONAL[kind]}
    return {k: v for k, v in public.items() if k not in PERSONAL[kind]}, personal


class Leaves:
    """Appends the leaves of what the public projection shows (``projector``)."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector
        self.database = projector.datastore.database
        cache = _TREES.setdefault(self.database.name, merkle.Tree())
        self.tree = TransparencyLog(self.database, cache)
        self.keys = PersonalKeys(self.database)

    def append_new(self, catch_up: bool = False) -> int:
        """Append the leaves of the accountability events the projection has applied and the
        tree does not cover yet (after catching it up, if asked); return how many the tree
        gained. A race with another replica stops this round (the next round rereads where
        the tree is)."""
        if catch_up:
            self.projector.catch_up()
        generation = self.projector.live()
        upto = generation.position(LOGS[SOURCE])
        after = self.tree.covered(SOURCE)
        before = self.tree.size()
        try:
            for event in self.projector.readers[SOURCE].public_events(after, upto):
                leaves = self._leaves_of(event, generation.db)
                for n, (data, private) in enumerate(leaves):
                    source = {"log": LOGS[SOURCE], "position": event["position"], "n": n}
                    self.tree.append(data, source, private)
                if leaves:
                    self.tree.cover(SOURCE, event["position"])
        except Conflict:
            return self.tree.size() - before
        self.tree.cover(SOURCE, upto)
        return self.tree.size() - before

    def publish(
        self, private: Ed25519PrivateKey, signed_heads: SignedHeads | None = None,
        catch_up: bool = False,
    ) -> dict[str, Any] | None:  # fmt: skip
        """Append what is new and sign the tree's head if it grew."""
        self.append_new(catch_up)
        return self.tree.sign_head(private, signed_heads)

    def _key(self, cadre_id: str | None) -> bytes | None:
        return self.keys.key(subject_of(cadre_id)) if cadre_id else None

    def _leaves_of(self, event: dict[str, Any], db: dict) -> list[tuple[dict, dict]]:
        kind, data = event["type"], event["data"]
        if kind == "case_published":
            return [
                self._record(public_record_id(data["publication_id"], decision), db,
                             {"publication_id": data["publication_id"], "decision_id": decision},
                             data["published_on"])
                for decision in data["decision_ids"]
            ]  # fmt: skip
        if kind == "case_appeal_decided" and data["outcome"] in ("revoked", "changed"):
            earlier = self.tree.leaves_where({"private.decision_id": data["decision_id"],
                                              "data.kind": "record"})  # fmt: skip
            ids = dict.fromkeys(leaf["data"]["id"] for leaf in earlier)
            if data["outcome"] == "changed":
                return [self._record(i, db, earlier[0]["private"]) for i in ids]
            return [self._gone("record_withdrawn", i, data["decided_on"], "revoked on appeal")
                    for i in ids]  # fmt: skip
        if kind == "case_publication_withdrawn":
            earlier = self.tree.leaves_where({"private.publication_id": data["publication_id"],
                                              "data.kind": "record"})  # fmt: skip
            return [self._gone("record_withdrawn", i, data["withdrawn_on"], "withdrawn")
                    for i in dict.fromkeys(leaf["data"]["id"] for leaf in earlier)]  # fmt: skip
        if kind == "commendation_published":
            leaf_id = honour_id(event["originator_id"], event["originator_version"])
            document = db["honours"].find_one({"_id": leaf_id})
            private = {"commendation_id": event["originator_id"], "cadre_id": data["cadre_id"]}
            if document is None:  # withdrawn before this round: what the event itself says
                document = {"_id": leaf_id, "published_on": data["published_on"],
                            "cadre_id": data["cadre_id"]}  # fmt: skip
            shown, personal = shown_honour(document)
            return [(make_leaf("honour", leaf_id, shown, personal, self._key(data["cadre_id"])),
                     private)]  # fmt: skip
        if kind == "commendation_publication_withdrawn":
            earlier = self.tree.leaves_where(
                {"private.commendation_id": event["originator_id"], "data.kind": "honour"}
            )
            return [self._gone("honour_withdrawn", i, data["withdrawn_on"], "withdrawn")
                    for i in dict.fromkeys(leaf["data"]["id"] for leaf in earlier)]  # fmt: skip
        return []

    def _record(
        self, record_id: str, db: dict, private: dict, published_on: str | None = None
    ) -> tuple[dict, dict]:
        document = db["records"].find_one({"_id": record_id})
        if document is None:  # withdrawn or revoked before this round appended it
            document = {"_id": record_id, "published_on": published_on}
        shown, personal = shown_record(document)
        private = {
            "publication_id": private.get("publication_id"),
            "decision_id": private.get("decision_id"),
            "cadre_id": document.get("cadre_id"),
        }
        return make_leaf("record", record_id, shown, personal,
                         self._key(document.get("cadre_id"))), private  # fmt: skip

    @staticmethod
    def _gone(kind: str, leaf_id: str, on: str, why: str) -> tuple[dict, dict]:
        return make_leaf(kind, leaf_id, {"on": on, "why": why}, {}, None), {}

    def proof(self, leaf_id: str, honour: bool, since: tuple[int, ...] = ()) -> dict[str, Any]:
        """The proof of a record (or honour) as it is shown now."""
        db = self.projector.live().db
        if honour:
            document = db["honours"].find_one({"_id": leaf_id})
            shown = files.honour(document) if document else None
            return self.tree.proof(leaf_id, HONOUR_KINDS, shown, since)
        document = db["records"].find_one({"_id": leaf_id})
        shown = files.public_record(document) if document else None
        return self.tree.proof(leaf_id, RECORD_KINDS, shown, since)


class TreeHeadPublisher(DependencyProvider):
    """Appends the new leaves and signs the tree's head every ``AUDIT_TREE_SECONDS``
    (default 10) with the checkpoint key (``AUDIT_SIGNING_KEY_FILE``; without one nothing
    is signed), remembering the last head signed in the checkpoint signer's signed-heads
    file. A refusal (the leaves no longer extend the last head) is logged as an error and
    counted in ``youwei_checkpoint_signing_refused_total`` (log ``transparency-tree``)."""

    def setup(self) -> None:
        config = self.container.config
        self.key_file = config.get("AUDIT_SIGNING_KEY_FILE") or os.environ.get(
            "AUDIT_SIGNING_KEY_FILE"
        )
        self.heads_file = config.get("AUDIT_SIGNED_HEADS_FILE") or os.environ.get(
            "AUDIT_SIGNED_HEADS_FILE"
        )
        self.seconds = float(config.get("AUDIT_TREE_SECONDS") or 10)
        self.config = config
        self.stopping = False

    def start(self) -> None:
        if self.key_file:
            self.container.spawn_managed_thread(self._run)

    def _run(self) -> None:
        private = load_private_key(self.key_file)
        heads = (
            SignedHeads(self.heads_file) if self.heads_file else SignedHeads.beside(self.key_file)
        )
        datastore = datastore_from_config(self.config)
        leaves = Leaves(Projector(datastore, PublicRecords()))
        try:
            while not self.stopping:
                try:
                    leaves.publish(private, heads)
                except (TreeProblem, SigningKeyError) as refused:
                    reason = "key" if isinstance(refused, SigningKeyError) else "not_extending"
                    CHECKPOINT_REFUSALS.labels("records", TREE, reason).inc()
                    log.error("tree head refused: %s", refused)
                except Exception:
                    log.exception("publishing the tree head failed")
                time.sleep(self.seconds)
        finally:
            datastore.close()

    def stop(self) -> None:
        self.stopping = True

    def kill(self) -> None:
        self.stopping = True
