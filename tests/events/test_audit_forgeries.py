"""Forgeries that whoever holds the database (or an export) can make without the city's
signing key, each caught by both verifiers (``youwei audit verify``, live and ``--from``,
and the standard-library ``scripts/verify-export``) with the position and the reason (issue
20). Keys count only through a chain of rotations from the pinned key; what an auditor
holds (``--against``) catches what the database alone cannot show; the signer refuses a
head that does not extend the last it signed."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from events.audit.checkpoints import (
    CHECKPOINTS,
    KEYS,
    CheckpointRefused,
    CheckpointSigner,
    Keys,
    SignedHeads,
    canonical,
    checkpoint_payload,
    key_id,
    load_private_key,
    new_private_key_pem,
    raw_public,
    rotation_payload,
    sign_head,
)
from events.audit.export import ExportProblem, event_document, export, verify_export
from events.audit.verify import verify_log
from events.audit.witness import load_held
from events.log.chain import GENESIS_HASH, event_hash
from events.log.recorders import HEADS_COLLECTION
from events.runtime.metrics import CHECKPOINT_REFUSALS
from tests.events.test_audit import LOG, ROOT, append, database, key_file, rewrite_from
from youwei.cli import main

__all__ = ["database", "key_file"]  # the fixtures, imported
FORGED_AT = "2026-11-30T00:00:00.000Z"


@pytest.fixture
def city(database, key_file):
    """The city's key, having signed the log at 12 and, after 3 more events, at 15."""
    private = load_private_key(key_file)
    sign_head(database, private, LOG)
    append(database, 3)
    sign_head(database, private, LOG)
    return private


@pytest.fixture
def forger(tmp_path):
    path = tmp_path / "forger.pem"
    path.write_bytes(new_private_key_pem())
    return load_private_key(path)


def kid(private) -> str:
    return key_id(private.public_key())


def forger_key(forger, how: str) -> dict:
    """The forger's key as a registry entry: introduced by a rotation it signs alone, as
    both the key before and itself (``self``), or as a second first key (``first``)."""
    fid = kid(forger)
    rotation = None
    if how == "self":
        payload = rotation_payload(fid, fid, FORGED_AT)
        signature = forger.sign(canonical(payload)).hex()
        rotation = {**payload, "signature_previous": signature, "signature_next": signature}
    return {
        "public_key": raw_public(forger.public_key()).hex(),
        "since": FORGED_AT,
        "retired_at": None,
        "rotation": rotation,
    }


def forged_checkpoint(forger, position: int, hash_: str) -> dict:
    checkpoint = {
        "log": LOG,
        "position": position,
        "hash": hash_,
        "signed_at": FORGED_AT,
        "key_id": kid(forger),
    }
    checkpoint["signature"] = forger.sign(canonical(checkpoint_payload(checkpoint))).hex()
    return checkpoint


# -- verifiers ----------------------------------------------------------------------------


def ours(directory: Path, trust=None, against=None) -> tuple[list[str], list[tuple[int, str]]]:
    """``youwei audit verify --from``: the export's problems and each log's break."""
    held = [load_held(against)] if against else []
    try:
        problems, verdicts = verify_export(directory, trust=trust, held=held)
    except ExportProblem as error:
        return [str(error)], []
    return problems, [(v.first_break.position, v.first_break.reason) for v in verdicts if not v.ok]


def standalone(directory: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify-export"), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == (0 if result.stdout.endswith("clean\n") else 1), result
    return result.stdout


def live(database, trust=None, against=None) -> tuple[int, str] | None:
    held = [load_held(against)] if against else []
    verdict = verify_log(database, LOG, trust=trust, held=held)
    return None if verdict.ok else (verdict.first_break.position, verdict.first_break.reason)


# -- forging an export --------------------------------------------------------------------


def log_file(directory: Path) -> Path:
    return directory / "logs" / f"{LOG}.jsonl"


def read_events(directory: Path) -> list[dict]:
    return [json.loads(line) for line in log_file(directory).read_text().splitlines()]


def rechain(events: list[dict], start: int) -> None:
    """Recompute every hash from ``events[start]`` on."""
    prev_hash = events[start - 1]["hash"] if start else GENESIS_HASH
    for event in events[start:]:
        event["prev_hash"] = prev_hash
        event["hash"] = prev_hash = event_hash(LOG, event_document(event), prev_hash)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite_export(
    directory: Path, events: list[dict], checkpoints=None, keys=None, signer=None
) -> None:
    """Write ``events`` (and ``checkpoints`` and ``keys`` if given), make the manifest agree
    with them, and sign it with ``signer`` (None: unsigned)."""
    lines = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    log_file(directory).write_text(lines)
    if checkpoints is not None:
        text = "".join(json.dumps(c, separators=(",", ":")) + "\n" for c in checkpoints)
        (directory / "checkpoints.jsonl").write_text(text)
    if keys is not None:
        (directory / "keys.json").write_text(json.dumps(keys, indent=1))
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.pop("signature")
    last = events[-1] if events else {"position": 0, "hash": GENESIS_HASH}
    head = {"position": last["position"], "hash": last["hash"]}
    manifest["logs"][LOG].update(sha256=digest(log_file(directory)), count=len(events), head=head)
    manifest["checkpoints"].update(
        sha256=digest(directory / "checkpoints.jsonl"),
        count=len((directory / "checkpoints.jsonl").read_text().splitlines()),
    )
    manifest["keys"]["sha256"] = digest(directory / "keys.json")
    manifest["signature"] = None
    if signer is not None:
        signature = signer.sign(canonical({k: v for k, v in manifest.items() if k != "signature"}))
        manifest["signature"] = {"key_id": kid(signer), "signature": signature.hex()}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))


def city_keys(directory: Path) -> list[dict]:
    return json.loads((directory / "keys.json").read_text())


def resigned(events: list[dict], forger) -> list[dict]:
    return [forged_checkpoint(forger, p, events[p - 1]["hash"]) for p in (12, 15)]


def suffix_rewritten(directory: Path) -> list[dict]:
    events = read_events(directory)
    events[4]["state"] = "eyJuIjo5OTl9"  # {"n":999}: the fifth event made another
    rechain(events, 4)
    return events


def forge_export(kind: str, directory: Path, forger) -> None:
    events = read_events(directory)
    if kind == "field change":
        events[6]["topic"] = "tests:Forged"
        log_file(directory).write_text("".join(json.dumps(e) + "\n" for e in events))
    elif kind == "deletion":
        del events[4]
        log_file(directory).write_text("".join(json.dumps(e) + "\n" for e in events))
    elif kind == "reorder":
        events[2], events[3] = events[3], events[2]
        log_file(directory).write_text("".join(json.dumps(e) + "\n" for e in events))
    elif kind == "truncation":
        kept = [
            c
            for c in map(json.loads, (directory / "checkpoints.jsonl").open())
            if c["position"] <= 9
        ]
        rewrite_export(directory, events[:9], checkpoints=kept)
    elif kind == "suffix rewrite":
        rewrite_export(directory, suffix_rewritten(directory))
    else:
        events = suffix_rewritten(directory)
        entry = {
            **forger_key(forger, "self" if kind == "self-introduced key" else "first"),
            "id": kid(forger),
        }
        keys = [entry] if kind == "keys replaced" else [*city_keys(directory), entry]
        rewrite_export(directory, events, resigned(events, forger), keys, forger)


def truncate(database, last: int) -> None:
    """Remove the events after ``last`` and move the head back to it."""
    database[LOG].delete_many({"position": {"$gt": last}})
    head = {"position": last, "hash": database[LOG].find_one({"position": last})["hash"]}
    database[HEADS_COLLECTION].update_one({"_id": LOG}, {"$set": head})


def forge_database(kind: str, database, forger) -> None:
    log = database[LOG]
    if kind == "field change":
        log.update_one({"position": 7}, {"$set": {"topic": "tests:Forged"}})
    elif kind == "deletion":
        log.delete_one({"position": 5})
    elif kind == "reorder":
        log.update_one({"position": 3}, {"$set": {"position": 1000}})
        log.update_one({"position": 4}, {"$set": {"position": 3}})
        log.update_one({"position": 1000}, {"$set": {"position": 4}})
    elif kind == "truncation":
        truncate(database, 9)
        database[CHECKPOINTS].delete_many({"position": {"$gt": 9}})
    elif kind == "suffix rewrite":
        rewrite_from(database, 5, b'{"n":999}')
    else:
        rewrite_from(database, 5, b'{"n":999}')
        database[CHECKPOINTS].delete_many({})
        if kind == "keys replaced":
            database[KEYS].delete_many({})
        how = "self" if kind == "self-introduced key" else "first"
        database[KEYS].insert_one({"_id": kid(forger), **forger_key(forger, how)})
        hashes = {d["position"]: d["hash"] for d in log.find({"position": {"$in": [12, 15]}})}
        database[CHECKPOINTS].insert_many(
            [forged_checkpoint(forger, p, h) for p, h in sorted(hashes.items())]
        )


FORGERIES = [
    "field change",
    "deletion",
    "reorder",
    "truncation",
    "suffix rewrite",
    "self-introduced key",
    "second first key",
    "keys replaced",
]


def expected(kind: str, city_id: str, forger_id: str) -> dict:
    """What each verifier must say: (position, words of the reason)."""
    untrusted = (12, f"signed by key {forger_id}, which is not a trusted key")
    return {
        "field change": {
            "ours": (7, "a field was changed"),
            "standalone": "position 7: the hash does not match",
        },
        "deletion": {
            "ours": (5, "expected position 5 next, found 6: events are missing"),
            "standalone": "position 5: out of order or not chained",
        },
        "reorder": {
            "ours": (3, "expected position 3 next, found 4"),
            "standalone": "position 3: out of order or not chained",
        },
        "truncation": {
            "ours": (10, "log ends at 9"),
            "standalone": "position 10: held, but the log ends at 9",
        },
        "suffix rewrite": {
            "ours": (12, "history was rewritten after it was signed"),
            "standalone": "position 12: differs from a signed checkpoint",
        },
        "self-introduced key": {
            "ours": untrusted,
            "keys": f"key {forger_id}: its rotation names itself",
            "standalone": f"key {forger_id}: its rotation does not lead from another key",
        },
        "second first key": {
            "ours": untrusted,
            "keys": f"key {forger_id} is not trusted",
            "standalone": f"key {forger_id} is not trusted",
        },
        "keys replaced": {
            "ours": untrusted,
            "keys": f"the trusted key {city_id} is not among the keys",
            "standalone": f"the trusted key {city_id} is not in keys.json",
        },
    }[kind]


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_forged_export_is_caught_by_both_verifiers(kind, database, city, forger, tmp_path):
    clean = tmp_path / "clean"
    export(database, clean, city)
    held = tmp_path / "held-checkpoints.jsonl"  # what the public page showed the auditor
    shutil.copy(clean / "checkpoints.jsonl", held)
    city_id = kid(city)
    assert ours(clean, city_id, held) == ([], [])
    assert standalone(clean, "--trust", city_id, "--against", str(held)).endswith("clean\n")

    forged = tmp_path / "forged"
    shutil.copytree(clean, forged)
    forge_export(kind, forged, forger)
    want = expected(kind, city_id, kid(forger))
    problems, [(position, reason)] = ours(forged, city_id, held)
    assert position == want["ours"][0] and want["ours"][1] in reason, (position, reason)
    if "keys" in want:
        assert any(want["keys"] in p for p in problems), problems
    output = standalone(forged, "--trust", city_id, "--against", str(held))
    assert f"BROKEN: {want['standalone']}" in output or (
        f"BROKEN: {LOG}: {want['standalone']}" in output
    ), output


@pytest.mark.parametrize("kind", FORGERIES)
def test_a_forged_database_is_caught_by_both_verifiers(kind, database, city, forger, tmp_path):
    """Live: ``verify_log`` with the pinned key and, for what the database alone cannot
    show, the auditor's earlier export. Standalone: an export the auditor takes without the
    city's key (unsigned), checked with ``scripts/verify-export`` against the same."""
    held = tmp_path / "held"
    export(database, held, city)
    city_id = kid(city)
    assert live(database, city_id, held) is None
    forge_database(kind, database, forger)
    want = expected(kind, city_id, kid(forger))
    if kind == "reorder":  # the stored positions were swapped: the chain breaks first
        want["ours"] = (3, "but the event before it hashes to")
    if kind == "suffix rewrite":  # its checkpoint alone finds it; the held export exactly
        assert live(database, city_id) == (12, rewritten_reason(live(database, city_id)))
        want["ours"] = (5, "the histories part at position 5")
    found = live(database, city_id, held)
    if "keys" in want:
        assert found[0] == 0 and want["keys"] in found[1], found
    else:
        assert found[0] == want["ours"][0] and want["ours"][1] in found[1], found
    taken = tmp_path / "taken"
    export(database, taken, None)
    output = standalone(taken, "--trust", city_id, "--against", str(held))
    if kind in ("suffix rewrite",):  # the held export parts from it at the rewritten event
        assert f"BROKEN: {LOG}: position 5: differs from the held export" in output, output
    else:
        assert want["standalone"] in output, output


def rewritten_reason(found):
    assert "history was rewritten after it was signed" in found[1], found
    return found[1]


def test_without_a_witness_a_truncation_of_the_database_looks_clean(database, city, forger):
    """Why an auditor keeps checkpoints: the database alone cannot show it."""
    forge_database("truncation", database, forger)
    assert live(database, kid(city)) is None


def test_keys_count_only_through_a_chain_from_the_pinned_key(database, city, tmp_path) -> None:
    runner = CliRunner()
    uri = "mongodb://{}:{}".format(*database.client.address)
    where = ["--uri", uri, "--database", database.name]
    unknown = runner.invoke(main, ["audit", "verify", "--trust", "0000000000000000", *where])
    assert unknown.exit_code == 1
    assert "the trusted key 0000000000000000 is not among the keys" in unknown.stdout
    pinned = runner.invoke(main, ["audit", "verify", "--trust", kid(city), *where])
    assert pinned.exit_code == 0 and "2 signed checkpoints" in pinned.stdout

    new_file = tmp_path / "new.pem"
    new_file.write_bytes(new_private_key_pem())
    new = load_private_key(new_file)
    Keys(database).rotate(city, new)
    append(database, 1)
    sign_head(database, new, LOG)
    for pin in (kid(city), kid(new)):  # a chain runs both ways along signed rotations
        verdict = verify_log(database, LOG, trust=pin)
        assert verdict.ok and verdict.checkpoints_checked == 3, (pin, verdict)
    exported = tmp_path / "rotated"
    export(database, exported, new)
    assert ours(exported, kid(city)) == ([], [])
    assert standalone(exported, "--trust", kid(new)).endswith("clean\n")


def test_against_an_earlier_export_catches_a_rewrite_resigned_with_the_real_key(
    database, city, tmp_path
) -> None:
    """The database's administrator rewrites a suffix, drops the checkpoints and has the
    real key sign the forged head: the database verifies, what the auditor holds does not."""
    held = tmp_path / "2026-06"
    export(database, held, city)
    records_json = tmp_path / "records.json"
    records_json.write_text(
        json.dumps(
            {
                "integrity": {
                    "checkpoints": [
                        json.loads(line) for line in (held / "checkpoints.jsonl").open()
                    ]
                }
            }
        )
    )
    rewrite_from(database, 5, b'{"n":999}')
    database[CHECKPOINTS].delete_many({})
    sign_head(database, city, LOG)
    assert live(database, kid(city)) is None

    position, reason = live(database, kid(city), held)
    assert position == 5 and "the histories part at position 5" in reason
    position, reason = live(database, kid(city), records_json)
    assert position == 12 and "the histories part after position 0, at or before 12" in reason

    runner = CliRunner()
    uri = "mongodb://{}:{}".format(*database.client.address)
    where = ["--uri", uri, "--database", database.name, "--trust", kid(city)]
    caught = runner.invoke(main, ["audit", "verify", "--against", str(held), *where])
    assert caught.exit_code == 1
    assert f"{LOG}: BROKEN at position 5: the export {held}" in caught.stdout
    taken = tmp_path / "taken"
    made = runner.invoke(main, ["audit", "export", str(taken), "--unsigned", "--uri", uri,
                                "--database", database.name])  # fmt: skip
    assert made.exit_code == 0, made.output
    offline = cli("--from", str(taken), "--trust", kid(city), "--against", str(held))
    assert offline.exit_code == 1 and f"{LOG}: BROKEN at position 5" in offline.stdout
    output = standalone(taken, "--trust", kid(city), "--against", str(held))
    assert f"BROKEN: {LOG}: position 5: differs from the held export" in output
    assert f"BROKEN: {LOG}: position 12: a held checkpoint is gone" in output


def test_an_auditors_own_export_needs_no_city_key(database, city, tmp_path) -> None:
    mine = tmp_path / "auditor.pem"
    assert CliRunner().invoke(main, ["audit", "keygen", str(mine)]).exit_code == 0
    auditor = load_private_key(mine)
    before = list(database[KEYS].find())
    exported = tmp_path / "mine"
    manifest = export(database, exported, auditor, own=True)
    assert list(database[KEYS].find()) == before, "exporting writes nothing"
    assert manifest["signature"]["public_key"] == raw_public(auditor.public_key()).hex()
    problems, _ = ours(exported, kid(city))
    assert any("neither trusted nor the exporter's key" in p for p in problems)
    notes: list[str] = []
    assert verify_export(exported, trust=kid(city), exporter=kid(auditor), notes=notes) == (
        [],
        verify_export(exported, trust=kid(city), exporter=kid(auditor))[1],
    )
    assert f"manifest signed by the exporter's key {kid(auditor)} (yours), not a city key" in notes
    assert standalone(exported, "--trust", kid(city), "--exporter", kid(auditor)).endswith(
        "clean\n"
    )
    unsigned = tmp_path / "unsigned"
    export(database, unsigned, None)
    assert any("unsigned" in p for p in ours(unsigned, kid(city))[0])
    assert ours(unsigned, kid(city), exported) == ([], [])
    assert "manifest.json is unsigned" in standalone(unsigned, "--trust", kid(city))


def test_the_signer_refuses_a_head_that_does_not_extend_its_last(
    database, key_file, tmp_path, caplog
) -> None:
    private = load_private_key(key_file)
    heads = SignedHeads(tmp_path / "signed-heads.json")
    assert sign_head(database, private, LOG, heads)["position"] == 12
    assert json.loads(heads.path.read_text())[LOG]["position"] == 12
    append(database, 2)
    assert sign_head(database, private, LOG, heads)["position"] == 14  # an honest append

    rewrite_from(database, 5, b'{"n":999}')
    database[CHECKPOINTS].delete_many({})
    with pytest.raises(CheckpointRefused, match="at position 14 no longer hashes"):
        sign_head(database, private, LOG, heads)
    assert database[CHECKPOINTS].count_documents({}) == 0

    signer = CheckpointSigner()
    signer.service, signer.log_name, signer.signed_heads = "audited", LOG, heads
    refusals = CHECKPOINT_REFUSALS.labels("audited", LOG, "not_extending")
    before = refusals._value.get()
    with caplog.at_level(logging.ERROR, logger="events.audit.checkpoints"):
        assert signer.sign_once(database, private) is None
    assert refusals._value.get() == before + 1
    assert any(
        "checkpoint refused" in r.message and r.levelno == logging.ERROR for r in caplog.records
    )

    truncate(database, 9)
    with pytest.raises(CheckpointRefused, match="before position 14 signed earlier"):
        sign_head(database, private, LOG, heads)


def cli(*args: str, database=None):
    where = []
    if database is not None:
        uri = "mongodb://{}:{}".format(*database.client.address)
        where = ["--uri", uri, "--database", database.name]
    return CliRunner().invoke(main, ["audit", "verify", *args, *where])


def test_a_repeated_against_checks_each_thing_held(database, city, tmp_path) -> None:
    """Issue 26: `--against t2 --against t0` kept only t0, so a checkpoint dropped that
    only t2 held went unseen; each is checked now, and the output says what each held."""
    signed = list(database[CHECKPOINTS].find({}, {"_id": 0}).sort("position", 1))
    t0, t2 = tmp_path / "records-t0.json", tmp_path / "records-t2.json"
    t0.write_text(json.dumps({"integrity": {"checkpoints": signed[:1]}}, default=str))
    t2.write_text(json.dumps({"integrity": {"checkpoints": signed}}, default=str))
    clean = tmp_path / "clean"
    export(database, clean, city)
    forged = tmp_path / "forged"  # the checkpoint at 15 dropped, re-signed with the city's key
    shutil.copytree(clean, forged)
    rewrite_export(forged, read_events(forged), signed[:1], signer=city)
    database[CHECKPOINTS].delete_many({"position": 15})
    held = ["--against", str(t2), "--against", str(t0)]
    for how in (["--from", str(forged)], []):
        assert (
            cli("--trust", kid(city), "--against", str(t0), *how, database=database).exit_code == 0
        )
        for order in (held, [*held[2:], *held[:2]]):
            found = cli("--trust", kid(city), *order, *how, database=database)
            assert found.exit_code == 1, found.output
            assert (
                f"{LOG}: BROKEN at position 15: the held checkpoint at position 15" in found.output
            )
            whose = "the export's" if how else "today's"  # the chain checked, named
            assert f"no longer among {whose} checkpoints" in found.output
            assert f"against the checkpoints held in {t2}: held 2 checkpoints up to" in found.output
            assert f"against the checkpoints held in {t0}: held 1 checkpoints up to" in found.output
    output = standalone(forged, "--trust", kid(city), *held)
    assert f"BROKEN: {LOG}: position 15: a held checkpoint is gone" in output, output
    assert f"checkpoints were dropped ({t2} holds it)" in output
    assert f"against {t2}: held 0 event hashes and 2 checkpoints up to position 15" in output
    assert f"against {t0}: held 0 event hashes and 1 checkpoints up to position 12" in output
    assert standalone(forged, "--trust", kid(city), "--against", str(t0)).endswith("clean\n")


def test_without_a_pinned_key_no_verdict_is_clean_nor_the_key_the_citys(
    database, city, forger, tmp_path
) -> None:
    """Issue 26: an export re-signed with a fresh key passed without --trust, its key
    called the city's. Now it fails unless asked for (--unpinned), and is never called so."""
    forged = tmp_path / "forged"
    export(database, forged, city)
    forge_export("keys replaced", forged, forger)
    forge_database("keys replaced", database, forger)
    for how in (["--from", str(forged)], []):
        refused = cli(*how, database=database)
        assert refused.exit_code == 1 and "NOT VERIFIED: no key pinned" in refused.output
        asked = cli("--unpinned", *how, database=database)
        assert asked.exit_code == 0, asked.output
        assert "(UNPINNED: keys trusted on first use)" in asked.output
        assert "nothing shows the keys are the city's" in asked.output
        assert "city's key" not in refused.output + asked.output
    assert cli("--trust", kid(city), "--from", str(forged)).exit_code == 1
    output = standalone(forged)
    assert "NOT VERIFIED: no key pinned" in output and not output.endswith("clean\n")
    output = standalone(forged, "--unpinned")
    assert "nothing shows the keys are the city's" in output and output.endswith("clean\n")
