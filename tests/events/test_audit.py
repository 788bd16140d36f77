"""Signed checkpoints, key rotation, and exports verified offline (issue 7): a history
rewritten with every hash recomputed is caught by a checkpoint, and a change to any byte of
an export is caught."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pymongo
import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from events.audit.checkpoints import (
    CHECKPOINTS,
    KEYS,
    Keys,
    SigningKeyError,
    key_id,
    load_private_key,
    new_private_key_pem,
    sign_head,
)
from events.audit.export import export, verify_export
from events.audit.verify import verify_log
from events.log.chain import GENESIS_HASH, event_hash
from events.log.recorders import HEADS_COLLECTION
from tests.events.support import fresh_database_name, new_factory
from youwei import stack
from youwei.cli import main

LOG = "audited_events"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(mongodb_uri):
    """A fresh database with one log of 12 events written by the recorder."""
    name = fresh_database_name()
    factory = new_factory(name, name="Audited")
    recorder = factory.application_recorder()
    for n in range(4):
        originator = uuid4()
        states = [b'{"n":%d}' % (n * 10 + v) for v in (1, 2, 3)]
        recorder.insert_events(
            [StoredEvent(originator, v, "tests:Happened", states[v - 1]) for v in (1, 2, 3)]
        )
    client = pymongo.MongoClient(mongodb_uri, uuidRepresentation="standard", tz_aware=True)
    yield client[name]
    client.drop_database(name)
    client.close()
    factory.close()


def append(database, n: int) -> None:
    factory = new_factory(database.name, name="Audited")
    factory.application_recorder().insert_events(
        [StoredEvent(uuid4(), 1, "tests:Happened", b'{"later":%d}' % i) for i in range(n)]
    )
    factory.close()


@pytest.fixture
def key_file(tmp_path) -> Path:
    path = tmp_path / "signing.pem"
    path.write_bytes(new_private_key_pem())
    return path


def rewrite_from(database, position: int, state: bytes) -> None:
    """Change one event and recompute every hash after it, and the head: the chain alone
    accepts the forgery."""
    log = database[LOG]
    log.update_one({"position": position}, {"$set": {"state": state}})
    documents = list(log.find({"position": {"$gte": position}}).sort("position", 1))
    before = log.find_one({"position": position - 1})
    prev_hash = before["hash"] if before else GENESIS_HASH
    for document in documents:
        document["prev_hash"] = prev_hash
        document["hash"] = prev_hash = event_hash(LOG, document, prev_hash)
        chained = {"prev_hash": document["prev_hash"], "hash": document["hash"]}
        log.update_one({"_id": document["_id"]}, {"$set": chained})
    database[HEADS_COLLECTION].update_one({"_id": LOG}, {"$set": {"hash": prev_hash}})


def test_a_rewrite_with_recomputed_hashes_is_caught_by_a_checkpoint(database, key_file) -> None:
    private = load_private_key(key_file)
    signed = sign_head(database, private, LOG)
    assert signed["position"] == 12 and sign_head(database, private, LOG) is None  # once
    append(database, 3)
    sign_head(database, private, LOG)
    clean = verify_log(database, LOG)
    assert clean.ok and clean.checkpoints_checked == 2

    rewrite_from(database, 5, b'{"n":999}')
    verdict = verify_log(database, LOG)
    assert not verdict.ok and verdict.first_break.position == 12
    assert "history was rewritten after it was signed" in verdict.first_break.reason

    database[CHECKPOINTS].delete_many({})  # without them, the chain alone is fooled
    assert verify_log(database, LOG).ok


def test_events_removed_from_the_end_are_caught_by_a_checkpoint(database, key_file) -> None:
    sign_head(database, load_private_key(key_file), LOG)
    database[LOG].delete_many({"position": {"$gt": 9}})
    last = database[LOG].find_one({"position": 9})
    shortened = {"position": 9, "hash": last["hash"]}
    database[HEADS_COLLECTION].update_one({"_id": LOG}, {"$set": shortened})
    verdict = verify_log(database, LOG)
    assert not verdict.ok and verdict.first_break.position == 12
    assert "events were removed" in verdict.first_break.reason


def test_a_forged_or_misattributed_checkpoint_is_caught(database, key_file) -> None:
    signed = sign_head(database, load_private_key(key_file), LOG)
    database[CHECKPOINTS].update_one({}, {"$set": {"hash": "ab" * 32}})
    assert "signature" in verify_log(database, LOG).first_break.reason
    database[CHECKPOINTS].update_one({}, {"$set": {"hash": signed["hash"],
                                                   "key_id": "0123456789abcdef"}})  # fmt: skip
    assert "not a trusted key" in verify_log(database, LOG).first_break.reason


def test_keys_rotate_with_both_signatures_and_a_retired_key_signs_nothing(
    database, key_file, tmp_path
) -> None:
    old = load_private_key(key_file)
    sign_head(database, old, LOG)
    new_file = tmp_path / "new.pem"
    new_file.write_bytes(new_private_key_pem())
    new = load_private_key(new_file)
    with pytest.raises(SigningKeyError, match="rotate"):
        sign_head(database, new, LOG)  # an unregistered key is refused
    rotation = Keys(database).rotate(old, new)
    assert rotation["previous"] != rotation["next"]
    append(database, 2)
    sign_head(database, new, LOG)
    assert verify_log(database, LOG).checkpoints_checked == 2
    with pytest.raises(SigningKeyError, match="retired"):
        sign_head(database, old, LOG)

    database[KEYS].update_one({"_id": rotation["next"]},
                              {"$set": {"rotation.signature_previous": "00" * 64}})  # fmt: skip
    verdict = verify_log(database, LOG)
    assert not verdict.ok and "retiring key's signature" in verdict.first_break.reason


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] = data[offset] ^ 0x01 if chr(data[offset] ^ 0x01).isprintable() else ord("x")
    path.write_bytes(bytes(data))


def failures(directory: Path) -> list[str]:
    from events.audit.export import ExportProblem

    try:
        problems, verdicts = verify_export(directory)
    except ExportProblem as error:
        return [str(error)]
    return problems + [v.first_break.reason for v in verdicts if not v.ok]


def test_an_export_verifies_offline_and_any_changed_byte_fails_it(
    database, key_file, tmp_path
) -> None:
    private = load_private_key(key_file)
    sign_head(database, private, LOG)
    exported = tmp_path / "export"
    manifest = export(database, exported, private)
    assert manifest["logs"][LOG]["count"] == 12 and manifest["checkpoints"]["count"] == 1
    assert failures(exported) == []
    files = [p for p in exported.rglob("*") if p.is_file()]
    assert {p.name for p in files} == {f"{LOG}.jsonl", "checkpoints.jsonl", "keys.json",
                                       "manifest.json"}  # fmt: skip
    for path in files:
        size = path.stat().st_size
        for offset in sorted({0, size // 3, size // 2, size - 2}):
            copy = tmp_path / f"copy-{path.name}-{offset}"
            shutil.copytree(exported, copy)
            flip(copy / path.relative_to(exported), offset)
            assert failures(copy), f"a changed byte at {offset} of {path.name} went unnoticed"


def test_an_export_is_caught_where_its_log_was_changed(database, key_file, tmp_path) -> None:
    private = load_private_key(key_file)
    exported = tmp_path / "export"
    export(database, exported, private)
    log_file = exported / "logs" / f"{LOG}.jsonl"
    lines = log_file.read_text().splitlines()
    event = json.loads(lines[6])
    event["topic"] = "tests:Forged"
    lines[6] = json.dumps(event, separators=(",", ":"))
    log_file.write_text("\n".join(lines) + "\n")
    problems, [verdict] = verify_export(exported)
    assert problems == [] and verdict.first_break.position == 7
    assert "a field was changed" in verdict.first_break.reason


def test_the_audit_commands(database, key_file, tmp_path, mongodb_uri) -> None:
    runner = CliRunner()
    where = ["--uri", mongodb_uri, "--database", database.name]
    key = ["--key-file", str(key_file)]
    signed = runner.invoke(main, ["audit", "checkpoint", *key, *where])
    assert signed.exit_code == 0 and f"{LOG}: signed position 12" in signed.output
    verified = runner.invoke(main, ["audit", "verify", "--unpinned", *where])
    assert verified.exit_code == 0 and "12 events, 1 signed checkpoints" in verified.output
    exported = runner.invoke(main, ["audit", "export", str(tmp_path / "out"), *key, *where])
    assert exported.exit_code == 0, exported.output
    offline = runner.invoke(
        main, ["audit", "verify", "--unpinned", "--from", str(tmp_path / "out")]
    )
    assert offline.exit_code == 0 and f"{LOG}: ok, 12 events" in offline.output
    flip(tmp_path / "out" / "logs" / f"{LOG}.jsonl", 40)
    broken = runner.invoke(main, ["audit", "verify", "--unpinned", "--from", str(tmp_path / "out")])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
    made = runner.invoke(main, ["audit", "keygen", str(tmp_path / "k.pem")])
    assert made.exit_code == 0 and (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    again = runner.invoke(main, ["audit", "keygen", str(tmp_path / "k.pem")])
    assert again.exit_code == 1 and "never overwritten" in again.output
    rotated = runner.invoke(main, ["audit", "rotate-key", "--from", str(key_file),
                                   "--to", str(tmp_path / "k.pem"), *where])  # fmt: skip
    assert rotated.exit_code == 0 and "retired" in rotated.output
    assert runner.invoke(main, ["audit", "verify", "--unpinned", *where]).exit_code == 0


def test_export_signs_with_the_local_stacks_key_by_default(database, key_file, tmp_path,
                                                            mongodb_uri) -> None:  # fmt: skip
    """Without --key-file or AUDIT_SIGNING_KEY_FILE, the key `youwei up` made in the state
    folder signs; with none of them, a usage error says where that key would be."""
    runner = CliRunner()
    state = tmp_path / "state"
    env = {"YOUWEI_STATE_DIR": str(state), "AUDIT_SIGNING_KEY_FILE": None}
    where = ["--uri", mongodb_uri, "--database", database.name]

    def export_to(out: str, **changes):
        return runner.invoke(main, ["audit", "export", str(tmp_path / out), *where],
                             env={**env, **changes})  # fmt: skip

    refused = export_to("none")
    assert refused.exit_code == 2 and "no signing key" in refused.output
    assert str(state / "audit-signing-key.pem") in refused.output.replace("\n", "")
    assert not (tmp_path / "none").exists()

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("YOUWEI_STATE_DIR", str(state))
        local = stack.signing_key()  # as `youwei up` makes it
    exported = export_to("local")
    assert exported.exit_code == 0, exported.output
    assert manifest_key(tmp_path / "local") == key_id(load_private_key(local).public_key())

    # AUDIT_SIGNING_KEY_FILE comes first: its key (not the one in service) is the one refused
    given = export_to("given", AUDIT_SIGNING_KEY_FILE=str(key_file))
    other = key_id(load_private_key(key_file).public_key())
    assert given.exit_code == 1 and f"signing key {other} is not registered" in given.output


def manifest_key(folder: Path) -> str:
    return json.loads((folder / "manifest.json").read_text())["signature"]["key_id"]


def standalone(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "verify-export"), str(folder),
                           "--unpinned"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_the_standard_library_verifier_agrees(database, key_file, tmp_path) -> None:
    """scripts/verify-export (docs/audit.md; hashlib, json, and RFC 8032's Ed25519) passes a
    clean export and fails a changed byte, a rotation and a rewrite caught by a checkpoint."""
    old = load_private_key(key_file)
    sign_head(database, old, LOG)
    new_file = tmp_path / "new.pem"
    new_file.write_bytes(new_private_key_pem())
    Keys(database).rotate(old, load_private_key(new_file))
    append(database, 2)
    sign_head(database, load_private_key(new_file), LOG)
    clean = tmp_path / "clean"
    export(database, clean, load_private_key(new_file))
    result = standalone(clean)
    assert result.returncode == 0 and "14 events read, 2 checkpoints" in result.stdout, result

    changed = tmp_path / "changed"
    shutil.copytree(clean, changed)
    flip(changed / "checkpoints.jsonl", 30)
    assert standalone(changed).returncode == 1

    rewrite_from(database, 3, b'{"n":-1}')
    rewritten = tmp_path / "rewritten"
    export(database, rewritten, load_private_key(new_file))
    result = standalone(rewritten)
    assert result.returncode == 1
    assert f"{LOG}: position 12: differs from a signed checkpoint" in result.stdout


def test_a_rewrite_is_reported_between_the_checkpoints_around_it(database, key_file, tmp_path):
    """Issue 26: a change at 14, rehashed, was reported where the checkpoint at 15 found
    it; now with its range: after 12, the last checkpoint that holds, at or before 15."""
    private = load_private_key(key_file)
    sign_head(database, private, LOG)
    append(database, 3)
    sign_head(database, private, LOG)
    rewrite_from(database, 14, b'{"n":-14}')
    verdict = verify_log(database, LOG)
    assert verdict.first_break.where == "between positions 13 and 15", verdict
    assert "the last checkpoint that holds is at position 12" in verdict.first_break.reason
    where = ["--uri", "mongodb://{}:{}".format(*database.client.address), "--database",
             database.name]  # fmt: skip
    shown = CliRunner().invoke(main, ["audit", "verify", "--unpinned", *where])
    assert shown.exit_code == 1
    assert f"{LOG}: BROKEN between positions 13 and 15: the checkpoint signed" in shown.output
    export(database, tmp_path / "rewritten", private)
    result = standalone(tmp_path / "rewritten")
    assert result.returncode == 1
    assert (f"{LOG}: position 15: differs from a signed checkpoint: history was rewritten "
            "after position 12 (the last signed checkpoint that holds) and at or before 15"
            ) in result.stdout  # fmt: skip
