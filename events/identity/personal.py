"""Personal data that can be erased from an append-only log (crypto-shredding).

The personal fields of an event (a cadre's name, gender and birth date; a rater's keyed
reference; the references of the public reports a case rests on, under the case's key) are
stored sealed: AES-256-GCM under a key of that person's own, kept outside the logs in
``personal_keys``. Destroying the key erases the person's data from every log,
export and rebuild at once, while the stored bytes — and so the hash chain — stay as they
were. Events name their personal fields in ``PERSONAL_FIELDS`` (topic → field → whose data
it is); everything else about storage is unchanged.

A sealed value is stored as ``{"_type_": "sealed", "_data_": {"subject", "nonce", "ct"}}``
(``subject`` is a SHA-256 of whose data it is, never the person's id or reference); opened
without its key, it reads as ``None``. An erased person keeps a tombstone, so nothing new of
theirs is ever sealed again by mistake. Keys are read on every open (no cache), so an
erasure holds at once in every process.

An erasure is decided, then recorded, then done (``events.log.commands.CommandApplication.erase``):
the keys it will destroy are first marked with the erasure's command record
(``erasing``), from which moment nothing new of those people is sealed; once the erasure is
recorded the marked keys are destroyed. A mark whose command was refused or failed is taken
off again; one left by a process that died between recording and destroying is finished by
the next retry, start or timer round (``pending``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoding
from eventsourcing.utils import get_topic
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

KEYS_COLLECTION = "personal_keys"

#: Topic → personal field → how to name whose data it is, from the event's state:
#: ``originator`` (the aggregate's id: nothing more of an erased one is ever sealed) or
#: ``field:<name>`` (the field's own value, a pseudonym: one who comes back after their
#: erasure gets a new key, and the old data stays unreadable).
PERSONAL_FIELDS: dict[str, dict[str, str]] = {
    "services.cadre_registry.domain:Cadre.Registered": {
        "name": "originator", "gender": "originator", "birth_date": "originator",
    },
    "services.evaluations.domain:CadreRatings.Rated": {"rater_hash": "field:rater_hash"},
    # a public report's reference, under a key of the case (who reported is never published)
    "services.accountability.domain:Case.Opened": {"reports": "originator"},
}  # fmt: skip


class Erased(Exception):
    """The person's data was erased: nothing of theirs may be sealed again."""


@dataclass(frozen=True)
class Sealed:
    subject: str
    nonce: bytes
    ct: bytes


class SealedAsDict(Transcoding):
    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> dict[str, str]:
        return {"subject": obj.subject, "nonce": obj.nonce.hex(), "ct": obj.ct.hex()}

    def decode(self, data: dict[str, str]) -> Sealed:
        return Sealed(data["subject"], bytes.fromhex(data["nonce"]), bytes.fromhex(data["ct"]))


def subject_of(person: str) -> str:
    return hashlib.sha256(f"youwei-person:{person}".encode()).hexdigest()


class PersonalKeys:
    """``personal_keys``: one document per person (``_id`` their subject), holding their key
    until it is erased, then only when it was erased."""

    def __init__(self, database: Database) -> None:
        self.keys = database[KEYS_COLLECTION]

    def key(self, subject: str) -> bytes | None:
        found = self.keys.find_one({"_id": subject})
        return None if found is None else found.get("key")

    def key_to_seal(self, subject: str, renew: bool = False) -> bytes:
        """The subject's key, made on first use. An erased subject's is refused, unless
        ``renew``: then what is sealed from now on has a new key (a rater who rates again).
        A subject being erased (``erasing``) is refused either way."""
        if renew:
            self.keys.update_one({"_id": subject, "key": None},
                                 {"$set": {"key": AESGCM.generate_key(256)},
                                  "$unset": {"erased_at": ""}})  # fmt: skip
        found = self.keys.find_one({"_id": subject})
        if found is None:
            with contextlib.suppress(DuplicateKeyError):
                self.keys.insert_one({"_id": subject, "key": AESGCM.generate_key(256),
                                      "created_at": datetime.now(UTC)})  # fmt: skip
            found = self.keys.find_one({"_id": subject})
        if found.get("key") is None:
            raise Erased(f"the personal data of subject {subject} was erased")
        if found.get("erasing"):
            raise Erased(f"the personal data of subject {subject} is being erased")
        return found["key"]

    def mark(self, persons: Iterable[str], erasure: str) -> list[str]:
        """Mark the live keys of ``persons`` as being erased by ``erasure``
        (``<scope>:<id>``); return the subjects this marked now (none already marked so)."""
        marked = []
        for subject in map(subject_of, persons):
            done = self.keys.update_one(
                {"_id": subject, "key": {"$ne": None}, "erasing": {"$ne": erasure}},
                {"$set": {"erasing": erasure, "erasing_since": datetime.now(UTC)}},
            )
            if done.modified_count:
                marked.append(subject)
        return marked

    def unmark(self, subjects: Iterable[str], erasure: str) -> None:
        """Take ``erasure``'s mark off ``subjects`` (it was not recorded)."""
        self.keys.update_many({"_id": {"$in": list(subjects)}, "erasing": erasure},
                              {"$unset": {"erasing": "", "erasing_since": ""}})  # fmt: skip

    def destroy(self, erasure: str) -> int:
        """Destroy the keys marked by ``erasure`` (recorded), keeping their tombstones;
        return how many."""
        return self.keys.update_many(
            {"erasing": erasure},
            {"$set": {"key": None, "erased_at": datetime.now(UTC)},
             "$unset": {"erasing": "", "erasing_since": ""}},
        ).modified_count  # fmt: skip

    def pending(self, scope: str) -> dict[str, datetime]:
        """The erasures of ``scope`` (``<scope>:<id>``) with keys marked and not yet
        destroyed: erasure → when first marked."""
        self.keys.create_index([("erasing", ASCENDING)])
        found: dict[str, datetime] = {}
        ours = {"erasing": {"$gt": f"{scope}:", "$lt": f"{scope};"}}  # ";" follows ":"
        for document in self.keys.find(ours, {"erasing": True, "erasing_since": True}):
            erasure, since = document["erasing"], document["erasing_since"]
            found[erasure] = min(found.get(erasure, since), since)
        return found

    def finish(
        self, scope: str, recorded: Any, abandoned_after: timedelta = timedelta(hours=1)
    ) -> int:
        """Destroy the keys of every pending erasure of ``scope`` that ``recorded(erasure)``
        says was recorded; take off the marks of one not recorded ``abandoned_after`` it was
        marked (its process died before recording it, and nobody retried). Return the keys
        destroyed."""
        destroyed = 0
        for erasure, since in self.pending(scope).items():
            if recorded(erasure):
                destroyed += self.destroy(erasure)
            elif datetime.now(UTC) - since > abandoned_after:
                self.keys.update_many({"erasing": erasure},
                                      {"$unset": {"erasing": "", "erasing_since": ""}})  # fmt: skip
        return destroyed


class Sealer:
    """Seals and opens the personal fields of event states."""

    def __init__(self, keys: PersonalKeys, transcoder: JSONTranscoder) -> None:
        self.keys = keys
        self.transcoder = transcoder

    def seal(self, topic: str, originator: Any, state: dict[str, Any]) -> dict[str, Any]:
        fields = PERSONAL_FIELDS.get(topic)
        if not fields:
            return state
        sealed = dict(state)
        for field, whose in fields.items():
            value = state.get(field)
            if value is None or isinstance(value, Sealed):
                continue
            person = str(originator) if whose == "originator" else str(state[whose[6:]])
            subject = subject_of(person)
            nonce = os.urandom(12)
            plain = self.transcoder.encode({"v": value})
            key = self.keys.key_to_seal(subject, renew=whose != "originator")
            ct = AESGCM(key).encrypt(nonce, plain, field.encode())
            sealed[field] = Sealed(subject, nonce, ct)
        return sealed

    def open(self, state: dict[str, Any]) -> dict[str, Any]:
        """``state`` with each sealed field opened, or ``None`` where its key is gone."""
        if not any(isinstance(v, Sealed) for v in state.values()):
            return state
        opened = dict(state)
        for field, value in state.items():
            if isinstance(value, Sealed):
                opened[field] = self.open_value(field, value)
        return opened

    def open_value(self, field: str, sealed: Sealed) -> Any:
        key = self.keys.key(sealed.subject)
        if key is None:
            return None
        try:
            plain = AESGCM(key).decrypt(sealed.nonce, sealed.ct, field.encode())
        except InvalidTag:  # sealed under a key since erased and renewed
            return None
        return self.transcoder.decode(plain)["v"]


class PersonalDataMapper(Mapper):
    """eventsourcing's mapper, sealing personal fields on the way to the log and opening
    them on the way back."""

    def __init__(self, transcoder: JSONTranscoder, sealer: Sealer, **kwargs: Any) -> None:
        super().__init__(transcoder, **kwargs)
        self.sealer = sealer

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        """As eventsourcing's, with the personal fields sealed before encoding."""
        topic = get_topic(type(domain_event))
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        stored = self.transcoder.encode(self.sealer.seal(topic, originator_id, state))
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(originator_id, originator_version, topic, stored)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        domain_event = super().to_domain_event(stored_event)
        if stored_event.topic in PERSONAL_FIELDS:
            opened = self.sealer.open(vars(domain_event))
            object.__setattr__(domain_event, "__dict__", opened)
        return domain_event
