"""Signed checkpoints: tamper evidence for history rewritten with recomputed hashes.

The hash chain (docs/log-format.md) shows a change to any stored event, unless whoever
changed it recomputed every hash after it. A checkpoint closes that gap: the system signs
each log's head (log, position, hash, time) with an Ed25519 key, and keeps the signatures
apart from the log (``audit_checkpoints``) and in exports and on the public page. A history
rewritten after a checkpoint no longer has the checkpoint's hash at its position.

Keys are recorded in ``audit_keys``: the first key is trusted on first use (an auditor pins
its fingerprint from the public page or an export); each later key is introduced by a
rotation that both the retiring key and the new one sign. A checkpoint counts only if its
key was in service when it was signed.

What is signed is the canonical JSON of the payload (keys sorted, no spaces, UTF-8), so an
auditor can check a signature with any Ed25519 library (docs/audit.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nameko.extensions import DependencyProvider
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from events.mongodb import HEADS_COLLECTION, datastore_from_config
from schemas.events import LOGS

log = logging.getLogger(__name__)
CHECKPOINTS = "audit_checkpoints"
KEYS = "audit_keys"


class SigningKeyError(Exception):
    """A signing key that cannot be used (unregistered, retired, unreadable)."""


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public_key: Ed25519PublicKey) -> str:
    """A key's fingerprint: the first 16 hex digits of SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(raw_public(public_key)).hexdigest()[:16]


def raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_hex(value: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))


def new_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise SigningKeyError(f"cannot read the signing key {path}: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} is not an Ed25519 private key")
    return key


def verify_signature(public_hex: str, payload: dict[str, Any], signature_hex: str) -> bool:
    try:
        public_key_from_hex(public_hex).verify(bytes.fromhex(signature_hex), canonical(payload))
    except (InvalidSignature, ValueError):
        return False
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- the key registry --------------------------------------------------------------------


def rotation_payload(previous: str, following: str, at: str) -> dict[str, str]:
    return {"kind": "youwei-key-rotation-v1", "previous": previous, "next": following, "at": at}


class Keys:
    """``audit_keys``: one document per key (``_id`` its id, ``public_key`` hex, ``since``,
    ``retired_at``), a later key's with the rotation that introduced it."""

    def __init__(self, database: Database) -> None:
        self.keys = database[KEYS]

    def all(self) -> list[dict[str, Any]]:
        return list(self.keys.find({}).sort("since", ASCENDING))

    def current(self) -> dict[str, Any] | None:
        return self.keys.find_one({"retired_at": None})

    def ensure(self, private: Ed25519PrivateKey) -> str:
        """The key's id, registering it if no key is in service yet (trust on first use).
        A key that is neither the one in service nor the first is refused: rotate to it."""
        public = private.public_key()
        kid = key_id(public)
        found = self.keys.find_one({"_id": kid})
        if found is not None:
            if found.get("retired_at") is not None:
                raise SigningKeyError(f"signing key {kid} was retired at {found['retired_at']}")
            return kid
        current = self.current()
        if current is not None:
            raise SigningKeyError(
                f"signing key {kid} is not registered; key {current['_id']} is in service: "
                "rotate to the new key with `youwei audit rotate-key`"
            )
        with contextlib.suppress(DuplicateKeyError):
            self.keys.insert_one(
                {
                    "_id": kid,
                    "public_key": raw_public(public).hex(),
                    "since": now_iso(),
                    "retired_at": None,
                    "rotation": None,
                }
            )
        return self.ensure(private)

    def rotate(self, retiring: Ed25519PrivateKey, new: Ed25519PrivateKey) -> dict[str, Any]:
        """Retire the key in service and put ``new`` in service, both signing the change."""
        old_id, new_id = self.ensure(retiring), key_id(new.public_key())
        at = now_iso()
        payload = rotation_payload(old_id, new_id, at)
        rotation = {
            **payload,
            "signature_previous": retiring.sign(canonical(payload)).hex(),
            "signature_next": new.sign(canonical(payload)).hex(),
        }
        retired = self.keys.update_one(
            {"_id": old_id, "retired_at": None}, {"$set": {"retired_at": at}}
        )
        if retired.modified_count != 1:
            raise SigningKeyError(f"key {old_id} is not in service")
        self.keys.insert_one(
            {
                "_id": new_id,
                "public_key": raw_public(new.public_key()).hex(),
                "since": at,
                "retired_at": None,
                "rotation": rotation,
            }
        )
        return rotation


def key_problems(keys: list[dict[str, Any]]) -> list[str]:
    """What is wrong with a key registry: each key after the first must be introduced by a
    rotation signed by the key it follows and by itself."""
    problems = []
    by_id = {k["_id"]: k for k in keys}
    for key in keys:
        if key.get("public_key") and key_id(public_key_from_hex(key["public_key"])) != key["_id"]:
            problems.append(f"key {key['_id']}: its id is not the fingerprint of its public key")
        rotation = key.get("rotation")
        if rotation is None:
            continue
        previous = by_id.get(rotation["previous"])
        payload = rotation_payload(rotation["previous"], rotation["next"], rotation["at"])
        if previous is None or rotation["next"] != key["_id"]:
            problems.append(f"key {key['_id']}: its rotation names an unknown key")
        elif not verify_signature(previous["public_key"], payload, rotation["signature_previous"]):
            problems.append(f"key {key['_id']}: the retiring key's signature of the rotation fails")
        elif not verify_signature(key["public_key"], payload, rotation["signature_next"]):
            problems.append(f"key {key['_id']}: its own signature of the rotation fails")
    first = [k for k in keys if k.get("rotation") is None]
    if len(first) > 1:
        problems.append(
            f"{len(first)} keys claim to be the first: {', '.join(k['_id'] for k in first)}"
        )
    return problems


# -- checkpoints -------------------------------------------------------------------------


def checkpoint_payload(checkpoint: dict[str, Any]) -> dict[str, Any]:
    fields = ("log", "position", "hash", "signed_at", "key_id")
    return {"kind": "youwei-checkpoint-v1", **{k: checkpoint[k] for k in fields}}


def sign_head(database: Database, private: Ed25519PrivateKey, log_name: str) -> dict | None:
    """Sign the head of ``log_name`` as it stands now, unless it is signed already."""
    kid = Keys(database).ensure(private)
    head = database[HEADS_COLLECTION].find_one({"_id": log_name})
    if head is None or head["position"] == 0:
        return None
    checkpoints = database[CHECKPOINTS]
    if checkpoints.find_one({"log": log_name, "position": head["position"], "key_id": kid}):
        return None
    checkpoint = {
        "log": log_name,
        "position": head["position"],
        "hash": head["hash"],
        "signed_at": now_iso(),
        "key_id": kid,
    }
    checkpoint["signature"] = private.sign(canonical(checkpoint_payload(checkpoint))).hex()
    checkpoints.create_index([("log", ASCENDING), ("position", ASCENDING)])
    checkpoints.insert_one(dict(checkpoint))
    return checkpoint


def checkpoints_of(database: Database, log_name: str) -> Iterator[dict[str, Any]]:
    """A log's checkpoints in position order (streamed)."""
    return (
        database[CHECKPOINTS]
        .find({"log": log_name}, {"_id": 0})
        .sort([("position", ASCENDING), ("signed_at", ASCENDING)])
    )


@dataclass
class CheckpointCheck:
    """Walks a log's checkpoints beside its events (both in position order)."""

    checkpoints: Iterator[dict[str, Any]]
    keys: dict[str, dict[str, Any]]
    checked: int = 0

    def __post_init__(self) -> None:
        self.next = next(self.checkpoints, None)

    def at(self, position: int, stored_hash: str) -> str | None:
        """The problem with the checkpoints at ``position``, or None."""
        while self.next is not None and self.next["position"] <= position:
            checkpoint, self.next = self.next, next(self.checkpoints, None)
            problem = self.signature_problem(checkpoint)
            if (
                problem is None
                and checkpoint["position"] == position
                and (checkpoint["hash"] != stored_hash)
            ):
                problem = (
                    f"the checkpoint signed {checkpoint['signed_at']} by key "
                    f"{checkpoint['key_id']} says hash {checkpoint['hash']}, the log has "
                    f"{stored_hash}: history was rewritten after it was signed"
                )
            if problem is not None:
                return problem
            self.checked += 1
        return None

    def beyond(self, last_position: int) -> tuple[int, str] | None:
        """A checkpoint past the end of the log: events it signed are gone."""
        if self.next is not None and self.next["position"] > last_position:
            return self.next["position"], (
                f"a checkpoint signed {self.next['signed_at']} covers position "
                f"{self.next['position']}, but the log ends at {last_position}: events were removed"
            )
        return None

    def signature_problem(self, checkpoint: dict[str, Any]) -> str | None:
        key = self.keys.get(checkpoint.get("key_id"))
        if key is None:
            return f"a checkpoint is signed by an unknown key {checkpoint.get('key_id')}"
        if not verify_signature(
            key["public_key"], checkpoint_payload(checkpoint), checkpoint.get("signature", "")
        ):
            return f"a checkpoint's signature (key {key['_id']}) does not verify"
        in_service = key["since"] <= checkpoint["signed_at"] and (
            key.get("retired_at") is None or checkpoint["signed_at"] < key["retired_at"]
        )
        if not in_service:
            signed = checkpoint["signed_at"]
            return f"a checkpoint was signed {signed} by key {key['_id']} outside its service"
        return None


# -- signing in a service ----------------------------------------------------------------


class CheckpointSigner(DependencyProvider):
    """Signs its service's log head every ``AUDIT_CHECKPOINT_SECONDS`` (default 300) with
    the key in ``AUDIT_SIGNING_KEY_FILE`` (a PEM file; without one, nothing is signed). Any
    number of replicas may sign: a head is signed once per key."""

    def setup(self) -> None:
        self.log_name = LOGS[self.container.service_name]
        config = self.container.config
        self.key_file = config.get("AUDIT_SIGNING_KEY_FILE") or os.environ.get(
            "AUDIT_SIGNING_KEY_FILE"
        )
        self.seconds = float(config.get("AUDIT_CHECKPOINT_SECONDS") or 300)
        self.config = config
        self.stopping = False

    def start(self) -> None:
        if not self.key_file:
            log.warning("no AUDIT_SIGNING_KEY_FILE: %s's head is not signed", self.log_name)
            return
        self.container.spawn_managed_thread(self._run)

    def _run(self) -> None:
        private = load_private_key(self.key_file)
        datastore = datastore_from_config(self.config)
        try:
            while not self.stopping:
                try:
                    sign_head(datastore.database, private, self.log_name)
                except Exception:
                    log.exception("signing the head of %s failed", self.log_name)
                time.sleep(self.seconds)
        finally:
            datastore.close()

    def stop(self) -> None:
        self.stopping = True

    def kill(self) -> None:
        self.stopping = True
