"""Who is calling: the agency of each RPC request, from the broker.

Every agency (and every service) connects to RabbitMQ as its own user. RabbitMQ refuses a
message whose ``user_id`` property is not the user of the connection that publishes it
(validated user-id), so a request's ``user_id`` is proof of who sent it. The services read
it there and nowhere else:

- ``rpc`` (``AgencyRpc``, nameko's ``Rpc`` entrypoint) puts the request's ``user_id`` in the
  worker context under ``youwei.agency``, after dropping any ``youwei.*`` context a caller
  sent in headers (so none can be forged that way). A request without ``user_id`` is
  served as nobody's: the policy refuses it.
- Each method it decorates first asks the service's ``Access`` dependency (which must be
  named ``access``) whether the agency may make this call (``schemas.authorization``). A
  refusal is recorded in the service's log (``events.access.AccessDenied``) and raised as
  ``Forbidden``; nothing else is done. Allowed, the caller (agency, role, policy version)
  is recorded with every command the method executes (``events.access.CALLER``), and a read
  of a personnel file is recorded before its answer leaves
  (``events.access.PersonnelFileRead``).
- ``AgencyRpcProxy`` (nameko's ``RpcProxy``) and ``IdentifiedClusterRpcProxy`` (the
  standalone ``ClusterRpcProxy``) send ``user_id``: the user of their connection
  (``AMQP_URI``), so the services identify themselves to each other as agencies do.

``YOUWEI_AUTH_POLICY`` (configuration or environment): ``local`` (the default: ``guest``
holds the ``local_development`` role) or ``production`` (that role grants nothing).
``YOUWEI_AGENCIES``: a mapping of RabbitMQ user → roles replacing
``schemas.authorization.AGENCIES``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from kombu import Connection, Exchange, Queue
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import IncorrectSignature
from nameko.extensions import DependencyProvider
from nameko.rpc import (
    RPC_REPLY_QUEUE_TEMPLATE,
    RPC_REPLY_QUEUE_TTL,
    MethodProxy,
    Rpc,
    RpcProxy,
    ServiceProxy,
    get_rpc_exchange,
)
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy, SingleThreadedReplyListener

from events.access import CALLER, AccessDenied, PersonnelFileRead, refusal_facts
from events.dependency import ApplicationDependency
from schemas import authorization
from schemas.errors import EXPECTED, Forbidden

log = logging.getLogger(__name__)

AGENCY = "youwei.agency"
"""The worker context key of the validated agency (the request's ``user_id``)."""
RESERVED = "youwei."
"""Context keys a caller's headers may not set."""


def user_of(amqp_uri: str) -> str:
    """The RabbitMQ user a connection to ``amqp_uri`` logs in as (``guest`` by default)."""
    return Connection(amqp_uri).userid or "guest"


# --- serving: the entrypoint, the decorator, the access dependency ----------------------


class AgencyRpc(Rpc):
    """nameko's RPC entrypoint, taking the caller's agency from the validated ``user_id``."""

    def setup(self) -> None:
        access = [d for d in self.container.dependencies if isinstance(d, Access)]
        if [d.attr_name for d in access] != ["access"]:
            raise TypeError(
                f"{self.container.service_name}.{self.method_name}: a service with "
                "events.identity.rpc methods needs one Access() dependency named 'access'"
            )
        super().setup()

    def unpack_message_headers(self, message: Any) -> dict[str, Any]:
        data = {
            key: value
            for key, value in super().unpack_message_headers(message).items()
            if not str(key).startswith(RESERVED)
        }
        user_id = message.properties.get("user_id")
        if isinstance(user_id, bytes):
            user_id = user_id.decode()
        if user_id:
            data[AGENCY] = user_id
        return data

    def check_signature(self, args: tuple, kwargs: dict) -> None:
        """Against the method as written (not the access check around it)."""
        method = inspect.unwrap(getattr(self.container.service_cls, self.method_name))
        try:
            inspect.getcallargs(method, None, *args, **kwargs)
        except TypeError as error:
            raise IncorrectSignature(str(error)) from None


def rpc(
    fn: Callable | None = None, *, expected_exceptions: tuple = EXPECTED, **options: Any
) -> Any:
    """``@rpc`` or ``@rpc(expected_exceptions=...)``: an RPC method that only the agencies
    the policy allows may call (``Forbidden`` is always among the expected exceptions)."""
    expected = tuple(expected_exceptions)
    if Forbidden not in expected:
        expected += (Forbidden,)

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(service: Any, *args: Any, **kwargs: Any) -> Any:
            gate = getattr(service, "access", None)
            if not isinstance(gate, Gate):  # a unit test's worker (nameko's worker_factory)
                return method(service, *args, **kwargs)
            payload = args[0] if args else next(iter(kwargs.values()), None)
            caller = gate.admit(method.__name__, payload)
            token = CALLER.set(caller)
            try:
                result = method(service, *args, **kwargs)
            finally:
                CALLER.reset(token)
            gate.after(method.__name__, payload)
            return result

        return AgencyRpc.decorator(expected_exceptions=expected, **options)(guarded)

    return decorate(fn) if fn is not None else decorate


class Access(DependencyProvider):
    """The service's access check and record; its log is the service's application
    (its ``ApplicationDependency``)."""

    def setup(self) -> None:
        config = self.container.config
        self.mode = (
            config.get("YOUWEI_AUTH_POLICY")
            or os.environ.get("YOUWEI_AUTH_POLICY")
            or authorization.LOCAL
        )
        if self.mode not in authorization.MODES:
            raise ValueError(
                f"YOUWEI_AUTH_POLICY is one of {authorization.MODES}, not {self.mode!r}"
            )
        agencies = config.get("YOUWEI_AGENCIES") or os.environ.get("YOUWEI_AGENCIES")
        if isinstance(agencies, str):
            agencies = json.loads(agencies)
        self.agencies = authorization.check_agencies(agencies) if agencies else None
        logs = [d for d in self.container.dependencies if isinstance(d, ApplicationDependency)]
        if len(logs) != 1:
            raise TypeError(
                f"{self.container.service_name}: Access records in the service's log, so the "
                f"service needs exactly one ApplicationDependency (it has {len(logs)})"
            )
        self.log = logs[0]

    def start(self) -> None:
        if self.mode == authorization.LOCAL:
            log.warning(
                "%s: authorization policy %s in LOCAL mode: the local_development role "
                "(guest) may call everything; set YOUWEI_AUTH_POLICY=production outside "
                "local development",
                self.container.service_name,
                authorization.VERSION,
            )

    def get_dependency(self, worker_ctx: Any) -> Gate:
        return Gate(self, worker_ctx)


class Gate:
    """One worker's view of ``Access``: its caller, the policy's decision, the record."""

    def __init__(self, access: Access, worker_ctx: Any) -> None:
        self.access = access
        self.service = worker_ctx.service_name
        self.agency: str | None = worker_ctx.data.get(AGENCY)
        self.decision: authorization.Decision | None = None

    def admit(self, method: str, payload: Any) -> dict[str, str]:
        """The caller, if the policy allows the call; else record the refusal and raise
        ``Forbidden``."""
        decision = authorization.decide(
            self.agency, self.service, method, payload,
            mode=self.access.mode, agencies=self.access.agencies,
        )  # fmt: skip
        if not decision.allowed:
            record = AccessDenied(
                decision.agency, decision.method, list(decision.roles), decision.reason,
                decision.version, **refusal_facts(payload),
            )  # fmt: skip
            self.access.log.application.save(record)
            log.warning("refused: %s", decision.reason)
            raise Forbidden({**decision.details(), "record_id": str(record.id)})
        self.decision = decision
        return {
            "agency": decision.agency,
            "role": decision.role,
            "policy_version": decision.version,
        }

    def after(self, method: str, payload: Any) -> None:
        """Record a read the policy names (a personnel file), before its answer leaves."""
        name = f"{self.service}.{method}"
        day_field = authorization.RECORDED_READS.get(name)
        if day_field is None or self.decision is None:
            return
        day = payload.get(day_field) if isinstance(payload, dict) else None
        self.access.log.application.save(
            PersonnelFileRead(
                self.decision.agency, name, self.decision.role, self.decision.version,
                str(payload["cadre_id"]), str(day) if day else None,
            )
        )  # fmt: skip


# --- calling: as the connection's user -----------------------------------------------------


class IdentifiedMethodProxy(MethodProxy):
    """nameko's method proxy; publishes with ``user_id`` (given in the options) and passes on
    no ``youwei.*`` context."""

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers = super().get_message_headers(worker_ctx)
        prefix = f"{self.header_prefix}.{RESERVED}"
        return {k: v for k, v in headers.items() if not k.startswith(prefix)}


class IdentifiedServiceProxy(ServiceProxy):
    def __getattr__(self, name: str) -> IdentifiedMethodProxy:
        return IdentifiedMethodProxy(
            self.worker_ctx, self.service_name, name, self.reply_listener, **self.options
        )


class AgencyRpcProxy(RpcProxy):
    """nameko's ``RpcProxy``: a service's calls to another service, sent with ``user_id`` =
    the service's own RabbitMQ user (from its ``AMQP_URI``)."""

    def setup(self) -> None:
        super().setup()
        self.user_id = user_of(self.container.config[AMQP_URI_CONFIG_KEY])

    def get_dependency(self, worker_ctx: Any) -> IdentifiedServiceProxy:
        return IdentifiedServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener,
            user_id=self.user_id, **self.options,
        )  # fmt: skip


class AgencyReplyListener(SingleThreadedReplyListener):
    """The standalone reply listener, with its queue named after the user
    (``rpc.reply-<user>-<uuid>``: an agency's permissions can be limited to its own), and
    the ``nameko-rpc`` exchange only declared passively when ``passive`` (an agency need not
    be allowed to configure it)."""

    def __init__(self, timeout: float | None = None, user: str = "guest", passive: bool = False):
        self.user = user
        self.passive = passive
        super().__init__(timeout=timeout)

    def setup(self) -> None:
        queue_uuid = uuid.uuid4()
        self.routing_key = str(queue_uuid)
        exchange = get_rpc_exchange(self.container.config)
        if self.passive:
            exchange = Exchange(exchange.name, type="topic", durable=True, passive=True)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.user, queue_uuid),
            exchange=exchange,
            routing_key=self.routing_key,
            queue_arguments={"x-expires": RPC_REPLY_QUEUE_TTL},
        )
        self.queue_consumer.register_provider(self)


class IdentifiedClusterProxy(ClusterProxy):
    def __init__(self, worker_ctx: Any, reply_listener: Any, user_id: str) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._user_id = user_id

    def __getattr__(self, name: str) -> IdentifiedServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._proxies:
            self._proxies[name] = IdentifiedServiceProxy(
                self._worker_ctx, name, self._reply_listener, user_id=self._user_id
            )
        return self._proxies[name]


class IdentifiedClusterRpcProxy(ClusterRpcProxy):
    """nameko's standalone ``ClusterRpcProxy``, sending ``user_id``: the user of its
    ``AMQP_URI``. ``passive``: only check that the ``nameko-rpc`` exchange exists (for a user
    not allowed to configure it)."""

    def __init__(
        self,
        config: dict[str, Any],
        context_data: dict | None = None,
        timeout: float | None = None,
        passive: bool = False,
    ) -> None:
        self.user_id = user_of(config[AMQP_URI_CONFIG_KEY])
        listener = partial(AgencyReplyListener, user=self.user_id, passive=passive)
        super().__init__(config, context_data, timeout, reply_listener_cls=listener)
        self._proxy = IdentifiedClusterProxy(self._worker_ctx, self._reply_listener, self.user_id)


# --- the broker's side: what an agency's user may do ---------------------------------------

UUID_KEY = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def agency_broker_permissions(user: str, exchange: str = "nameko-rpc") -> dict[str, Any]:
    """The RabbitMQ permissions of an agency's user (docs/rpc-wire.md): its own reply queues
    (``rpc.reply-<user>-…``), publishing to the RPC exchange and binding to it, but not
    declaring or deleting it; publishing only to ``<service>.<method>`` and binding only
    UUID keys (topic permissions), so it cannot bind a queue to others' requests."""
    mine = rf"rpc\.reply-{re.escape(user)}-.*"
    services = "|".join(authorization.METHODS)
    return {
        "permissions": {
            "configure": f"^{mine}$",
            "write": f"^({re.escape(exchange)}|{mine})$",
            "read": f"^({re.escape(exchange)}|{mine})$",
        },
        "topic_permissions": {
            "exchange": exchange,
            "write": rf"^({services})\.[a-z_]+$",
            "read": UUID_KEY,
        },
    }
