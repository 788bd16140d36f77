"""``youwei db init`` (youwei/dbinit.py): what the services would create at their start,
made once, before them; twice is the same as once."""

from __future__ import annotations

import pymongo
import pytest
from click.testing import CliRunner

from schemas.events import LOGS
from tests.events.support import fresh_database_name
from youwei.cli import main

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


def test_db_init_creates_every_log_with_its_head_indexes_and_projections(mongodb_uri) -> None:
    database = fresh_database_name()
    client = pymongo.MongoClient(mongodb_uri)
    try:
        for _ in range(2):
            result = CliRunner().invoke(
                main, ["db", "init", "--uri", mongodb_uri, "--database", database]
            )
            assert result.exit_code == 0, result.output
            assert f"database {database!r}" in result.output
        db = client[database]
        names = set(db.list_collection_names())
        for log in LOGS.values():
            assert log in names
            indexes = {index["name"] for index in db[log].list_indexes()}
            assert {"position_unique", "originator_version_unique"} <= indexes, log
        heads = {head["_id"]: head["position"] for head in db["log_heads"].find()}
        assert heads == dict.fromkeys(LOGS.values(), 0)
        pointers = {p["_id"]: p["generation"] for p in db["projections"].find()}
        assert pointers == {"personnel": 1, "public": 1, "keywork": 1}
        assert {"public_g1_records", "public_g1_tracking", "personnel_g1_tracking"} <= names
        assert db["cadreregistry_events"].count_documents({}) == 0  # no event written
    finally:
        client.drop_database(database)
        client.close()
