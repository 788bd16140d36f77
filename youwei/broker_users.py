"""The services' RabbitMQ users for the Messaging Topology Operator, from what their code
declares (``events.identity.service_permissions``):

    .venv/bin/python -m youwei.broker_users > k8s/overlays/prod/rabbitmq-users.yaml

tests/test_broker_permissions.py keeps that file equal to this output."""

from __future__ import annotations

import sys

import yaml

from events.identity.service_permissions import service_broker_permissions

HEADER = """\
# Each service connects to RabbitMQ as a user of its own (youwei-<service>): the services'
# authorization knows a caller by the user the broker vouches for (docs/rpc.md). The users
# and their permissions on the vhost / are made by the RabbitMQ Messaging Topology Operator
# from Secrets youwei-amqp-<service> (keys username, password) that their owner creates.
# Least privilege: each user may declare, bind and read only what its service declares (its
# RPC queue and reply queues, its log's exchange, its event handlers' queues and the
# exchanges they bind to, the records projections' wake-up queue), and bind or publish only
# with its own routing keys (topic permissions): events.identity.service_permissions derives
# them from the services' code. Generated: python -m youwei.broker_users (do not edit).
"""
CLUSTER = {"name": "youwei-rabbitmq"}


def service_classes() -> list[type]:
    from services.accountability.service import AccountabilityService
    from services.cadre_registry.service import CadreRegistryService
    from services.evaluations.service import EvaluationsService
    from services.inspections.service import InspectionsService
    from services.records.service import RecordsService

    return [CadreRegistryService, EvaluationsService, InspectionsService,
            AccountabilityService, RecordsService]  # fmt: skip


def documents() -> list[dict]:
    found = []
    for service in service_classes():
        user = f"youwei-{service.name.replace('_', '-')}"
        derived = service_broker_permissions(service)
        secret = {"name": f"youwei-amqp-{user.removeprefix('youwei-')}"}
        found.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "User",
                      "metadata": {"name": user},
                      "spec": {"rabbitmqClusterReference": CLUSTER,
                               "importCredentialsSecret": secret}})  # fmt: skip
        found.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission",
                      "metadata": {"name": user},
                      "spec": {"vhost": "/", "userReference": {"name": user},
                               "permissions": derived["permissions"],
                               "rabbitmqClusterReference": CLUSTER}})  # fmt: skip
        for topic in derived["topic_permissions"]:
            name = f"{user}-{topic['exchange'].replace('.', '-').replace('_', '-')}"
            found.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "TopicPermission",
                          "metadata": {"name": name},
                          "spec": {"vhost": "/", "userReference": {"name": user},
                                   "permissions": topic,
                                   "rabbitmqClusterReference": CLUSTER}})  # fmt: skip
    return found


def render() -> str:
    body = yaml.safe_dump_all(documents(), sort_keys=False, allow_unicode=True, width=200)
    return HEADER + body


if __name__ == "__main__":
    sys.stdout.write(render())
