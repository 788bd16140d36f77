"""Export the logs for an auditor, and verify an export offline (no database).

An export is a folder:

- ``logs/<log>.jsonl``: every event of the log up to its head, one JSON object per line in
  position order (``position``, ``originator_id`` as ``{"uuid": hex}`` or ``{"str": ...}``,
  ``originator_version``, ``topic``, ``state`` in base64, ``recorded_at`` in milliseconds
  since the Unix epoch, ``prev_hash``, ``hash``): exactly what the hash covers;
- ``checkpoints.jsonl``: the signed checkpoints, by log and position;
- ``keys.json``: the signing keys with their rotations;
- ``manifest.json``: each file's SHA-256 and count, each log's head, and an Ed25519
  signature of the rest of the manifest: by the city's key in service, or by the key of
  whoever exported (an auditor's own, with its ``public_key``), or none (``signature``
  null: an auditor's export, checked against the checkpoints they hold).

So a change to any byte is found: in a log, its digest and the chain fail; in the other
files, their digests; in the manifest, its signature. Everything streams: memory stays flat
however long the logs are. An auditor's export (their own key, or none) writes nothing to
the database.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.database import Database

from events.audit.checkpoints import (
    CHECKPOINTS,
    CheckpointCheck,
    Keys,
    canonical,
    key_id,
    now_iso,
    public_key_from_hex,
    raw_public,
    trust_chain,
    verify_signature,
)
from events.audit.verify import Break, Verdict, check_chain, head_problem, logs, stored_documents
from events.audit.witness import Held
from events.log.chain import recorded_at_millis
from events.log.recorders import HEADS_COLLECTION

FORMAT = "youwei-export-v1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_line(document: dict[str, Any]) -> dict[str, Any]:
    originator = document["originator_id"]
    return {
        "position": document["position"],
        "originator_id": {"uuid": originator.hex} if isinstance(originator, UUID)
        else {"str": originator},
        "originator_version": document["originator_version"],
        "topic": document["topic"],
        "state": base64.b64encode(bytes(document["state"])).decode(),
        "recorded_at": recorded_at_millis(document["recorded_at"]),
        "prev_hash": document["prev_hash"],
        "hash": document["hash"],
    }  # fmt: skip


def event_document(line: dict[str, Any]) -> dict[str, Any]:
    """An exported line back in the stored form the hash covers (a line that has not that
    form gives a document the chain check refuses at its position)."""
    try:
        return _event_document(line)
    except (KeyError, ValueError, TypeError, AttributeError):
        return {"malformed line": line}


def _event_document(line: dict[str, Any]) -> dict[str, Any]:
    originator = line["originator_id"]
    return {
        "position": line["position"],
        "originator_id": UUID(hex=originator["uuid"]) if "uuid" in originator
        else originator["str"],
        "originator_version": line["originator_version"],
        "topic": line["topic"],
        "state": base64.b64decode(line["state"], validate=True),
        "recorded_at": EPOCH + timedelta(milliseconds=line["recorded_at"]),
        "prev_hash": line["prev_hash"],
        "hash": line["hash"],
    }  # fmt: skip


class DigestWriter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("wb")
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, value: Any) -> None:
        line = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        self.file.write(line)
        self.digest.update(line)
        self.count += 1

    def close(self) -> dict[str, Any]:
        self.file.close()
        return {"sha256": self.digest.hexdigest(), "count": self.count}


def export(
    database: Database,
    directory: Path,
    private: Ed25519PrivateKey | None,
    progress: Callable[[int], None] | None = None,
    own: bool = False,
) -> dict[str, Any]:
    """Write every log, the checkpoints and the keys to ``directory``; return the manifest,
    signed by ``private``: the city's key in service (``Keys.ensure``: an unregistered key
    is refused), or, if ``own``, anyone's own key (the manifest then carries its public key;
    nothing is written to the database), or, with None, unsigned."""
    if private is not None and not own:
        Keys(database).ensure(private)
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {"format": FORMAT, "exported_at": now_iso(), "logs": {}}
    for log in logs(database):
        head = database[HEADS_COLLECTION].find_one({"_id": log})
        writer = DigestWriter(directory / "logs" / f"{log}.jsonl")
        for document in stored_documents(database, log, head["position"]):
            writer.write(event_line(document))
            if progress is not None:
                progress(1)
        summary = {"position": head["position"], "hash": head["hash"]}
        manifest["logs"][log] = {"file": f"logs/{log}.jsonl", **writer.close(), "head": summary}
    writer = DigestWriter(directory / "checkpoints.jsonl")
    for checkpoint in (
        database[CHECKPOINTS]
        .find({}, {"_id": 0})
        .sort([("log", 1), ("position", 1), ("signed_at", 1)])
    ):
        writer.write(checkpoint)
    manifest["checkpoints"] = {"file": "checkpoints.jsonl", **writer.close()}
    keys = [{**k, "id": k.pop("_id")} for k in Keys(database).all()]
    (directory / "keys.json").write_text(json.dumps(keys, ensure_ascii=False, indent=1))
    manifest["keys"] = {"file": "keys.json", "sha256": _file_digest(directory / "keys.json")}
    manifest["signature"] = None if private is None else _signature(private, manifest, own)
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


def _signature(private: Ed25519PrivateKey, manifest: dict[str, Any], own: bool) -> dict[str, str]:
    public = private.public_key()
    signature = {"key_id": key_id(public), "signature": private.sign(canonical(manifest)).hex()}
    if own:  # not a city key: the exporter's, which the verifier names with --exporter
        signature["public_key"] = raw_public(public).hex()
    return signature


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ExportProblem(Exception):
    """The export cannot be verified at all (a missing or unreadable file, a bad manifest)."""


def _inside(directory: Path, name: str) -> Path:
    """A file the manifest names, which must lie in the export's folder."""
    path = (directory / name).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise ExportProblem(f"the manifest names {name!r}, outside the export")
    return path


def _lines(path: Path, digest) -> Iterator[dict[str, Any]]:
    try:
        file = path.open("rb")
    except OSError as error:
        raise ExportProblem(f"cannot read {path.name}: {error.strerror}") from None
    with file:
        for number, line in enumerate(file, start=1):
            digest.update(line)
            try:
                yield json.loads(line)
            except ValueError as error:
                raise ExportProblem(f"{path.name} line {number} is not JSON: {error}") from None


def verify_export(
    directory: Path,
    progress: Callable[[int], None] | None = None,
    trust: str | None = None,
    only: tuple[str, ...] = (),
    held: Sequence[Held] = (),
    exporter: str | None = None,
    notes: list[str] | None = None,
) -> tuple[list[str], list[Verdict]]:
    """Problems with the export as a whole (manifest, keys, files), and a verdict per log.

    Keys are trusted from ``trust`` (``trust_chain``; without it, the first key on first
    use, which the notes say, never calling it the city's). The manifest must be signed by
    a trusted key, or by the key ``exporter`` (an auditor's own), or be unsigned and checked
    against what is ``held`` (each thing held is checked). What is worth knowing but not
    wrong goes to ``notes``."""
    notes = notes if notes is not None else []
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        keys = json.loads((directory / "keys.json").read_text())
        registry = [{**k, "_id": k["id"]} for k in keys]
        checkpoints_entry, log_entries = manifest["checkpoints"], dict(manifest["logs"])
    except (OSError, ValueError) as error:
        raise ExportProblem(f"cannot read the export's manifest or keys: {error}") from None
    except (KeyError, TypeError, AttributeError) as error:
        raise ExportProblem(f"the manifest or keys.json lacks {error}") from None
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest format is {manifest.get('format')!r}, not {FORMAT}")
    trusted, key_problems = trust_chain(registry, trust)
    problems += key_problems
    if trust is None:
        notes.append("no key pinned (--trust): the first key is trusted on first use, so "
                     "nothing shows the keys are the city's")  # fmt: skip
    if _file_digest(directory / "keys.json") != manifest.get("keys", {}).get("sha256"):
        problems.append("keys.json differs from the digest in the manifest")
    problems += _signature_problems(manifest, trusted, held, exporter, notes, trust)

    checkpoint_file = _inside(directory, checkpoints_entry["file"])
    digest = hashlib.sha256()
    for _ in _lines(checkpoint_file, digest):
        pass
    if digest.hexdigest() != checkpoints_entry["sha256"]:
        problems.append("checkpoints.jsonl differs from the digest in the manifest")

    verdicts = []
    for log, entry in sorted(log_entries.items()):
        if only and log not in only:
            continue
        head = entry.get("head") if isinstance(entry, dict) else None
        if not (isinstance(head, dict) and head_problem(head) is None and "file" in entry):
            problems.append(f"the manifest's entry for {log} has no file or no valid head")
            continue
        checkpoints = (c for c in _lines(checkpoint_file, hashlib.sha256()) if c["log"] == log)
        digest = hashlib.sha256()
        lines = _lines(_inside(directory, entry["file"]), digest)
        documents = (event_document(line) for line in lines)
        check = CheckpointCheck(checkpoints, trusted)
        witnesses = [one.check(log, "the export's chain") for one in held]
        verdict = check_chain(log, documents, entry["head"], progress, check, witnesses)
        if verdict.ok and digest.hexdigest() != entry["sha256"]:
            problem = Break(0, f"{entry['file']} differs from the digest in the manifest")
            verdict = replace(verdict, first_break=problem)
        verdicts.append(verdict)
    for one in held:
        for log in sorted(one.logs - set(log_entries)):
            if not only or log in only:
                problems.append(f"{one.description} holds log {log}, which the export lacks")
    city_signed = any(note.startswith(MANIFEST_SIGNED) for note in notes)
    if not city_signed and not any(v.checkpoints_checked for v in verdicts):
        notes.append(NOTHING_SIGNED)
    return problems, verdicts


#: A note of ``verify_export``: neither the manifest nor any checkpoint in the export is
#: signed by a trusted key, so nothing vouches for the export, however well it chains.
NOTHING_SIGNED = ("NOT VERIFIED: nothing signed by the pinned key: the manifest is not "
                  "signed by it and no checkpoint in the export is (what you hold vouches "
                  "only for what it held)")  # fmt: skip
MANIFEST_SIGNED = "manifest signed by the trusted key"


def _signature_problems(
    manifest: dict[str, Any],
    trusted: dict[str, Any],
    held: Sequence[Held],
    exporter: str | None,
    notes: list[str],
    trust: str | None,
) -> list[str]:
    """Why the manifest's signature does not vouch for it (and ``manifest`` without it)."""
    signature = manifest.pop("signature", None)
    if not signature:
        if not held:
            return ["the manifest is unsigned: check it against checkpoints you hold (--against)"]
        notes.append("the manifest is unsigned: its events are vouched for by the checkpoints "
                     "in it and by what you hold")  # fmt: skip
        return []
    kid = signature.get("key_id") if isinstance(signature, dict) else None
    if kid in trusted:
        public = trusted[kid].public_key
        if trust is None:
            notes.append(f"{MANIFEST_SIGNED} {kid}, trusted on first use: no key pinned, "
                         "nothing shows it is the city's")  # fmt: skip
        else:
            notes.append(f"{MANIFEST_SIGNED} {kid} (the city's), linked to the pinned key "
                         f"{trust}")  # fmt: skip
    elif kid is not None and kid == exporter and signature.get("public_key"):
        public = signature["public_key"]
        try:
            fingerprint = key_id(public_key_from_hex(public))
        except ValueError:
            fingerprint = None
        if fingerprint != kid:
            return [f"the manifest's signing key is not the key {kid}"]
        notes.append(f"manifest signed by the exporter's key {kid} (yours), not a city key")
    else:
        return [f"the manifest is signed by key {kid}, which is neither trusted nor the "
                "exporter's key given with --exporter"]  # fmt: skip
    if not verify_signature(public, manifest, signature.get("signature", "")):
        return ["the manifest's signature does not verify: the manifest was changed"]
    return []
