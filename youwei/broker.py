"""An agency's RabbitMQ user: its permissions (``agency_broker_permissions``) for one vhost, as
``rabbitmqctl`` commands, as the Topology Operator's objects, or applied through RabbitMQ's
management API (docs/operations.md, "Agencies' broker users")."""

from __future__ import annotations

import base64
import json
import re
import shlex
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from events.identity.agency import agency_broker_permissions
from youwei.stack import RABBIT_MANAGEMENT_PORT, amqp_uri


def rabbitmqctl(user: str, vhost: str = "/") -> list[str]:
    """The commands that make ``user`` an agency's user on ``vhost``: ``add_user`` asks for
    the password the operator chooses; then the vhost's permissions (configure, write, read)
    and one topic permission per exchange (write, read)."""
    allowed = agency_broker_permissions(user)
    permissions = allowed["permissions"]
    lines = [
        ["rabbitmqctl", "add_user", user],
        ["rabbitmqctl", "set_permissions", "-p", vhost, user, permissions["configure"],
         permissions["write"], permissions["read"]],
        *(["rabbitmqctl", "set_topic_permissions", "-p", vhost, user, topic["exchange"],
           topic["write"], topic["read"]] for topic in allowed["topic_permissions"]),
    ]  # fmt: skip
    return [shlex.join(line) for line in lines]


def _k8s_name(*parts: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:253]


def topology_objects(user: str, vhost: str = "/", cluster: str = "youwei-rabbitmq") -> list:
    """The RabbitMQ Messaging Topology Operator's ``Permission`` and ``TopicPermission``
    objects of ``user`` (made by a ``User`` object of the operator's, or by hand)."""
    allowed = agency_broker_permissions(user)
    common = {"vhost": vhost, "user": user, "rabbitmqClusterReference": {"name": cluster}}
    objects = [{
        "apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission",
        "metadata": {"name": _k8s_name("agency", user)},
        "spec": {**common, "permissions": allowed["permissions"]},
    }]  # fmt: skip
    for topic in allowed["topic_permissions"]:
        objects.append({
            "apiVersion": "rabbitmq.com/v1beta1", "kind": "TopicPermission",
            "metadata": {"name": _k8s_name("agency", user, topic["exchange"])},
            "spec": {**common, "permissions": dict(topic)},
        })  # fmt: skip
    return objects


def management_url(url: str | None = None) -> str:
    """The management API's base URL with its credentials: ``url``, else the host and
    credentials of ``AMQP_URI`` on port 15672."""
    if url:
        return url.rstrip("/")
    broker = urllib.parse.urlsplit(amqp_uri())
    credentials = f"{broker.username or 'guest'}:{broker.password or 'guest'}"
    return f"http://{credentials}@{broker.hostname or '127.0.0.1'}:{RABBIT_MANAGEMENT_PORT}"


def _put(base: str, path: str, body: dict[str, Any]) -> None:
    parts = urllib.parse.urlsplit(base)
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    request = urllib.request.Request(
        urllib.parse.urlunsplit((parts.scheme, netloc, parts.path + path, "", "")),
        data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    credentials = f"{urllib.parse.unquote(parts.username or '')}:"
    credentials += urllib.parse.unquote(parts.password or "")
    request.add_header("Authorization", f"Basic {base64.b64encode(credentials.encode()).decode()}")
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise RuntimeError(f"PUT {path}: {error.code} {detail}") from None


def apply(user: str, vhost: str = "/", url: str | None = None) -> None:
    """Set ``user``'s permissions on ``vhost`` (the user exists: the operator made it with
    the password they chose), replacing the ones it had, one topic permission per exchange."""
    base = management_url(url)
    allowed = agency_broker_permissions(user)
    target = f"{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(user, safe='')}"
    _put(base, f"/api/permissions/{target}", allowed["permissions"])
    for topic in allowed["topic_permissions"]:
        _put(base, f"/api/topic-permissions/{target}", topic)
