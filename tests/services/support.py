"""Run a youwei service in a nameko container on a RabbitMQ vhost of the test's own, with
a fresh database, and call it over RPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from uuid import uuid4

import pymongo
from nameko.exceptions import RemoteError
from nameko.testing.services import replace_dependencies

from events.identity.agency import IdentifiedClusterRpcProxy
from tests.events.support import fresh_database_name

ACTOR = {"agency": "组织部 organization department", "person": "tester"}


def command(**fields) -> dict:
    return {"command_id": str(uuid4()), "actor": ACTOR, **fields}


RATER_KEY = "test-rater-key"


class FixedClock:
    """The services' clock in a test: today is what the test says."""

    def __init__(self, today: date) -> None:
        self.date = today

    def today(self) -> date:
        return self.date


@contextmanager
def running_services(
    service_classes, container_factory, rabbit_config, mongodb_uri, clock=None, **config
) -> Iterator:
    """Yield (cluster rpc proxy, the services' database). Services with a ``clock`` get
    ``clock``; ``config`` adds to the services' configuration. The proxy calls as the
    configuration's RabbitMQ user (``guest``: the local_development role)."""
    database = fresh_database_name()
    config = {
        **rabbit_config,
        "EVENTSOURCING": {
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DATABASE": database,
            "EVALUATIONS_RATER_KEY": RATER_KEY,
        },
        **config,
    }
    containers = []
    for service_class in service_classes:
        container = container_factory(service_class, config)
        if clock is not None and hasattr(service_class, "clock"):
            replace_dependencies(container, clock=clock)
        container.start()
        containers.append(container)
    client = pymongo.MongoClient(mongodb_uri, uuidRepresentation="standard", tz_aware=True)
    try:
        with IdentifiedClusterRpcProxy(config, timeout=60) as cluster:
            yield cluster, client[database]
    finally:
        for container in containers:  # no service may be mid-transaction on what is dropped
            container.kill()
        client.drop_database(database)
        client.close()


@contextmanager
def running_service(service_class, container_factory, rabbit_config, mongodb_uri) -> Iterator:
    """Yield (rpc proxy of the service, its database)."""
    with running_services([service_class], container_factory, rabbit_config, mongodb_uri) as (
        cluster,
        database,
    ):
        yield getattr(cluster, service_class.name), database


def invalid_fields(error: RemoteError) -> dict:
    assert error.exc_type == "InvalidCommand", error
    return json.loads(error.value)
