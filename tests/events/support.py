"""A fresh database per test, so no test sees another's (or an earlier run's) data."""

from __future__ import annotations

import os
from unittest import TestCase
from uuid import uuid4

from eventsourcing.utils import Environment

from events.log.mongodb import MongoDBFactory


def fresh_database_name() -> str:
    return f"test_{uuid4().hex[:16]}"


def new_factory(database: str, name: str = "", **env: str) -> MongoDBFactory:
    return MongoDBFactory(
        Environment(
            name=name,
            env={"MONGODB_URI": os.environ["MONGODB_URI"], "MONGODB_DATABASE": database, **env},
        )
    )


class FreshDatabase(TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.database_name = fresh_database_name()
        self.factory = new_factory(self.database_name)

    def tearDown(self) -> None:
        self.factory.datastore.client.drop_database(self.database_name)
        self.factory.close()
        super().tearDown()
