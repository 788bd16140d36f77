"""The eventsourcing library's own recorder and application test cases, run against
``events.mongodb`` on a real SecantusDB server.

The suites are reached through their modules so that pytest collects only our subclasses.
"""

from __future__ import annotations

import os

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests import application as application_suites
from eventsourcing.tests import persistence as suites
from eventsourcing.utils import Environment

from events.log.mongodb import MongoDBFactory
from events.log.recorders import (
    MongoDBAggregateRecorder,
    MongoDBApplicationRecorder,
    MongoDBProcessRecorder,
    MongoDBTrackingRecorder,
)
from tests.events.support import FreshDatabase, fresh_database_name, new_factory


class TestAggregateRecorder(FreshDatabase, suites.AggregateRecorderTestCase):
    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder()


class TestApplicationRecorder(
    FreshDatabase, suites.ApplicationRecorderTestCase[ApplicationRecorder]
):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(FreshDatabase, suites.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory.tracking_recorder()


class TestProcessRecorder(FreshDatabase, suites.ProcessRecorderTestCase):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()


class TestNonInterleavingNotificationIDs(
    FreshDatabase, suites.NonInterleavingNotificationIDsBaseCase
):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()


class MyTrackingRecorder(MongoDBTrackingRecorder):
    """A subclass, to check the factory honours one given as class or topic."""


class TestInfrastructureFactory(suites.InfrastructureFactoryTestCase[MongoDBFactory]):
    def setUp(self) -> None:
        self.database_name = fresh_database_name()
        self.env = Environment(
            "TestCase",
            {
                "PERSISTENCE_MODULE": "events.mongodb",
                "MONGODB_URI": os.environ["MONGODB_URI"],
                "MONGODB_DATABASE": self.database_name,
            },
        )
        super().setUp()

    def tearDown(self) -> None:
        self.factory.datastore.client.drop_database(self.database_name)
        super().tearDown()

    def expected_factory_class(self) -> type[MongoDBFactory]:
        return MongoDBFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return MongoDBAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return MongoDBApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return MongoDBTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return MyTrackingRecorder

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return MongoDBProcessRecorder


class TestExampleApplication(application_suites.ExampleApplicationTestCase):
    expected_factory_topic = "events.mongodb:MongoDBFactory"

    def setUp(self) -> None:
        super().setUp()
        self.database_name = fresh_database_name()
        self.saved_env = {k: os.environ.get(k) for k in ("PERSISTENCE_MODULE", "MONGODB_DATABASE")}
        os.environ["PERSISTENCE_MODULE"] = "events.mongodb"
        os.environ["MONGODB_DATABASE"] = self.database_name

    def tearDown(self) -> None:
        factory = new_factory(self.database_name)
        factory.datastore.client.drop_database(self.database_name)
        factory.close()
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        super().tearDown()
