"""The ``eventsourcing`` library's persistence module for MongoDB: its factory.

Configured as ``PERSISTENCE_MODULE=events.mongodb`` (the name users configure, which
re-exports this factory); the recorders are in ``events.log.recorders``, the database and its
transactions in ``events.log.datastore``.

Environment: ``MONGODB_URI`` (default ``mongodb://127.0.0.1:27017``), ``MONGODB_DATABASE``
(default ``youwei``), ``CREATE_TABLE`` (default yes: create collections and indexes),
``MONGODB_GROUP_COMMIT_MAX_EVENTS`` (default 1000), ``MONGODB_SUBSCRIBE_POLL_SECONDS``
(default 0.5: the longest a subscription waits on the change stream before re-reading),
``MONGODB_READ_CONCERN`` (``majority``, the default, or ``snapshot``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    ProgrammingError,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool

from events.log.datastore import datastore_from_settings
from events.log.recorders import (
    MongoDBAggregateRecorder,
    MongoDBApplicationRecorder,
    MongoDBProcessRecorder,
    MongoDBTrackingRecorder,
)


class MongoDBFactory(InfrastructureFactory[MongoDBTrackingRecorder]):
    #: Known by the module deployments configure (``events.mongodb``), not where it lives.
    TOPIC = "events.mongodb:MongoDBFactory"

    MONGODB_URI = "MONGODB_URI"
    MONGODB_DATABASE = "MONGODB_DATABASE"
    MONGODB_GROUP_COMMIT_MAX_EVENTS = "MONGODB_GROUP_COMMIT_MAX_EVENTS"
    MONGODB_SUBSCRIBE_POLL_SECONDS = "MONGODB_SUBSCRIBE_POLL_SECONDS"
    MONGODB_READ_CONCERN = "MONGODB_READ_CONCERN"
    CREATE_TABLE = "CREATE_TABLE"

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.max_group_events = self._env_number(self.MONGODB_GROUP_COMMIT_MAX_EVENTS, 1000, int)
        self.subscribe_poll_seconds = self._env_number(
            self.MONGODB_SUBSCRIBE_POLL_SECONDS, 0.5, float
        )
        self.datastore = datastore_from_settings(self.env.get)

    def _env_number(self, key: str, default: Any, kind: type) -> Any:
        value = self.env.get(key)
        if not value:
            return default
        try:
            number = kind(value)
        except ValueError:
            number = 0
        if number <= 0:
            msg = f"{key} must be a positive {kind.__name__}, not {value!r}"
            raise OSError(msg)
        return number

    def _create_table(self) -> bool:
        return strtobool(self.env.get(self.CREATE_TABLE) or "yes")

    def _prefix(self, default: str) -> str:
        return self.env.name.lower() or default

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = MongoDBAggregateRecorder(self.datastore, f"{self._prefix('stored')}_{purpose}")
        if self._create_table():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        recorder_class = self._recorder_class(
            self.APPLICATION_RECORDER_TOPIC, MongoDBApplicationRecorder
        )
        recorder = recorder_class(
            self.datastore,
            f"{self._prefix('stored')}_events",
            self.max_group_events,
            self.subscribe_poll_seconds,
        )
        if self._create_table():
            recorder.create_table()
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[MongoDBTrackingRecorder] | None = None
    ) -> MongoDBTrackingRecorder:
        if tracking_recorder_class is None:
            tracking_recorder_class = self._recorder_class(
                self.TRACKING_RECORDER_TOPIC, MongoDBTrackingRecorder
            )
        recorder = tracking_recorder_class(
            self.datastore, f"{self._prefix('notification')}_tracking"
        )
        if self._create_table():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        recorder_class = self._recorder_class(self.PROCESS_RECORDER_TOPIC, MongoDBProcessRecorder)
        recorder = recorder_class(
            self.datastore,
            f"{self._prefix('stored')}_events",
            f"{self._prefix('notification')}_tracking",
            self.max_group_events,
            self.subscribe_poll_seconds,
        )
        if self._create_table():
            recorder.create_table()
        return recorder

    def _recorder_class(self, topic_key: str, default: type) -> type:
        topic = self.env.get(topic_key)
        if not topic:
            return default
        recorder_class = resolve_topic(topic)
        if not (isinstance(recorder_class, type) and issubclass(recorder_class, default)):
            msg = f"{topic_key}={topic!r} is not a subclass of {default.__name__}"
            raise ProgrammingError(msg)
        return recorder_class

    def close(self) -> None:
        with contextlib.suppress(AttributeError):
            self.datastore.close()
