"""Back up and restore without bringing erased people back (docs/operations.md).

A dump holds ``personal_keys`` as they were when it was taken: every person erased since
still has a key in it. So erasures are also kept apart from the database, in the **erasure
ledger**: the collection ``erasures`` of its own database (``ERASURE_LEDGER_DATABASE``,
default ``<database>_erasures``; ``ERASURE_LEDGER_URI`` puts it on another server). An
entry is a person's subject (a SHA-256, never who they are) and when their key was
destroyed; ``sync_ledger`` copies every tombstone of ``personal_keys`` into it (the
``youwei-erasure-ledger`` CronJob every five minutes, every backup, and ``restore
prepare``).

A ledger on the database's server is in every dump and is overwritten by every restore:
``mongodump --oplog`` dumps every database (it refuses ``--db``, and ``--excludeCollection``
needs ``--db``), and ``mongorestore --oplogReplay`` restores every database of the dump (it
refuses includes, excludes and renames), dropping each first (``--drop``). So ``restore
prepare`` copies the whole ledger aside (``erasure_ledger.json`` in its folder) after
syncing it, and ``restore finish`` merges that copy back into whatever ledger the restore
left, re-applies every erasure it holds from shortly before the dump was taken
(``margin``: clocks and a dump that takes a while) and every erasure the restored ledger
did not know (so a dump's time given too late misses none), and refuses to go on while any
of those people still has a key. Entries older than that are in the dump already (as a tombstone,
or as the new key of a rater who came back after their erasure, which must stay). Without
the copy, finish refuses: it cannot know who was erased since the dump. The audit key registry
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
from bson import json_util
from bson.codec_options import CodecOptions
from pymongo import MongoClient, ReplaceOne
from pymongo.database import Database

from events.audit.checkpoints import KEYS
from events.identity.personal import KEYS_COLLECTION
from youwei.audit import connect, database_options

LEDGER_COLLECTION = "erasures"
MANIFEST = "manifest.json"
KEYS_FILE = "audit_keys.json"
LEDGER_FILE = "erasure_ledger.json"
CODEC = CodecOptions(tz_aware=True, tzinfo=UTC)


class BackupError(Exception):
    """A dump or a restore that cannot go on; nothing after the failed step was done."""


def ledger_database(database: Database) -> Database:
    """The erasure ledger's database: never the database itself."""
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
    ledger[LEDGER_COLLECTION].create_index("erased_at")  # the ledger exists from the start
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


def ledger_entries(
    ledger: Database, since: datetime, also: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """The entries erased at ``since`` or later, and those of the subjects ``also``."""
    query = {"$or": [{"erased_at": {"$gte": since}}, {"_id": {"$in": list(also)}}]}
    return list(ledger[LEDGER_COLLECTION].find(query).sort("erased_at"))


def ledger_state(ledger: Database) -> dict[str, datetime]:
    return {e["_id"]: _aware(e["erased_at"]) for e in ledger[LEDGER_COLLECTION].find({})}


def save_ledger(ledger: Database, path: Path) -> int:
    """The whole ledger into ``path`` (Extended JSON), before a restore can overwrite it."""
    entries = list(ledger[LEDGER_COLLECTION].find({}))
    path.write_text(json_util.dumps(entries, json_options=json_util.CANONICAL_JSON_OPTIONS))
    return len(entries)


def merge_ledger(ledger: Database, path: Path) -> int:
    """The entries saved by ``save_ledger`` back into the ledger (each subject's latest
    erasure wins); return how many were missing or older there."""
    try:
        entries = json_util.loads(path.read_text(), json_options=json_util.CANONICAL_JSON_OPTIONS)
    except (OSError, ValueError) as error:
        raise BackupError(
            f"{path}: the erasure ledger saved by restore prepare cannot be read ({error}); "
            "without it the erasures since the dump are unknown"
        ) from error
    for entry in entries:
        if not (isinstance(entry, dict) and isinstance(entry.get("_id"), str)
                and isinstance(entry.get("erased_at"), datetime)):  # fmt: skip
            raise BackupError(f"{path}: not an entry of the erasure ledger: {entry!r:.200}")
    for entry in entries:
        ledger[LEDGER_COLLECTION].update_one(
            {"_id": entry["_id"]},
            {"$max": {"erased_at": _aware(entry["erased_at"])},
             "$setOnInsert": {"recorded_at": entry.get("recorded_at")}},
            upsert=True,
        )  # fmt: skip
    return len(entries)


def still_keyed(
    database: Database, ledger: Database, since: datetime, also: Iterable[str] = ()
) -> list[str]:
    """The subjects the ledger says were erased at ``since`` or later (and those ``also``)
    who have a key."""
    subjects = [entry["_id"] for entry in ledger_entries(ledger, since, also)]
    live = database[KEYS_COLLECTION].find({"_id": {"$in": subjects}, "key": {"$ne": None}})
    return sorted(document["_id"] for document in live)


def reapply(
    database: Database, ledger: Database, since: datetime, also: Iterable[str] = ()
) -> list[str]:
    """Destroy again each key the ledger says was destroyed at ``since`` or later (and
    those of the subjects ``also``); return the subjects whose key the database held."""
    keys = database[KEYS_COLLECTION]
    erased = []
    for entry in ledger_entries(ledger, since, also):
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
    """What ``mongodump --oplog`` dumps of youwei, as one BSON file per collection under a
    folder per database, and a manifest saying when: the database and, when it is on the
    same server, the erasure ledger's database (synced first)."""
    directory.mkdir(parents=True, exist_ok=False)
    ledger = ledger_database(database)
    sync_ledger(database, ledger)
    databases = [database] + ([ledger] if ledger.client is database.client else [])
    started = datetime.now(UTC)
    dumped: dict[str, dict[str, int]] = {}
    for source in databases:
        folder = directory / source.name
        folder.mkdir()
        dumped[source.name] = {}
        for name in sorted(source.list_collection_names()):
            if name.startswith("system."):
                continue
            with open(folder / f"{name}.bson", "wb") as out:
                for batch in source.get_collection(name, codec_options=CODEC).find_raw_batches():
                    out.write(batch)
            with open(folder / f"{name}.bson", "rb") as back:
                dumped[source.name][name] = sum(1 for _ in bson.decode_file_iter(back))
    manifest = {
        "database": database.name,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "databases": dumped,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
        datetime.fromisoformat(manifest["started_at"])
        manifest["database"].strip()
        for collections in manifest["databases"].values():
            collections.items()
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as error:
        raise BackupError(f"{directory}: not a dump of youwei backup ({error})") from error
    return manifest


def load(database: Database, directory: Path) -> dict[str, Any]:
    """What ``mongorestore --drop`` does with the whole dump: every database in it restored,
    each collection dropped first; the dump's database into ``database`` (emptied first),
    a dumped ledger restored over the one of the same name on the same server, as
    mongorestore overwrites it."""
    manifest = read_manifest(directory)
    for name in database.list_collection_names():
        if not name.startswith("system."):
            database.drop_collection(name)
    for source, collections in manifest["databases"].items():
        target = database if source == manifest["database"] else database.client[source]
        for name in collections:
            with open(directory / source / f"{name}.bson", "rb") as dumped:
                documents = list(bson.decode_file_iter(dumped, codec_options=CODEC))
            target.drop_collection(name)
            target.create_collection(name)
            for start in range(0, len(documents), 1000):
                target[name].insert_many(documents[start : start + 1000], ordered=True)
    return manifest


# -- a restore, step by step -------------------------------------------------------------


def save_before_restore(database: Database, directory: Path) -> dict[str, int]:
    """Before anything is dropped: the live tombstones into the ledger, then the whole
    ledger and the live audit key registry into ``directory``. The database may be gone
    (a lost cluster): then nothing is saved from it and the ledger is all there is."""
    directory.mkdir(parents=True, exist_ok=True)
    ledger = ledger_database(database)
    synced = sync_ledger(database, ledger)
    saved = save_ledger(ledger, directory / LEDGER_FILE)
    keys = list(database[KEYS].find({}))
    (directory / KEYS_FILE).write_text(json.dumps(keys, default=str, indent=2) + "\n")
    return {"ledger_entries_synced": synced, "ledger_entries_saved": saved,
            "audit_keys_saved": len(keys)}  # fmt: skip


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
    still_keyed: list[str] = field(default_factory=list)


def finish(
    database: Database,
    uri: str,
    dumped_at: datetime,
    work: Path,
    margin: timedelta = timedelta(minutes=5),
) -> Restored:
    """After the dump is loaded: the ledger saved by prepare (in ``work``) merged back, the
    audit keys carried over, every erasure since the dump re-applied and checked (nothing
    more is done while one of those people has a key), indexes created, projections
    rebuilt, every log verified."""
    from events.audit.verify import logs, verify_log
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import Projector
    from services.records.projections import PROJECTIONS
    from youwei import dbinit

    done = Restored(_aware(dumped_at))
    ledger, since = ledger_database(database), done.dumped_at - margin
    # What the restored ledger (the dump's, on the same server) knew: an erasure it did not
    # know is re-applied whatever --dumped-at says (a stamp given too late misses none).
    known = ledger_state(ledger)
    merge_ledger(ledger, work / LEDGER_FILE)
    unknown = [s for s, at in ledger_state(ledger).items() if known.get(s) != at]
    if (work / KEYS_FILE).exists():
        keys = json.loads((work / KEYS_FILE).read_text())
        done.audit_keys = carry_audit_keys(database, keys)
    done.reerased = reapply(database, ledger, since, unknown)
    done.still_keyed = still_keyed(database, ledger, since, unknown)
    if done.still_keyed:
        return done
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
    """Dump every collection (one BSON file each) of the database and of the erasure ledger's
    database on its server, after syncing the ledger: for the local stack and drills.
    Production uses mongodump --oplog (the youwei-backup CronJob)."""
    client, db = connect(uri, database)
    try:
        manifest = dump(db, target)
    except (BackupError, FileExistsError) as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    for name, collections in manifest["databases"].items():
        click.echo(f"dumped {len(collections)} collections ({sum(collections.values())} "
                   f"documents) of {name!r} at {manifest['started_at']} to {target}")  # fmt: skip


@click.group()
def restore() -> None:
    """Restore a dump without bringing erased people back (docs/operations.md): prepare,
    load (or mongorestore), finish; or all three at once for a dump of youwei backup."""


@restore.command("prepare")
@click.option("--to", "work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to keep the ledger and the audit key registry until finish.")  # fmt: skip
@database_options
def restore_prepare(work: Path, uri: str, database: str) -> None:
    """Before the database is replaced: its erasures into the ledger, then the whole ledger
    into WORK/erasure_ledger.json and its audit key registry into WORK/audit_keys.json."""
    client, db = connect(uri, database)
    try:
        saved = save_before_restore(db, work)
    finally:
        client.close()
    click.echo(f"{saved['ledger_entries_synced']} erasure(s) added to the ledger, "
               f"{saved['ledger_entries_saved']} ledger entries kept in {work / LEDGER_FILE}, "
               f"{saved['audit_keys_saved']} audit key(s) kept in {work / KEYS_FILE}")  # fmt: skip


@restore.command("load")
@click.argument("dump_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@database_options
def restore_load(dump_dir: Path, uri: str, database: str) -> None:
    """Restore every database of DUMP_DIR (a dump of youwei backup), as mongorestore --drop
    restores a whole archive: the ledger's database too, if the dump holds it."""
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
@click.option("--work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder of restore prepare (the ledger and keys it kept).")  # fmt: skip
@click.option("--margin-seconds", default=300, show_default=True, type=click.IntRange(0),
              help="Re-apply erasures from this long before the dump.")  # fmt: skip
@database_options
def restore_finish(dumped_at, work, margin_seconds, uri: str, database: str) -> None:
    """After the load: merge the ledger kept by prepare back, carry the audit keys over,
    re-apply every erasure since the dump (exit 1 if one cannot be), create indexes,
    rebuild the projections, verify every log (exit 1 on a break)."""
    moment = _moment(dumped_at)
    client, db = connect(uri, database)
    try:
        done = finish(db, uri, moment, work, timedelta(seconds=margin_seconds))
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    report(done)


@restore.command("all")
@click.argument("dump_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--work", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where prepare keeps the ledger and the audit key registry.")  # fmt: skip
@database_options
def restore_all(dump_dir: Path, work: Path, uri: str, database: str) -> None:
    """prepare, load DUMP_DIR, finish: a whole restore of a dump of youwei backup."""
    client, db = connect(uri, database)
    try:
        manifest = read_manifest(dump_dir)
        save_before_restore(db, work)
        load(db, dump_dir)
        done = finish(db, uri, datetime.fromisoformat(manifest["started_at"]), work)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    report(done)


def report(done: Restored) -> None:
    click.echo(f"restored to {done.dumped_at.isoformat()}: {done.audit_keys} audit key(s) "
               f"carried over, {len(done.reerased)} erasure(s) re-applied")  # fmt: skip
    if done.still_keyed:
        click.echo(f"REFUSED: {len(done.still_keyed)} erased person(s) still have a key "
                   f"({', '.join(done.still_keyed[:5])}): stop every service and run "
                   "restore finish again; nothing else was done")  # fmt: skip
        raise SystemExit(1)
    for name, number in done.projections.items():
        click.echo(f"{name}: rebuilt, generation {number} live")
    for problem in done.broken:
        click.echo(f"BROKEN {problem}")
    if done.broken:
        raise SystemExit(1)
    click.echo("every log verifies")
