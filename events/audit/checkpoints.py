"""Signed checkpoints: tamper evidence for history rewritten with recomputed hashes.

The hash chain (docs/log-format.md) shows a change to any stored event, unless whoever
changed it recomputed every hash after it. A checkpoint closes that gap: the system signs
each log's head (log, position, hash, time) with an Ed25519 key, and keeps the signatures
apart from the log (``audit_checkpoints``) and in exports and on the public page. A history
rewritten after a checkpoint no longer has the checkpoint's hash at its position.

Keys are recorded in ``audit_keys``: the first key is registered on first use (an auditor
pins its fingerprint from a source the database's administrator does not control: the city's
audit office, a copy of the public page kept earlier); each later key is introduced by a
rotation that both the retiring key and the new one sign. A checkpoint counts only if its
key was in service when it was signed.

What is signed is the canonical JSON of the payload (keys sorted, no spaces, UTF-8), so an
auditor can check a signature with any Ed25519 library (docs/audit.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from collections import defaultdict
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

from events.log.chain import event_hash
from events.log.datastore import datastore_from_config
from events.log.recorders import HEADS_COLLECTION
from events.runtime.metrics import CHECKPOINT_REFUSALS
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
        A key that is neither the one in service nor the first is refused: rotate to it.

        Every service signs with the same key and registers it at start-up: another signer
        may register it between this one's reads, so the registry is read again for the key
        before it is refused."""
        public = private.public_key()
        kid = key_id(public)
        found = self.keys.find_one({"_id": kid})
        if found is None:
            current = self.current()
            if current is None:
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
            found = self.keys.find_one({"_id": kid})
            if found is None:
                in_service = self.current()
                other = in_service["_id"] if in_service else "none"
                raise SigningKeyError(
                    f"signing key {kid} is not registered; the key in service is {other}: "
                    f"put {kid} in service with `youwei audit rotate-key`"
                )
        if found.get("retired_at") is not None:
            raise SigningKeyError(f"signing key {kid} was retired at {found['retired_at']}")
        return kid

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


@dataclass(frozen=True)
class TrustedKey:
    """A key reached from the pinned one, with the service the rotations signed for it:
    from the rotation that introduced it (its ``since`` for the first key) to the rotation
    that retired it (``until`` None: still in service)."""

    id: str
    public_key: str
    since: str
    until: str | None


def trust_chain(
    keys: list[dict[str, Any]], pin: str | None
) -> tuple[dict[str, TrustedKey], list[str]]:
    """The keys trusted from ``pin`` and the problems that name every other key.

    A rotation links two keys only if it names them as ``previous`` and ``next`` (two
    different keys) and both sign it; trust runs along such links from the pinned key, both
    ways. Without a pin, the one key that no rotation introduced is pinned (trust on first
    use). A key that no link reaches (a self-introduced key, a second "first" key, a key
    added beside the chain) is a problem, and so is a key rotated to two keys."""
    problems: list[str] = []
    by_id: dict[str, dict[str, Any]] = {}
    for key in keys:
        try:
            fingerprint = key_id(public_key_from_hex(key["public_key"]))
        except (KeyError, TypeError, ValueError):
            fingerprint = None
        if fingerprint != key.get("_id"):
            problems.append(
                f"key {key.get('_id')}: its id is not the fingerprint of its public key"
            )
        else:
            by_id[key["_id"]] = key
    introduced: dict[str, tuple[str, str]] = {}  # key → (previous, at)
    successors: dict[str, list[tuple[str, str]]] = {}
    for kid, key in by_id.items():
        rotation = key.get("rotation")
        if not rotation:
            continue
        try:
            previous, at = rotation["previous"], rotation["at"]
            payload = rotation_payload(previous, rotation["next"], at)
            signatures = rotation["signature_previous"], rotation["signature_next"]
        except (KeyError, TypeError):
            problems.append(f"key {kid}: its rotation is incomplete")
            continue
        if rotation["next"] != kid:
            problems.append(f"key {kid}: its rotation introduces {rotation['next']}, not it")
        elif previous == kid:
            problems.append(f"key {kid}: its rotation names itself as the key before it")
        elif previous not in by_id:
            problems.append(f"key {kid}: its rotation names an unknown key {previous}")
        elif not verify_signature(by_id[previous]["public_key"], payload, signatures[0]):
            problems.append(f"key {kid}: the retiring key's signature of the rotation fails")
        elif not verify_signature(key["public_key"], payload, signatures[1]):
            problems.append(f"key {kid}: its own signature of the rotation fails")
        else:
            introduced[kid] = (previous, at)
            successors.setdefault(previous, []).append((kid, at))
    first = sorted(kid for kid, key in by_id.items() if not key.get("rotation"))
    if pin is None:
        if len(first) > 1:
            problems.append(f"{len(first)} keys claim to be the first: {', '.join(first)}")
        start = first[0] if len(first) == 1 else None
    elif pin not in by_id:
        problems.append(f"the trusted key {pin} is not among the keys")
        start = None
    else:
        start = pin
    reached, todo = set(), [start] if start else []
    while todo:
        kid = todo.pop()
        if kid in reached:
            continue
        reached.add(kid)
        todo += [k for k, _ in successors.get(kid, [])]
        if kid in introduced:
            todo.append(introduced[kid][0])
    trusted = {}
    for kid in sorted(reached):
        following = successors.get(kid, [])
        if len(following) > 1:
            names = ", ".join(sorted(k for k, _ in following))
            problems.append(f"key {kid} was rotated to {len(following)} keys: {names}")
        since = introduced[kid][1] if kid in introduced else by_id[kid].get("since") or ""
        until = following[0][1] if following else by_id[kid].get("retired_at")
        trusted[kid] = TrustedKey(kid, by_id[kid]["public_key"], since, until)
    for kid in sorted(set(by_id) - reached):
        how = f"from the pinned key {start}" if start else "(no key to start from)"
        problems.append(
            f"key {kid} is not trusted: no rotation signed by a trusted key and by it leads "
            f"to it {how}"
        )
    return trusted, problems


def key_problems(keys: list[dict[str, Any]], pin: str | None = None) -> list[str]:
    """What is wrong with a key registry, trusted from ``pin`` (``trust_chain``)."""
    return trust_chain(keys, pin)[1]


# -- checkpoints -------------------------------------------------------------------------


def checkpoint_payload(checkpoint: dict[str, Any]) -> dict[str, Any]:
    fields = ("log", "position", "hash", "signed_at", "key_id")
    return {"kind": "youwei-checkpoint-v1", **{k: checkpoint[k] for k in fields}}


class CheckpointRefused(SigningKeyError):
    """The head does not extend the last checkpoint this signer signed."""


_PATH_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
"""One lock per signed-heads file, for the signers of this process."""


class SignedHeads:
    """The last head a signer signed, per log, kept in a file outside the database (by
    default beside the key file: ``<key file>.signed-heads.json``), so that whoever can
    rewrite the database cannot make the signer forget what it vouched for. A lock file
    beside it serialises signers that share it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @classmethod
    def beside(cls, key_file: str | Path) -> SignedHeads | None:
        """The file beside ``key_file``, or None (with a warning) where that folder cannot
        be written, such as a read-only secret mount: set ``AUDIT_SIGNED_HEADS_FILE``."""
        heads = cls(f"{key_file}.signed-heads.json")
        if os.access(heads.path.parent, os.W_OK):
            return heads
        log.warning(
            "cannot keep the signed heads beside %s (not writable): heads are signed without "
            "checking that they extend the last one; set AUDIT_SIGNED_HEADS_FILE",
            key_file,
        )
        return None

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The heads, for this signer alone: within the process through a lock of the path's
        own (green under eventlet, where several services' signers share a process and a
        blocking ``flock`` would stop them all), across processes through ``flock``, asked
        without blocking and again after a pause."""
        with _PATH_LOCKS[str(self.path.resolve())], open(f"{self.path}.lock", "a") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.05)
            try:
                heads = json.loads(self.path.read_text()) if self.path.exists() else {}
            except (OSError, ValueError) as error:
                raise SigningKeyError(f"cannot read {self.path}: {error}") from error
            before = dict(heads)
            yield heads
            if heads != before:
                temporary = self.path.with_name(self.path.name + ".tmp")
                temporary.write_text(json.dumps(heads, indent=1, sort_keys=True))
                os.replace(temporary, self.path)


def extension_problem(
    database: Database, log_name: str, last: dict[str, Any], head: dict[str, Any]
) -> str | None:
    """Why ``head`` does not extend ``last`` (a head signed before): the event at the last
    signed position must still hash to what was signed, and every event after it up to the
    head must chain on from it."""
    position = last["position"]
    if head["position"] < position:
        return (f"the head is at position {head['position']}, before position {position} "
                "signed earlier: events were removed")  # fmt: skip
    previous = last["hash"]
    documents = (
        database[log_name]
        .find({"position": {"$gte": position, "$lte": head["position"]}})
        .sort("position", ASCENDING)
    )
    expected = position
    for document in documents:
        if document["position"] != expected:
            return f"position {expected} is missing"
        if expected == position:
            stored = document.get("hash")
            recomputed = event_hash(log_name, document, document["prev_hash"])
            if stored != previous or recomputed != stored:
                return (f"the event at position {position} no longer hashes to {previous}, "
                        "signed earlier: history was rewritten")  # fmt: skip
        elif document["prev_hash"] != previous or (
            event_hash(log_name, document, previous) != document["hash"]
        ):
            return f"position {expected} does not chain on from the events signed earlier"
        previous, expected = document["hash"], expected + 1
    if expected != head["position"] + 1 or previous != head["hash"]:
        return f"the events end at {expected - 1} with hash {previous}, not at the head"
    return None


def unsigned_event_age(database: Database, log_name: str, now: float) -> float:
    """Seconds since the oldest event of a log that no signed checkpoint covers was appended;
    0 when the latest checkpoint covers the head (an empty log has nothing to sign)."""
    latest = database[CHECKPOINTS].find_one(
        {"log": log_name}, {"position": True}, sort=[("position", -1)]
    )
    covered = latest["position"] if latest is not None else 0
    oldest = database[log_name].find_one(
        {"position": {"$gt": covered}}, {"recorded_at": True}, sort=[("position", ASCENDING)]
    )
    if oldest is None:
        return 0.0
    recorded_at = oldest["recorded_at"]
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return max(0.0, now - recorded_at.timestamp())


def sign_head(
    database: Database,
    private: Ed25519PrivateKey,
    log_name: str,
    signed_heads: SignedHeads | None = None,
) -> dict | None:
    """Sign the head of ``log_name`` as it stands now, unless it is signed already. With
    ``signed_heads``, refuse (``CheckpointRefused``) a head that does not extend the last
    one signed, and remember the head signed."""
    kid = Keys(database).ensure(private)
    head = database[HEADS_COLLECTION].find_one({"_id": log_name})
    if head is None or head["position"] == 0:
        return None
    with contextlib.ExitStack() as stack:
        heads = stack.enter_context(signed_heads.locked()) if signed_heads else {}
        last = heads.get(log_name)
        if last is not None:
            problem = extension_problem(database, log_name, last, head)
            if problem is not None:
                raise CheckpointRefused(
                    f"refusing to sign {log_name} at position {head['position']} "
                    f"{head['hash']}: {problem}"
                )
        checkpoints = database[CHECKPOINTS]
        if checkpoints.find_one({"log": log_name, "position": head["position"], "key_id": kid}):
            heads[log_name] = {"position": head["position"], "hash": head["hash"]}
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
        heads[log_name] = {"position": head["position"], "hash": head["hash"],
                           "signed_at": checkpoint["signed_at"], "key_id": kid}  # fmt: skip
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
    """Walks a log's checkpoints beside its events (both in position order); ``keys`` are
    the trusted ones (``trust_chain``). Remembers each checkpoint's signature, for a
    witness to find the checkpoints it holds, and the last position a checkpoint vouched
    for (``agreed``): a rewrite found by a later checkpoint lies after it."""

    checkpoints: Iterator[dict[str, Any]]
    keys: dict[str, TrustedKey]
    checked: int = 0
    agreed: int = 0
    parted_after: int | None = None  # set with a rewrite's problem: it lies after this

    def __post_init__(self) -> None:
        self.next = next(self.checkpoints, None)
        self.signatures: set[str] = set()

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
                self.parted_after = self.agreed
                holds = (f"the last checkpoint that holds is at position {self.agreed}"
                         if self.agreed else "no checkpoint before it holds")  # fmt: skip
                problem = (
                    f"the checkpoint signed {checkpoint['signed_at']} by key "
                    f"{checkpoint['key_id']} says hash {checkpoint['hash']}, the log has "
                    f"{stored_hash}: history was rewritten after it was signed, after "
                    f"position {self.agreed} and at or before {position} ({holds}, the "
                    f"first that does not at {position})"
                )
            if problem is not None:
                return problem
            self.signatures.add(checkpoint["signature"])
            self.checked += 1
            self.agreed = max(self.agreed, checkpoint["position"])
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
            return (f"a checkpoint is signed by key {checkpoint.get('key_id')}, which is not "
                    "a trusted key")  # fmt: skip
        if not verify_signature(
            key.public_key, checkpoint_payload(checkpoint), checkpoint.get("signature", "")
        ):
            return f"a checkpoint's signature (key {key.id}) does not verify"
        signed = checkpoint["signed_at"]
        if not (key.since <= signed and (key.until is None or signed < key.until)):
            return f"a checkpoint was signed {signed} by key {key.id} outside its service"
        return None


# -- signing in a service ----------------------------------------------------------------


class CheckpointSigner(DependencyProvider):
    """Signs its service's log head every ``AUDIT_CHECKPOINT_SECONDS`` (default 300) with
    the key in ``AUDIT_SIGNING_KEY_FILE`` (a PEM file; without one, nothing is signed). Any
    number of replicas may sign: a head is signed once per key.

    It refuses a head that does not extend the last one it signed, as kept in
    ``AUDIT_SIGNED_HEADS_FILE`` (default: beside the key file, ``SignedHeads``): each
    refusal is logged as an error and counted in ``youwei_checkpoint_signing_refused_total``
    (reason ``not_extending``; ``key`` for an unregistered or retired key)."""

    def setup(self) -> None:
        self.service = self.container.service_name
        self.log_name = LOGS[self.service]
        config = self.container.config
        self.key_file = config.get("AUDIT_SIGNING_KEY_FILE") or os.environ.get(
            "AUDIT_SIGNING_KEY_FILE"
        )
        self.seconds = float(config.get("AUDIT_CHECKPOINT_SECONDS") or 300)
        heads_file = config.get("AUDIT_SIGNED_HEADS_FILE") or os.environ.get(
            "AUDIT_SIGNED_HEADS_FILE"
        )
        self.heads_file = heads_file
        self.config = config
        self.stopping = False

    def start(self) -> None:
        if not self.key_file:
            log.warning("no AUDIT_SIGNING_KEY_FILE: %s's head is not signed", self.log_name)
            return
        self.container.spawn_managed_thread(self._run)

    def _run(self) -> None:
        private = load_private_key(self.key_file)
        self.signed_heads = (
            SignedHeads(self.heads_file) if self.heads_file else SignedHeads.beside(self.key_file)
        )
        datastore = datastore_from_config(self.config)
        try:
            while not self.stopping:
                self.sign_once(datastore.database, private)
                time.sleep(self.seconds)
        finally:
            datastore.close()

    signed_heads: SignedHeads | None = None

    def sign_once(self, database: Database, private: Ed25519PrivateKey) -> dict | None:
        """Sign the head now; a refusal (``youwei_checkpoint_signing_refused_total``) is
        counted and logged as an error, never raised."""
        try:
            return sign_head(database, private, self.log_name, self.signed_heads)
        except SigningKeyError as refused:
            reason = "not_extending" if isinstance(refused, CheckpointRefused) else "key"
            CHECKPOINT_REFUSALS.labels(self.service, self.log_name, reason).inc()
            log.error("checkpoint refused: %s", refused)
        except Exception:
            log.exception("signing the head of %s failed", self.log_name)
        return None

    def stop(self) -> None:
        self.stopping = True

    def kill(self) -> None:
        self.stopping = True
