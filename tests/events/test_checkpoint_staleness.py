"""What YouweiCheckpointStale watches (issue 24, item 4): the age of the oldest event that no
signed checkpoint covers. Signing skips an unchanged head, so a quiet log, or an empty one on
a fresh install, is never stale however long ago its last signature was; an appended event
that stays unsigned is, from the moment it was appended."""

from __future__ import annotations

import time

import pymongo
import pytest

from events.audit.checkpoints import load_private_key, sign_head, unsigned_event_age
from tests.events.support import fresh_database_name
from tests.events.test_audit import LOG, append, database, key_file  # noqa: F401  (fixtures)

DAY = 86400.0


def test_an_empty_log_is_never_stale(mongodb_uri) -> None:
    client = pymongo.MongoClient(mongodb_uri, tz_aware=True)
    try:
        assert unsigned_event_age(client[fresh_database_name()], LOG, time.time() + DAY) == 0.0
    finally:
        client.close()


def test_a_quiet_signed_log_stays_fresh_and_an_unsigned_event_grows_old(database, key_file) -> None:  # noqa: F811
    now = time.time()
    assert unsigned_event_age(database, LOG, now + DAY) >= DAY  # twelve events, none signed
    sign_head(database, load_private_key(key_file), LOG)
    assert sign_head(database, load_private_key(key_file), LOG) is None  # unchanged: skipped
    assert unsigned_event_age(database, LOG, now + DAY) == 0.0  # a day later, still nothing due
    append(database, 2)
    appended = database[LOG].find_one({"position": 13})["recorded_at"].timestamp()
    assert unsigned_event_age(database, LOG, appended + 600) == pytest.approx(600.0)
    sign_head(database, load_private_key(key_file), LOG)
    assert unsigned_event_age(database, LOG, appended + DAY) == 0.0
