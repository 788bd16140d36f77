"""Back up and restore without bringing erased people back (docs/operations.md).

A dump holds ``personal_keys`` as they were when it was taken: every person erased since
still has a key in it. So erasures are also kept apart from the dumps, in the **erasure
ledger**: the collection ``erasures`` of its own database (``ERASURE_LEDGER_DATABASE``,
default ``<database>_erasures``; ``ERASURE_LEDGER_URI`` puts it on another server), which
no restore overwrites. An entry is a person's subject (a SHA-256, never who they are) and
when their key was destroyed; ``sync_ledger`` copies every tombstone of ``personal_keys``
into it (the ``youwei-erasure-ledger`` CronJob every five minutes, every backup, and a
restore before it drops anything).

A restore then re-applies every erasure the ledger holds from shortly before the dump was
taken (``margin``: clocks and a dump that takes a while), destroying those keys again:
entries older than that are in the dump already (as a tombstone, or as the new key of a
rater who came back after their erasure, which must stay). The audit key registry
(``audit_keys``, public keys and signed rotations only) is carried over from the database
being replaced, so that a key introduced after the dump is still known and signing goes on.
Then ``youwei db init``, the projections rebuilt from the logs, and ``youwei audit verify``.

Production dumps with ``mongodump --oplog`` (the backup CronJob) and loads with
``mongorestore``; ``dump`` and ``load`` here do the same for the local stack and the
restore drill, where there are no MongoDB tools (SecantusDB): a BSON file per collection,
read and written with pymongo, consistent only while nothing writes (stop the services).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bson
import click
from bson.codec_options import CodecOptions
from pymongo import MongoClient, ReplaceOne
from pymongo.database import Database

from events.audit.checkpoints import KEYS
from events.identity.personal import KEYS_COLLECTION
from youwei.audit import connect, database_options

LEDGER_COLLECTION = "erasures"
MANIFEST = "manifest.json"
KEYS_FILE = "audit_keys.json"
CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)


class BackupError(Exception):
    """A dump or a restore that cannot go on; nothing after the failed step was done."""


def ledger_database(database: Database) -> Database:
    """The erasure ledger's database: never the one a dump restores."""
    name = os.environ.get("ERASURE_LEDGER_DATABASE") or f"{database.name}_erasures"
    if name == database.name:
        raise BackupError(f"ERASURE_LEDGER_DATABASE must not be the database itself ({name})")
    uri = os.environ.get("ERASURE_LEDGER_URI")
    client = MongoClient(uri, tz_aware=True) if uri else database.client
    return client.get_database(name, codec_options=CODEC)


def sync_ledger(database: Database, ledger: Database) -> int:
    """Copy each tombstone of ``personal_keys`` into the ledger; return how many entries
    are new or newer (a rater erased again after coming back)."""
    now = datetime.now(UTC)
    requests = [
        ReplaceOne(
            {"_id": tombstone["_id"], "erased_at": {"$lt": erased_at}},
            {"erased_at": erased_at, "recorded_at": now},
            upsert=True,
        )
        for tombstone in database[KEYS_COLLECTION].find({"key": None}, {"erased_at": True})
        for erased_at in [_aware(tombstone.get("erased_at") or now)]
    ]
    if not requests:
        return 0
    from pymongo.errors import BulkWriteError

    try:
        result = ledger[LEDGER_COLLECTION].bulk_write(requests, ordered=False)
        return result.upserted_count + result.modified_count
    except BulkWriteError as error:  # an entry already as new: its upsert found a duplicate
        duplicates = [e for e in error.details["writeErrors"] if e["code"] == 11000]
        if len(duplicates) != len(error.details["writeErrors"]):
            raise
        return error.details["nUpserted"] + error.details["nModified"]


def ledger_entries(ledger: Database, since: datetime) -> list[dict[str, Any]]:
    return list(ledger[LEDGER_COLLECTION].find({"erased_at": {"$gte": since}}).sort("erased_at"))


def reapply(database: Database, ledger: Database, since: datetime) -> list[str]:
    """Destroy again each key the ledger says was destroyed at ``since`` or later; return
    the subjects whose key the database still held."""
    keys = database[KEYS_COLLECTION]
    erased = []
    for entry in ledger_entries(ledger, since):
        before = keys.find_one_and_update(
            {"_id": entry["_id"]},
            {"$set": {"key": None, "erased_at": entry["erased_at"]}},
            upsert=True,
        )
        if before and before.get("key") is not None:
            erased.append(entry["_id"])
    return erased


# -- the local dump (production: mongodump / mongorestore) -------------------------------


def dump(database: Database, directory: Path) -> dict[str, Any]:
    """Every collection of ``database`` into ``directory`` (one BSON file each) and a
    manifest saying when; the erasure ledger is synced first."""
    directory.mkdir(parents=True, exist_ok=False)
    sync_ledger(database, ledger_database(database))
    started = datetime.now(UTC)
    counts = {}
    for name in sorted(database.list_collection_names()):
        if name.startswith("system."):
            continue
        count = 0
        with open(directory / f"{name}.bson", "wb") as out:
            for document in database.get_collection(name, codec_options=CODEC).find_raw_batches():
                out.write(document)
        with open(directory / f"{name}.bson", "rb") as back:
            count = sum(1 for _ in bson.decode_file_iter(back))
        counts[name] = count
    manifest = {
        "database": database.name,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "collections": counts,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        datetime.fromisoformat(manifest["started_at"])
        manifest["collections"].items()
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:
        raise BackupError(f"{directory}: not a dump of youwei backup ({error})") from error
    return manifest


def load(database: Database, directory: Path) -> dict[str, Any]:
    """Replace every collection of ``database`` with the dump's (the ledger is elsewhere
    and untouched)."""
    manifest = read_manifest(directory)
    for name in database.list_collection_names():
        if not name.startswith("system."):
            database.drop_collection(name)
    for name in manifest["collections"]:
        with open(directory / f"{name}.bson", "rb") as source:
            documents = list(bson.decode_file_iter(source, codec_options=CODEC))
        collection = database[name]
        database.create_collection(name)
        for start in range(0, len(documents), 1000):
            collection.insert_many(documents[start : start + 1000], ordered=True)
    return manifest


# -- a restore, step by step -------------------------------------------------------------


def save_before_restore(database: Database, directory: Path) -> dict[str, int]:
    """Before anything is dropped: the live tombstones into the ledger, and the live audit
    key registry into ``directory``. The database may be gone (a lost cluster): then
    nothing is saved from it and the ledger is all there is."""
    directory.mkdir(parents=True, exist_ok=True)
    synced = sync_ledger(database, ledger_database(database))
    keys = list(database[KEYS].find({}))
    (directory / KEYS_FILE).write_text(json.dumps(keys, default=str, indent=2) + "\n")
    return {"ledger_entries_synced": synced, "audit_keys_saved": len(keys)}


def carry_audit_keys(database: Database, keys: Iterable[dict[str, Any]]) -> int:
    """The key registry as it stood before the restore: it only grows (a key is added by a
    rotation both keys sign, and retired once), so the newer one holds the older."""
    requests = [ReplaceOne({"_id": key["_id"]}, key, upsert=True) for key in keys]
    if requests:
        database[KEYS].bulk_write(requests)
    return len(requests)


@dataclass
class Restored:
    dumped_at: datetime
    reerased: list[str] = field(default_factory=list)
    audit_keys: int = 0
    projections: dict[str, int] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)


def finish(
    database: Database,
    uri: str,
    dumped_at: datetime,
    keys_file: Path | None,
    margin: timedelta = timedelta(minutes=5),
) -> Restored:
    """After the dump is loaded: the audit keys carried over, every erasure since the dump
    re-applied, indexes created, projections rebuilt, every log verified."""
    from events.audit.verify import logs, verify_log
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import Projector
    from services.records.projections import PROJECTIONS
    from youwei import dbinit

    done = Restored(_aware(dumped_at))
    if keys_file is not None:
        keys = json.loads(keys_file.read_text())
        done.audit_keys = carry_audit_keys(database, keys)
    done.reerased = reapply(database, ledger_database(database), done.dumped_at - margin)
    dbinit.initialise(uri, database.name)
    datastore = MongoDBDatastore(uri, database.name)
    try:
        for projection in (cls() for cls in PROJECTIONS):
            generation = Projector(datastore, projection).rebuild()
            done.projections[projection.name] = generation.number
    finally:
        datastore.close()
    for name in logs(database):
        verdict = verify_log(database, name)
        if not verdict.ok:
            first = verdict.first_break
            done.broken.append(f"{name}: position {first.position}: {first.reason}")
    return done


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- the commands ------------------------------------------------------------------------


def _moment(value: str) -> datetime:
    """ISO 8601, or a backup's stamp (20261128T013000Z)."""
    for parse in (datetime.fromisoformat, lambda v: datetime.strptime(v, "%Y%m%dT%H%M%SZ")):
        try:
            return _aware(parse(value))
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r}: not a time (2026-11-28T01:30:00Z or 20261128T013000Z)")


@click.group()
def erasures() -> None:
    """The erasure ledger: erasures kept apart from the database and its dumps."""


@erasures.command("sync")
@database_options
def erasures_sync(uri: str, database: str) -> None:
    """Copy every erasure recorded in the database (personal_keys' tombstones) into the
    ledger (ERASURE_LEDGER_DATABASE, default <database>_erasures)."""
    client, db = connect(uri, database)
    try:
        ledger = ledger_database(db)
        added = sync_ledger(db, ledger)
        total = ledger[LEDGER_COLLECTION].estimated_document_count()
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    click.echo(f"erasure ledger {ledger.name}: {added} new, {total} in all")


@erasures.command("reapply")
@click.option("--since", "since", required=True, help="The dump's time, less a margin.")
@database_options
def erasures_reapply(since: str, uri: str, database: str) -> None:
    """Destroy again every key the ledger says was destroyed at SINCE or later."""
    client, db = connect(uri, database)
    try:
        erased = reapply(db, ledger_database(db), _moment(since))
    finally:
        client.close()
    click.echo(f"{len(erased)} erasure(s) re-applied")


@click.command("backup")
@click.option("--to", "target", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="A new directory for the dump.")  # fmt: skip
@database_options
def backup(target: Path, uri: str, database: str) -> None:
    """Dump every collection (one BSON file each) after syncing the erasure ledger: for the
    local stack and drills. Production uses mongodump --oplog (the youwei-backup CronJob)."""
    client, db = connect(uri, database)
    try:
        manifest = dump(db, target)
    except (BackupError, FileExistsError) as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    total = sum(manifest["collections"].values())
    click.echo(f"dumped {len(manifest['collections'])} collections ({total} documents) "
               f"of {database!r} at {manifest['started_at']} to {target}")  # fmt: skip


@click.group()
def restore() -> None:
    """Restore a dump without bringing erased people back (docs/operations.md): prepare,
    load (or mongorestore), finish; or all three at once for a dump of youwei backup."""


@restore.command("prepare")
@click.option("--to", "work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the audit key registry until finish.")  # fmt: skip
@database_options
def restore_prepare(work: Path, uri: str, database: str) -> None:
    """Before the database is replaced: its erasures into the ledger, its audit key registry
    into WORK/audit_keys.json."""
    client, db = connect(uri, database)
    try:
        saved = save_before_restore(db, work)
    finally:
        client.close()
    click.echo(f"{saved['ledger_entries_synced']} erasure(s) added to the ledger, "
               f"{saved['audit_keys_saved']} audit key(s) kept in {work / KEYS_FILE}")  # fmt: skip


@restore.command("load")
@click.argument("dump_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@database_options
def restore_load(dump_dir: Path, uri: str, database: str) -> None:
    """Replace every collection with those of DUMP_DIR (a dump of youwei backup)."""
    client, db = connect(uri, database)
    try:
        manifest = load(db, dump_dir)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    click.echo(f"loaded the dump of {manifest['started_at']}")


@restore.command("finish")
@click.option("--dumped-at", required=True, help="When the dump was taken (its name's stamp).")
@click.option("--keys", "keys_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The audit key registry kept by prepare.")  # fmt: skip
@click.option("--margin-seconds", default=300, show_default=True, type=click.IntRange(0),
              help="Re-apply erasures from this long before the dump.")  # fmt: skip
@database_options
def restore_finish(dumped_at, keys_file, margin_seconds, uri: str, database: str) -> None:
    """After the load: carry the audit keys over, re-apply every erasure since the dump,
    create indexes, rebuild the projections, verify every log (exit 1 on a break)."""
    moment = _moment(dumped_at)
    client, db = connect(uri, database)
    try:
        done = finish(db, uri, moment, keys_file, timedelta(seconds=margin_seconds))
    finally:
        client.close()
    report(done)


@restore.command("all")
@click.argument("dump_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where prepare keeps the audit key registry.")  # fmt: skip
@database_options
def restore_all(dump_dir: Path, work: Path, uri: str, database: str) -> None:
    """prepare, load DUMP_DIR, finish: a whole restore of a dump of youwei backup."""
    client, db = connect(uri, database)
    try:
        manifest = read_manifest(dump_dir)
        save_before_restore(db, work)
        load(db, dump_dir)
        done = finish(db, uri, datetime.fromisoformat(manifest["started_at"]), work / KEYS_FILE)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    report(done)


def report(done: Restored) -> None:
    click.echo(f"restored to {done.dumped_at.isoformat()}: {done.audit_keys} audit key(s) "
               f"carried over, {len(done.reerased)} erasure(s) re-applied")  # fmt: skip
    for name, number in done.projections.items():
        click.echo(f"{name}: rebuilt, generation {number} live")
    for problem in done.broken:
        click.echo(f"BROKEN {problem}")
    if done.broken:
        raise SystemExit(1)
    click.echo("every log verifies")
