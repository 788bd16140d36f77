"""What the verifiers say when nothing is signed yet, or what is held holds nothing (issue
26's second walk-through): a verification that no signature by the pinned key vouches for
is NOT VERIFIED (exit 3), never clean; a records.json saved before the first checkpoint is
reported as holding nothing by both verifiers, and fails neither; `audit checkpoint` tries
every log and reports each refusal."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import StoredEvent

from events.audit.checkpoints import CHECKPOINTS, Keys, SignedHeads, load_private_key, sign_head
from events.audit.export import export
from tests.events.support import new_factory
from tests.events.test_audit import LOG, ROOT, database, key_file, rewrite_from
from tests.events.test_audit_forgeries import city, kid
from youwei.cli import main

__all__ = ["city", "database", "key_file"]  # the fixtures, imported
pytestmark = pytest.mark.plain  # the command line and files: once, in the plain pass


def verify(database, *args: str):
    uri = "mongodb://{}:{}".format(*database.client.address)
    where = ["--uri", uri, "--database", database.name]
    return CliRunner().invoke(main, ["audit", "verify", *args, *where])


def standalone(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "verify-export"), str(directory), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_nothing_signed_by_the_pinned_key_is_not_verified(database, key_file, tmp_path):
    """An unsigned export with no checkpoints, against a copy of itself, ended clean (exit
    0) in both verifiers though the pinned key signed nothing; and the live verify said ok
    with 0 signed checkpoints in a new stack's first minutes."""
    private = load_private_key(key_file)
    pinned = Keys(database).ensure(private)  # in service, but it has signed nothing yet
    unsigned, copy = tmp_path / "unsigned", tmp_path / "copy"
    export(database, unsigned, None)
    shutil.copytree(unsigned, copy)
    against = ["--trust", pinned, "--against", str(copy)]

    offline = verify(database, "--from", str(unsigned), *against)
    assert offline.exit_code == 3, offline.output
    assert "NOT VERIFIED: nothing signed by the pinned key" in offline.output
    result = standalone(unsigned, *against)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "NOT VERIFIED: nothing signed by the pinned key" in result.stdout
    assert not result.stdout.endswith("clean\n")

    live = verify(database, "--trust", pinned)
    assert live.exit_code == 3, live.output
    assert f"{LOG}: ok, 12 events, 0 signed checkpoints" in live.output
    assert "NOT SIGNED YET" in live.output
    assert f"NOT VERIFIED: nothing signed by the pinned key yet in {LOG}" in live.output

    sign_head(database, private, LOG)  # the first checkpoint: now a signature vouches
    assert verify(database, "--trust", pinned).exit_code == 0
    signed = tmp_path / "signed"
    export(database, signed, None)
    assert verify(database, "--from", str(signed), "--trust", pinned, "--against",
                  str(copy)).exit_code == 0  # fmt: skip
    assert standalone(signed, "--trust", pinned, "--against", str(copy)).returncode == 0


def test_a_records_json_saved_before_the_first_checkpoint_holds_nothing(
    database, city, tmp_path
) -> None:
    """`audit verify --against` stopped with a usage error (exit 2, no verdict) where
    verify-export counted a problem (exit 1): both now say it holds nothing and check on."""
    early = tmp_path / "records-early.json"
    early.write_text(json.dumps({"records": [], "integrity": {"checkpoints": [], "keys": []}}))
    exported = tmp_path / "export"
    export(database, exported, city)
    for how in ([], ["--from", str(exported)]):
        found = verify(database, "--trust", kid(city), "--against", str(early), *how)
        assert found.exit_code == 0, found.output
        assert f"against {early}: holds nothing" in found.output
        assert f"{LOG}: ok" in found.output
    result = standalone(exported, "--trust", kid(city), "--against", str(early))
    assert result.returncode == 0, result.stdout
    assert f"against {early}: holds nothing" in result.stdout
    assert result.stdout.endswith("clean\n")


def test_held_lines_count_all_that_was_held_and_name_the_exports_chain(
    database, city, tmp_path
) -> None:
    """After a break, the held export's count stopped where the walk stopped ("held 4
    event hashes … up to 4" for an export of 15), and `verify --from` said "today's chain"
    for the export's."""
    held = tmp_path / "held"
    export(database, held, city)
    rewrite_from(database, 5, b'{"n":999}')
    database[CHECKPOINTS].delete_many({})
    taken = tmp_path / "taken"
    export(database, taken, None)
    for how, chain in (([], "today's chain"), (["--from", str(taken)], "the export's chain")):
        found = verify(database, "--trust", kid(city), "--against", str(held), *how)
        assert found.exit_code == 1, found.output
        assert f"held 15 event hashes and 2 checkpoints up to position 15; {chain} agrees up to " \
               "position 4" in found.output, found.output  # fmt: skip
        assert f"{chain} has" in found.output
    output = standalone(taken, "--trust", kid(city), "--against", str(held)).stdout
    assert f"against {held}: held 15 event hashes and 2 checkpoints up to position 15" in output


def test_checkpoint_tries_every_log_and_reports_each_refusal(database, key_file, tmp_path):
    """`audit checkpoint` stopped at the first refusal and never tried the other logs."""
    other = new_factory(database.name, name="Zother")  # a second log, after the first
    other.application_recorder().insert_events([StoredEvent(uuid4(), 1, "tests:Happened", b"{}")])
    heads = tmp_path / "heads.json"
    private = load_private_key(key_file)
    sign_head(database, private, LOG, SignedHeads(heads))
    rewrite_from(database, 5, b'{"n":999}')
    uri = "mongodb://{}:{}".format(*database.client.address)
    where = ["--uri", uri, "--database", database.name]
    result = CliRunner(env={"AUDIT_SIGNED_HEADS_FILE": str(heads)}).invoke(
        main, ["audit", "checkpoint", "--key-file", str(key_file), *where]
    )
    other.close()
    assert result.exit_code == 1, result.output
    assert f"{LOG}: REFUSED: " in result.output
    assert "zother_events: signed position 1" in result.output
    assert f"1 log(s) refused: {LOG}" in result.output


def test_verify_export_counts_every_verdict_line(database, city, tmp_path) -> None:
    """A broken export checked without --trust printed two verdict lines (BROKEN, NOT
    VERIFIED) and "1 problem(s)"."""
    exported = tmp_path / "export"
    export(database, exported, city)
    (exported / "keys.json").write_text("[]")  # its digest no longer matches
    result = standalone(exported)
    verdicts = [line for line in result.stdout.splitlines()
                if line.startswith(("BROKEN", "NOT VERIFIED"))]  # fmt: skip
    assert result.returncode == 1 and len(verdicts) >= 2, result.stdout
    assert result.stdout.endswith(f"{len(verdicts)} problem(s)\n"), result.stdout
