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
        show_default="youwei",
    )(command)
    return click.option(
        "--uri",
        default=lambda: os.environ.get("MONGODB_URI", DEFAULT_URI),
        show_default=DEFAULT_URI,
    )(command)


def local_signing_key() -> Path:
    """Where ``youwei up`` keeps the local stack's signing key (``youwei.stack.signing_key``,
    which makes it when missing; this only names it)."""
    from youwei.stack import state_dir

    return state_dir() / "audit-signing-key.pem"


def default_key_file() -> str | None:
    """``AUDIT_SIGNING_KEY_FILE``, else the local stack's key if ``youwei up`` made one."""
    if os.environ.get("AUDIT_SIGNING_KEY_FILE"):
        return os.environ["AUDIT_SIGNING_KEY_FILE"]
    local = local_signing_key()
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
    from events.checkpoints import SigningKeyError, load_private_key

    if not key_file:
        raise click.UsageError(
            "no signing key: give --key-file or set AUDIT_SIGNING_KEY_FILE "
            f"(on the local stack, `youwei up` makes {local_signing_key()})"
        )
    try:
        return load_private_key(key_file)
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error


def report(verdicts) -> bool:
    """Print each log's verdict; True if all are clean."""
    clean = True
    for verdict in verdicts:
        if verdict.ok:
            click.echo(
                f"{verdict.log}: ok, {verdict.events_checked} events, "
                f"{verdict.checkpoints_checked} signed checkpoints, "
                f"head {verdict.head_position} {verdict.head_hash}"
            )
        else:
            clean = False
            first = verdict.first_break
            click.echo(f"{verdict.log}: BROKEN at position {first.position}: {first.reason}")
    return clean


@click.group()
def audit() -> None:
    """Verify, sign, export, read and replay the event logs."""


@audit.command()
@click.option("--log", "log_names", multiple=True, help="A log (events collection); default: all.")
@click.option(
    "--from",
    "export_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Verify an export (youwei audit export) offline instead of the database.",
)
@click.option("--trust", help="A key id the export must hold (pinned from the public page).")
@database_options
def verify(log_names, export_dir, trust, uri: str, database: str) -> None:
    """Check each log's hash chain and signed checkpoints; print the first broken position
    with what differs, or a clean bill; exit 1 on any break."""
    if export_dir is not None:
        verify_export_dir(export_dir, tuple(log_names), trust)
        return
    from events import verify as verifier

    client, db = connect(uri, database)
    names = list(log_names) or verifier.logs(db)
    if not names:
        click.echo(f"no logs in database {database!r}")
    verdicts = []
    for name in names:
        total = db[name].estimated_document_count()
        with click.progressbar(length=total, label=f"verifying {name}", file=sys.stderr) as bar:
            verdicts.append(verifier.verify_log(db, name, progress=bar.update))
    client.close()
    if not report(verdicts):
        sys.exit(1)


def verify_export_dir(directory: Path, only: tuple[str, ...], trust: str | None) -> None:
    from events.export import ExportProblem, verify_export

    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        click.echo(f"export BROKEN: cannot read manifest.json: {error}")
        sys.exit(1)
    total = sum(entry.get("count", 0) for entry in manifest.get("logs", {}).values())
    try:
        with click.progressbar(length=total, label="verifying the export", file=sys.stderr) as bar:
            problems, verdicts = verify_export(directory, bar.update, trust, only)
    except ExportProblem as error:
        click.echo(f"export BROKEN: {error}")
        sys.exit(1)
    for problem in problems:
        click.echo(f"export BROKEN: {problem}")
    keys = ", ".join(key["id"] for key in json.loads((directory / "keys.json").read_text()))
    clean = report(verdicts) and not problems
    click.echo(f"signing keys: {keys}")
    if not clean:
        sys.exit(1)


@audit.command()
@click.option("--log", "log_names", multiple=True, help="A log; default: every log.")
@key_option
@database_options
def checkpoint(log_names, key_file, uri: str, database: str) -> None:
    """Sign each log's head now (the services also do it every AUDIT_CHECKPOINT_SECONDS)."""
    from events.checkpoints import SigningKeyError, sign_head
    from events.verify import logs

    private = private_key(key_file)
    client, db = connect(uri, database)
    try:
        for name in list(log_names) or logs(db):
            signed = sign_head(db, private, name)
            if signed is None:
                click.echo(f"{name}: head already signed (or empty)")
            else:
                click.echo(f"{name}: signed position {signed['position']} {signed['hash']} "
                           f"with key {signed['key_id']}")  # fmt: skip
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()


@audit.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keygen(out: Path) -> None:
    """Write a new Ed25519 signing key (PEM, readable by its owner only) to OUT."""
    from events.checkpoints import key_id, load_private_key, new_private_key_pem

    if out.exists():
        raise click.ClickException(f"{out} exists: a key is never overwritten")
    out.touch(mode=0o600)
    out.write_bytes(new_private_key_pem())
    click.echo(f"key {key_id(load_private_key(out).public_key())} written to {out}")


@audit.command("rotate-key")
@click.option("--from", "old", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "new", required=True, type=click.Path(exists=True, dir_okay=False))
@database_options
def rotate_key(old: str, new: str, uri: str, database: str) -> None:
    """Retire the key in service (--from) for a new one (--to); both sign the rotation."""
    from events.checkpoints import Keys, SigningKeyError

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
@database_options
def export(directory: Path, key_file, uri: str, database: str) -> None:
    """Every log as JSON Lines, the checkpoints, the keys and a signed manifest in
    DIRECTORY, for `youwei audit verify --from DIRECTORY`."""
    from events.checkpoints import SigningKeyError
    from events.export import export as write_export
    from events.verify import logs

    private = private_key(key_file)
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty")
    client, db = connect(uri, database)
    total = sum(db[name].estimated_document_count() for name in logs(db))
    try:
        with click.progressbar(length=total, label="exporting", file=sys.stderr) as bar:
            manifest = write_export(db, directory, private, bar.update)
    except SigningKeyError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    for name, entry in manifest["logs"].items():
        click.echo(f"{name}: {entry['count']} events, head {entry['head']['position']}")
    click.echo(f"{manifest['checkpoints']['count']} checkpoints; manifest signed by key "
               f"{manifest['signature']['key_id']}")  # fmt: skip


@audit.command()
@click.argument("cadre_id")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
@database_options
def history(cadre_id: str, as_json: bool, uri: str, database: str) -> None:
    """Everything about a cadre across every log, by time: who sent which command, and what
    caused it."""
    from events.history import describe
    from events.history import history as read_history
    from events.verify import logs

    client, db = connect(uri, database)
    total = sum(db[name].estimated_document_count() for name in logs(db))
    with click.progressbar(length=total, label="reading the logs", file=sys.stderr) as bar:
        events = read_history(db, cadre_id, bar.update)
    client.close()
    if as_json:
        click.echo(json.dumps(events, ensure_ascii=False, indent=1))
    else:
        for line in describe(events):
            click.echo(line)
    if not events:
        click.echo(f"nothing about {cadre_id} in any log", err=True)
        sys.exit(1)


@audit.command()
@click.option("--until", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="The day (YYYY-MM-DD): events recorded by its end count.")  # fmt: skip
@click.option("--into", "scratch", required=True, help="A scratch database to build into.")
@click.option("--compare", is_flag=True, help="Report documents that differ from the live ones.")
@click.option("--timezone", default=lambda: os.environ.get("YOUWEI_TIMEZONE", "Asia/Shanghai"))
@database_options
def replay(until: datetime, scratch: str, compare: bool, timezone: str, uri: str, database: str):
    """Rebuild the projections as they stood at the end of a day into a scratch database."""
    from events.mongodb import MongoDBDatastore
    from events.projections import differences
    from events.projections import replay as replay_into
    from schemas.events import LOGS
    from services.records.projections import PersonnelFiles, PublicRecords

    if scratch == database:
        raise click.BadParameter(
            "the scratch database must not be the live one", param_hint="--into"
        )
    end = datetime.combine(date.fromordinal(until.toordinal()) + timedelta(days=1), time(),
                           ZoneInfo(timezone))  # fmt: skip
    logs, target = MongoDBDatastore(uri, database), MongoDBDatastore(uri, scratch)
    total = sum(logs.collection(name).estimated_document_count() for name in LOGS.values())
    differ = False
    try:
        for projection in (PersonnelFiles(), PublicRecords()):
            label = f"replaying {projection.name}"
            with click.progressbar(label=label, length=total, file=sys.stderr) as bar:
                generation, heads = replay_into(logs, target, projection, end, bar.update)
            at = ", ".join(f"{s} {p}" for s, p in heads.items())
            click.echo(f"{projection.name}: built in {scratch} at {at}")
            if compare:
                against, lines = differences(generation, logs, projection, heads)
                for line in lines:
                    click.echo(f"  DIFFERS {line}")
                click.echo(f"  compared with {against}: {len(lines)} document(s) differ")
                differ = differ or bool(lines)
    finally:
        logs.close()
        target.close()
    if differ:
        sys.exit(1)
