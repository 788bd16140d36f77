"""``youwei audit``: verify, sign, export, read and replay the event logs (docs/audit.md).

Every command streams the logs (memory stays flat as they grow) and shows a progress bar
on standard error for long work; results go to standard output.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pymongo

DEFAULT_URI = "mongodb://127.0.0.1:27017"


def database_options(command):
    command = click.option(
        "--database",
        default=lambda: os.environ.get("MONGODB_DATABASE", "youwei"),
        show_default="$MONGODB_DATABASE, else youwei",
    )(command)
    return click.option(
        "--uri",
        default=lambda: os.environ.get("MONGODB_URI", DEFAULT_URI),
        show_default=f"$MONGODB_URI, else {DEFAULT_URI}",
    )(command)


def default_key_file() -> str | None:
    """``AUDIT_SIGNING_KEY_FILE``, else the local stack's key if ``youwei up`` made one."""
    if os.environ.get("AUDIT_SIGNING_KEY_FILE"):
        return os.environ["AUDIT_SIGNING_KEY_FILE"]
    from youwei.stack import signing_key_path

    local = signing_key_path()
    return str(local) if local.is_file() else None


def key_option(command):
    return click.option(
        "--key-file",
        type=click.Path(dir_okay=False),
        default=default_key_file,
        show_default="$AUDIT_SIGNING_KEY_FILE, else the key `youwei up` made",
        help="The Ed25519 signing key (PEM).",
    )(command)


def connect(uri: str, database: str):
    client = pymongo.MongoClient(uri, uuidRepresentation="standard", tz_aware=True)
    return client, client[database]


def private_key(key_file: str | None):
    from events.audit.checkpoints import SigningKeyError, load_private_key
    from youwei.stack import signing_key_path

    if not key_file:
        raise click.UsageError(
            "no signing key: give --key-file or set AUDIT_SIGNING_KEY_FILE "
            f"(on the local stack, `youwei up` makes {signing_key_path()})"
        )
    try:
        return load_private_key(key_file)
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error


#: The exit status of a verification that found nothing wrong but nothing signed by the
#: pinned key to vouch for it (1 is a break, 2 a usage error).
NOTHING_SIGNED_EXIT = 3


def report(verdicts, pinned: bool, live: bool = False) -> tuple[bool, list[str]]:
    """Print each log's verdict and what each thing held covered of it; whether all are
    clean, and (``live``) the logs with events but no checkpoint signed by a trusted key.
    Without a pinned key an ok says so: it proves nothing against replaced keys."""
    clean, unsigned = True, []
    for verdict in verdicts:
        if verdict.ok:
            unpinned = "" if pinned else " (UNPINNED: keys trusted on first use)"
            if live and verdict.events_checked and not verdict.checkpoints_checked:
                unsigned.append(verdict.log)
                unpinned += " NOT SIGNED YET: no checkpoint signed by the pinned key"
            click.echo(
                f"{verdict.log}: ok, {verdict.events_checked} events, "
                f"{verdict.checkpoints_checked} signed checkpoints, "
                f"head {verdict.head_position} {verdict.head_hash}{unpinned}"
            )
        else:
            clean = False
            first = verdict.first_break
            click.echo(f"{verdict.log}: BROKEN {first.where}: {first.reason}")
        for covered in verdict.witnessed:
            click.echo(f"  {covered}")
    return clean, unsigned


def nothing_signed(unsigned: list[str]) -> None:
    """Say that the logs ``unsigned`` are vouched for by no signature yet, and exit 3."""
    click.echo(f"NOT VERIFIED: nothing signed by the pinned key yet in {', '.join(unsigned)}: "
               "their chains hold, but no checkpoint vouches for them. Wait for the first "
               "checkpoint (every AUDIT_CHECKPOINT_SECONDS, 5 minutes by default) or sign "
               "now: youwei audit checkpoint")  # fmt: skip
    sys.exit(NOTHING_SIGNED_EXIT)


def unpinned_verdict(trust: str | None, unpinned: bool) -> bool:
    """Say what a verification without a pinned key is worth; True if it must fail."""
    if trust is not None:
        return False
    if unpinned:
        click.echo("note: no key pinned (--trust), as asked (--unpinned): the first key is "
                   "trusted on first use, so nothing shows the keys are the city's")  # fmt: skip
        return False
    click.echo("NOT VERIFIED: no key pinned. Give --trust KEY_ID (the city's published key "
               "id), or --unpinned to accept the first key on first use")  # fmt: skip
    return True


@click.group()
def audit() -> None:
    """Verify, sign, export, read and replay the event logs."""


def load_held(paths: tuple[Path, ...]) -> list:
    """What each of ``paths`` holds (checkpoints or an export), as witnesses; a usage
    error if one is unreadable. One that holds nothing (a records.json saved before the
    first checkpoint) is said so, and checks nothing."""
    from events.audit.witness import HeldProblem
    from events.audit.witness import load_held as load

    held = []
    for path in paths:
        try:
            one = load(path)
        except HeldProblem as error:
            raise click.BadParameter(str(error), param_hint="--against") from error
        if not one.logs:
            click.echo(f"against {path}: holds nothing (no checkpoints and no events, as "
                       "a records.json saved before the first checkpoint): it checks "
                       "nothing")  # fmt: skip
        held.append(one)
    return held


@audit.command()
@click.option("--log", "log_names", multiple=True, help="A log (events collection); default: all.")
@click.option(
    "--from",
    "export_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Verify an export (youwei audit export) offline instead of the database.",
)
@click.option(
    "--trust",
    help="The city's key id, pinned from a source the database's administrator does not "
    "control (the city's audit office, a copy of records.json kept earlier): only keys a chain "
    "of signed rotations links to it count. Without it (or --unpinned), exit 1.",
)
@click.option(
    "--unpinned",
    is_flag=True,
    help="Without --trust, accept the first key on first use (proves nothing against "
    "replaced keys) instead of failing.",
)
@click.option(
    "--against",
    "against",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Checkpoints you hold (an earlier export's folder, records.json, a checkpoints file): "
    "each must still be on today's chain. Repeat it for each thing you hold.",
)
@click.option("--exporter", help="With --from: the key id of your own key that signed the export.")
@database_options
def verify(
    log_names, export_dir, trust, unpinned, against, exporter, uri: str, database: str
) -> None:
    """Check each log's hash chain, its signed checkpoints and the keys that signed them,
    and what you hold; print the first broken position (or the range a rewrite lies in)
    with what differs, or a clean bill; exit 1 on any break, and without a pinned key
    unless --unpinned."""
    if trust is not None and unpinned:
        raise click.UsageError("give --trust or --unpinned, not both")
    held = load_held(against)
    if export_dir is not None:
        verify_export_dir(export_dir, tuple(log_names), trust, held, exporter, unpinned)
        return
    from events.audit import verify as verifier

    client, db = connect(uri, database)
    names = list(log_names) or verifier.logs(db)
    if not names:
        click.echo(f"no logs in database {database!r}")
    verdicts = []
    for name in names:
        total = db[name].estimated_document_count()
        with click.progressbar(length=total, label=f"verifying {name}", file=sys.stderr) as bar:
            verdicts.append(verifier.verify_log(db, name, bar.update, trust, held))
    client.close()
    missing = held_logs_missing(held, names, log_names)
    clean, unsigned = report(verdicts, trust is not None, live=True)
    if unpinned_verdict(trust, unpinned) or not clean or missing:
        sys.exit(1)
    if unsigned:
        nothing_signed(unsigned)


def held_logs_missing(held, names, only) -> list[str]:
    gone = []
    for one in held:
        for log in sorted(one.logs - set(names)):
            if not only or log in only:
                click.echo(f"{log}: BROKEN: {one.description} holds it, today's database has "
                           "no such log")  # fmt: skip
                gone.append(log)
    return gone


def verify_export_dir(
    directory: Path,
    only: tuple[str, ...],
    trust: str | None,
    held,
    exporter: str | None,
    unpinned: bool,
) -> None:
    from events.audit.export import NOTHING_SIGNED, ExportProblem, verify_export

    try:
        manifest = json.loads((directory / "manifest.json").read_text())
        total = sum(entry.get("count", 0) for entry in manifest.get("logs", {}).values())
    except (OSError, ValueError, AttributeError) as error:
        click.echo(f"export BROKEN: cannot read manifest.json: {error}")
        sys.exit(1)
    notes: list[str] = []
    try:
        with click.progressbar(length=total, label="verifying the export", file=sys.stderr) as bar:
            problems, verdicts = verify_export(
                directory, bar.update, trust, only, held, exporter, notes
            )
    except ExportProblem as error:
        click.echo(f"export BROKEN: {error}")
        sys.exit(1)
    for problem in problems:
        click.echo(f"export BROKEN: {problem}")
    clean = report(verdicts, trust is not None)[0] and not problems
    for note in notes:
        click.echo(note if note == NOTHING_SIGNED else f"note: {note}")
    if unpinned_verdict(trust, unpinned) or not clean:
        sys.exit(1)
    if NOTHING_SIGNED in notes:
        sys.exit(NOTHING_SIGNED_EXIT)


@audit.command()
@click.option("--log", "log_names", multiple=True, help="A log; default: every log.")
@key_option
@database_options
def checkpoint(log_names, key_file, uri: str, database: str) -> None:
    """Sign each log's head now (the services also do it every AUDIT_CHECKPOINT_SECONDS),
    refusing a head that does not extend the last one this key file signed. Every log is
    tried; exit 1 if any was refused."""
    from events.audit.checkpoints import SignedHeads, SigningKeyError, sign_head
    from events.audit.verify import logs

    private = private_key(key_file)
    heads_file = os.environ.get("AUDIT_SIGNED_HEADS_FILE")
    signed_heads = SignedHeads(heads_file) if heads_file else SignedHeads.beside(key_file)
    client, db = connect(uri, database)
    refused = []
    try:
        for name in list(log_names) or logs(db):
            try:
                signed = sign_head(db, private, name, signed_heads)
            except SigningKeyError as error:
                refused.append(name)
                click.echo(f"{name}: REFUSED: {error}")
                continue
            if signed is None:
                click.echo(f"{name}: head already signed (or empty)")
            else:
                click.echo(f"{name}: signed position {signed['position']} {signed['hash']} "
                           f"with key {signed['key_id']}")  # fmt: skip
    finally:
        client.close()
    if refused:
        raise click.ClickException(f"{len(refused)} log(s) refused: {', '.join(refused)}")


@audit.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Write a new Ed25519 signing key (PEM, readable by its owner only) to OUT."""
    from events.audit.checkpoints import key_id, load_private_key, new_private_key_pem

    if out.exists():
        raise click.ClickException(f"{out} exists: a key is never overwritten")
    out.touch(mode=0o600)
    out.write_bytes(new_private_key_pem())
    click.echo(f"key {key_id(load_private_key(out).public_key())} written to {out}")


@audit.command("key-id")
@key_option
def key_id_command(key_file) -> None:
    """Print the id of a signing key (the first 16 hex digits of SHA-256 of its public key):
    the id auditors pin with `verify --trust`."""
    from events.audit.checkpoints import key_id

    click.echo(key_id(private_key(key_file).public_key()))


@audit.command("rotate-key")
@click.option("--from", "old", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "new", required=True, type=click.Path(exists=True, dir_okay=False))
@database_options
def rotate_key(old: str, new: str, uri: str, database: str) -> None:
    """Retire the key in service (--from) for a new one (--to); both sign the rotation."""
    from events.audit.checkpoints import Keys, SigningKeyError

    client, db = connect(uri, database)
    try:
        rotation = Keys(db).rotate(private_key(old), private_key(new))
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    click.echo(f"key {rotation['previous']} retired, {rotation['next']} in service from "
               f"{rotation['at']}")  # fmt: skip


@audit.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@key_option
@click.option(
    "--auditor-key",
    type=click.Path(dir_okay=False),
    help="Sign with your own key (`youwei audit keygen`) instead of the city's: verify the "
    "export with --exporter and its id.",
)
@click.option(
    "--unsigned",
    is_flag=True,
    help="Sign nothing (an auditor's export: verify it with --against what you hold).",
)
@database_options
def export(directory: Path, key_file, auditor_key, unsigned: bool, uri: str, database: str):
    """Every log as JSON Lines, the checkpoints, the keys and a manifest in DIRECTORY, for
    `youwei audit verify --from DIRECTORY`. The manifest is signed with the city's key in
    service (--key-file), or with your own (--auditor-key), or not at all (--unsigned); an
    auditor's export writes nothing to the database."""
    from events.audit.checkpoints import SigningKeyError
    from events.audit.export import export as write_export
    from events.audit.verify import logs

    if auditor_key and unsigned:
        raise click.UsageError("give --auditor-key or --unsigned, not both")
    private = None if unsigned else private_key(auditor_key or key_file)
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty")
    client, db = connect(uri, database)
    total = sum(db[name].estimated_document_count() for name in logs(db))
    try:
        with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
            manifest = write_export(db, directory, private, bar.update, own=bool(auditor_key))
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    for name, entry in manifest["logs"].items():
        click.echo(f"{name}: {entry['count']} events, head {entry['head']['position']}")
    signature = manifest["signature"]
    if signature is None:
        signed = "manifest unsigned"
    elif "public_key" in signature:
        signed = f"manifest signed by your key {signature['key_id']} (not a city key)"
    else:
        signed = f"manifest signed by the city's key {signature['key_id']}"
    click.echo(f"{manifest['checkpoints']['count']} checkpoints; {signed}")


def timezone_option(command):
    return click.option(
        "--timezone",
        default=lambda: os.environ.get("YOUWEI_TIMEZONE", "Asia/Shanghai"),
        show_default="$YOUWEI_TIMEZONE or Asia/Shanghai",
        help="The city's time zone, for days and times.",
    )(command)


def public_ids(kind: str, originator: str, version: int, data: dict) -> list[str]:
    """The public ids (the page's ``record_id``, an honour's id) an event published."""
    from services.records.projections import honour_id, public_record_id

    if kind == "case_published":
        return [public_record_id(data["publication_id"], d) for d in data["decision_ids"]]
    if kind == "commendation_published":
        return [honour_id(originator, version)]
    return []


@audit.command()
@click.argument("cadre_id", required=False)
@click.option("--record", "record_id", help="Instead of CADRE_ID: a public record's or "
              "honour's id (record_id on the page): the cadre it names.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
@timezone_option
@database_options
def history(cadre_id, record_id, as_json: bool, timezone: str, uri: str, database: str) -> None:
    """Everything about a cadre across every log, by time recorded: each event's kind, the
    record it belongs to (a decision's case), what it decided, the dates it carries, the
    rule it brought into play, who sent which command, and what caused it. CADRE_ID with
    hyphens or as 32 hex digits, or --record with a published record's id; a name is
    refused, with the ids of the cadres so named and their unit and post now and when
    registered."""
    from events.audit.history import cadres_named, describe, is_id, published_cadre
    from events.audit.history import history as read_history
    from events.audit.verify import logs
    from youwei.asof import annotate

    if (cadre_id is None) == (record_id is None):
        raise click.UsageError("give CADRE_ID or --record RECORD_ID (one of them)")
    client, db = connect(uri, database)
    if record_id is not None:
        found = published_cadre(db, record_id, public_ids)
        if found is None:
            client.close()
            click.echo(f"no publication in the accountability log has the public id "
                       f"{record_id}", err=True)  # fmt: skip
            sys.exit(1)
        cadre_id, where = found
        click.echo(f"record {record_id}: {where['type']} at {where['log']}:{where['position']}, "
                   f"cadre {cadre_id}")  # fmt: skip
    elif not is_id(cadre_id):
        named = cadres_named(db, cadre_id)
        client.close()
        click.echo(f"{cadre_id!r} is not a cadre's id: give an id (names are not unique); "
                   f"{len(named)} cadre(s) registered under that name", err=True)  # fmt: skip
        for c in named:
            click.echo(f"{c['cadre_id']}  {c['name']}  {c['unit'] or '?'}  {c['post'] or '?'}  "
                       f"registered {c['registered_on']} as {c['registered_unit'] or '?'} "
                       f"{c['registered_post'] or '?'}")  # fmt: skip
        sys.exit(2)
    total = sum(db[name].estimated_document_count() for name in logs(db))
    with click.progressbar(length=total, label="reading the logs", file=sys.stderr) as bar:
        events = annotate(read_history(db, cadre_id, bar.update))
    client.close()
    for event in events:
        ids = public_ids(event["type"], event["originator_id"], event["originator_version"],
                         event["data"])  # fmt: skip
        if ids:
            event["public_ids"] = ids
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, indent=1))
    else:
        click.echo(f"times in {timezone}")
        for line in describe(events, timezone):
            click.echo(line)
    if not events:
        click.echo(f"nothing about {cadre_id} in any log", err=True)
        sys.exit(1)


def day_option(name: str, help: str):
    return click.option(name, type=click.DateTime(["%Y-%m-%d"]), help=help)


@audit.command()
@day_option("--until", "As of this day (YYYY-MM-DD), by the dates events carry: decided, "
            "effective, published …; whenever they were recorded.")  # fmt: skip
@day_option("--recorded-until", "Only events recorded by the end of this day (YYYY-MM-DD, "
            "in --timezone); default: everything recorded.")  # fmt: skip
@click.option("--into", "scratch", required=True, help="A scratch database to build into.")
@click.option("--cadre", "cadre_id", help="Print this cadre's personnel file as of --until.")
@click.option(
    "--compare",
    is_flag=True,
    help="With --recorded-until only: report documents that differ from the live ones.",
)
@timezone_option
@database_options
def replay(until, recorded_until, scratch, cadre_id, compare, timezone, uri, database):
    """Rebuild the records service's projections as of a day into a scratch database, and
    every cadre's personnel file as of that day (restrictions and eligibility, each with its
    rule, version and causing events) into its collection `personnel_files`. Exits 1 when
    nothing took effect by then."""
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import differences
    from events.readmodels.projections import replay as replay_into
    from schemas.events import LOGS
    from services.records.projections import PersonnelFiles, PublicRecords
    from youwei.asof import AsOf, personnel_files

    if until is None and recorded_until is None:
        raise click.UsageError("give --until DAY (business dates) or --recorded-until DAY")
    if compare and until is not None:
        raise click.BadParameter("compares the projections as recorded: use --recorded-until "
                                 "without --until", param_hint="--compare")  # fmt: skip
    if scratch == database:
        raise click.BadParameter(
            "the scratch database must not be the live one", param_hint="--into"
        )
    zone = ZoneInfo(timezone)
    end = datetime.now(zone) + timedelta(days=1)
    if recorded_until is not None:
        end = datetime.combine(recorded_until.date() + timedelta(days=1), time(), zone)
    day = until.date() if until is not None else None
    logs, target = MongoDBDatastore(uri, database), MongoDBDatastore(uri, scratch)
    total = sum(logs.collection(name).estimated_document_count() for name in LOGS.values())
    differ, applied, files = False, 0, None
    try:
        for projection in (PersonnelFiles(), PublicRecords()):
            fed = AsOf(projection, day) if day is not None else projection
            label = f"replaying {projection.name}"
            with click.progressbar(label=label, length=total, file=sys.stderr) as bar:
                generation, heads = replay_into(logs, target, fed, end, bar.update)
            at = ", ".join(f"{s} {p}" for s, p in heads.items())
            if isinstance(fed, AsOf):
                applied += len(fed.applied)
                click.echo(f"{projection.name}: built in {scratch} as of {day}: {len(fed.applied)} "
                           f"dated events took effect by then, {len(fed.later)} later "
                           f"(events recorded up to {at})")  # fmt: skip
            else:
                applied += sum(heads.values())
                click.echo(f"{projection.name}: built in {scratch} at {at}")
            if projection.name == "personnel":
                files = personnel_files(generation, day or recorded_until.date())
                collection = target.collection("personnel_files")
                collection.drop()
                if files:
                    collection.insert_many([{"_id": f["cadre_id"], **f} for f in files])
                barred = sum(not f["eligible_for_promotion"]["eligible"] for f in files)
                click.echo(f"personnel files as of {day or recorded_until.date()}: {len(files)} "
                           f"cadres, {barred} not eligible for promotion "
                           f"({scratch}.personnel_files)")  # fmt: skip
                for file in files:
                    if not file["eligible_for_promotion"]["eligible"]:
                        click.echo(f"  not eligible: {file['cadre_id']} {file['name'] or ''}")
            if compare:
                against, lines = differences(generation, logs, projection, heads)
                for line in lines:
                    click.echo(f"  DIFFERS {line}")
                click.echo(f"  compared with {against}: {len(lines)} document(s) differ")
                differ = differ or bool(lines)
    finally:
        logs.close()
        target.close()
    if applied == 0:
        click.echo(f"nothing in the logs took effect by {day or recorded_until.date()}: the "
                   "replay is empty (is the day right? --until goes by the dates events "
                   "carry, --recorded-until by when they were recorded)", err=True)  # fmt: skip
        sys.exit(1)
    if cadre_id is not None:
        client, db = connect(uri, database)
        try:
            show_file(files or [], cadre_id, day or recorded_until.date(), db)
        finally:
            client.close()
    if differ:
        sys.exit(1)


def show_file(files: list[dict], cadre_id: str, day: date, db) -> None:
    """Print a cadre's replayed personnel file: eligibility and why, citing each cause by
    its log and position as `audit history` does, then the whole file."""
    from events.audit.history import canonical_id, positions_of

    wanted = canonical_id(cadre_id)
    found = next((f for f in files if f["cadre_id"] == wanted), None)
    if found is None:
        click.echo(f"no cadre {cadre_id} registered by {day}", err=True)
        sys.exit(1)
    standing = found["eligible_for_promotion"]
    verdict = "eligible" if standing["eligible"] else "NOT eligible"
    click.echo(f"{found['name'] or wanted} on {day}: {verdict} for promotion")
    for reason in standing["reasons"]:
        click.echo(f"  because {reason}")
    in_force = [r for r in found["restrictions"] if r["in_force"]]
    cited = positions_of(db, {cause for r in in_force for cause in r["caused_by"]})
    for restriction in in_force:
        causes = ", ".join(f"{cited[c]} ({c})" if c in cited else c
                           for c in restriction["caused_by"])  # fmt: skip
        click.echo(f"  {restriction['rule']} (rules {restriction['rules_version']}) in force "
                   f"{restriction['starts']} to {restriction['ends']}, caused by "
                   f"{causes}")  # fmt: skip
    click.echo(json.dumps(found, ensure_ascii=False, indent=1))
