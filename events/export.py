"""Export the logs for an auditor, and verify an export offline (no database).

An export is a folder:

- ``logs/<log>.jsonl``: every event of the log up to its head, one JSON object per line in
  position order (``position``, ``originator_id`` as ``{"uuid": hex}`` or ``{"str": ...}``,
  ``originator_version``, ``topic``, ``state`` in base64, ``recorded_at`` in milliseconds
  since the Unix epoch, ``prev_hash``, ``hash``): exactly what the hash covers;
- ``checkpoints.jsonl``: the signed checkpoints, by log and position;
- ``keys.json``: the signing keys with their rotations;
- ``manifest.json``: each file's SHA-256 and count, each log's head, and an Ed25519
  signature of the rest of the manifest by the key in service.

So a change to any byte is found: in a log, its digest and the chain fail; in the other
files, their digests; in the manifest, its signature. Everything streams: memory stays flat
however long the logs are.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.database import Database

from events.checkpoints import (
    CHECKPOINTS,
    CheckpointCheck,
    Keys,
    canonical,
    key_problems,
    now_iso,
    verify_signature,
)
from events.logformat import recorded_at_millis
from events.mongodb import HEADS_COLLECTION
from events.verify import Break, Verdict, check_chain, logs, stored_documents

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
    private: Ed25519PrivateKey,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write every log, the checkpoints and the keys to ``directory``; return the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    signer = Keys(database).ensure(private)
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
    manifest["signature"] = {"key_id": signer,
                             "signature": private.sign(canonical(manifest)).hex()}  # fmt: skip
    (directory / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest


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
) -> tuple[list[str], list[Verdict]]:
    """Problems with the export as a whole (manifest, keys, files), and a verdict per log."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        keys = json.loads((directory / "keys.json").read_text())
    except (OSError, ValueError) as error:
        raise ExportProblem(f"cannot read the export's manifest or keys: {error}") from None
    problems = []
    if manifest.get("format") != FORMAT:
        problems.append(f"manifest format is {manifest.get('format')!r}, not {FORMAT}")
    try:
        registry = [{**k, "_id": k["id"]} for k in keys]
        by_id = {k["_id"]: k for k in registry}
        problems += key_problems(registry)
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise ExportProblem(f"keys.json is not a list of keys: {error!r}") from None
    if _file_digest(directory / "keys.json") != manifest.get("keys", {}).get("sha256"):
        problems.append("keys.json differs from the digest in the manifest")
    signature = manifest.pop("signature", None) or {}
    signer = by_id.get(signature.get("key_id"))
    if signer is None or not verify_signature(
        signer["public_key"], manifest, signature.get("signature", "")
    ):
        problems.append("the manifest's signature does not verify: the manifest was changed")
    if trust is not None and trust not in by_id:
        problems.append(f"the trusted key {trust} is not among the export's keys")
    if problems:  # a manifest that may have been changed names nothing worth reading
        return problems, []
    checkpoint_file = _inside(directory, manifest["checkpoints"]["file"])
    digest = hashlib.sha256()
    for _ in _lines(checkpoint_file, digest):
        pass
    if digest.hexdigest() != manifest["checkpoints"]["sha256"]:
        problems.append("checkpoints.jsonl differs from the digest in the manifest")

    verdicts = []
    for log, entry in sorted(manifest.get("logs", {}).items()):
        if only and log not in only:
            continue
        checkpoints = (c for c in _lines(checkpoint_file, hashlib.sha256()) if c["log"] == log)
        digest = hashlib.sha256()
        lines = _lines(_inside(directory, entry["file"]), digest)
        documents = (event_document(line) for line in lines)
        check = CheckpointCheck(checkpoints, by_id)
        verdict = check_chain(log, documents, entry["head"], progress, check)
        if verdict.ok and digest.hexdigest() != entry["sha256"]:
            verdict = Verdict(log, verdict.events_checked, verdict.head_position,
                              verdict.head_hash, Break(0, f"{entry['file']} differs from the "
                                                          "digest in the manifest"))  # fmt: skip
        verdicts.append(verdict)
    return problems, verdicts
