"""Services and agencies as distinct RabbitMQ users, with the production policy.

Users are made through RabbitMQ's management API (nameko's ``rabbit_manager``) for one test
module, with names of its own (so that concurrent test runs never share one), and get
permissions on the module's vhost only: each agency exactly what docs/rpc-wire.md says
(``events.identity.agency.agency_broker_permissions``), each service what it declares
(``events.identity.service_permissions``, as k8s/overlays/prod/rabbitmq-users.yaml).
The policy maps them to their roles through ``YOUWEI_AGENCIES``; ``guest`` keeps its
``local_development`` role, which grants nothing in production.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlparse

import pymongo

from events.identity.agency import agency_broker_permissions
from events.identity.service_permissions import service_broker_permissions
from tests.events.support import fresh_database_name
from tests.services.support import RATER_KEY
from youwei.ports import free_port

#: The agencies of the tests: short name → role.
AGENCY_ROLES = {
    "org": "organization_department",
    "org_b": "organization_department",
    "commission": "discipline_commission",
    "commission_b": "discipline_commission",
    "office": "inspection_office",
    "office_b": "inspection_office",
    "hall": "service_hall",
    "auditor": "auditor",
}
#: The services' own users: service → the role the policy gives it (None: it calls nobody).
SERVICE_ROLES = {
    "cadre_registry": None,
    "evaluations": "evaluations_service",
    "inspections": "inspections_service",
    "accountability": "accountability_service",
    "records": None,
}


@dataclass
class Stack:
    vhost: str
    host: str
    users: dict[str, str]  # short name (agency or service) → RabbitMQ user
    passwords: dict[str, str]
    database: Any
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    containers: dict[str, Any] = field(default_factory=dict)

    def uri(self, who: str) -> str:
        user = self.users[who]
        return (
            f"pyamqp://{quote(user, safe='')}:{quote(self.passwords[who], safe='')}"
            f"@{self.host}/{quote(self.vhost, safe='')}"
        )


@contextmanager
def agency_stack(
    service_classes, rabbit_manager, rabbit_config, container_factory, mongodb_uri, **config
) -> Iterator[Stack]:
    """Start ``service_classes``, each as its own user, with the production policy; yield
    the stack; kill the services, drop their database, delete the users."""
    vhost = rabbit_config["vhost"]
    suffix = secrets.token_hex(4)
    names = [*AGENCY_ROLES, *SERVICE_ROLES]
    users = {name: f"yw-test-{name.replace('_', '-')}-{suffix}" for name in names}
    passwords = {name: secrets.token_hex(12) for name in names}
    host = urlparse(rabbit_config["AMQP_URI"]).netloc.rpartition("@")[2]
    database = fresh_database_name()
    client = pymongo.MongoClient(mongodb_uri, uuidRepresentation="standard", tz_aware=True)
    stack = Stack(vhost, host, users, passwords, client[database])
    roles = {users[name]: [role] for name, role in AGENCY_ROLES.items()}
    roles |= {users[name]: [role] for name, role in SERVICE_ROLES.items() if role}
    roles["guest"] = ["local_development"]  # as in the published mapping: off in production
    classes = {service_class.name: service_class for service_class in service_classes}
    try:
        for name in names:
            rabbit_manager._put(
                "users", users[name], json={"password": passwords[name], "tags": ""}
            )
            if name in AGENCY_ROLES:
                allowed = agency_broker_permissions(users[name])
            elif name in classes:  # exactly what its declarations need (rabbitmq-users.yaml)
                allowed = service_broker_permissions(classes[name])
            else:
                rabbit_manager.set_vhost_permissions(vhost, users[name], ".*", ".*", ".*")
                continue
            permissions = allowed["permissions"]
            rabbit_manager.set_vhost_permissions(
                vhost, users[name], permissions["configure"], permissions["read"],
                permissions["write"],
            )  # fmt: skip
            for topic in allowed["topic_permissions"]:
                rabbit_manager._put("topic-permissions", vhost, users[name], json=topic)
        for service_class in service_classes:
            stack.configs[service_class.name] = {
                "AMQP_URI": stack.uri(service_class.name),
                "EVENTSOURCING": {
                    "MONGODB_URI": mongodb_uri,
                    "MONGODB_DATABASE": database,
                    "EVALUATIONS_RATER_KEY": RATER_KEY,
                },
                "YOUWEI_AUTH_POLICY": "production",
                "YOUWEI_AGENCIES": roles,
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                "PROJECTIONS_POLL_SECONDS": 0.2,
                "EVENT_RETRY_DELAYS": [0.2, 0.5],
                **config,
            }
            start(stack, container_factory, service_class)
        yield stack
    finally:
        for container in stack.containers.values():
            container.kill()
        client.drop_database(database)
        client.close()
        for name in names:
            rabbit_manager._delete("users", users[name])


def start(stack: Stack, container_factory, service_class) -> Any:
    """Start (again) a service of the stack, as its own user."""
    container = container_factory(service_class, stack.configs[service_class.name])
    container.start()
    stack.containers[service_class.name] = container
    return container
